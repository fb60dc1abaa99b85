"""Philips MR pixel value scaling: "display" or "precise" values.

Philips MR images carry two pixel value transformations:

* the standard RescaleSlope ``RS`` and RescaleIntercept ``RI`` (or, in enhanced objects,
  the Pixel Value Transformation Sequence): ``display = stored * RS + RI``. These are the
  values the scanner console shows, and what ``dcm2niix -p n`` writes. For quantitative
  maps (a B0 field map in Hz, for instance) they are the real-world values.
* a private MR scale slope ``SS`` (``(2005,xx0E)``, creator ``Philips MR Imaging DD 001``):
  ``precise = (stored * RS + RI) / (RS * SS)``, the "floating point" values that are
  comparable between images of one acquisition. This is what ``dcm2niix`` writes by
  default (often tens of thousands times the displayed values).

imaging_triage uses **display** values by default (:attr:`PhilipsScaling.DISPLAY`): they
are what a reviewer sees on the scanner and the PACS, and they keep quantitative maps in
their units; ``"precise"`` is available as an option. Images of other manufacturers are
not affected by this choice.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from imaging_triage.dicom import header
from imaging_triage.errors import ConfigError, UnsupportedError

logger = logging.getLogger(__name__)

#: Private group of Philips MR imaging attributes.
PHILIPS_GROUP = 0x2005
#: Private creator of the block holding the MR scale slope.
PHILIPS_MR_CREATOR = "Philips MR Imaging DD 001"
#: Element offset of the private MR scale slope inside that block, i.e. (2005,xx0E).
SCALE_SLOPE_ELEMENT = 0x0E
#: Private creator of the block holding the per-frame item of enhanced objects.
PHILIPS_PER_FRAME_CREATOR = "Philips MR Imaging DD 005"
#: Element offset of the private per-frame item (repeats classic attributes), (2005,xx0F):
#: (2005,140F) when the creator sits at (2005,0014), (2005,100F) at (2005,0010).
PER_FRAME_ELEMENT = 0x0F


class PhilipsScalingError(UnsupportedError):
    """Precise Philips values were asked for, but the private scale slope is unusable."""

    code = "philips-scaling"


class PhilipsScaling(str, enum.Enum):
    """Which Philips MR pixel values to produce."""

    #: ``stored * RescaleSlope + RescaleIntercept``: values as displayed by the scanner
    #: (dcm2niix ``-p n``). The default.
    DISPLAY = "display"
    #: ``(stored * RS + RI) / (RS * MRScaleSlope)``: Philips "floating point" values
    #: (dcm2niix's default).
    PRECISE = "precise"


#: The convention used when none is given.
DEFAULT_SCALING = PhilipsScaling.DISPLAY


def parse_scaling(convention: str | PhilipsScaling) -> PhilipsScaling:
    """Return the :class:`PhilipsScaling` named by ``convention``.

    Raises
    ------
    imaging_triage.errors.ConfigError
        ``convention`` is neither ``"display"`` nor ``"precise"``.
    """
    try:
        return PhilipsScaling(str(getattr(convention, "value", convention)).lower())
    except ValueError as err:
        choices = ", ".join(repr(s.value) for s in PhilipsScaling)
        raise ConfigError(
            f"unknown Philips scaling convention {convention!r}; use one of {choices}",
            code="config",
        ) from err


def is_philips_mr(ds: Any) -> bool:
    """Whether ``ds`` is a Philips MR image (the only case the private scaling applies)."""
    manufacturer = str(ds.get("Manufacturer", "") or "").upper()
    modality = str(ds.get("Modality", "") or "").upper()
    return "PHILIPS" in manufacturer and modality in ("MR", "")


def _private_scale_slope(item: Any) -> float | None:
    """The MR scale slope stored directly in ``item``, found through its private creator."""
    return header.private_float(item, PHILIPS_GROUP, PHILIPS_MR_CREATOR, SCALE_SLOPE_ELEMENT)


def per_frame_item(ds_or_item: Any) -> Any:
    """Philips' private per-frame item ``(2005,xx0F)`` (creator DD 005), or ``None``."""
    return header.private_item(
        ds_or_item, PHILIPS_GROUP, PHILIPS_PER_FRAME_CREATOR, PER_FRAME_ELEMENT
    )


