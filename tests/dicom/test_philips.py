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


def test_precise_in_enhanced_functional_group_item() -> None:
    item = Dataset()
    pvt = Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept = "4.0", "0"
    item.PixelValueTransformationSequence = Sequence([pvt])
    inner = Dataset()
    inner.private_block(0x2005, philips.PHILIPS_MR_CREATOR, create=True).add_new(0x0E, "FL", 0.125)
    item.add_new(philips.PHILIPS_PER_FRAME_ITEM, "SQ", Sequence([inner]))
    assert philips.value_transform(item, "display") == (4.0, 0.0)
    assert philips.value_transform(item, "precise") == pytest.approx((8.0, 0.0))


@pytest.mark.parametrize("ss", [None, 0.0, float("nan")])
def test_precise_without_usable_private_slope_falls_back_to_display(ss: float | None) -> None:
    assert philips.value_transform(classic(ss=ss), "precise") == (2.0, -10.0)


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
