"""The viewer's candidates panel shows what preprocess wrote instead of recomputing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from viewer.synthetic_studies import make_head

from imaging_triage.ingest import SourceKind
from imaging_triage.preprocess.config import default_config, merge
from imaging_triage.preprocess.pipeline import process_volume
from imaging_triage.roots import DataRoots
from imaging_triage.viewer import candidates_panel as panel
from imaging_triage.viewer.loader import open_series
from imaging_triage.viewer.planes import DisplayVolume
from imaging_triage.viewer.worklist import find_studies
from imaging_triage.volume import load_nifti


def test_stored_candidates_are_shown_without_running_the_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = merge(default_config(), {"ct": {"resample": {"spacing_mm": [2.0, 2.0, 2.0]}}})
    written = process_volume(
        make_head(),
        config,
        tmp_path / "out" / "study" / "0002_HEAD",
        input_sha256="",
        series_outputs=[],
    )
    assert written.candidate_score is not None
    (study,) = find_studies(DataRoots.from_paths([tmp_path / "out"]))
    record = next(r for r in study.usable if Path(r.files[0]).name == "0002_HEAD.nii.gz")
    assert record.kind is SourceKind.NIFTI
    opened = open_series(record)
    stored = panel.stored_candidates(record)
    assert stored is not None and stored.score.score == written.candidate_score

    def no_recompute(_opened: object) -> dict:
        raise AssertionError("the checks ran again")

    monkeypatch.setattr(panel, "run_candidates", no_recompute)
    monkeypatch.setattr(panel, "S", {})
    panel._run(opened, record)
    shown = panel.S["candidates"]
    assert shown["source"] == "written by preprocess"
    assert shown["score"] == written.candidate_score
    assert len(shown["regions"]) == len(stored.regions)
    assert panel.S["overlay_url"] == shown["url"]
    # each region's Go to lands inside the overlay drawn from the stored labels
    assert stored.labels_path is not None and shown["regions"]  # the 75 HU blob at least
    labels = DisplayVolume.from_volume(load_nifti(stored.labels_path)).data
    for region in shown["regions"]:
        i, j, k = region["ijk"]
        near = labels[max(0, i - 3) : i + 4, max(0, j - 3) : j + 4, max(0, k - 3) : k + 4]
        assert np.any(near > 0)


def test_only_an_earlier_ct_of_the_patient_is_a_prior() -> None:
    from types import SimpleNamespace

    ct, mr = SimpleNamespace(is_ct=True), SimpleNamespace(is_ct=False)
    prior = panel.prior_series("2000-01-13", "2000-01-03", ct)  # type: ignore[arg-type]
    assert prior is not None and prior.name == "the compared study of 2000-01-03"
    assert panel.prior_series("2000-01-03", "2000-01-13", ct) is None  # type: ignore[arg-type]
    assert panel.prior_series("2000-01-13", "2000-01-13", ct) is None  # type: ignore[arg-type]
    assert panel.prior_series("2000-01-13", "", ct) is None  # type: ignore[arg-type]
    assert panel.prior_series("2000-01-13", "2000-01-03", mr) is None  # type: ignore[arg-type]
    assert panel.prior_series("2000-01-13", "2000-01-03", None) is None


@pytest.mark.slow
def test_on_demand_checks_measure_the_sites_of_the_compared_prior(
    tmp_path: Path, sample_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from imaging_triage.viewer.hanging import default_series
    from imaging_triage.viewer.worklist import same_patient

    for name in ("02_ct_sdh", "07_ct_sdh_followup"):
        shutil.copytree(sample_data / "dicom" / name, tmp_path / name)
    studies = {Path(s.source).name: s for s in find_studies(DataRoots.from_paths([tmp_path]))}
    follow, prior = studies["07_ct_sdh_followup"], studies["02_ct_sdh"]
    assert same_patient(list(studies.values()), follow) == [prior]  # matched by the keyed hash
    opened = open_series(default_series(follow.usable))  # type: ignore[arg-type]
    compared = open_series(default_series(prior.usable))  # type: ignore[arg-type]
    earlier = panel.prior_series(follow.study_date, prior.study_date, compared)
    assert earlier is not None
    monkeypatch.setattr(panel, "S", {})
    alone = panel.run_candidates(opened)
    shown = panel.run_candidates(opened, earlier)
    assert not any(r["text"].startswith("prior sites") for r in alone["regions"])
    sites = [r["text"] for r in shown["regions"] if r["text"].startswith("prior sites")]
    assert sites and "left" in sites[0] and "crescent convexity" in sites[0]
    assert any("the compared study of 2000-01-03" in r for r in shown["reasons"])
    assert shown["score"] > alone["score"]
