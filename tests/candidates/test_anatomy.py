"""The mirror across the midline plane: the whole grid and a few voxels agree."""

from __future__ import annotations

import numpy as np

from imaging_triage.candidates.anatomy import MidlinePlane, mirror, mirror_at


def test_mirror_at_gives_the_values_of_the_whole_mirror():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(21, 9, 7)).astype(np.float32)
    plane = MidlinePlane(10.3, 0.4, -0.3, 0.0, 100)  # some mirrors fall off the grid
    whole = mirror(values, plane, fill=np.nan)
    ijk = np.nonzero(np.ones(values.shape, dtype=bool))
    assert np.isnan(whole).any()
    assert np.allclose(mirror_at(values, plane, ijk), whole[ijk], equal_nan=True)
