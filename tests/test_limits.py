"""The memory limit: deflate streams counted without being kept, NIfTI headers checked
against the limit and the file size, text made printable."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from imaging_triage.csvsafe import read_rows, spreadsheet_safe
from imaging_triage.errors import InputError, ResourceLimitError
from imaging_triage.limits import inflated_size
from imaging_triage.safetext import escape_surrogates, printable
from imaging_triage.volume import load_nifti


def _deflate(payload: bytes) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return comp.compress(payload) + comp.flush()


def test_inflated_size_counts_and_stops_at_the_limit() -> None:
    assert inflated_size(io.BytesIO(_deflate(bytes(5000))), "x", 10_000) == 5000
    bomb = _deflate(bytes(50 * 1024**2))  # 50 kB that inflate to 50 MB
    with pytest.raises(ResourceLimitError, match=r"over the 0\.01 GB limit"):
        inflated_size(io.BytesIO(bomb), "bomb.dcm", 10 * 1024**2)


def _nifti(path: Path, shape: tuple[int, ...], data: bool) -> None:
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.int16)
    if data:
        nib.save(nib.Nifti1Image(np.zeros(shape, np.int16), np.eye(4), header), path)
    else:
        path.write_bytes(header.binaryblock + bytes(4))


def test_nifti_header_against_limit_and_file_size(tmp_path: Path) -> None:
    ok = tmp_path / "ok.nii"
    _nifti(ok, (8, 8, 4), data=True)
    assert load_nifti(ok, max_bytes=10_000).shape == (8, 8, 4)
    with pytest.raises(ResourceLimitError, match="NIfTI header"):
        load_nifti(ok, max_bytes=100)
    short = tmp_path / "short.nii"
    _nifti(short, (64, 64, 8), data=False)
    with pytest.raises(InputError, match="holds 352 bytes where its header declares"):
        load_nifti(short)


def test_printable_strips_controls_and_limits_length() -> None:
    assert printable("\x1b]0;pwned\x07 T1") == "?]0;pwned? T1"
    assert printable("a\u202eb") == "a?b"  # bidi override
    assert printable("x" * 250).endswith("...[+50 chars]")
    assert escape_surrogates("M\udcfcller") == "M\\xfcller"


def test_csv_cells_escape_non_utf8_names_and_read_back_any_length(tmp_path: Path) -> None:
    assert spreadsheet_safe("In/M\udcfcller") == "In/M\\xfcller"
    path = tmp_path / "m.csv"
    path.write_text("input,description\nx," + "A" * 200_000 + "\n", encoding="utf-8")
    (row,) = read_rows(path)
    assert len(row["description"]) == 200_000


def test_stale_temporaries_of_killed_runs_are_removed_and_nothing_else(tmp_path: Path) -> None:
    import os

    from imaging_triage.volume import _atomic_target, remove_stale_temporaries

    (tmp_path / "s1").mkdir()
    stale = [
        tmp_path / "s1" / ".image.nii.gz.k2j4_x9a.tmp.nii.gz",
        tmp_path / ".manifest.csv.abcd1234.tmp.csv",
    ]
    kept = [
        tmp_path / "s1" / "image.nii.gz",
        tmp_path / "s1" / ".hidden_notes.txt",
        tmp_path / "s1" / "x.tmp.nii.gz",
    ]
    for path in stale + kept:
        path.write_bytes(b"")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in stale)
    fd, name = _atomic_target(tmp_path / "b.nii.gz")  # what a killed writer leaves
    os.close(fd)
    assert remove_stale_temporaries(tmp_path) == [Path(name)]
