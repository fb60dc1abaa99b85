"""Enhanced multi-frame objects against dcm2niix and dicom2nifti (issue 2, acceptance 1).

Through the public API only: ``ingest.scan(folder)`` then ``ingest.load(record)``. Both our
volume and the reference are brought to the closest canonical (RAS) voxel order; then
the shapes are equal, the world coordinates of all voxel centres agree within 0.1 mm (the
eight corner voxels are compared: the mapping is affine), and the voxel values are equal
(exactly for integer data; within float32 rounding, rtol 1e-6, for scaled float data).

Scaling conventions:
* dcm2niix writes Philips MR "precise" values by default: its ``Ref/`` images are compared
  with ``scan(..., philips_scaling="precise")``; our default ("display") is compared with
  the reference's stored integers mapped through RescaleSlope/Intercept.
* dicom2nifti applies RescaleSlope/Intercept: its ground truth equals our default.
* The pixel data of dicom2nifti's test objects is random noise: geometry and stored values
  are what is compared, never image content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest

from imaging_triage.ingest import SeriesRecord, Status, load, scan
from imaging_triage.volume import Volume

ATOL_MM = 0.1


def canonical(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Data and affine in the closest canonical (RAS+) voxel order."""
    img = nib.as_closest_canonical(nib.Nifti1Image(data, affine))
    return np.asanyarray(img.dataobj), img.affine


def reference_arrays(path: Path, *, unscaled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    img: Any = nib.load(path)
    data = img.dataobj.get_unscaled() if unscaled else img.get_fdata(dtype=np.float64)
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    return data, img.affine


def assert_same_grid(ours: Volume, ref_data: np.ndarray, ref_affine: np.ndarray) -> np.ndarray:
    """Shapes equal, voxel centres within ATOL_MM; returns [ours, theirs] canonical data."""
    d1, a1 = canonical(np.asarray(ours.data, dtype=np.float64), ours.affine)
    d2, a2 = canonical(ref_data, ref_affine)
    assert d1.shape == d2.shape, f"shape {d1.shape} != reference {d2.shape}"
    n = np.array(d1.shape[:3]) - 1
    corners = np.array([[i, j, k, 1] for i in (0, n[0]) for j in (0, n[1]) for k in (0, n[2])])
    err = float(np.abs(corners @ a1.T - corners @ a2.T)[:, :3].max())
    assert err <= ATOL_MM, f"voxel centres differ by up to {err:.4f} mm"
    return np.stack([d1, d2])


def ok_records(folder: Path, **options: str) -> list[SeriesRecord]:
    result = scan(folder, **options)  # type: ignore[arg-type]
    ok = [r for r in result.series if r.status is Status.OK]
    assert ok, [(r.input, r.status.value, r.reason) for r in result.series]
    return ok


def only_volume(folder: Path, **options: str) -> Volume:
    (record,) = ok_records(folder, **options)
    (volume,) = load(record)
    return volume


# --- dcm2niix: dcm_qa_xa30 and dcm_qa_enh ----------------------------------------------------


@pytest.mark.realdata
@pytest.mark.parametrize("series", ["5_anat-T1w_acq-tfl", "6_anat-T1w_acq-tfl"])
def test_xa30_enhanced_t1_matches_dcm2niix(realdata: Path, series: str) -> None:
    root = realdata / "dcm_qa_xa30"
    volume = only_volume(root / "In" / series)
    ours, theirs = assert_same_grid(volume, *reference_arrays(root / "Ref" / f"{series}.nii"))
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.realdata
def test_xa10_sms_fmri_four_files_one_4d_volume(realdata: Path) -> None:
    root = realdata / "dcm_qa_enh"
    volume = only_volume(root / "In" / "Siemens" / "XA10")
    assert volume.shape == (64, 64, 6, 4)
    ref = reference_arrays(root / "Ref" / "Siemens_REST1_w_SMS_PF7-8_6.nii")
    ours, theirs = assert_same_grid(volume, *ref)
    np.testing.assert_array_equal(ours, theirs)


PHILIPS_REFS = {
    # frame type value 4 -> dcm2niix output of that image
    "M": "Philips_WIP_B0_NS_801_e1.nii",
    "FIELD_MAP": "Philips_WIP_B0_NS_801_e2_fieldmaphz.nii",
}


def _philips_fieldmap_volumes(realdata: Path, scaling: str) -> dict[str, Volume]:
    folder = realdata / "dcm_qa_enh" / "In" / "Philips"
    records = ok_records(folder, philips_scaling=scaling)
    assert len(records) == 2, "magnitude and field map are two volumes of one object"
    out: dict[str, Volume] = {}
    for record in records:
        (volume,) = load(record)
        frame_types = {f.meta["FrameType"] for f in record.extra["frames"]}
        assert len(frame_types) == 1
        out[frame_types.pop().split("\\")[3]] = volume
    assert sorted(out) == sorted(PHILIPS_REFS)
    return out


@pytest.mark.realdata
def test_philips_fieldmap_precise_matches_dcm2niix_default(realdata: Path) -> None:
    volumes = _philips_fieldmap_volumes(realdata, "precise")
    for kind, ref_name in PHILIPS_REFS.items():
        ref = reference_arrays(realdata / "dcm_qa_enh" / "Ref" / ref_name)
        ours, theirs = assert_same_grid(volumes[kind], *ref)
        # dcm2niix stores the slope as float32; field map values are Hz near +-500
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0.01, err_msg=kind)


