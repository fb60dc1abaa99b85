"""Measurements: distance in mm, ROI statistics, region growing, ABC/2."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.viewer.measure import (
    MeasureKind,
    abc_over_2,
    distance_mm,
    region_grow,
    region_stats,
    roi_mask,
    roi_stats,
    seed_range,
)
from imaging_triage.viewer.planes import Plane


def test_distance_uses_anisotropic_spacing() -> None:
    assert distance_mm([(0, 0, 0), (0, 0, 4)], (0.5, 0.5, 5.0)) == pytest.approx(20.0)
    assert distance_mm([(10, 0, 3), (0, 0, 3)], (0.45, 0.45, 5.0)) == pytest.approx(4.5)
    with pytest.raises(ValueError, match="two points"):
        distance_mm([(0, 0, 0)], (1, 1, 1))


def test_ellipse_roi_statistics_match_numpy_on_a_disc() -> None:
    data = np.zeros((40, 40, 5), np.int16)
    yy, xx = np.mgrid[0:40, 0:40]
    disc = (xx - 20) ** 2 + (yy - 20) ** 2 <= 8**2  # indexed (i, j)
    data[:, :, 2][disc] = 70
    data[:, :, 2][~disc] = 30
    stats = roi_stats(
        data, (0.5, 0.5, 5.0), Plane.AXIAL, 2, MeasureKind.ELLIPSE, [(12, 12, 2), (28, 28, 2)]
    )
    mask = roi_mask((40, 40), Plane.AXIAL, MeasureKind.ELLIPSE, [(12, 12, 2), (28, 28, 2)])
    assert np.array_equal(mask, disc)
    assert stats.n_voxels == int(disc.sum())
    assert stats.mean == pytest.approx(70.0) and stats.sd == 0.0
    assert stats.size == pytest.approx(disc.sum() * 0.25)
    assert "mean 70.0" in stats.text("HU") and "mm²" in stats.text("HU")


def test_freehand_square_on_a_coronal_slice() -> None:
    data = np.arange(10 * 6 * 12, dtype=np.float32).reshape(10, 6, 12)
    square = [(2, 3, 2), (6, 3, 2), (6, 3, 6), (2, 3, 6)]
    stats = roi_stats(data, (1.0, 2.0, 3.0), Plane.CORONAL, 3, MeasureKind.FREEHAND, square)
    # centres strictly inside, plus the lower/left edges by the even-odd rule
    inside = data[2:6, 3, 2:6]
    assert stats.n_voxels == inside.size
    assert stats.mean == pytest.approx(float(inside.mean()))
    assert stats.minimum == inside.min() and stats.maximum == inside.max()
    assert stats.size == pytest.approx(inside.size * 1.0 * 3.0)


def test_region_grow_finds_the_connected_blob_only() -> None:
    data = np.full((30, 30, 10), 30, np.int16)
    data[5:10, 5:10, 2:6] = 70  # blob A: 100 voxels
    data[20:25, 20:25, 2:6] = 70  # blob B, not connected
    region = region_grow(data, (7, 7, 3), 50, 90)
    assert int(region.sum()) == 100 and not region[22, 22, 3]
    stats = region_stats(data, (0.5, 0.5, 5.0), region)
    assert stats.size == pytest.approx(100 * 1.25 / 1000.0)
    assert "mL" in stats.text("HU", volume=True)
    assert not region_grow(data, (0, 0, 0), 50, 90).any()
    with pytest.raises(ValueError, match="narrow"):
        region_grow(data, (0, 0, 0), 0, 100, max_voxels=10)


def test_abc_over_2() -> None:
    assert abc_over_2(50.0, 40.0, 30.0) == pytest.approx(30.0)
    with pytest.raises(ValueError):
        abc_over_2(-1.0, 2.0, 3.0)


def test_seed_range_follows_the_series() -> None:
    rng = np.random.default_rng(3)
    mr = rng.normal(300.0, 20.0, size=(24, 24, 12)).astype(np.float32)
    mr[8:14, 8:14, 4:8] = 900.0  # a bright lesion, well apart from the background
    low, high = seed_range(mr, (10, 10, 5), is_ct=False, tolerance=0.10)
    assert low < 900.0 < high
    assert low > 400.0  # the background is outside: the lesion grows alone
    region = region_grow(mr, (10, 10, 5), low, high)
    assert int(region.sum()) == 6 * 6 * 4
    # on CT the range is the HU interval, whatever the seed's value
    assert seed_range(mr, (0, 0, 0), is_ct=True) == (40.0, 100.0)
    with pytest.raises(ValueError, match="fraction"):
        seed_range(mr, (0, 0, 0), is_ct=False, tolerance=0.0)
