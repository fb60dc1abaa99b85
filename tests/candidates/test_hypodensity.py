"""Hypodensity asymmetry: a region 8 HU darker than its mirror is found on its side."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.candidates.anatomy import prepare
from imaging_triage.candidates.findings import Side
from imaging_triage.candidates.hypodensity import _blocks, hypodensity_asymmetry
from imaging_triage.candidates.ventricles import ventricle_mask

from .conftest import BRAIN_HU, Blob, build_head


def _run(head):
    prepared = prepare(head.volume, head.mask, True)
    return hypodensity_asymmetry(prepared, ventricle_mask(prepared))


def test_darker_region_found_on_its_side():
    head = build_head(blobs=(Blob((-32.0, 10.0, 15.0), 15.0, BRAIN_HU - 8.0),))
    result, labels = _run(head)
    assert len(result.regions) == 1
    region = result.regions[0]
    assert region.side is Side.LEFT
    assert region.delta_hu == pytest.approx(-8.0, abs=2.0)
    assert labels[head.truth["blob0"]].mean() > 0.3


def test_symmetric_head_has_no_region(normal_head):
    result, labels = _run(normal_head)
    assert result.regions == []
    assert not labels.any()


def test_blood_does_not_make_the_other_side_a_candidate():
    result, _ = _run(build_head(blobs=(Blob((25.0, 20.0, 10.0), 10.0, 70.0),)))
    assert result.regions == []


def test_thin_blood_in_a_fissure_does_not_make_the_other_side_a_candidate():
    """A 2 mm sheet of blood (a Sylvian fissure filled by SAH): the 2 mm smoothing dilutes
    it under ``dense_hu``, so its neighbourhood is kept out by the block means before it."""
    from imaging_triage.candidates.hypodensity import HypodensityConfig
    from imaging_triage.volume import Volume

    from .conftest import _grid

    head = build_head(seed=1)
    x, y, z = _grid()
    sheet = (np.abs(x - 32.0) <= 1.0) & (np.abs(y) < 25.0) & (np.abs(z) < 18.0)
    data = np.asarray(head.volume.data).copy()
    data[np.broadcast_to(sheet, data.shape)] = 70.0
    prepared = prepare(Volume(data, head.volume.affine, head.volume.info), head.mask, True)
    vent = ventricle_mask(prepared)
    result, _ = hypodensity_asymmetry(prepared, vent)
    assert result.regions == []
    # without that rule the other hemisphere is a false candidate (what the rule fixes)
    before, _ = hypodensity_asymmetry(prepared, vent, HypodensityConfig(dense_unsmoothed=False))
    assert [r.side for r in before.regions] == [Side.LEFT]


def _reshaped_mean(array, f):
    n = array.shape
    shaped = np.asarray(array, dtype=np.float32).reshape(
        n[0] // f[0], f[0], n[1] // f[1], f[1], n[2] // f[2], f[2]
    )
    return shaped.mean(axis=(1, 3, 5)).astype(np.float32)


@pytest.mark.parametrize("f", [(2, 2, 2), (2, 3, 1), (1, 1, 3)])
def test_block_means_equal_the_reshaped_mean(f):
    rng = np.random.default_rng(4)
    shape = (6 * f[0], 5 * f[1], 4 * f[2])
    hu = rng.integers(-1000, 2000, shape).astype(np.float32)  # CT: integers, exact sums
    np.testing.assert_array_equal(_blocks(hu, f), _reshaped_mean(hu, f))
    mask = rng.random(shape) > 0.5
    np.testing.assert_array_equal(_blocks(mask, f), _reshaped_mean(mask, f))
    z = rng.normal(size=shape).astype(np.float32)  # MR z-scores: float32 rounding at most
    np.testing.assert_allclose(_blocks(z, f), _reshaped_mean(z, f), rtol=0, atol=1e-6)
