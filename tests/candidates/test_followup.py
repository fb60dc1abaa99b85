"""The follow-up pass of ``preprocess``: the sample follow-up (07, a subacute subdural 10
days after 02) gets the sites of its prior's candidates; the prior and a lone study do not;
a second run replaces, and a run without the prior removes, what the pass wrote."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from imaging_triage.batch import read_manifest, run_batch
from imaging_triage.candidates import Check
from imaging_triage.candidates.followup import SeriesOutput, prior_pairs
from imaging_triage.candidates.stored import STUDY_FILE, read_candidates
from imaging_triage.preprocess.config import default_config
from imaging_triage.volume import load_nifti

pytestmark = pytest.mark.slow

PRIOR, FOLLOW = "02_ct_sdh", "07_ct_sdh_followup"


def _outputs(out: Path) -> dict[str, Path]:
    """Written CT image by study (the study folder holding it)."""
    found = {}
    for row in read_manifest(out / "manifest.csv"):
        if row["output"]:
            study = Path(row["input"]).parts[0]
            found[study] = out / row["output"].split(";")[0]
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> dict[str, object]:
    src = tmp_path_factory.mktemp("in")
    for study in (PRIOR, FOLLOW):
        shutil.copytree(sample_data / "dicom" / study, src / study)
    out = tmp_path_factory.mktemp("out")
    run_batch(src, out, default_config(), jobs=1)
    images = _outputs(out)
    first = json.loads(
        Path(str(images[FOLLOW])[: -len(".nii.gz")] + "_candidates.json").read_text()
    )
    return {"src": src, "out": out, "images": images, "first": first}


def test_the_follow_up_gets_the_sites_of_its_priors_candidates(runs, sample_data: Path) -> None:
    images = runs["images"]
    stored = read_candidates(images[FOLLOW])
    assert stored is not None
    sites = stored.result(Check.PRIOR_SITES)
    assert sites.regions and "10 days earlier" in sites.reasons[0]
    # the largest site covers part of the subdural the acute check no longer sees
    truth = load_nifti(sample_data / "ground_truth" / FOLLOW / "label_series002.nii.gz")
    labels = load_nifti(stored.labels_path)
    site = max(sites.regions, key=lambda r: r.volume_ml)
    ijk = np.argwhere(np.asarray(labels.data) == site.label)
    world = ijk @ labels.affine[:3, :3].T + labels.affine[:3, 3]
    inv = np.linalg.inv(truth.affine)
    tijk = np.round(world @ inv[:3, :3].T + inv[:3, 3]).astype(int)
    ok = np.all((tijk >= 0) & (tijk < truth.shape[:3]), axis=1)
    hit = np.asarray(truth.data)[tuple(tijk[ok].T)] == 1  # label 1: the subdural
    assert hit.sum() * float(np.prod(labels.spacing)) / 1000.0 > 0.5  # mL of the SDH
    assert site.side.value == "left"
    assert any("site(s) of candidates" in r for r in stored.score.reasons)
    # the study score and the manifest follow
    study = json.loads((images[FOLLOW].parent / STUDY_FILE).read_text())
    assert any("site(s) of candidates" in r for r in study["reasons"])
    cells = {
        Path(r["input"]).parts[0]: r["candidates"]
        for r in read_manifest(runs["out"] / "manifest.csv")
    }
    assert cells[FOLLOW] == str(stored.score.score)


def test_the_prior_itself_has_no_prior_sites(runs) -> None:
    stored = read_candidates(runs["images"][PRIOR])
    assert stored is not None
    assert all(r.check is not Check.PRIOR_SITES for r in stored.results)


def test_a_second_run_replaces_and_a_run_without_the_prior_clears(runs) -> None:
    src, out, images = runs["src"], runs["out"], runs["images"]
    run_batch(src, out, default_config(), jobs=1)  # resumed: every series is done
    again = json.loads(
        Path(str(images[FOLLOW])[: -len(".nii.gz")] + "_candidates.json").read_text()
    )
    assert again["checks"] == runs["first"]["checks"]  # the same, not added twice
    shutil.rmtree(src / PRIOR)
    run_batch(src, out, default_config(), jobs=1)
    stored = read_candidates(images[FOLLOW])
    assert stored is not None
    assert all(r.check is not Check.PRIOR_SITES for r in stored.results)
    labels = np.asarray(load_nifti(stored.labels_path).data)
    assert set(np.unique(labels)) <= {0} | {r.label for r in stored.regions}


def test_pairs_need_the_same_patient_an_earlier_date_and_ct(tmp_path: Path, runs) -> None:
    images = runs["images"]
    a = SeriesOutput(images[PRIOR], "p1", "1.2.1", "20000103", "CT")
    b = SeriesOutput(images[FOLLOW], "p1", "1.2.2", "20000113", "CT")
    assert [(c.study_uid, p.study_uid, d) for c, p, d in prior_pairs([a, b])] == [
        ("1.2.2", "1.2.1", 10)
    ]
    other = SeriesOutput(images[PRIOR], "p2", "1.2.1", "20000103", "CT")
    assert prior_pairs([other, b]) == []  # another patient
    same_day = SeriesOutput(images[PRIOR], "p1", "1.2.1", "20000113", "CT")
    assert prior_pairs([same_day, b]) == []  # not earlier
    undated = SeriesOutput(images[PRIOR], "p1", "1.2.1", "", "CT")
    assert prior_pairs([undated, b]) == []
    unknown = SeriesOutput(images[PRIOR], "", "1.2.1", "20000103", "CT")
    assert prior_pairs([unknown, SeriesOutput(images[FOLLOW], "", "1.2.2", "20000113", "CT")]) == []
    mr = SeriesOutput(images[PRIOR], "p1", "1.2.1", "20000103", "MR")
    assert prior_pairs([mr, b]) == []
