"""Compare our volumes with reference NIfTI files (dcm2niix, dicom2nifti)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from imaging_triage.volume import Volume, to_nifti


def canonical(img: nib.Nifti1Image) -> tuple[np.ndarray, np.ndarray]:
    """(data as scaled values, affine) in the closest canonical (RAS) voxel order."""
    can = nib.as_closest_canonical(img)
    return np.asanyarray(can.dataobj).astype(np.float64), can.affine


def assert_matches_reference(volume: Volume, reference: Path, atol_mm: float = 0.1) -> None:
    """Same shape, voxel-centre world coordinates within ``atol_mm``, equal voxel values.

    Both images are brought to the closest canonical orientation first; the world
    positions of all voxel centres agree within ``atol_mm`` when the eight corner voxels
    do (the mapping is affine).
    """
    ours = to_nifti(volume, dtype=np.float64)
    ref = nib.load(str(reference))
    ref_data = np.asanyarray(ref.dataobj)
    if ref_data.ndim == 4 and ref_data.shape[3] == 1 and volume.data.ndim == 3:
        ref = nib.Nifti1Image(ref_data[..., 0], ref.affine, ref.header)
    d1, a1 = canonical(ours)
    d2, a2 = canonical(ref)
    assert d1.shape == d2.shape, f"shape {d1.shape} != reference {d2.shape} ({reference.name})"
    n = np.array(d1.shape[:3]) - 1
    corners = np.array([[i, j, k, 1] for i in (0, n[0]) for j in (0, n[1]) for k in (0, n[2])])
    err = np.abs(corners @ a1.T - corners @ a2.T)[:, :3].max()
    assert err <= atol_mm, f"voxel centres differ by {err:.3f} mm from {reference.name}"
    if np.issubdtype(volume.data.dtype, np.integer):
        np.testing.assert_array_equal(d1, d2, err_msg=f"voxel values differ from {reference.name}")
    else:
        # rescaled values held as float32: equal to float32 precision
        np.testing.assert_allclose(
            d1,
            d2,
            rtol=2e-7,
            atol=1e-6 * max(1.0, float(np.abs(d2).max())),
            err_msg=f"voxel values differ from {reference.name}",
        )


def bvec_world(bvec: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """FSL voxel-frame gradient directions (3 x N) of an image back to RAS unit vectors:
    undo FSL's negated first component (positive determinant), then map the voxel axes
    into the world. Two ``.bvec`` files of differently stored images compare this way."""
    m = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    v = np.array(bvec, dtype=float)
    if np.linalg.det(affine[:3, :3]) > 0:
        v[0] = -v[0]
    return np.asarray(m @ v)
