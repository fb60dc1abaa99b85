"""Binary morphology helpers of the brain masks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from imaging_triage.preprocess.morphology import (
    box_dilate,
    box_dilate_at,
    box_erode,
    components,
    cross_dilate,
    cross_erode,
    dilate,
    distance_inside,
    erode,
    fill_holes,
)


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


def _random_masks(seed: int, count: int) -> list[np.ndarray]:
    """Small 3-D masks of every density, some of them flat along an axis."""
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(count):
        shape = tuple(int(n) for n in rng.integers(1, 13, 3))
        masks.append(rng.random(shape) < rng.random())
    return masks


def test_box_dilate_and_erode_equal_scipy_max_and_min_filters() -> None:
    rng = np.random.default_rng(5)
    for mask in _random_masks(5, 150):
        radii = tuple(int(r) for r in rng.integers(0, 8, 3))
        size = [2 * r + 1 for r in radii]
        as_bytes = mask.view(np.uint8)
        dilated = ndimage.maximum_filter(as_bytes, size=size, mode="constant", cval=0)
        eroded = ndimage.minimum_filter(as_bytes, size=size, mode="constant", cval=0)
        np.testing.assert_array_equal(box_dilate(mask, radii), dilated.astype(bool))
        np.testing.assert_array_equal(box_erode(mask, radii), eroded.astype(bool))


def test_dilate_and_erode_by_millimetres_use_the_rounded_box() -> None:
    mask = np.zeros((21, 21, 9), dtype=bool)
    mask[10, 10, 4] = True
    grown = dilate(mask, 2.0, (1.0, 0.5, 2.0))  # 2, 4 and 1 voxels
    assert grown.sum() == 5 * 9 * 3 and grown[8:13, 6:15, 3:6].all()
    assert dilate(mask, 2.0, (1.0, 1.0, 1.0), in_plane=True)[:, :, 4].sum() == 25
    assert dilate(mask, 2.0, (1.0, 1.0, 1.0), in_plane=True)[:, :, 3].sum() == 0
    block = np.zeros((12, 12, 12), dtype=bool)
    block[2:10, 2:10, 2:10] = True
    np.testing.assert_array_equal(np.argwhere(erode(block, 3.0, (1.0, 1.0, 1.0))).min(0), 5)
    assert erode(np.ones((6, 6, 6), dtype=bool), 1.0, (1.0, 1.0, 1.0)).sum() == 4**3


def test_fill_holes_equals_scipy() -> None:
    for mask in _random_masks(7, 150):
        np.testing.assert_array_equal(fill_holes(mask), ndimage.binary_fill_holes(mask))


def test_fill_holes_fills_an_enclosed_cavity_but_not_an_open_one() -> None:
    shell = np.zeros((20, 20, 20), dtype=bool)
    shell[3:15, 3:15, 3:15] = True
    shell[6:12, 6:12, 6:12] = False  # closed cavity
    opened = shell.copy()
    opened[8:10, 8:10, 3:6] = False  # a channel from the cavity to the outside
    assert fill_holes(shell)[3:15, 3:15, 3:15].all()
    np.testing.assert_array_equal(fill_holes(opened), opened)
    assert not fill_holes(np.zeros((4, 4, 4), dtype=bool)).any()
    full = np.ones((4, 5, 6), dtype=bool)
    np.testing.assert_array_equal(fill_holes(full), full)


def test_box_dilate_at_equals_the_whole_dilation_on_its_voxels() -> None:
    rng = np.random.default_rng(9)
    mask = rng.random((30, 25, 20)) > 0.97
    where = np.zeros(mask.shape, dtype=bool)
    where[5:12, 3:20, 8:15] = rng.random((7, 17, 7)) > 0.5
    radii = (2, 3, 1)
    whole = box_dilate(mask, radii)
    np.testing.assert_array_equal(box_dilate_at(mask, radii, where), whole & where)
    part = (slice(5, 12), slice(3, 20), slice(8, 10))  # a part of where's box only
    expected = np.zeros_like(where)
    expected[part] = whole[part] & where[part]
    np.testing.assert_array_equal(box_dilate_at(mask, radii, where, part), expected)
    assert not box_dilate_at(mask, radii, np.zeros_like(where)).any()


def test_cross_dilate_erode_and_opening_equal_scipy() -> None:
    for mask in _random_masks(11, 150):
        np.testing.assert_array_equal(cross_dilate(mask), ndimage.binary_dilation(mask))
        np.testing.assert_array_equal(cross_erode(mask), ndimage.binary_erosion(mask))
        opened = cross_dilate(cross_erode(mask))
        np.testing.assert_array_equal(opened, ndimage.binary_opening(mask))


def test_components_are_scipy_labels_numbered_otherwise() -> None:
    for mask in _random_masks(13, 60):
        got = components(mask)
        expected, n = ndimage.label(mask)
        assert int(got.max()) == n
        pairs = {(int(a), int(b)) for a, b in zip(got.ravel(), expected.ravel(), strict=True)}
        background = int(bool((~mask).any()))
        assert len(pairs) == n + background  # one scipy label per component, 0 for 0
        assert {a for a, _ in pairs} == set(range(1 - background, n + 1))
        assert (0, 0) in pairs or not background
