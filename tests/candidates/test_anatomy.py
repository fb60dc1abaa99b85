"""The mirror across the midline plane: the whole grid and a few voxels agree."""

from __future__ import annotations

import numpy as np

from imaging_triage.candidates.anatomy import (
    MidlinePlane,
    bounding_box,
    mirror,
    mirror_at,
    prepare,
    row_edges,
    voxels,
)


def test_mirror_at_gives_the_values_of_the_whole_mirror():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(21, 9, 7)).astype(np.float32)
    plane = MidlinePlane(10.3, 0.4, -0.3, 0.0, 100)  # some mirrors fall off the grid
    whole = mirror(values, plane, fill=np.nan)
    ijk = np.nonzero(np.ones(values.shape, dtype=bool))
    assert np.isnan(whole).any()
    assert np.allclose(mirror_at(values, plane, ijk), whole[ijk], equal_nan=True)


def test_voxels_equal_argwhere():
    rng = np.random.default_rng(2)
    mask = rng.random((9, 8, 7)) > 0.9
    np.testing.assert_array_equal(voxels(mask), np.argwhere(mask))
    np.testing.assert_array_equal(voxels(mask[2:7, ::2]), np.argwhere(mask[2:7, ::2]))
    assert voxels(np.zeros((3, 4, 5), dtype=bool)).shape == (0, 3)


def test_row_edges_are_the_first_and_last_voxel_of_each_row():
    rng = np.random.default_rng(5)
    mask = np.zeros((20, 9, 7), dtype=bool)
    mask[4:15, 2:8, 1:6] = rng.random((11, 6, 5)) > 0.6
    present, first, last = row_edges(mask)
    np.testing.assert_array_equal(present, mask.any(axis=0))
    np.testing.assert_array_equal(first[present], np.argmax(mask, axis=0)[present])
    np.testing.assert_array_equal(last[present], 19 - np.argmax(mask[::-1], axis=0)[present])
    assert not row_edges(np.zeros((3, 4, 5), dtype=bool))[0].any()


def test_head_box_is_the_bounding_box_of_its_mask(normal_head):
    head = prepare(normal_head.volume, normal_head.mask, True)
    for margin in (0.0, 2.0, 12.0, 500.0):
        assert head.box(margin) == bounding_box(head.mask, margin, head.spacing)
    assert head.inside.sum() == head.mask.sum()  # the ellipsoid has no hole
