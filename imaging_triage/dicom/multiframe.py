"""Enhanced multi-frame DICOM: one :class:`~imaging_triage.dicom.frame.Frame` per frame.

Enhanced objects (Enhanced MR/CT, Legacy Converted Enhanced, ...) hold many frames in one
file and describe each frame in functional groups (DICOM PS3.3 C.7.6.16): a group is
looked up first in the frame's item of the Per-Frame Functional Groups Sequence, then in
the Shared Functional Groups Sequence. The groups read here:

* Plane Position (ImagePositionPatient) and Plane Orientation (ImageOrientationPatient),
* Pixel Measures (PixelSpacing, SliceThickness, SpacingBetweenSlices),
* Pixel Value Transformation (RescaleSlope/Intercept; Philips private scaling per
  :mod:`imaging_triage.dicom.philips`),
* Frame Content (StackID, InStackPositionNumber, TemporalPositionIndex,
  DimensionIndexValues, FrameAcquisitionDateTime),
* MR/CT Image Frame Type (FrameType, ComplexImageComponent), MR Echo (EffectiveEchoTime),
  MR Diffusion (b-value, gradient direction), MR Timing (RepetitionTime, FlipAngle).

Frames that must not be mixed into one volume get different ``stack_key`` values: series
UID, stack id, orientation, size and pixel spacing, frame type, echo time, echo number,
complex component. The
diffusion b-value and direction are *not* part of the stack key: several diffusion
volumes of one stack form a 4-D image, ordered by ``order_key``.

``order_key`` orders frames repeated at one position. When the object declares its
dimensions (TemporalPositionIndex and/or DimensionIndexValues, the usual case), it is
``(TemporalPositionIndex, non-spatial DimensionIndexValues...)`` and is **equal for every
frame of one volume**. Otherwise it falls back to ``(0, (), FrameAcquisitionDateTime,
frame number)``, which only sorts: group repeated frames by their rank at each position.

Pixel data are never read here: ``ds`` comes from ``dcmread(path, stop_before_pixels=True)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from imaging_triage.dicom import diffusion, philips
from imaging_triage.dicom import header as hdr
from imaging_triage.dicom.frame import Frame
from imaging_triage.errors import GeometryError, InputError

logger = logging.getLogger(__name__)

#: Decimal places of the direction cosines used in the stack key (0.0001 ~ 0.006 deg).
ORIENTATION_DECIMALS = 4

#: Dimension index pointers that describe space, not repetition (left out of order_key).
_SPATIAL_POINTERS = frozenset(
    {
        0x00209056,  # StackID
        0x00209057,  # InStackPositionNumber
        0x00200032,  # ImagePositionPatient
        0x00200037,  # ImageOrientationPatient
    }
)

#: Functional groups whose item carries FrameType / ComplexImageComponent.
_FRAME_TYPE_GROUPS = (
    "MRImageFrameTypeSequence",
    "CTImageFrameTypeSequence",
    "XAXRFFrameCharacteristicsSequence",
    "PETFrameTypeSequence",
    "FrameTypeSequence",
)


class _OrientationKeys:
    """Stack-key value of an orientation, stable against rounding-boundary jitter.

    Cosines are rounded to :data:`ORIENTATION_DECIMALS`, but an orientation within
    ``tolerance`` of one already seen in the object reuses that one's key, so two frames of
    one stack never land on opposite sides of a rounding boundary.
    """

    def __init__(self, tolerance: float = 1e-3) -> None:
        self.tolerance = tolerance
        self.seen: list[tuple[tuple[float, ...], tuple[float, ...]]] = []

    def key(self, iop: Sequence[float]) -> tuple[float, ...]:
        for raw, rounded in self.seen:
            if max(abs(a - b) for a, b in zip(raw, iop, strict=True)) < self.tolerance:
                return rounded
        rounded = tuple(_round(v) for v in iop)
        self.seen.append((tuple(iop), rounded))
        return rounded


def is_enhanced(ds: Any) -> bool:
    """Whether ``ds`` is an enhanced (functional-group) multi-frame object.

    True when the dataset has a non-empty Per-Frame Functional Groups Sequence, or a
    Shared Functional Groups Sequence and NumberOfFrames >= 1: its geometry then lives
    in functional groups, not in top-level ImagePositionPatient. Classic multi-frame
    objects without functional groups (some NM, US, secondary captures) are not.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> is_enhanced(Dataset())
    False
    """
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and len(per_frame) > 0:
        return True
    shared = ds.get("SharedFunctionalGroupsSequence")
    return shared is not None and len(shared) > 0 and hdr.to_int(ds.get("NumberOfFrames"), 0) >= 1


def frames_from_enhanced(
    ds: Any, path: str, *, philips_scaling: str = philips.DEFAULT_SCALING.value
) -> list[Frame]:
    """Return one :class:`Frame` per frame of an enhanced multi-frame object.

    Parameters
    ----------
    ds : pydicom.Dataset
        Headers of the object, read with ``stop_before_pixels=True``.
    path : str
        File holding the pixels (stored in each frame, and named in errors).
    philips_scaling : {"display", "precise"}
        Pixel value convention for Philips MR (see :mod:`imaging_triage.dicom.philips`);
        ignored for other manufacturers.

    Returns
    -------
    list of Frame
        In frame order; ``frame_index`` is the 0-based frame number.

    Raises
    ------
    imaging_triage.errors.InputError
        NumberOfFrames disagrees with the Per-Frame Functional Groups Sequence.
    imaging_triage.errors.GeometryError
        A frame has no position, orientation or pixel spacing in any functional group.
    imaging_triage.errors.ConfigError
        Unknown ``philips_scaling``.
    """
    convention = philips.parse_scaling(philips_scaling)
    use_philips = philips.is_philips_mr(ds)
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    declared = hdr.to_int(ds.get("NumberOfFrames"), len(per_frame) or 1)
    if per_frame and len(per_frame) != declared:
        raise InputError(
            f"NumberOfFrames is {declared} but the Per-Frame Functional Groups Sequence has "
            f"{len(per_frame)} items; the file is malformed or truncated: re-export it",
            path=path,
            code="frame-count",
        )
    n_frames = declared
    rows, cols = hdr.to_int(ds.get("Rows"), 0), hdr.to_int(ds.get("Columns"), 0)
    if rows <= 0 or cols <= 0:
        raise InputError("Rows/Columns missing or zero: not an image", path=path, code="no-image")

    series_uid = str(ds.get("SeriesInstanceUID", "") or "")
    top_image_type = _joined(ds.get("ImageType"))
    instance_number = hdr.to_int(ds.get("InstanceNumber"), None)
    timing = _group(None, shared, "MRTimingAndRelatedParametersSequence")
    series_meta = _series_meta(ds, timing, _group(None, shared, "MRModifierSequence"))
    spatial_dims = _spatial_dimensions(ds, per_frame)
    orientations = _OrientationKeys()

    frames: list[Frame] = []
    for index in range(n_frames):
        item = per_frame[index] if per_frame else None
        frames.append(
            _frame(
                ds,
                path,
                index,
                item,
                shared,
                rows=rows,
                cols=cols,
                series_uid=series_uid,
                top_image_type=top_image_type,
                instance_number=instance_number,
                spatial_dims=spatial_dims,
                convention=convention if use_philips else None,
                series_meta=series_meta,
                orientations=orientations,
            )
        )
    logger.debug("%s: %d enhanced frames", path, len(frames))
    return frames


def _frame(
    ds: Any,
    path: str,
    index: int,
    item: Any,
    shared: Any,
    *,
    rows: int,
    cols: int,
    series_uid: str,
    top_image_type: str,
    instance_number: int | None,
    spatial_dims: frozenset[int],
    convention: philips.PhilipsScaling | None,
    series_meta: dict[str, Any],
    orientations: _OrientationKeys,
) -> Frame:
    where = f"frame {index + 1}"
    position = hdr.to_floats(
        _attr(ds, item, shared, "PlanePositionSequence", "ImagePositionPatient"), 3
    )
    if position is None:
        raise GeometryError(
            f"{where} has no ImagePositionPatient in its Plane Position functional group; "
            "the object cannot be placed in space",
            path=path,
            code="no-position",
        )
    iop = hdr.to_floats(
        _attr(ds, item, shared, "PlaneOrientationSequence", "ImageOrientationPatient"), 6
    )
    if iop is None or not _valid_orientation(iop):
        raise GeometryError(
            f"{where} has no valid ImageOrientationPatient in its Plane Orientation "
            "functional group",
            path=path,
            code="no-orientation",
        )
    measures = _group(item, shared, "PixelMeasuresSequence")
    spacing = hdr.to_floats(measures.get("PixelSpacing") if measures is not None else None, 2)
    if spacing is None:
        spacing = hdr.to_floats(ds.get("PixelSpacing"), 2)
    if spacing is None or min(spacing) <= 0:
        raise GeometryError(
            f"{where} has no valid PixelSpacing in its Pixel Measures functional group",
            path=path,
            code="no-spacing",
        )
    thickness = hdr.to_float(measures.get("SliceThickness")) if measures is not None else None
    between = hdr.to_float(measures.get("SpacingBetweenSlices")) if measures is not None else None

    slope, intercept = _value_transform(ds, item, shared, convention)

    content = _group(item, None, "FrameContentSequence")
    stack_id = str(content.get("StackID", "") or "") if content is not None else ""
    in_stack = (
        hdr.to_int(content.get("InStackPositionNumber"), None) if content is not None else None
    )
    temporal = (
        hdr.to_int(content.get("TemporalPositionIndex"), None) if content is not None else None
    )
    dims = _dimension_values(content)
    acq_dt = str(content.get("FrameAcquisitionDateTime", "") or "") if content is not None else ""

    frame_type, component = _frame_type(item, shared)
    echo_time = _echo_time(item, shared)
    echo_number = _private_echo_number(item)
    b_value, b_vector, directionality = _diffusion(item, shared)
    kind = diffusion.role(b_value, b_vector, directionality, frame_type.split("\\"))

    orientation = orientations.key(iop)
    stack_key: tuple[Any, ...] = (
        ("series", series_uid),
        ("stack", stack_id),
        ("orientation", orientation),
        ("size", (rows, cols)),
        ("pixel_spacing", (round(spacing[0], 4), round(spacing[1], 4))),
        ("type", frame_type or top_image_type),
        ("echo_time", "" if echo_time is None else f"{echo_time:g}"),
        ("echo_number", "" if echo_number is None else str(echo_number)),
        ("component", component),
        ("role", kind.value),
    )
    repeat = tuple(v for d, v in enumerate(dims) if d not in spatial_dims)
    if temporal is not None or repeat:
        order_key: tuple[Any, ...] = (temporal or 0, repeat)
    else:
        order_key = (0, (), acq_dt, index)

    meta: dict[str, Any] = dict(series_meta)
    meta.update(
        {
            "FrameNumber": index + 1,
            "StackID": stack_id,
            "InStackPositionNumber": in_stack,
            "TemporalPositionIndex": temporal,
            "DimensionIndexValues": list(dims),
            "FrameAcquisitionDateTime": acq_dt,
            "FrameType": frame_type,
            "ComplexImageComponent": component,
            "RescaleSlope": slope,
            "RescaleIntercept": intercept,
        }
    )
    if echo_time is not None:
        meta["EchoTime"] = echo_time
    if echo_number is not None:
        meta["EchoNumber"] = echo_number
    if between is not None:
        meta["SpacingBetweenSlices"] = between
    if b_value is not None:
        meta["DiffusionBValue"] = b_value
    if b_vector is not None:
        meta["DiffusionGradientOrientation"] = b_vector
    if directionality:
        meta["DiffusionDirectionality"] = directionality
    meta["role"] = kind
    if convention is not None:
        meta["PhilipsScaling"] = convention.value

    return Frame(
        path=path,
        frame_index=index,
        tile_index=None,
        position=(position[0], position[1], position[2]),
        row_cosine=(iop[0], iop[1], iop[2]),
        col_cosine=(iop[3], iop[4], iop[5]),
        row_spacing=spacing[0],
        col_spacing=spacing[1],
        rows=rows,
        cols=cols,
        slope=slope,
        intercept=intercept,
        stack_key=stack_key,
        order_key=order_key,
        instance_number=instance_number,
        slice_thickness=thickness,
        meta=meta,
    )


# --- functional group access -------------------------------------------------------------


def _group(item: Any, shared: Any, name: str) -> Any:
    """First item of functional group ``name``: per-frame first, then shared."""
    for holder in (item, shared):
        if holder is None:
            continue
        seq = holder.get(name)
        if seq:
            return seq[0]
    return None


def _attr(ds: Any, item: Any, shared: Any, group: str, keyword: str) -> Any:
    found = _group(item, shared, group)
    if found is not None and keyword in found:
        return found.get(keyword)
    # legacy/odd objects sometimes keep the attribute at the top level
    return ds.get(keyword)


def _value_transform(
    ds: Any, item: Any, shared: Any, convention: philips.PhilipsScaling | None
) -> tuple[float, float]:
    pvt = _group(item, shared, "PixelValueTransformationSequence")
    holder = pvt if pvt is not None else ds
    slope, intercept = philips.rescale(holder)
    if convention is None or convention is philips.PhilipsScaling.DISPLAY:
        return slope, intercept
    ss = None
    for candidate in (item, pvt, shared, ds):
        if candidate is not None:
            ss = philips.scale_slope(candidate)
            if ss is not None:
                break
    if ss is None:
        raise philips.missing_slope_error()
    return philips.precise_transform(slope, intercept, ss)


def _frame_type(item: Any, shared: Any) -> tuple[str, str]:
    for name in _FRAME_TYPE_GROUPS:
        found = _group(item, shared, name)
        if found is not None:
            return _joined(found.get("FrameType")), str(
                found.get("ComplexImageComponent", "") or ""
            ).upper()
    return "", ""


def _echo_time(item: Any, shared: Any) -> float | None:
    echo = _group(item, shared, "MREchoSequence")
    if echo is None:
        return None
    return hdr.to_float(echo.get("EffectiveEchoTime"))


def _private_echo_number(item: Any) -> int | None:
    """EchoNumbers repeated in Philips' private per-frame item (2005,xx0F), if any."""
    if item is None:
        return None
    inner = philips.per_frame_item(item)
    return None if inner is None else hdr.to_int(inner.get("EchoNumbers"), None)


