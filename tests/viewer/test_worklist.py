"""Worklist (grouping, review state, sort, filter, next unread) and hanging protocol."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from dicomgen import SeriesSpec, write_series
from viewer.synthetic_studies import write_study

from imaging_triage.ingest import ScanResult, SeriesRecord, Status
from imaging_triage.review.findings import Outcome, ReviewStatus, StudyReview, Urgency
from imaging_triage.roots import DataRoots
from imaging_triage.viewer.hanging import default_series, score
from imaging_triage.viewer.loader import open_series
from imaging_triage.viewer.planes import DisplayVolume
from imaging_triage.viewer.worklist import (
    SortKey,
    find_studies,
    group_studies,
    neighbour,
    next_unread,
    worklist_rows,
)


def _record(study: str, n: int, desc: str, modality: str = "CT", **kw: object) -> SeriesRecord:
    return SeriesRecord(
        input=f"{study}/s{n}",
        files=[f"/data/{study}/s{n}/IM0001"],
        key=f"{study}-{n}",
        series_uid=f"1.2.{n}",
        study_uid=f"uid-{study}",
        modality=modality,
        description=desc,
        series_number=n,
        shape=(512, 512, 40),
        **kw,  # type: ignore[arg-type]
    )


def _studies() -> list:
    result = ScanResult(
        root="/data",
        series=[
            _record("alpha", 1, "Head brain 5mm"),
            _record("alpha", 2, "Head bone 1mm"),
            _record("beta", 1, "T1 SAG", modality="MR"),
            _record("beta", 2, "AX FLAIR", modality="MR"),
            _record("gamma", 1, "scout", status=Status.DROPPED, reason="localizer"),
        ],
    )
    return group_studies(result, Path("/data"))


def test_series_are_grouped_by_study_with_modality_and_count() -> None:
    studies = {s.source: s for s in _studies()}
    # a study's folder is the deepest folder its series share
    assert set(studies) == {"data/alpha", "data/beta", "data/gamma/s1"}
    assert studies["data/alpha"].modality == "CT" and len(studies["data/alpha"].usable) == 2
    assert studies["data/beta"].modality == "MR"
    assert studies["data/gamma/s1"].usable == []
    assert all(s.key.startswith("study_") for s in studies.values())


def test_rows_sort_filter_and_next_unread() -> None:
    studies = sorted(_studies(), key=lambda s: s.source)
    alpha, beta, gamma = studies
    reviews = {
        beta.key: StudyReview(
            beta.key, ReviewStatus.REVIEWED, Outcome.SECONDARY, Urgency.CRITICAL, "dr a"
        ),
        gamma.key: StudyReview(gamma.key, ReviewStatus.IN_PROGRESS, reviewer="dr b"),
    }
    rows = worklist_rows(studies, reviews, sort=SortKey.URGENCY)
    assert [r.source for r in rows] == ["data/beta", "data/alpha", "data/gamma/s1"]
    assert (
        rows[0].outcome == "Secondary cause suspected" and rows[0].urgency == "Critical (minutes)"
    )
    by_status = worklist_rows(studies, reviews, sort=SortKey.STATUS)
    assert [r.status for r in by_status] == [
        ReviewStatus.UNREAD,
        ReviewStatus.IN_PROGRESS,
        ReviewStatus.REVIEWED,
    ]
    assert [r.source for r in worklist_rows(studies, reviews, modality="MR")] == ["data/beta"]
    unread_only = worklist_rows(studies, reviews, statuses=[ReviewStatus.UNREAD])
    assert [r.source for r in unread_only] == ["data/alpha"]
    assert [r.source for r in worklist_rows(studies, reviews, text="GAM")] == ["data/gamma/s1"]
    assert next_unread(studies, reviews) is alpha
    assert next_unread(studies, {**reviews, alpha.key: reviews[beta.key]}) is None
    assert neighbour(studies, alpha.key, 1) is beta
    assert neighbour(studies, alpha.key, -1) is gamma


def test_hanging_protocol_prefers_brain_kernel_ct_and_flair_mr() -> None:
    studies = {s.source: s for s in _studies()}
    ct = default_series(studies["data/alpha"].series)
    assert ct is not None and ct.description == "Head brain 5mm"
    mr = default_series(studies["data/beta"].series)
    assert mr is not None and mr.description == "AX FLAIR"
    assert default_series(studies["data/gamma/s1"].series) is None
    t2 = _record("x", 3, "AX T2 TSE", modality="MR")
    t1 = _record("x", 4, "AX T1", modality="MR")
    assert score(t2) > score(t1)


def test_find_studies_and_open_series_on_nifti(tmp_path: Path) -> None:
    study = write_study(tmp_path / "data")
    write_study(tmp_path / "data", name="ct_normal", lesion_xyz=None)
    studies = find_studies(DataRoots.from_paths([tmp_path / "data"]))
    assert [s.source for s in studies] == ["data/ct_normal", "data/ct_sdh"]
    opened = open_series(studies[1].usable[0])
    assert opened.is_ct and opened.window.width == 80.0  # HU recognised, brain preset
    dv = opened.volume
    assert isinstance(dv, DisplayVolume) and dv.shape == (96, 96, 40)
    lesion = dv.from_world(study.lesion_xyz)
    assert dv.value(lesion) == pytest.approx(75.0)


def test_viewer_loading_of_dicom_logs_no_patient_identifier(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "CANARY^PATIENT"
    spec = SeriesSpec(n=8, rows=32, cols=32, description="Head brain 5mm")
    paths = write_series(tmp_path / "data" / "study1", spec)
    import pydicom

    for p in paths:  # plant the canary in the identity attributes
        ds = pydicom.dcmread(p)
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = canary, "CANARY-ID-77", "19010101"
        ds.save_as(p, enforce_file_format=True)
    caplog.set_level(logging.DEBUG)
    studies = find_studies(DataRoots.from_paths([tmp_path / "data"]))
    assert len(studies) == 1 and studies[0].modality == "CT"
    opened = open_series(studies[0].usable[0])
    assert opened.is_ct and opened.volume.shape == (32, 32, 8)
    assert np.isfinite(opened.volume.data).all()
    text = caplog.text + " ".join(str(r.args) for r in caplog.records)
    for marker in ("CANARY", "19010101"):
        assert marker not in text


def test_candidates_column_sorts_highest_first_and_never_by_default(tmp_path: Path) -> None:
    from imaging_triage.candidates.score import CandidateScore
    from imaging_triage.viewer.worklist import CANDIDATES_LABEL, WorklistRow

    # three preprocessed studies: scores 30 and 75, and one without candidates
    for name, points in (("a_low", 30), ("b_none", None), ("c_high", 75)):
        folder = tmp_path / "out" / name
        write_study(tmp_path / "out", name=name)
        if points is not None:
            doc = {"format": 1, "score": {"score": points, "reasons": [f"reason {points}"]}}
            (folder / "head_candidates.json").write_text(json.dumps({**doc, "checks": []}))
    studies = find_studies(DataRoots.from_paths([tmp_path / "out"]))
    by_source = {s.source: s for s in studies}
    assert by_source["out/c_high"].candidates == CandidateScore(75, ["reason 75"])
    assert by_source["out/b_none"].candidates is None  # not checked: no score, not 0
    rows = worklist_rows(studies, {}, sort=SortKey.CANDIDATES)
    assert [r.source for r in rows] == ["out/c_high", "out/a_low", "out/b_none"]
    assert [r.candidates_text for r in rows] == ["75", "30", "–"]
    assert rows[0].candidate_reasons == ("reason 75",)
    assert rows[0].as_dict()[CANDIDATES_LABEL] == 75
    assert CANDIDATES_LABEL == "automated candidates, not a diagnosis"
    # the default order stays the reader's: by folder, and the first sort offered is urgency
    assert [r.source for r in worklist_rows(studies, {})] == sorted(by_source)
    assert next(iter(SortKey)) is SortKey.URGENCY
    assert WorklistRow.__dataclass_fields__["candidates"].default is None
