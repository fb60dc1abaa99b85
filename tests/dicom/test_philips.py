"""Philips MR scaling: "display" (RescaleSlope/Intercept) and "precise" (private slope)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from imaging_triage.dicom import philips
from imaging_triage.errors import ConfigError


def classic(rs: float = 2.0, ri: float = -10.0, ss: float | None = 0.25) -> Dataset:
    ds = Dataset()
    ds.Manufacturer = "Philips Medical Systems"
    ds.Modality = "MR"
    ds.RescaleSlope = str(rs)
    ds.RescaleIntercept = str(ri)
    if ss is not None:
        ds.private_block(0x2005, philips.PHILIPS_MR_CREATOR, create=True).add_new(0x0E, "FL", ss)
    return ds


def test_display_is_the_default_and_returns_rescale() -> None:
    assert philips.DEFAULT_SCALING is philips.PhilipsScaling.DISPLAY
    assert philips.value_transform(classic()) == (2.0, -10.0)
    assert philips.value_transform(classic(), "display") == (2.0, -10.0)


def test_precise_formula() -> None:
    slope, intercept = philips.value_transform(classic(rs=2.0, ri=-10.0, ss=0.25), "precise")
    stored = np.array([0.0, 1.0, 100.0, 4095.0])
    expected = (stored * 2.0 - 10.0) / (2.0 * 0.25)
    np.testing.assert_allclose(stored * slope + intercept, expected, rtol=1e-12)
    assert slope == pytest.approx(4.0)
    assert intercept == pytest.approx(-20.0)


def test_precise_respects_private_creator_block() -> None:
    ds = classic(ss=None)
    # another creator owns block 0x10; the Philips block is 0x11, so the slope is (2005,110E)
    ds.private_block(0x2005, "SOMEONE ELSE", create=True).add_new(0x0E, "FL", 1000.0)
    ds.private_block(0x2005, philips.PHILIPS_MR_CREATOR, create=True).add_new(0x0E, "FL", 0.5)
    assert (0x2005, 0x110E) in ds
    assert philips.scale_slope(ds) == pytest.approx(0.5)
    assert philips.value_transform(ds, "precise") == pytest.approx((2.0, -10.0))


def add_per_frame_item(item: Dataset, inner: Dataset, slot: int) -> None:
    """Put Philips' DD 005 per-frame item into ``item`` with its creator at (2005,00<slot>)."""
    for n in range(0x10, slot):  # other creators take the slots before
        item.private_block(0x2005, f"OTHER CREATOR {n}", create=True).add_new(0x0F, "FL", 99.0)
    block = item.private_block(0x2005, philips.PHILIPS_PER_FRAME_CREATOR, create=True)
    assert block.block_start == slot << 8
    block.add_new(philips.PER_FRAME_ELEMENT, "SQ", Sequence([inner]))


@pytest.mark.parametrize("slot", [0x10, 0x14])
def test_precise_in_enhanced_item_with_creator_in_any_block(slot: int) -> None:
    """Software 11 puts the DD 005 creator at (2005,0010): the item is (2005,100F)."""
    item = Dataset()
    pvt = Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept = "4.0", "6"
    item.PixelValueTransformationSequence = Sequence([pvt])
    inner = Dataset()
    inner.private_block(0x2005, philips.PHILIPS_MR_CREATOR, create=True).add_new(0x0E, "FL", 0.125)
    add_per_frame_item(item, inner, slot)
    assert (0x2005, (slot << 8) | 0x0F) in item
    assert philips.value_transform(item, "display") == (4.0, 6.0)
    slope, intercept = philips.value_transform(item, "precise")
    stored = np.array([0.0, 10.0, 4095.0])
    # precise = RescaleSlope-scaled values divided by (RS * private scale slope)
    expected = (stored * 4.0 + 6.0) / (4.0 * 0.125)
    np.testing.assert_allclose(stored * slope + intercept, expected, rtol=1e-12)


