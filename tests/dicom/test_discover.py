"""Discovery: DICOM recognised by content, DICOMDIR and other files skipped and counted."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from dicomgen import SeriesSpec, write_series

from imaging_triage.dicom.discover import FileKind, classify, read_header, walk
from imaging_triage.errors import InputError, NotDicomError
from imaging_triage.ingest import Status, load, scan
from imaging_triage.volume import Volume, save_nifti


def test_dicom_without_extension_recognised_by_content(tmp_path: Path) -> None:
    (path,) = write_series(tmp_path, SeriesSpec(n=1), names=lambda n: "I10")
    assert classify(path) is FileKind.DICOM
    (tmp_path / "README").write_text("hello")
    kinds = {Path(f.path).name: f.kind for f in walk(tmp_path)}
    assert kinds == {"I10": FileKind.DICOM, "README": FileKind.OTHER}


def test_gzipped_dicom_is_read(tmp_path: Path) -> None:
    spec = SeriesSpec(n=5)
    for p in write_series(tmp_path, spec):
        p.with_name(p.name + ".dcm.gz").write_bytes(gzip.compress(p.read_bytes()))
        p.unlink()
    (record,) = scan(tmp_path).series
    assert record.status is Status.OK and record.shape == (spec.cols, spec.rows, 5)
    (volume,) = load(record)
    assert volume.shape == (spec.cols, spec.rows, 5)


def test_dicomdir_counted_and_skipped(tmp_path: Path) -> None:
    from pydicom.fileset import FileSet

    paths = write_series(tmp_path / "src", SeriesSpec(n=3))
    fs = FileSet()
    for p in paths:
        fs.add(str(p))
    fs.write(tmp_path / "out")
    result = scan(tmp_path / "out")
    assert result.dicomdir_files == 1
    assert [r.status for r in result.series] == [Status.OK]


def test_nifti_found_and_loaded(tmp_path: Path) -> None:
    vol = Volume(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.diag([2.0, 2.0, 3.0, 1.0]))
    save_nifti(vol, tmp_path / "a" / "t1.nii.gz")
    (record,) = scan(tmp_path).series
    assert record.kind == "nifti" and record.shape == (2, 3, 4)
    (loaded,) = load(record)
    np.testing.assert_array_equal(loaded.data, vol.data)
    np.testing.assert_allclose(loaded.affine, vol.affine)


def test_read_header_errors_are_typed(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("just text, not DICOM\n" * 10)
    with pytest.raises(NotDicomError, match=r"notes\.txt"):
        read_header(text)
    bad = tmp_path / "bad.dcm.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputError, match="gzip"):
        read_header(bad)


def test_ignore_marker_skips_a_folder(tmp_path: Path) -> None:
    write_series(tmp_path / "study", SeriesSpec(n=3))
    labels = tmp_path / "ground_truth"
    save_nifti(Volume(np.zeros((2, 2, 2), np.uint8), np.eye(4)), labels / "sub" / "l.nii.gz")
    assert len(scan(tmp_path).series) == 2
    (labels / ".imaging-triage-ignore").write_text("labels\n")
    assert [r.kind for r in scan(tmp_path).series] == ["dicom"]


def _deny(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Make ``denied`` unreadable as a mode-000 file is for a non-root user."""
    import builtins
    import gzip as gzip_module

    from imaging_triage.dicom import discover

    real_open = builtins.open

    def fake_open(file: object, *args: object, **kwargs: object) -> object:
        if isinstance(file, (str, Path)) and Path(file) == denied:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(discover, "open", fake_open, raising=False)
    monkeypatch.setattr(gzip_module, "open", gzip_module.open)


def test_unreadable_slice_is_an_error_row_and_its_series_is_refused_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = write_series(tmp_path / "s1", SeriesSpec(n=6))
    _deny(monkeypatch, paths[-1])  # the last slice: no gap betrays it
    assert classify(paths[-1]) is FileKind.UNREADABLE
    result = scan(tmp_path)
    assert result.skipped_files == 0  # not counted as "non-DICOM file skipped"
    assert [(p, "permission denied" in r) for p, r in result.unreadable] == [("s1/IM0005", True)]
    volume_rows = [r for r in result.series if r.files != [str(paths[-1])]]
    assert [r.status for r in volume_rows] == [Status.FAILED]
    assert "IM0005" in volume_rows[0].reason


def test_unreadable_folder_is_reported_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    write_series(tmp_path / "study" / "s1", SeriesSpec(n=4))
    locked = tmp_path / "study" / "s2"
    write_series(locked, SeriesSpec(n=4, series_number=3))
    real_scandir = os.scandir

    def fake_scandir(path: object = ".") -> object:
        if Path(str(path)) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", fake_scandir)
    kinds = {f.path: f.kind for f in walk(tmp_path)}
    assert kinds[str(locked)] is FileKind.UNREADABLE
    result = scan(tmp_path)
    failed = [r for r in result.series if r.status is Status.FAILED]
    assert [r.input for r in failed] == ["study/s2"]
    assert "folder cannot be listed" in failed[0].reason
    assert [r.status for r in result.series if r.input != "study/s2"] == [Status.OK]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads mode-000 files")
def test_mode_000_slice_refuses_its_series(tmp_path: Path) -> None:
    paths = write_series(tmp_path, SeriesSpec(n=4))
    paths[1].chmod(0)
    try:
        (record,) = [r for r in scan(tmp_path).series if len(r.files) > 1]
        assert record.status is Status.FAILED
    finally:
        paths[1].chmod(0o644)
