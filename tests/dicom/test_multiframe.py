"""Enhanced multi-frame objects -> Frames: geometry, stack keys, order keys, scaling.

Generated headers cover the functional-group rules one at a time; the real objects of
../shared/realdata are checked frame by frame against the dcm2niix reference NIfTI (every
pixel centre lands on a reference voxel centre within 0.1 mm, with the same value).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from imaging_triage.dicom import multiframe, philips
from imaging_triage.dicom.frame import Frame
from imaging_triage.errors import ConfigError, GeometryError, InputError

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


def _item(**groups: Dataset) -> Dataset:
    out = Dataset()
    for name, value in groups.items():
        setattr(out, name, Sequence([value]))
    return out


def _ds(keyword_values: dict[str, Any]) -> Dataset:
    out = Dataset()
    for k, v in keyword_values.items():
        setattr(out, k, v)
    return out


def enhanced(
    frames: Iterable[dict[str, Any]], *, shared: dict[str, Dataset] | None = None
) -> Dataset:
    """An Enhanced MR header; each frame dict gives per-frame group contents.

    Keys: ``pos`` (ImagePositionPatient), ``iop``, ``spacing``, ``slope``/``intercept``,
    ``content`` (FrameContentSequence attributes), ``te``, ``component``, ``frame_type``,
    ``b`` (b-value).
    """
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    ds.SeriesInstanceUID = "1.2.3.4"
    ds.Modality = "MR"
    ds.Manufacturer = "ACME"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ds.Rows, ds.Columns = 4, 6
    ds.InstanceNumber = 7
    per_frame = []
    for spec in frames:
        item = Dataset()
        if "pos" in spec:
            item.PlanePositionSequence = Sequence(
                [_ds({"ImagePositionPatient": list(spec["pos"])})]
            )
        if "iop" in spec:
            item.PlaneOrientationSequence = Sequence(
                [_ds({"ImageOrientationPatient": list(spec["iop"])})]
            )
        if "spacing" in spec:
            item.PixelMeasuresSequence = Sequence(
                [_ds({"PixelSpacing": list(spec["spacing"]), "SliceThickness": 2.0})]
            )
        if "slope" in spec:
            item.PixelValueTransformationSequence = Sequence(
                [_ds({"RescaleSlope": spec["slope"], "RescaleIntercept": spec.get("intercept", 0)})]
            )
        item.FrameContentSequence = Sequence([_ds(spec.get("content", {}))])
        if "te" in spec:
            item.MREchoSequence = Sequence([_ds({"EffectiveEchoTime": spec["te"]})])
        item.MRImageFrameTypeSequence = Sequence(
            [
                _ds(
                    {
                        "FrameType": spec.get("frame_type", ["ORIGINAL", "PRIMARY", "M", "NONE"]),
                        "ComplexImageComponent": spec.get("component", "MAGNITUDE"),
                    }
                )
            ]
        )
        if "b" in spec:
            item.MRDiffusionSequence = Sequence([_ds({"DiffusionBValue": spec["b"]})])
        per_frame.append(item)
    ds.NumberOfFrames = len(per_frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.SharedFunctionalGroupsSequence = Sequence([_item(**(shared or {}))])
    return ds


def shared_geometry(iop: tuple[float, ...] = AXIAL) -> dict[str, Dataset]:
    return {
        "PlaneOrientationSequence": _ds({"ImageOrientationPatient": list(iop)}),
        "PixelMeasuresSequence": _ds({"PixelSpacing": [0.5, 0.75], "SliceThickness": 3.0}),
        "PixelValueTransformationSequence": _ds({"RescaleSlope": 2, "RescaleIntercept": -5}),
    }


def stack_of(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"pos": (0.0, 0.0, 3.0 * k), **extra} for k in range(n)]


def test_is_enhanced() -> None:
    assert multiframe.is_enhanced(enhanced(stack_of(2), shared=shared_geometry()))
    classic = Dataset()
    classic.NumberOfFrames = 10  # classic multi-frame (NM, US cine) without groups
    assert not multiframe.is_enhanced(classic)
    assert not multiframe.is_enhanced(Dataset())


def test_geometry_from_per_frame_then_shared_groups() -> None:
    specs = stack_of(3)
    specs[1] |= {"iop": CORONAL, "spacing": (1.5, 1.25), "slope": 3, "intercept": 7}
    ds = enhanced(specs, shared=shared_geometry())
    frames = multiframe.frames_from_enhanced(ds, "/x/enh.dcm")
    assert [f.frame_index for f in frames] == [0, 1, 2]
    assert [f.position for f in frames] == [(0.0, 0.0, 0.0), (0.0, 0.0, 3.0), (0.0, 0.0, 6.0)]
    a, b = frames[0], frames[1]
    # shared groups
    assert (a.row_cosine, a.col_cosine) == (AXIAL[:3], AXIAL[3:])
    assert (a.row_spacing, a.col_spacing, a.slice_thickness) == (0.5, 0.75, 3.0)
    assert (a.slope, a.intercept) == (2.0, -5.0)
    # per-frame groups win
    assert (b.row_cosine, b.col_cosine) == (CORONAL[:3], CORONAL[3:])
    assert (b.row_spacing, b.col_spacing, b.slice_thickness) == (1.5, 1.25, 2.0)
    assert (b.slope, b.intercept) == (3.0, 7.0)
    assert (a.rows, a.cols, a.path, a.instance_number, a.tile_index) == (
        4,
        6,
        "/x/enh.dcm",
        7,
        None,
    )
    # a different orientation is a different stack
    assert a.stack_key != b.stack_key and a.stack_key == frames[2].stack_key


def test_orientation_jitter_across_a_rounding_boundary_stays_one_stack() -> None:
    # 0.12345 and 0.1234499 round to different 4th decimals; they are the same plane
    a = (0.0, 0.99235, 0.12345, 0.0, -0.12345, 0.99235)
    b = (0.0, 0.99235, 0.1234499, 0.0, -0.1234499, 0.99235)
    specs = [{"pos": (0.0, 0.0, 3.0 * k), "iop": a if k % 2 else b} for k in range(4)]
    frames = multiframe.frames_from_enhanced(enhanced(specs, shared=shared_geometry()), "f")
    assert len({f.stack_key for f in frames}) == 1


def test_pixel_to_lps_uses_row_and_column_spacing_correctly() -> None:
    ds = enhanced(stack_of(1), shared=shared_geometry())
    (f,) = multiframe.frames_from_enhanced(ds, "f")
    # one column to the right moves by the column spacing (0.75) along the row cosine
    np.testing.assert_allclose(f.pixel_to_lps(0, 1), [0.75, 0.0, 0.0])
    np.testing.assert_allclose(f.pixel_to_lps(1, 0), [0.0, 0.5, 0.0])


def test_echo_component_stack_and_type_split_stacks_but_b_value_does_not() -> None:
    specs = (
        stack_of(2, te=10.0, content={"StackID": "1"})
        + stack_of(2, te=20.0, content={"StackID": "1"})
        + stack_of(2, te=10.0, component="PHASE", content={"StackID": "1"})
        + stack_of(2, te=10.0, content={"StackID": "2"})
        + stack_of(2, te=10.0, frame_type=["DERIVED", "PRIMARY", "ADC", "NONE"])
    )
    frames = multiframe.frames_from_enhanced(enhanced(specs, shared=shared_geometry()), "f")
    keys = [f.stack_key for f in frames]
    assert len(set(keys)) == 5
    assert all(keys[2 * i] == keys[2 * i + 1] for i in range(5))
    assert frames[2].meta["EchoTime"] == 20.0
    assert frames[4].meta["ComplexImageComponent"] == "PHASE"

    dwi = stack_of(2, b=0.0, te=80.0) + stack_of(2, b=1000.0, te=80.0)
    frames = multiframe.frames_from_enhanced(enhanced(dwi, shared=shared_geometry()), "f")
    assert len({f.stack_key for f in frames}) == 1
    assert [f.meta["DiffusionBValue"] for f in frames] == [0.0, 0.0, 1000.0, 1000.0]


def test_order_key_from_temporal_position_is_equal_within_a_volume() -> None:
    specs = [
        {
            "pos": (0.0, 0.0, 3.0 * k),
            "content": {"TemporalPositionIndex": t, "InStackPositionNumber": k + 1},
        }
        for t in (2, 1)
        for k in range(3)
    ]
    frames = multiframe.frames_from_enhanced(enhanced(specs, shared=shared_geometry()), "f")
    assert [f.order_key for f in frames[:3]] == [frames[0].order_key] * 3
    assert frames[0].order_key > frames[3].order_key  # t=2 after t=1


def test_order_key_from_dimension_index_values_declared() -> None:
    # dimensions: stack id, in-stack position, diffusion gradient number
    specs = [
        {
            "pos": (0.0, 0.0, 3.0 * k),
            "content": {
                "StackID": "1",
                "InStackPositionNumber": k + 1,
                "DimensionIndexValues": [1, k + 1, g],
            },
            "b": 0.0 if g == 1 else 1000.0,
        }
        for k in range(2)
        for g in (1, 2, 3)
    ]
    ds = enhanced(specs, shared=shared_geometry())
    pointers = [0x00209056, 0x00209057, 0x00189087]
    ds.DimensionIndexSequence = Sequence([_ds({"DimensionIndexPointer": p}) for p in pointers])
    frames = multiframe.frames_from_enhanced(ds, "f")
    assert [f.order_key for f in frames] == [(0, (g,)) for _ in range(2) for g in (1, 2, 3)]


def test_order_key_dimensions_inferred_without_dimension_index_sequence() -> None:
    # as in Philips exports that omit the Dimension Index Sequence: [stack, position, b, dir]
    specs = [
        {
            "pos": (0.0, 0.0, 3.0 * k),
            "content": {
                "StackID": "1",
                "InStackPositionNumber": k + 1,
                "TemporalPositionIndex": 1,
                "DimensionIndexValues": [1, k + 1, b, d],
            },
        }
        for k in range(3)
        for b, d in ((1, 9), (2, 1), (2, 2))
    ]
    frames = multiframe.frames_from_enhanced(enhanced(specs, shared=shared_geometry()), "f")
    assert [f.order_key for f in frames[:3]] == [(1, (1, 9)), (1, (2, 1)), (1, (2, 2))]
    assert [f.order_key for f in frames[3:6]] == [f.order_key for f in frames[:3]]


def test_order_key_falls_back_to_acquisition_time_then_frame_number() -> None:
    specs = [
        {"pos": (0.0, 0.0, 0.0), "content": {"FrameAcquisitionDateTime": "20200101120005"}},
        {"pos": (0.0, 0.0, 0.0), "content": {"FrameAcquisitionDateTime": "20200101120001"}},
    ]
    frames = multiframe.frames_from_enhanced(enhanced(specs, shared=shared_geometry()), "f")
    assert frames[1].order_key < frames[0].order_key


def test_frame_count_mismatch_is_an_input_error() -> None:
    ds = enhanced(stack_of(3), shared=shared_geometry())
    ds.NumberOfFrames = 4
    with pytest.raises(InputError, match=r"NumberOfFrames is 4 but .* has 3 items"):
        multiframe.frames_from_enhanced(ds, "/x/bad.dcm")


def test_missing_geometry_names_the_frame() -> None:
    specs = stack_of(2)
    del specs[1]["pos"]
    with pytest.raises(GeometryError, match="frame 2 has no ImagePositionPatient") as info:
        multiframe.frames_from_enhanced(enhanced(specs, shared=shared_geometry()), "/x/e.dcm")
    assert info.value.path == "/x/e.dcm"
    shared = shared_geometry()
    del shared["PixelMeasuresSequence"]
    with pytest.raises(GeometryError, match="PixelSpacing"):
        multiframe.frames_from_enhanced(enhanced(stack_of(1), shared=shared), "f")
    shared = shared_geometry((1.0, 0.0, 0.0, 1.0, 0.0, 0.0))  # parallel cosines
    with pytest.raises(GeometryError, match="ImageOrientationPatient"):
        multiframe.frames_from_enhanced(enhanced(stack_of(1), shared=shared), "f")


def test_malformed_frame_content_values_do_not_crash() -> None:
    specs = [
        {
            "pos": (0.0, 0.0, 3.0 * k),
            "content": {"StackID": "1e400", "DimensionIndexValues": [1, k]},
        }
        for k in range(3)
    ]
    frames = multiframe.frames_from_enhanced(enhanced(specs, shared=shared_geometry()), "f")
    assert [f.meta["StackID"] for f in frames] == ["1e400"] * 3
    assert len({f.stack_key for f in frames}) == 1


def test_philips_scaling_option() -> None:
    ds = enhanced(stack_of(2), shared=shared_geometry())
    ds.Manufacturer = "Philips Medical Systems"
    ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0].RescaleIntercept = 0
    for item in ds.PerFrameFunctionalGroupsSequence:
        inner = Dataset()
        block = inner.private_block(0x2005, philips.PHILIPS_MR_CREATOR, create=True)
        block.add_new(0x0E, "FL", 0.25)
        outer = item.private_block(0x2005, philips.PHILIPS_PER_FRAME_CREATOR, create=True)
        outer.add_new(philips.PER_FRAME_ELEMENT, "SQ", Sequence([inner]))
    display = multiframe.frames_from_enhanced(ds, "f")
    precise = multiframe.frames_from_enhanced(ds, "f", philips_scaling="precise")
    assert (display[0].slope, display[0].intercept) == (2.0, 0.0)
    assert (precise[0].slope, precise[0].intercept) == (4.0, 0.0)
    assert precise[0].meta["PhilipsScaling"] == "precise"
    with pytest.raises(ConfigError):
        multiframe.frames_from_enhanced(ds, "f", philips_scaling="raw")
    # other manufacturers ignore the option
    ds.Manufacturer = "SIEMENS"
    other = multiframe.frames_from_enhanced(ds, "f", philips_scaling="precise")
    assert other[0].slope == 2.0 and "PhilipsScaling" not in other[0].meta


# --- real objects against the dcm2niix / dicom2nifti references ---------------------------


def check_against_reference(frames: list[Frame], ref: Any, atol_mm: float = 0.1) -> None:
    """Every pixel of every frame lands on a reference voxel centre with the same value.

    ``frames`` are one stack; the 4th reference axis is the rank of the frame's order key.
    """
    affine = ref.affine
    inverse = np.linalg.inv(affine)
    data = np.asarray(ref.get_fdata(dtype=np.float64))
    if data.ndim == 3:
        data = data[..., np.newaxis]
    orders = sorted({f.order_key for f in frames})
    assert len(orders) == data.shape[3]
    seen: dict[tuple[int, int, int], int] = {}
    pixels = {path: pydicom.dcmread(path).pixel_array for path in {f.path for f in frames}}
    for f in frames:
        rr, cc = np.meshgrid(np.arange(f.rows), np.arange(f.cols), indexing="ij")
        ras = f.pixel_to_lps(rr, cc) * np.array([-1.0, -1.0, 1.0])
        ijk = ras @ inverse[:3, :3].T + inverse[:3, 3]
        idx = np.rint(ijk).astype(int)
        off_mm = np.linalg.norm((ijk - idx) @ affine[:3, :3].T, axis=-1)
        assert off_mm.max() < atol_mm, f"frame {f.frame_index}: {off_mm.max():.4f} mm off-grid"
        for axis in range(3):
            assert idx[..., axis].min() >= 0 and idx[..., axis].max() < data.shape[axis]
        t = orders.index(f.order_key)
        # the frame is one reference slice: constant along exactly one voxel axis
        flat = [a for a in range(3) if np.unique(idx[..., a]).size == 1]
        assert len(flat) == 1, "a frame must lie in one reference slice"
        slot = (flat[0], int(idx[0, 0, flat[0]]), t)
        seen[slot] = seen.get(slot, 0) + 1
        stack = pixels[f.path]
        stored = stack[f.frame_index] if stack.ndim == 3 else stack
        ours = stored.astype(np.float64) * f.slope + f.intercept
        theirs = data[idx[..., 0], idx[..., 1], idx[..., 2], t]
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-2)
    # every reference slice of every volume is produced exactly once
    assert set(seen.values()) == {1}
    assert len(seen) == len(frames) == data.shape[flat[0]] * data.shape[3]


def frames_of(paths: Iterable[Path], convention: str = "display") -> list[Frame]:
    out: list[Frame] = []
    for p in sorted(paths):
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        assert multiframe.is_enhanced(ds)
        out += multiframe.frames_from_enhanced(ds, str(p), philips_scaling=convention)
    return out


@pytest.mark.realdata
@pytest.mark.parametrize("series", ["5_anat-T1w_acq-tfl", "6_anat-T1w_acq-tfl"])
def test_xa30_frames_match_dcm2niix(realdata: Path, series: str) -> None:
    root = realdata / "dcm_qa_xa30"
    frames = frames_of((root / "In" / series).glob("*.dcm"))
    assert len(frames) == 96 and len({f.stack_key for f in frames}) == 1
    meta = frames[0].meta
    # the dcm2niix sidecar, in ms: EchoTime 0.00241 s, RepetitionTime 1.8 s, TI 0.9 s
    assert (meta["EchoTime"], meta["RepetitionTime"], meta["InversionTime"]) == (2.41, 1800, 900)
    assert meta["FlipAngle"] == 9
    check_against_reference(frames, nib.load(root / "Ref" / f"{series}.nii"))


@pytest.mark.realdata
def test_xa10_four_files_make_one_4d_series(realdata: Path) -> None:
    root = realdata / "dcm_qa_enh"
    frames = frames_of((root / "In" / "Siemens" / "XA10").glob("*.dcm"))
    assert len({f.stack_key for f in frames}) == 1
    check_against_reference(frames, nib.load(root / "Ref" / "Siemens_REST1_w_SMS_PF7-8_6.nii"))


@pytest.mark.realdata
def test_philips_fieldmap_two_stacks_match_dcm2niix_precise(realdata: Path) -> None:
    root = realdata / "dcm_qa_enh"
    frames = frames_of([root / "In" / "Philips" / "IM_0027_fMAP.dcm"], "precise")
    stacks: dict[str, list[Frame]] = {}
    for f in frames:
        stacks.setdefault(f.meta["FrameType"], []).append(f)
    assert sorted(stacks) == ["ORIGINAL\\PRIMARY\\T1\\FIELD_MAP", "ORIGINAL\\PRIMARY\\T1\\M"]
    assert {f.meta["EchoTime"] for f in stacks["ORIGINAL\\PRIMARY\\T1\\M"]} == {1.52}
    refs = {
        "M": "Philips_WIP_B0_NS_801_e1.nii",
        "FIELD_MAP": "Philips_WIP_B0_NS_801_e2_fieldmaphz.nii",
    }
    for frame_type, group in stacks.items():
        check_against_reference(group, nib.load(root / "Ref" / refs[frame_type.split("\\")[-1]]))


D2N_CASES = [
    "philips_enhanced/anatomical/001",
    "philips_enhanced/anatomical/001_implicit",
    "philips_enhanced/fmri/001",
    "philips_enhanced/fmri/001_implicit",
    "siemens_multiframe/anatomical/001",
]


@pytest.mark.realdata
@pytest.mark.parametrize("case", D2N_CASES)
def test_dicom2nifti_ground_truth(realdata: Path, case: str) -> None:
    """dicom2nifti applies RescaleSlope/Intercept: its values are our display values."""
    folder = realdata / "dicom2nifti" / "tests" / "data" / case
    frames = frames_of(folder.glob("*.dcm"), "display")
    assert len({f.stack_key for f in frames}) == 1
    ref = nib.load(folder.parent / f"{folder.name}_ground_truth.nii.gz")
    check_against_reference(frames, ref)


@pytest.mark.realdata
@pytest.mark.parametrize("case", ["001", "001_implicit"])
def test_philips_dti_volume_order_matches_dicom2nifti_bval_bvec(realdata: Path, case: str) -> None:
    """Diffusion volumes stay one stack, ordered as dicom2nifti's .bval/.bvec list them.

    (dicom2nifti's DTI ground-truth *image* holds only one non-zero volume, so its voxel
    values cannot serve as a reference; the geometry is checked in the reference tests.)
    """
    folder = realdata / "dicom2nifti" / "tests" / "data" / "philips_enhanced" / "dti"
    frames = frames_of((folder / case).glob("*.dcm"))
    assert len({f.stack_key for f in frames}) == 1
    orders = sorted({f.order_key for f in frames})
    first = {f.order_key: f for f in frames}
    bvals = [first[o].meta["DiffusionBValue"] for o in orders]
    vecs = [first[o].meta.get("DiffusionGradientOrientation", [0.0, 0.0, 0.0]) for o in orders]
    np.testing.assert_allclose(bvals, np.loadtxt(folder / f"{case}_ground_truth.bval"))
    np.testing.assert_allclose(
        np.array(vecs).T, np.loadtxt(folder / f"{case}_ground_truth.bvec"), atol=1e-6
    )
