"""Reorient: voxels permuted to RAS order, every voxel keeps its world position."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.preprocess.base import Sample
from imaging_triage.preprocess.reorient import Reorient, reorient_array
from imaging_triage.volume import LPS_TO_RAS, Volume


def _lps_volume() -> Volume:
    rng = np.random.default_rng(1)
    data = rng.normal(size=(5, 6, 7)).astype(np.float32)
    # DICOM-like axial: i -> L (RAS x decreasing), j -> P, k -> S, with spacing and offset
    lps = np.array([[0.8, 0, 0, -20], [0, 0.9, 0, 30], [0, 0, 2.5, -40], [0, 0, 0, 1]])
    return Volume(data, LPS_TO_RAS @ lps)


@pytest.mark.parametrize("perm", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
def test_world_positions_kept(perm: tuple[int, int, int]) -> None:
    vol = _lps_volume()
    data = np.transpose(vol.data, perm)
    affine = vol.affine.copy()
    affine[:, :3] = vol.affine[:, list(perm)]
    out, new_affine = reorient_array(data, affine)
    assert "".join(__import__("nibabel").aff2axcodes(new_affine)) == "RAS"
    # every voxel's value sits at the same world point before and after
    idx = np.array(np.meshgrid(*[np.arange(n) for n in data.shape], indexing="ij")).reshape(3, -1).T
    world = idx @ affine[:3, :3].T + affine[:3, 3]
    new_idx = np.round((world - new_affine[:3, 3]) @ np.linalg.inv(new_affine[:3, :3]).T).astype(
        int
    )
    assert np.array_equal(out[tuple(new_idx.T)], data[tuple(idx.T)])


def test_step_moves_mask_and_notes() -> None:
    vol = _lps_volume()
    mask = vol.data > 0
    out = Reorient()(Sample(image=vol, mask=mask))
    assert out.image.orientation() == "RAS"
    assert out.mask is not None
    assert np.array_equal(out.mask, out.image.data > 0)
    assert out.notes == ["reoriented LPS -> RAS"]


def test_ras_input_unchanged() -> None:
    vol = Volume(np.zeros((2, 3, 4)), np.eye(4))
    out = Reorient()(Sample(image=vol))
    assert out.image.data.shape == (2, 3, 4)
    assert out.notes == []