def test_element_of_another_creator_at_the_usual_tag_is_not_read() -> None:
    """(2005,140F) belonging to someone else is not Philips' per-frame item."""
    item = Dataset()
    inner = Dataset()
    inner.private_block(0x2005, philips.PHILIPS_MR_CREATOR, create=True).add_new(0x0E, "FL", 0.5)
    for n in range(0x10, 0x14):
        item.private_block(0x2005, f"OTHER {n}", create=True)
    item.private_block(0x2005, "NOT PHILIPS", create=True).add_new(0x0F, "SQ", Sequence([inner]))
    assert (0x2005, 0x140F) in item
    assert philips.scale_slope(item) is None


@pytest.mark.parametrize("ss", [None, 0.0, float("nan")])
def test_precise_without_usable_private_slope_is_an_error(ss: float | None) -> None:
    with pytest.raises(philips.PhilipsScalingError, match="precise values cannot be computed"):
        philips.value_transform(classic(ss=ss), "precise")
    assert philips.value_transform(classic(ss=ss), "display") == (2.0, -10.0)


def test_precise_without_slope_fails_the_series_with_a_reason(tmp_path: Path) -> None:
    from dicomgen import SeriesSpec, make_dataset

    from imaging_triage.ingest import Status, scan

    spec = SeriesSpec(n=5, rows=6, cols=5, modality="MR", intercept=0.0)
    for k in range(spec.n):
        ds = make_dataset(spec, k)
        ds.Manufacturer = "Philips Medical Systems"
        pydicom.dcmwrite(tmp_path / f"IM{k}", ds, enforce_file_format=True)
    (display,) = scan(tmp_path).series
    assert display.status is Status.OK
    (precise,) = scan(tmp_path, philips_scaling="precise").series
    assert precise.status is Status.FAILED and len(precise.files) == spec.n
    assert "--philips-scaling precise" in precise.reason and "display" in precise.reason


def test_missing_or_zero_rescale_means_identity() -> None:
    ds = Dataset()
    assert philips.value_transform(ds, "display") == (1.0, 0.0)
    ds.RescaleSlope = "0"
    assert philips.rescale(ds) == (1.0, 0.0)


def test_unknown_convention_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'display', 'precise'"):
        philips.value_transform(classic(), "float")
    assert philips.parse_scaling("PRECISE") is philips.PhilipsScaling.PRECISE


def test_only_philips_mr_is_concerned() -> None:
    ds = classic()
    assert philips.is_philips_mr(ds)
    ds.Modality = "CT"
    assert not philips.is_philips_mr(ds)
    ds.Modality, ds.Manufacturer = "MR", "SIEMENS"
    assert not philips.is_philips_mr(ds)


@pytest.mark.realdata
def test_precise_matches_dcm2niix_default_on_real_fieldmap(realdata: Path) -> None:
    """dcm2niix writes precise values by default: its NIfTI scl_slope/scl_inter for the two
    images of the Philips B0 map are our precise transform (to float32 precision)."""
    enh = realdata / "dcm_qa_enh"
    ds = pydicom.dcmread(enh / "In" / "Philips" / "IM_0027_fMAP.dcm", stop_before_pixels=True)
    frames = ds.PerFrameFunctionalGroupsSequence
    magnitude, fieldmap = frames[0], frames[len(frames) - 1]
    assert magnitude.MRImageFrameTypeSequence[0].FrameType[3] == "M"
    assert fieldmap.MRImageFrameTypeSequence[0].FrameType[3] == "FIELD_MAP"
    for item, ref_name in (
        (magnitude, "Philips_WIP_B0_NS_801_e1.nii"),
        (fieldmap, "Philips_WIP_B0_NS_801_e2_fieldmaphz.nii"),
    ):
        ref: Any = nib.load(enh / "Ref" / ref_name)
        slope, intercept = philips.value_transform(item, "precise")
        assert slope == pytest.approx(float(ref.dataobj.slope), rel=1e-5)
        assert intercept == pytest.approx(float(ref.dataobj.inter), rel=1e-5, abs=1e-3)
    # display values of the field map are its real-world values in Hz
    assert philips.value_transform(fieldmap, "display") == pytest.approx((0.2442002442, -500.0))
