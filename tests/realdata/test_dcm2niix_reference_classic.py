"""Siemens mosaics in 9 transfer syntaxes and 12-bit edge cases against dcm2niix
(issue 2, acceptance 1 and 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from refcompare import assert_matches_reference

from imaging_triage.ingest import Status, load, scan


def _by_series_number(folder: Path) -> dict[int, object]:
    result = scan(folder)
    assert all(r.status is Status.OK for r in result.series), [
        (r.input, r.reason) for r in result.series
    ]
    return {r.series_number: r for r in result.series}


@pytest.mark.realdata
@pytest.mark.parametrize("dataset", ["dcm_qa_ts", "dcm_qa_12bit"])
def test_matches_dcm2niix_reference(realdata: Path, dataset: str) -> None:
    records = _by_series_number(realdata / dataset / "In")
    refs = sorted((realdata / dataset / "Ref").glob("*.nii"))
    assert len(records) == len(refs) >= 3
    for ref in refs:
        (volume,) = load(records[int(ref.stem)])  # type: ignore[arg-type]
        assert_matches_reference(volume, ref)


@pytest.mark.realdata
def test_nine_transfer_syntaxes_decode_identically(realdata: Path) -> None:
    records = _by_series_number(realdata / "dcm_qa_ts" / "In")
    assert sorted(records) == list(range(1, 10))
    volumes = {n: load(r)[0] for n, r in records.items()}  # type: ignore[arg-type]
    base = volumes[1]
    assert base.data.max() > 0
    for n, vol in volumes.items():
        np.testing.assert_array_equal(vol.data, base.data, err_msg=f"series {n}")
        np.testing.assert_allclose(vol.affine, base.affine, atol=1e-6)
