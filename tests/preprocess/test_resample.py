"""Resample: field of view kept, linear fields reproduced, masks nearest neighbour."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.base import Sample
from imaging_triage.preprocess.resample import Interpolation, Resample, target_grid
from imaging_triage.volume import Volume


def _linear_volume() -> Volume:
    affine = np.array([[0.5, 0, 0, -10], [0, 0.6, 0, -12], [0, 0, 3.0, -20], [0, 0, 0, 1]])
    shape = (40, 36, 10)
    idx = np.indices(shape).reshape(3, -1).T
    world = idx @ affine[:3, :3].T + affine[:3, 3]
    values = (2.0 * world[:, 0] - 1.0 * world[:, 1] + 3.0 * world[:, 2]).reshape(shape)
    return Volume(values.astype(np.float32), affine)


def test_target_grid_keeps_field_of_view() -> None:
    vol = _linear_volume()
    shape, affine = target_grid(vol.shape, vol.affine, (1.0, 1.0, 1.0))
    assert shape == (20, 21, 30)
    # outer edge of the first voxel unchanged: -10 - 0.25 = -10.5 in x
    assert affine[0, 3] - 0.5 == pytest.approx(-10.25)
    assert affine[2, 3] - 0.5 == pytest.approx(-21.5)


@pytest.mark.parametrize(
    ("interp", "tolerance"), [(Interpolation.LINEAR, 0.05), (Interpolation.BSPLINE, 0.25)]
)
def test_linear_field_reproduced(interp: Interpolation, tolerance: float) -> None:
    vol = _linear_volume()
    out = Resample(spacing_mm=(1.0, 1.0, 1.0), interpolation=interp)(Sample(image=vol))
    img = out.image
    assert img.spacing == pytest.approx((1.0, 1.0, 1.0))
    idx = np.indices(img.shape).reshape(3, -1).T
    world = img.world(idx)
    expected = 2.0 * world[:, 0] - 1.0 * world[:, 1] + 3.0 * world[:, 2]
    # compare away from the borders (edge voxels extrapolate)
    inside = (
        (world[:, 0] > -8)
        & (world[:, 0] < 7)
        & (world[:, 1] > -10)
        & (world[:, 1] < 6)
        & (world[:, 2] > -14)
        & (world[:, 2] < 0)
    )
    err = np.abs(img.data.reshape(-1)[inside] - expected[inside])
    # values span about +-80; B-spline prefiltering leaves a small ripple near the borders
    assert err.max() < tolerance


def test_mask_is_nearest_and_stays_binary() -> None:
    vol = _linear_volume()
    mask = vol.data > 0
    out = Resample(spacing_mm=(1.0, 1.0, 1.0))(Sample(image=vol, mask=mask))
    assert out.mask is not None and out.mask.dtype == bool
    assert out.mask.shape == out.image.shape
    # mask agrees with the resampled field's sign except within one voxel of the boundary
    agree = out.mask == (out.image.data > 0)
    assert agree.mean() > 0.97


def test_empty_spacing_keeps_native() -> None:
    vol = _linear_volume()
    out = Resample(spacing_mm=())(Sample(image=vol))
    assert out.image is vol


def test_bad_spacing_is_config_error() -> None:
    with pytest.raises(ConfigError, match="spacing_mm must be three positive numbers"):
        Resample(spacing_mm=(1.0, 0.0, 1.0))
