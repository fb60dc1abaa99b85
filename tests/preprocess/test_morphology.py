"""Binary morphology helpers of the brain masks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from imaging_triage.preprocess.morphology import distance_inside


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.5, 0.7, 2.0)])
def test_distance_inside_equals_scipy_edt(spacing: tuple[float, float, float]) -> None:
    rng = np.random.default_rng(3)
    mask = ndimage.binary_opening(rng.random((30, 40, 20)) > 0.3)
    assert mask.any() and not mask.all()
    expected = ndimage.distance_transform_edt(mask, sampling=spacing)
    got = distance_inside(mask, spacing)
    assert got.shape == mask.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_distance_inside_of_empty_and_full_masks() -> None:
    empty = np.zeros((5, 6, 7), dtype=bool)
    assert not distance_inside(empty, (1.0, 1.0, 1.0)).any()
    full = np.ones((5, 6, 7), dtype=bool)
    expected = ndimage.distance_transform_edt(full, sampling=(1.0, 2.0, 1.0))
    np.testing.assert_allclose(distance_inside(full, (1.0, 2.0, 1.0)), expected, atol=1e-4)