def _diffusion(item: Any, shared: Any) -> tuple[float | None, list[float] | None, str]:
    diff = _group(item, shared, "MRDiffusionSequence")
    if diff is None:
        return None, None, ""
    b_value = hdr.to_float(diff.get("DiffusionBValue"))
    direction = str(diff.get("DiffusionDirectionality", "") or "")
    vector = None
    grad = diff.get("DiffusionGradientDirectionSequence")
    if grad:
        vector = hdr.to_floats(grad[0].get("DiffusionGradientOrientation"), 3)
    return b_value, list(vector) if vector is not None else None, direction


def _dimension_values(content: Any) -> tuple[int, ...]:
    if content is None:
        return ()
    raw = content.get("DimensionIndexValues")
    if raw is None:
        return ()
    values = raw if isinstance(raw, (list, tuple)) or hasattr(raw, "__iter__") else [raw]
    out = []
    for v in values:
        parsed = hdr.to_int(v, None)
        if parsed is None:
            return ()
        out.append(parsed)
    return tuple(out)


def _spatial_dimensions(ds: Any, per_frame: Sequence[Any]) -> frozenset[int]:
    """Indices of DimensionIndexValues that describe space (stack, in-stack position).

    Taken from the Dimension Index Sequence when present; otherwise inferred: a dimension
    whose value equals InStackPositionNumber (or StackID) in every frame is spatial.
    """
    declared = ds.get("DimensionIndexSequence")
    if declared:
        out = set()
        for d, entry in enumerate(declared):
            pointer = entry.get("DimensionIndexPointer")
            if pointer is not None and int(pointer) in _SPATIAL_POINTERS:
                out.add(d)
        return frozenset(out)
    rows: list[tuple[tuple[int, ...], int | None, int | None]] = []
    for item in per_frame:
        content = _group(item, None, "FrameContentSequence")
        if content is None:
            return frozenset()
        rows.append(
            (
                _dimension_values(content),
                hdr.to_int(content.get("InStackPositionNumber"), None),
                hdr.to_int(content.get("StackID"), None),
            )
        )
    if not rows:
        return frozenset()
    width = len(rows[0][0])
    if width == 0 or any(len(r[0]) != width for r in rows):
        return frozenset()
    out = set()
    for which in (1, 2):  # in-stack position, then stack id
        for d in range(width):
            if d in out:
                continue
            if all(r[which] is not None and r[0][d] == r[which] for r in rows):
                out.add(d)
                break
    return frozenset(out)


