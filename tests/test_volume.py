"""Volume: NIfTI round trips, the smallest exact datatype, SimpleITK bridges."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from imaging_triage import volume as V
from imaging_triage.volume import Volume, from_sitk, load_nifti, save_nifti, to_sitk


def _oblique_affine() -> np.ndarray:
    rot = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    if np.linalg.det(rot) < 0:
        rot[:, 0] *= -1
    aff = np.eye(4)
    aff[:3, :3] = rot * np.array([0.5, 0.7, 2.5])
    aff[:3, 3] = [10.0, -20.0, 30.0]
    return aff


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("shape", [(40, 30, 50), (12, 10, 6, 3)])
def test_nifti_round_trip_exact(tmp_path: Path, suffix: str, shape: tuple[int, ...]) -> None:
    monkey_chunk = 4096  # force many gzip members
    V._GZ_CHUNK, old = monkey_chunk, V._GZ_CHUNK
    try:
        data = np.random.default_rng(0).integers(-1024, 3000, shape).astype(np.int32)
        vol = Volume(data, _oblique_affine())
        path = save_nifti(vol, tmp_path / f"a{suffix}")
        img = nib.load(str(path))
        assert img.get_data_dtype() == np.int16  # smallest exact type for this range
        np.testing.assert_array_equal(np.asanyarray(img.dataobj), data)
        np.testing.assert_allclose(img.affine, vol.affine, atol=1e-5)
        assert int(img.header["qform_code"]) == 1 and int(img.header["sform_code"]) == 1
        back = load_nifti(path)
        np.testing.assert_array_equal(back.data, data)
        if suffix == ".nii.gz":
            with gzip.open(path) as fh:  # a valid (multi-member) gzip stream
                assert len(fh.read()) == 352 + data.size * 2
            again = save_nifti(vol, tmp_path / f"b{suffix}")
            assert again.read_bytes() == path.read_bytes()  # deterministic bytes
    finally:
        V._GZ_CHUNK = old


def test_smallest_exact_dtype() -> None:
    assert V.smallest_exact_dtype(np.array([0.0, 255.0])) == np.uint8
    assert V.smallest_exact_dtype(np.array([-1024.0, 3071.0])) == np.int16
    assert V.smallest_exact_dtype(np.array([0, 65535])) == np.uint16
    assert V.smallest_exact_dtype(np.array([0.5, 1.0])) == np.float32
    assert V.smallest_exact_dtype(np.array([-1, 70000])) == np.int32


def test_sitk_bridge_keeps_world_positions(tmp_path: Path) -> None:
    data = np.random.default_rng(2).normal(size=(7, 8, 9)).astype(np.float32)
    vol = Volume(data, _oblique_affine())
    img = to_sitk(vol)
    # the physical point of index (i, j, k) in SimpleITK (LPS) equals our RAS point, flipped
    for ijk in [(0, 0, 0), (6, 7, 8), (3, 1, 5)]:
        lps = np.array(img.TransformIndexToPhysicalPoint(ijk))
        np.testing.assert_allclose(lps * [-1, -1, 1], vol.world(ijk), atol=1e-5)
        assert img[ijk] == pytest.approx(float(data[ijk]))
    back = from_sitk(img)
    np.testing.assert_array_equal(back.data, data)
    np.testing.assert_allclose(back.affine, vol.affine, atol=1e-6)
    save_nifti(vol, tmp_path / "x.nii.gz")
    read = sitk.ReadImage(str(tmp_path / "x.nii.gz"))
    np.testing.assert_allclose(read.GetOrigin(), img.GetOrigin(), atol=1e-4)


def test_sheared_affine_refused_by_sitk_bridge() -> None:
    aff = np.eye(4)
    aff[1, 2] = 0.5  # gantry-tilt shear
    with pytest.raises(ValueError, match="shear"):
        to_sitk(Volume(np.zeros((2, 2, 2)), aff))
