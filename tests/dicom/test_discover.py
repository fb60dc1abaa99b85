"""Discovery: DICOM recognised by content, DICOMDIR and other files skipped and counted."""

from __future__ import annotations

import gzip
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