def _series_meta(ds: Any, timing: Any, modifier: Any) -> dict[str, Any]:
    """Per-object acquisition facts (times in ms as in DICOM; no identifiers)."""
    meta: dict[str, Any] = {"EnhancedMultiFrame": True}
    for keyword in ("Manufacturer", "Modality", "SeriesDescription", "MRAcquisitionType"):
        value = ds.get(keyword)
        if value not in (None, ""):
            meta[keyword] = str(value)
    if timing is not None:
        tr = hdr.to_float(timing.get("RepetitionTime"))
        flip = hdr.to_float(timing.get("FlipAngle"))
        if tr is not None:
            meta["RepetitionTime"] = tr
        if flip is not None:
            meta["FlipAngle"] = flip
    if modifier is not None:
        inversion = modifier.get("InversionTimes")  # FD, VM 1-n
        if inversion is not None and not isinstance(inversion, (int, float)):
            try:
                inversion = inversion[0] if len(inversion) else None
            except (TypeError, KeyError):
                inversion = None
        ti = hdr.to_float(inversion)
        if ti is not None:
            meta["InversionTime"] = ti
    return meta


# --- value helpers -----------------------------------------------------------------------


def _valid_orientation(iop: Sequence[float]) -> bool:
    row, col = iop[:3], iop[3:]
    nr = math.sqrt(sum(v * v for v in row))
    nc = math.sqrt(sum(v * v for v in col))
    dot = sum(a * b for a, b in zip(row, col, strict=True))
    return abs(nr - 1) < 0.01 and abs(nc - 1) < 0.01 and abs(dot) < 0.01


def _round(value: float) -> float:
    out = round(value, ORIENTATION_DECIMALS)
    return 0.0 if out == 0 else out


def _joined(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.upper()
    try:
        return "\\".join(str(v) for v in value).upper()
    except TypeError:
        return str(value).upper()
