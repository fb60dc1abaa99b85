"""The mirror across the midline plane: the whole grid and a few voxels agree."""

from __future__ import annotations

import numpy as np

from imaging_triage.candidates.anatomy import MidlinePlane, mirror, mirror_at, voxels


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
