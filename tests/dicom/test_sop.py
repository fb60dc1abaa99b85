"""Non-image objects dropped by SOP Class UID (issue 10, acceptance 2)."""

from __future__ import annotations

import csv
from pathlib import Path

import pydicom
import pytest
from dicomgen import SeriesSpec, make_enhanced, make_raw_data, write_series

from imaging_triage.cli import main
from imaging_triage.dicom.sop import non_image_name
from imaging_triage.ingest import Status, load, scan


@pytest.mark.parametrize("with_matrix", [False, True])
def test_raw_data_beside_enhanced_and_classic_series(tmp_path: Path, with_matrix: bool) -> None:
    src = tmp_path / "in"
    classic = SeriesSpec(n=6, rows=10, cols=8, modality="MR", series_number=3, intercept=0.0)
    write_series(src / "classic", classic)
    enhanced = SeriesSpec(n=5, rows=9, cols=7, modality="MR", series_number=4, intercept=0.0)
    enhanced.study_uid = classic.study_uid
    (src / "enhanced").mkdir(parents=True)
    pydicom.dcmwrite(src / "enhanced" / "MF0001", make_enhanced(enhanced), enforce_file_format=True)
    for n, spec in enumerate((classic, enhanced)):
        folder = src / ("classic" if n == 0 else "enhanced")
        raw = make_raw_data(spec, with_matrix=with_matrix)
        pydicom.dcmwrite(folder / "RAW0001", raw, enforce_file_format=True)

    records = scan(src).series
    by_status = {s: [r for r in records if r.status is s] for s in Status}
    assert len(by_status[Status.OK]) == 2, [(r.input, r.status, r.reason) for r in records]
    assert not by_status[Status.FAILED]
    raw_rows = by_status[Status.DROPPED]
    assert len(raw_rows) == 2
    assert all(r.reason == "not an image (Raw Data Storage)" for r in raw_rows)
    for record in by_status[Status.OK]:
        assert load(record)[0].shape[2] in (classic.n, enhanced.n)

    out = tmp_path / "out"
    assert main(["convert", str(src), "-o", str(out), "--quiet", "--jobs", "1"]) == 0
    with (out / "manifest.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["status"] for r in rows) == ["dropped", "dropped", "ok", "ok"]


@pytest.mark.parametrize(
    ("uid", "name"),
    [
        ("1.2.840.10008.5.1.4.1.1.66", "Raw Data Storage"),
        ("1.2.840.10008.5.1.4.1.1.88.59", "Structured Report or Key Object Selection"),
        ("1.2.840.10008.5.1.4.1.1.11.1", "Presentation State"),
        ("1.2.840.10008.5.1.4.1.1.9.1.1", "Waveform"),
        ("1.2.840.10008.5.1.4.1.1.104.1", "Encapsulated PDF Storage"),
        ("1.3.12.2.1107.5.9.1", "Siemens CSA Non-Image Storage"),
    ],
)
def test_non_image_classes_named(uid: str, name: str) -> None:
    assert non_image_name(uid) == name


@pytest.mark.parametrize(
    "uid", ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.7"]
)
def test_image_classes_are_not_non_images(uid: str) -> None:
    assert non_image_name(uid) is None


def test_truncated_image_without_matrix_still_fails(tmp_path: Path) -> None:
    """An MR Image object without Rows/Columns is damaged, not a non-image."""
    spec = SeriesSpec(n=4, rows=6, cols=5, modality="MR")
    paths = write_series(tmp_path, spec)
    ds = pydicom.dcmread(paths[0])
    del ds.Rows, ds.Columns
    ds.save_as(paths[0])
    failed = [r for r in scan(tmp_path).series if r.status is Status.FAILED]
    assert failed and "incomplete header" in " ".join(r.reason for r in failed)
