"""Candidates written by preprocess, read back (viewer, worklist, report)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imaging_triage.candidates import Check, run_checks, save_candidates
from imaging_triage.candidates.stored import (
    STUDY_FILE,
    read_candidates,
    study_candidates,
    write_study_candidates,
)
from imaging_triage.volume import save_nifti

from .conftest import Blob, build_head


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A head with a hyperdense blob and a shifted septum, written as preprocess does."""
    head = build_head(shift_mm=4.0, blobs=(Blob((25.0, 20.0, 10.0), 8.0, 70.0),))
    folder = tmp_path_factory.mktemp("out")
    image = folder / "0002_HEAD.nii.gz"
    save_nifti(head.volume, image)
    report = run_checks(head.volume, head.mask)
    save_candidates(report, head.volume, folder / "0002_HEAD")
    return image, report


def test_round_trip_of_regions_results_and_score(written) -> None:
    image, report = written
    stored = read_candidates(image)
    assert stored is not None
    assert stored.score == report.score
    # every field, labels and key slices included (centroids as written: 0.1 mm)
    assert [r.to_dict() for r in stored.regions] == [r.to_dict() for r in report.regions]
    assert stored.result(Check.MIDLINE_SHIFT).measures["shift_mm"] == pytest.approx(
        report.result(Check.MIDLINE_SHIFT).measures["shift_mm"], abs=1e-3
    )
    assert stored.labels_path == image.with_name("0002_HEAD_candidates.nii.gz")


def test_missing_or_unreadable_candidates_are_none(written, tmp_path: Path) -> None:
    assert read_candidates(tmp_path / "other.nii.gz") is None
    assert read_candidates(tmp_path / "notes.txt") is None
    (tmp_path / "x_candidates.json").write_text("{not json")
    assert read_candidates(tmp_path / "x.nii.gz") is None
    (tmp_path / "y_candidates.json").write_text(json.dumps({"format": 99, "checks": []}))
    assert read_candidates(tmp_path / "y.nii.gz") is None


def test_study_score_is_the_highest_series_and_none_without_candidates(
    written, tmp_path: Path
) -> None:
    image, report = written
    assert study_candidates([tmp_path / "none.nii.gz"]) is None
    score = study_candidates([image, tmp_path / "none.nii.gz"])
    assert score is not None and score.score == report.score.score
    path = write_study_candidates(image.parent, [image])
    assert path == image.parent / STUDY_FILE
    doc = json.loads(path.read_text())
    assert doc["score"] == report.score.score and doc["series"] == [image.name]
    assert "not a diagnosis" in doc["disclaimer"]
    # the series lost its candidates: the study file goes too
    assert write_study_candidates(image.parent, [tmp_path / "none.nii.gz"]) is None
    assert not path.exists()
