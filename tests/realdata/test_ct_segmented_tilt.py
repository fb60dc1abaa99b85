"""Real tilted head CTs: segments joined, every source pixel where it was measured
(issue 10, acceptance 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pixelcheck import pixel_centre_r

from imaging_triage.ingest import Status, load, scan

GE = "dcm_qa_ct/In/GE"
PHILIPS_TILTED = "dcm_qa_ct/In/Philips/S21610/S2010"


@pytest.mark.realdata
def test_ge_two_segment_head_is_one_volume(realdata: Path) -> None:
    """14 thin (4 mm, ImageType ADD) + 14 thick (7 mm) slices, one series, 18.5 deg tilt."""
    (record,) = scan(realdata / GE).series
    assert record.status is Status.OK and record.joined_stacks == 2
    assert len(record.files) == 28 and record.tilt_deg == pytest.approx(18.5, abs=0.05)
    (volume,) = load(record)
    corrections = " ".join(volume.info.corrections)
    assert "2 segments of one acquisition joined" in corrections and "gantry tilt" in corrections
    # the whole head along the normal: 13 x 4 mm + 1.08 mm junction + 13 x 7 mm
    extent = volume.spacing[2] * (volume.shape[2] - 1)
    assert extent == pytest.approx(13 * 4 + 1.08 + 13 * 7, abs=volume.spacing[2])
    r = pixel_centre_r(volume, record.files, stride=2)
    assert r >= 0.99, r


@pytest.mark.realdata
def test_philips_tilted_slices_kept_where_measured(realdata: Path) -> None:
    (record,) = scan(realdata / PHILIPS_TILTED).series
    (volume,) = load(record)
    r = pixel_centre_r(volume, record.files, stride=2)
    assert r >= 0.99, r
