"""Segmented acquisitions joined into one volume (issue 10, acceptance 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dicomgen import head_segmented_specs, segmented_specs, write_segmented
from pixelcheck import pixel_centre_r

from imaging_triage.dicom.geometry import GeometryError, Spacing, analyse_segments
from imaging_triage.ingest import Status, Strictness, load, scan


@pytest.mark.parametrize("tilt", [18.5, 0.0, -25.0])
def test_two_segment_head_ct_is_one_volume_without_blur(tmp_path: Path, tilt: float) -> None:
    """Acceptance 1: thin ADD posterior fossa + thick cerebrum, one UID: one volume."""
    lower, upper = head_segmented_specs(tilt_deg=tilt)
    paths = write_segmented(tmp_path, lower, upper)
    (record,) = scan(tmp_path).series
    assert record.status is Status.OK, record.reason
    assert record.joined_stacks == 2 and len(record.files) == lower.n + upper.n
    assert "2 segments of one acquisition joined" in record.reason
    (volume,) = load(record)
    # one volume covering both segments: from the first thin to the last thick slice plane
    extent = volume.spacing[2] * (volume.shape[2] - 1)
    span = (lower.n - 1) * 4.0 + 1.08 + (upper.n - 1) * 7.0
    assert extent == pytest.approx(span, abs=volume.spacing[2])
    assert volume.spacing[2] < 4.0  # a grid fine enough that no slice is averaged away
    assert any("segments of one acquisition joined" in c for c in volume.info.corrections)
    # every source pixel is where it was measured, fine structure intact
    r = pixel_centre_r(volume, paths)
    assert r >= 0.99, r


def test_segment_with_a_missing_slice_is_still_refused(tmp_path: Path) -> None:
    lower, upper = segmented_specs(tilt_deg=0.0)
    write_segmented(tmp_path, lower, upper, skip_upper=[4])
    (record,) = scan(tmp_path).series
    assert record.status is Status.FAILED
    assert "missing slice" in record.reason and "segment 2 of 2" in record.reason
    (resampled,) = scan(tmp_path, strictness=Strictness.RESAMPLE).series
    assert resampled.status is Status.OK
    assert load(resampled)[0].shape[2] > lower.n + upper.n


def test_segments_with_a_gap_are_not_joined(tmp_path: Path) -> None:
    """A gap wider than both segments' spacing is a missing part, not a junction."""
    lower, upper = segmented_specs(tilt_deg=0.0, junction=15.0)
    write_segmented(tmp_path, lower, upper)
    records = scan(tmp_path).series
    assert len(records) == 2 and all(r.joined_stacks == 1 for r in records)
    assert {r.stack_label for r in records} == {"AXIAL\\ADD, 4 mm", "AXIAL, 7 mm"}
    with pytest.raises(GeometryError, match="gap of"):
        analyse_segments([f for r in records for f in r.frames])


def test_joined_grid_keeps_every_source_slice_on_a_plane(tmp_path: Path) -> None:
    lower, upper = segmented_specs(tilt_deg=0.0, junction=5.5)
    write_segmented(tmp_path, lower, upper)
    (record,) = scan(tmp_path).series
    geom = analyse_segments(record.frames)
    assert geom.spacing is Spacing.SEGMENTED and geom.segments == 2
    distance = abs(geom.offsets - (geom.offsets / geom.step).round() * geom.step)
    thin = geom.offsets <= (lower.n - 1) * 4.0 + 1e-6
    assert distance[thin].max() <= 0.1 * 4.0 + 1e-6 and distance.max() <= 0.1 * 7.0 + 1e-6
    assert geom.step <= 4.0