def scale_slope(ds_or_item: Any) -> float | None:
    """Return the private Philips MR scale slope of a dataset or functional group item.

    Looks in ``ds_or_item`` itself and then in its private per-frame item
    ``(2005,xx0F)`` (enhanced objects), each through its private creator. Returns
    ``None`` when absent, zero or not finite.
    """
    for item in (ds_or_item, per_frame_item(ds_or_item)):
        if item is None:
            continue
        value = _private_scale_slope(item)
        if value is not None and value != 0.0:
            return value
    return None


def rescale(ds_or_item: Any) -> tuple[float, float]:
    """Return the standard (RescaleSlope, RescaleIntercept) of a dataset or item.

    Reads the attributes directly or from a Pixel Value Transformation Sequence item;
    missing values give slope 1 and intercept 0, a zero slope is treated as missing.
    """
    holders = [ds_or_item]
    pvt = ds_or_item.get("PixelValueTransformationSequence") if hasattr(ds_or_item, "get") else None
    if pvt:
        holders.insert(0, pvt[0])
    slope: float | None = None
    intercept: float | None = None
    for holder in holders:
        if slope is None:
            slope = header.number(holder, "RescaleSlope")
        if intercept is None:
            intercept = header.number(holder, "RescaleIntercept")
    if slope is None or slope == 0.0:
        slope = 1.0
    return slope, intercept if intercept is not None else 0.0


def precise_transform(
    rescale_slope: float, rescale_intercept: float, mr_scale_slope: float
) -> tuple[float, float]:
    """(slope, intercept) giving Philips precise values from stored values.

    ``precise = (stored * RS + RI) / (RS * SS) = stored / SS + RI / (RS * SS)``.

    Examples
    --------
    >>> precise_transform(2.0, 10.0, 0.5)
    (2.0, 10.0)
    """
    return 1.0 / mr_scale_slope, rescale_intercept / (rescale_slope * mr_scale_slope)


def value_transform(
    ds_or_item: Any, convention: str | PhilipsScaling = DEFAULT_SCALING
) -> tuple[float, float]:
    """Return (slope, intercept) mapping stored Philips MR values to the chosen values.

    Parameters
    ----------
    ds_or_item : pydicom.Dataset
        A classic dataset, or a functional group item (per-frame or shared) holding a
        Pixel Value Transformation Sequence and/or the private per-frame item
        ``(2005,140F)``, or a dataset holding RescaleSlope/Intercept and the private
        MR scale slope directly.
    convention : {"display", "precise"}
        ``"display"``: RescaleSlope/Intercept (scanner display, ``dcm2niix -p n``).
        ``"precise"``: ``(stored * RS + RI) / (RS * SS)`` with the private MR scale slope
        (``dcm2niix`` default).

    Returns
    -------
    tuple of float
        ``(slope, intercept)`` such that ``value = stored * slope + intercept``.

    Raises
    ------
    imaging_triage.errors.ConfigError
        Unknown ``convention``.
    PhilipsScalingError
        ``"precise"`` asked for, but the private scale slope is absent, zero or not
        finite: the series cannot have precise values, and display values would be a
        silent substitute.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset()
    >>> ds.RescaleSlope, ds.RescaleIntercept = 2.0, 0.0
    >>> value_transform(ds, "display")
    (2.0, 0.0)
    """
    chosen = parse_scaling(convention)
    slope, intercept = rescale(ds_or_item)
    if chosen is PhilipsScaling.DISPLAY:
        return slope, intercept
    ss = scale_slope(ds_or_item)
    if ss is None:
        raise missing_slope_error()
    return precise_transform(slope, intercept, ss)


def missing_slope_error() -> PhilipsScalingError:
    """The error of a precise conversion without a usable private scale slope."""
    return PhilipsScalingError(
        "--philips-scaling precise: the Philips MR scale slope (2005,xx0E, private creator "
        f"{PHILIPS_MR_CREATOR!r}) is absent, zero or unreadable, so precise values cannot "
        "be computed; use --philips-scaling display, or export with private tags kept"
    )
