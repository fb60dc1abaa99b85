"""Acute hyperdensity on generated heads: a lesion of known volume and HU, a crescent,
calcifications and the skull's partial volume that must not be flagged."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from imaging_triage.candidates.anatomy import MidlinePlane, mirror_at, prepare, smoothed_on
from imaging_triage.candidates.findings import CheckStatus, ShapeHint, Side
from imaging_triage.candidates.hyperdensity import (
    HyperdensityConfig,
    _smooth_box,
    hyperdensity,
    median_within,
)
from imaging_triage.candidates.ventricles import ventricle_mask
from imaging_triage.errors import ConfigError

from .conftest import Blob, build_head


def _run(head, config=None):
    prepared = prepare(head.volume, head.mask, True)
    return hyperdensity(prepared, ventricle_mask(prepared), config)


def test_normal_head_with_partial_volume_against_the_skull_has_no_candidate(normal_head):
    result, labels = _run(normal_head)
    assert result.status is CheckStatus.MEASURED
    assert result.regions == []
    assert not labels.any()


def test_parenchymal_lesion_found_with_its_volume_density_and_side():
    head = build_head(blobs=(Blob((25.0, 20.0, 10.0), 8.0, 70.0),))
    true_ml = float(head.truth["blob0"].sum()) / 1000.0
    result, labels = _run(head)
    assert len(result.regions) == 1
    region = result.regions[0]
    assert region.volume_ml == pytest.approx(true_ml, rel=0.15)
    assert 65.0 <= region.mean_hu <= 75.0
    assert region.side is Side.RIGHT
    assert region.shape_hint is ShapeHint.PARENCHYMAL
    assert np.allclose(region.centroid_ras_mm, (25.0, 20.0, 10.0), atol=1.5)
    assert labels[head.truth["blob0"]].mean() > 0.8


def test_crescent_against_the_inner_table_keeps_its_thickness():
    head = build_head(crescent_hu=70.0)
    result, labels = _run(head)
    assert len(result.regions) == 1
    region = result.regions[0]
    assert region.shape_hint is ShapeHint.CRESCENT_CONVEXITY
    assert region.side is Side.LEFT
    truth = head.truth["crescent"]
    # a 7 mm crescent loses about 2 mm to the skull's partial volume (above 90 HU) and
    # 1 mm to the brain's (below 50 HU): the rest is found, up to the bone margin
    assert labels[truth].mean() > 0.35
    assert (labels > 0)[~truth].sum() / 1000.0 < 1.0


def test_physiological_calcifications_are_not_flagged():
    pineal = Blob((0.0, -25.0, 5.0), 3.0, 400.0)
    choroid = Blob((10.0, -15.0, 14.0), 2.5, 300.0)
    small_dense = Blob((0.0, -40.0, 30.0), 1.5, 140.0)  # partial volume keeps it below 100
    result, labels = _run(build_head(blobs=(pineal, choroid, small_dense)))
    assert result.regions == []
    assert not labels.any()


def test_lesion_below_the_acute_range_is_not_flagged():
    result, _ = _run(build_head(blobs=(Blob((25.0, 20.0, 10.0), 8.0, 45.0),)))
    assert result.regions == []


def test_faint_focus_denser_than_its_mirror_is_found():
    # 49 HU: under the acute range, 14 HU denser than the brain of the other side
    head = build_head(blobs=(Blob((25.0, 20.0, 10.0), 5.0, 49.0),))
    result, labels = _run(head)
    assert len(result.regions) == 1
    region = result.regions[0]
    assert region.side is Side.RIGHT
    assert 45.0 <= region.mean_hu < 50.0
    assert 0.1 <= region.volume_ml <= float(head.truth["blob0"].sum()) / 1000.0
    assert np.allclose(region.centroid_ras_mm, (25.0, 20.0, 10.0), atol=1.5)
    assert labels[head.truth["blob0"]].mean() > 0.2  # its core: the rim is under 45 HU


def test_faint_foci_mirrored_on_both_sides_are_not_flagged():
    pair = (Blob((25.0, 20.0, 10.0), 5.0, 49.0), Blob((-25.0, 20.0, 10.0), 5.0, 49.0))
    result, labels = _run(build_head(blobs=pair))
    assert result.regions == []
    assert not labels.any()


def test_faint_rule_off_when_its_floor_is_the_acute_floor():
    head = build_head(blobs=(Blob((25.0, 20.0, 10.0), 5.0, 49.0),))
    result, _ = _run(head, HyperdensityConfig(faint_hu=50.0))
    assert result.regions == []


def test_dense_phantom_content_is_not_measured(normal_head):
    head = build_head(blobs=(Blob((0.0, 0.0, 0.0), 50.0, 95.0),))
    result, labels = _run(head)
    assert result.status is CheckStatus.NOT_MEASURED
    assert "not brain-like" in result.reasons[0]
    assert not labels.any()


@pytest.mark.parametrize("acute_hu", [(90.0, 50.0), (50.0, 120.0)])
def test_bad_range_is_a_config_error(acute_hu):
    with pytest.raises(ConfigError, match="acute_hu"):
        HyperdensityConfig(acute_hu=acute_hu)


def test_smoothing_on_a_box_equals_the_whole_volume_smoothed_there():
    rng = np.random.default_rng(6)
    values = rng.normal(40.0, 10.0, (30, 34, 26)).astype(np.float32)
    spacing = (1.0, 0.8, 2.0)
    whole = ndimage.gaussian_filter(values, [1.0 / s for s in spacing])
    for exact in [
        (slice(6, 20), slice(8, 30), slice(3, 10)),
        (slice(0, 30), slice(0, 5), slice(20, 26)),
    ]:
        got = smoothed_on(values, 1.0, spacing, exact)
        np.testing.assert_array_equal(got[exact], whole[exact])
        outside = np.ones(values.shape, dtype=bool)
        outside[exact] = False
        assert np.isnan(got[outside]).all()


def test_smoothing_box_holds_the_mirror_of_every_voxel():
    inside = np.zeros((40, 30, 20), dtype=bool)
    inside[5:22, 4:25, 3:17] = True  # off-centre: the mirror reaches beyond it
    plane = MidlinePlane(18.3, 0.05, -0.1, 0.0, 100)
    box = _smooth_box(inside, plane)
    values = np.full(inside.shape, np.nan, dtype=np.float32)
    values[box] = 1.0
    ijk = np.nonzero(inside)
    whole = mirror_at(np.ones(inside.shape, dtype=np.float32), plane, ijk)
    np.testing.assert_array_equal(mirror_at(values, plane, ijk), whole)
    assert box[0].stop > 22 and box[1:] == (slice(4, 25), slice(3, 17))


def test_median_within_agrees_with_the_median():
    rng = np.random.default_rng(8)
    for n in [1, 2, 3, 4, 7, 10, 101, 1000]:
        for _ in range(30):
            values = rng.integers(0, 70, n).astype(np.float32)  # ties on the bounds too
            if rng.random() < 0.2:
                values[rng.integers(0, n)] = np.nan
            median = float(np.median(values))
            assert median_within(values, 15.0, 50.0) == (15.0 <= median <= 50.0)
    straddle = np.array([10.0, 14.0, 16.0, 40.0], dtype=np.float32)  # median 15
    assert median_within(straddle, 15.0, 50.0)
    assert not median_within(straddle, 15.5, 50.0)