@pytest.mark.realdata
def test_philips_fieldmap_display_default_is_stored_times_rescale(realdata: Path) -> None:
    """Our default (display) = dcm2niix's stored integers x RescaleSlope + RescaleIntercept."""
    ds = pydicom.dcmread(
        realdata / "dcm_qa_enh" / "In" / "Philips" / "IM_0027_fMAP.dcm", stop_before_pixels=True
    )
    frames = ds.PerFrameFunctionalGroupsSequence
    rescale = {}
    for item in (frames[0], frames[len(frames) - 1]):
        kind = item.MRImageFrameTypeSequence[0].FrameType[3]
        pvt = item.PixelValueTransformationSequence[0]
        rescale[kind] = (float(pvt.RescaleSlope), float(pvt.RescaleIntercept))
    volumes = _philips_fieldmap_volumes(realdata, "display")
    for kind, ref_name in PHILIPS_REFS.items():
        stored, affine = reference_arrays(realdata / "dcm_qa_enh" / "Ref" / ref_name, unscaled=True)
        slope, intercept = rescale[kind]
        ours, theirs = assert_same_grid(volumes[kind], stored * slope + intercept, affine)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-3, err_msg=kind)
    # the field map's display values are its real-world values, in Hz
    assert (
        -500.0
        <= float(volumes["FIELD_MAP"].data.min())
        < 0
        < float(volumes["FIELD_MAP"].data.max())
        <= 500.0
    )


# --- dicom2nifti: philips_enhanced and siemens_multiframe -----------------------------------

D2N_VALUES = [
    "philips_enhanced/anatomical/001",
    "philips_enhanced/anatomical/001_implicit",
    "philips_enhanced/fmri/001",
    "philips_enhanced/fmri/001_implicit",
    "siemens_multiframe/anatomical/001",
]


@pytest.mark.realdata
@pytest.mark.parametrize("case", D2N_VALUES)
def test_dicom2nifti_enhanced_ground_truth(realdata: Path, case: str) -> None:
    folder = realdata / "dicom2nifti" / "tests" / "data" / case
    volume = only_volume(folder)
    ref = reference_arrays(folder.parent / f"{folder.name}_ground_truth.nii.gz")
    ours, theirs = assert_same_grid(volume, *ref)
    # dicom2nifti stores float32 (Philips, scaled) or uint16 (Siemens, slope 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)


@pytest.mark.realdata
@pytest.mark.parametrize("case", ["001", "001_implicit"])
def test_dicom2nifti_philips_dti_geometry(realdata: Path, case: str) -> None:
    """Geometry only: dicom2nifti's DTI ground truth holds a single non-zero volume (its
    first volume equals the last gradient direction, the other three are all zeros), so its
    voxel values are no reference. The volume order is checked against its .bval/.bvec in
    tests/dicom/test_multiframe.py."""
    folder = realdata / "dicom2nifti" / "tests" / "data" / "philips_enhanced" / "dti" / case
    volume = only_volume(folder)
    ref_data, ref_affine = reference_arrays(folder.parent / f"{case}_ground_truth.nii.gz")
    ours, theirs = assert_same_grid(volume, ref_data, ref_affine)
    # what dicom2nifti does hold: its volume 0 is our last volume, exactly
    np.testing.assert_allclose(ours[..., 3], theirs[..., 0], rtol=1e-6)
    assert not theirs[..., 1:].any()
