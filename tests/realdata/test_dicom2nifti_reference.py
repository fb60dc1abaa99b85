"""Classic single-frame series against dicom2nifti's ground truth (issue 2, acceptance 1).

The pixel data of these series is random noise (except hitachi), so this checks geometry
and stored values, which is exactly what an independent converter pins down.
Enhanced and multi-frame objects are checked in test_reference_enhanced.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from refcompare import assert_matches_reference

from imaging_triage.ingest import Status, load, scan

CLASSIC = [
    "anatomical/001",
    "anatomical/001_implicit",
    "ge/anatomical/001",
    "ge/anatomical/001_implicit",
    "ge/anatomical/001_single_slice",
    "generic/anatomical/001",
    "generic/anatomical/001_implicit",
    "generic/anatomical/002_non_isotropic",
    "generic/compressed/001",
    "generic/compressed_j2k/001",
    "generic/compressed_jpeg/001",
    "generic/compressed_jpegls/001",
    "generic/compressed_rle/001",
    "hitachi/anatomical/001",
    "hitachi/anatomical/001_implicit",
    "hyperfine/anatomical/001",
    "philips/anatomical/001",
    "philips/anatomical/001_implicit",
    "siemens/anatomical/001",
    "siemens/anatomical/001_implicit",
]


@pytest.mark.realdata
@pytest.mark.parametrize("case", CLASSIC)
def test_matches_dicom2nifti_ground_truth(realdata: Path, case: str) -> None:
    folder = realdata / "dicom2nifti/tests/data" / case
    reference = folder.parent / f"{folder.name}_ground_truth.nii.gz"
    result = scan(folder)
    ok = [r for r in result.series if r.status is Status.OK]
    assert len(ok) == 1, [(r.input, r.status.value, r.reason) for r in result.series]
    (volume,) = load(ok[0])
    assert_matches_reference(volume, reference)


@pytest.mark.realdata
def test_rgb_secondary_capture_is_dropped_not_misread(realdata: Path) -> None:
    """dicom2nifti converts this RGB secondary capture; we drop it with the reason."""
    result = scan(realdata / "dicom2nifti/tests/data/generic/rgb/001")
    (record,) = result.series
    assert record.status is Status.DROPPED
    assert "secondary capture" in record.reason


FAILING = {
    "gantrytilting/001": ("ok", "gantry tilt"),
    "notavolume/001": ("dropped", "one slice position"),
    "slicecount/001": ("dropped", "only 2 slice positions"),
    "sliceincrement/001": ("failed", "missing slice"),
    "sliceincrement/002": ("failed", "missing slice"),
    "sliceorientation/001": ("dropped", "2 slice orientations"),
}


@pytest.mark.realdata
@pytest.mark.parametrize("case", sorted(FAILING))
def test_failing_cases_end_with_named_reason(realdata: Path, case: str) -> None:
    """Acceptance 5: each failing/ case is failed or dropped with its actual problem named,
    or, for the unannounced gantry tilt, a corrected volume."""
    status, words = FAILING[case]
    result = scan(realdata / "dicom2nifti/tests/data/failing" / case)
    assert result.series
    for record in result.series:
        assert record.status.value == status, (record.status, record.reason)
        if status == "ok":
            (volume,) = load(record)
            assert any(words in c for c in volume.info.corrections), volume.info.corrections
            assert "no GantryDetectorTilt" in volume.info.corrections[0]
        else:
            assert words in record.reason, record.reason
