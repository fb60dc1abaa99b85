"""Assemble a scanned stack into a :class:`~imaging_triage.volume.Volume`.

Pixels are decoded once per file, the rescale (RescaleSlope/Intercept, or the frame's
pixel value transformation) is applied per frame, so CT comes out in Hounsfield units,
and the stack geometry decides the affine:

* an even, untilted stack keeps its grid exactly (no interpolation);
* uneven spacing or missing slices are refused in strict mode, or resampled along the
  stack onto the median step (linear), and the correction is recorded;
* segments of one acquisition joined at scan time (thin and thick slices of one head CT)
  are resampled along the stack onto a grid fine enough that each source slice lies on
  (or within a tenth of its own step of) a grid plane;
* a sheared stack (gantry tilt) is put on an orthogonal grid in the slices' own frame by
  shifting each slice within its plane (:mod:`~imaging_triage.dicom.tilt`), so every
  voxel sits at its true world position and slices are never mixed; the correction is
  recorded as ``"gantry tilt X deg corrected"``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.dicom import diffusion
from imaging_triage.dicom import pixels as px
from imaging_triage.dicom.discover import read_header
from imaging_triage.dicom.frame import Frame
from imaging_triage.dicom.geometry import Spacing, StackGeometry, analyse, analyse_segments
from imaging_triage.dicom.tilt import deshear
from imaging_triage.errors import (
    GeometryError,
    PixelDataError,
    ResourceLimitError,
    SeriesError,
    TriageError,
)
from imaging_triage.records import SeriesRecord, Status, Strictness, VolumeRole
from imaging_triage.volume import LPS_TO_RAS, SeriesInfo, Volume

logger = logging.getLogger(__name__)


def assemble_record(record: SeriesRecord, *, max_bytes: int = px.DEFAULT_MAX_BYTES) -> list[Volume]:
    """Decode and place the pixels of a scanned stack.

    Parameters
    ----------
    record : SeriesRecord
        A record from :func:`imaging_triage.ingest.scan` with status ``ok``.
    max_bytes : int
        Limit on the decoded size of the volume.

    Returns
    -------
    list of Volume
        One volume (3-D, or 4-D for repeated positions).

    Raises
    ------
    SeriesError
        The record was not ``ok`` at scan time, or its geometry cannot be trusted.
    PixelDataError, ResourceLimitError
        Pixel data missing, truncated, undecodable or too large.
    """
    if record.status is not Status.OK:
        raise SeriesError(f"series is {record.status.value}: {record.reason}", path=record.input)
    frames: list[Frame] = record.frames
    header: dict[str, Any] = record.header
    strictness = Strictness(record.strictness)
    if not frames:
        raise SeriesError("record carries no frames; scan the folder again", path=record.input)
    geom = analyse_segments(frames) if record.joined_stacks > 1 else analyse(frames)
    info = _series_info(header, record)
    info.warnings.extend(geom.warnings)
    if info.hounsfield and not all(f.meta.get("has_rescale", True) for f in frames):
        info.hounsfield = False
        info.warnings.append(
            "CT without RescaleSlope/RescaleIntercept (Type 1 in the CT Image module): values "
            "are stored values, not verified Hounsfield units"
        )
    if geom.spacing in (Spacing.MISSING, Spacing.UNEVEN) and strictness is Strictness.STRICT:
        raise GeometryError(f"{geom.spacing_detail}; refused in strict mode", path=record.input)

    first = frames[geom.order[0][0]]
    samples = int(first.meta.get("samples", 1))
    n_k, n_t = geom.n_slices, geom.n_volumes
    n_out = n_t * samples if samples > 1 else n_t
    if first.cols * first.rows * n_k * n_out * 4 > max_bytes:
        raise ResourceLimitError(
            f"volume of {first.cols}x{first.rows}x{n_k}x{n_out} voxels exceeds the memory limit",
            path=record.input,
        )
    data = _place_pixels(frames, geom, samples, max_bytes, header)
    affine_lps = geom.lps_affine(first)

    if geom.tilted:
        # each slice shifted within its own plane first (never mixed with another), then,
        # for uneven or joined stacks, the slices are interpolated along the normal only
        fill = float(np.min(data)) if data.size else 0.0
        index = None if geom.spacing is Spacing.EVEN else geom.offsets / geom.step
        data, affine_lps = deshear(
            data, affine_lps, fill=fill, max_bytes=max_bytes, slice_index=index
        )
        stated = header.get("gantry_tilt") or 0.0
        source = (
            f"GantryDetectorTilt {stated:g} deg"
            if abs(float(stated)) > 0
            else "slice positions (no GantryDetectorTilt in the header)"
        )
        info.corrections.append(
            f"gantry tilt {geom.tilt_deg:.2f} deg (from {source}) corrected by shifting each "
            "slice within its plane onto an orthogonal grid"
        )
    if geom.spacing is Spacing.SEGMENTED:
        data, affine_lps = resample_even(data, geom, affine_lps, max_bytes=max_bytes)
        info.corrections.append(geom.spacing_detail)
    elif geom.spacing is not Spacing.EVEN:
        data, affine_lps = resample_even(data, geom, affine_lps, max_bytes=max_bytes)
        info.corrections.append(f"{geom.spacing_detail}; resampled to {geom.step:.3f} mm")
    if info.hounsfield and (geom.tilted or geom.spacing is not Spacing.EVEN):
        data = _whole_hounsfield(data)
    if samples > 1:
        info.warnings.append("colour image: the 4th axis holds the colour samples (RGB)")
        data = data.reshape(*data.shape[:3], n_t * samples) if n_t > 1 else data
    elif n_t == 1:
        data = data[..., 0]
    if np.issubdtype(data.dtype, np.floating) and not np.all(np.isfinite(data)):
        raise PixelDataError(
            "RescaleSlope/Intercept turn stored values into non-finite numbers; the header "
            "is damaged",
            path=record.input,
        )
    volume = Volume(data=data, affine=LPS_TO_RAS @ affine_lps, info=info)
    _label_diffusion(volume, record, [frames[i] for i in geom.order[0]])
    logger.debug(
        "series %s assembled: shape %s, %d correction(s), %d warning(s)",
        record.key[:8],
        volume.shape,
        len(info.corrections),
        len(info.warnings),
    )
    return [volume]


def _label_diffusion(volume: Volume, record: SeriesRecord, per_volume: list[Frame]) -> None:
    """Say what a diffusion image is, and give a 4-D one its b-values and directions."""
    if record.role is VolumeRole.IMAGE:
        return
    acq = volume.info.acquisition
    acq["DiffusionImage"] = record.role.value
    b_value = per_volume[0].meta.get("DiffusionBValue")
    if record.role is VolumeRole.TRACE and b_value is not None:
        acq["DiffusionBValue"] = float(b_value)
    if record.role is not VolumeRole.DIFFUSION or volume.data.ndim != 4:
        return
    enc = diffusion.encoding(per_volume)
    if enc is None:
        volume.info.warnings.append("diffusion image without a b-value for every volume")
        return
    bvals, bvecs = enc
    acq[diffusion.BVALS_KEY] = bvals
    voxel = diffusion.bvecs_in_voxel_frame(bvecs, volume.affine)
    # six significant digits, as dcm2niix writes them: the sidecar and the .bvec agree
    acq[diffusion.BVECS_KEY] = [[float(diffusion.fsl_number(v)) for v in row] for row in voxel]


def _whole_hounsfield(data: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Interpolated CT values rounded to whole HU, as int16 when they fit (half the memory)."""
    if not np.issubdtype(data.dtype, np.floating):
        return data
    data = np.rint(data, out=data) if data.flags.writeable else np.rint(data)
    if data.size and float(data.min()) >= -32768 and float(data.max()) <= 32767:
        return data.astype(np.int16)
    return data


def _series_info(header: dict[str, Any], record: SeriesRecord) -> SeriesInfo:
    modality = header.get("modality", record.modality)
    return SeriesInfo(
        modality=modality,
        series_uid=header.get("series_uid", record.series_uid),
        study_uid=header.get("study_uid", record.study_uid),
        series_number=header.get("series_number", record.series_number),
        series_description=header.get("description", record.description),
        manufacturer=header.get("manufacturer", ""),
        acquisition=dict(header.get("acquisition", {})),
        hounsfield=modality == "CT",
    )


def _integral(x: float) -> bool:
    return float(x).is_integer()


def _place_pixels(
    frames: list[Frame],
    geom: StackGeometry,
    samples: int,
    max_bytes: int,
    header: dict[str, Any] | None = None,
) -> npt.NDArray[Any]:
    """Decode each file once and put every frame at (i, j, k, t), rescaled.

    Integer results stay integers in the smallest type their declared range needs
    (int16 for a 12-bit CT with intercept -1024); a plane whose values do not fit widens
    the buffer, and float pixel data or fractional rescales give floats, so no value is
    ever wrapped or truncated.
    """
    header = header or {}
    first = frames[geom.order[0][0]]
    exact = all(
        _integral(f.slope)
        and _integral(f.intercept)
        and max(abs(f.slope), abs(f.intercept)) < 2**31
        for f in frames
    )
    if samples > 1:
        bits = int(header.get("bits_allocated") or 8)
        dtype: Any = np.uint8 if bits <= 8 else np.uint16
    else:
        dtype = _declared_dtype(frames, header) if exact else np.float32
    # planes are stored contiguously, (t, k, row, col); the (i, j, k, t) view of that
    # buffer is Fortran-ordered, which is also the order NIfTI writes
    depth = geom.n_volumes * samples if samples > 1 else geom.n_volumes
    buf = np.zeros((depth, geom.n_slices, first.rows, first.cols), dtype)

    wanted: dict[str, list[tuple[int, int, Frame]]] = defaultdict(list)
    for k, group in enumerate(geom.order):
        for t, idx in enumerate(group):
            f = frames[idx]
            wanted[f.path].append((k, t, f))
    for path, items in wanted.items():
        try:
            ds = read_header(path, pixels=True)
            arr = px.decode(ds, path, max_bytes)
        except TriageError:
            raise
        except MemoryError as err:
            raise ResourceLimitError(
                "not enough memory to decode the pixel data", path=path
            ) from err
        except Exception as err:  # damaged files make pydicom raise many types
            raise PixelDataError(
                f"cannot read pixel data ({type(err).__name__}: {str(err)[:120]}); "
                "re-export the file",
                path=path,
            ) from err
        for k, t, f in items:
            plane = _frame_plane(arr, f, path)
            if samples > 1:
                buf[t * samples : (t + 1) * samples, k] = np.moveaxis(plane, 2, 0)
                continue
            if np.issubdtype(plane.dtype, np.floating) or not exact:
                values: npt.NDArray[Any] = plane.astype(np.float64) * f.slope + f.intercept
                buf = _widen_for(buf, values)
                buf[t, k] = values
                continue
            buf = _widen_to_range(buf, _rescaled_range(plane, f))
            _rescale_into(buf[t, k], plane, int(f.slope), int(f.intercept))
        del arr, ds
    return buf.transpose(3, 2, 1, 0)


def _rescaled_range(plane: npt.NDArray[Any], frame: Frame) -> tuple[int, int] | None:
    """Smallest and largest rescaled value of an integer plane (exact, Python integers)."""
    if plane.size == 0:
        return None
    ends = [int(plane.min()) * int(frame.slope), int(plane.max()) * int(frame.slope)]
    return min(ends) + int(frame.intercept), max(ends) + int(frame.intercept)


def _rescale_into(
    out: npt.NDArray[Any], plane: npt.NDArray[Any], slope: int, intercept: int
) -> None:
    """``out[...] = plane * slope + intercept`` in ``out``'s integer type, without a copy.

    The caller has widened ``out`` so that every result fits it. Integer arithmetic
    that wraps is exact modulo 2**bits, so a result that fits is exact even where an
    intermediate product (or the cast of a stored value) would not have fitted.
    """
    np.copyto(out, plane, casting="unsafe")
    if slope != 1:
        np.multiply(out, np.asarray(slope).astype(out.dtype), out=out, casting="unsafe")
    if intercept != 0:
        np.add(out, np.asarray(intercept).astype(out.dtype), out=out, casting="unsafe")


def _widen_for(buf: npt.NDArray[Any], values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Return ``buf``, converted to a wider type if ``values`` would not fit it exactly."""
    if values.size == 0:
        return buf
    if np.issubdtype(values.dtype, np.floating):
        if np.issubdtype(buf.dtype, np.floating):
            return buf
        return buf.astype(np.float32 if buf.dtype.itemsize <= 2 else np.float64)
    return _widen_to_range(buf, (int(values.min()), int(values.max())))


def _widen_to_range(buf: npt.NDArray[Any], span: tuple[int, int] | None) -> npt.NDArray[Any]:
    """Return ``buf``, converted to a wider type if integers in ``span`` would not fit it."""
    if span is None or np.issubdtype(buf.dtype, np.floating):
        return buf
    lo, hi = span
    for dt in (buf.dtype, np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64)):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max and dt.itemsize >= buf.dtype.itemsize:
            return buf if dt == buf.dtype else buf.astype(dt)
    return buf.astype(np.float64)  # pragma: no cover - beyond int64 cannot come from 64 bits


def _declared_dtype(frames: list[Frame], header: dict[str, Any]) -> Any:
    """The smallest integer type holding every frame's declared stored range, rescaled.

    The range comes from BitsStored and PixelRepresentation (per frame, or from the
    header for enhanced objects). Unknown ranges start at int16; planes widen the buffer
    when their actual values need it (:func:`_widen_for`).
    """
    lo, hi = 0, 0
    for f in frames:
        bits = f.meta.get("bits_stored") or header.get("bits_stored")
        signed = f.meta.get("signed", header.get("signed", False))
        if not bits or bits > 32:
            return np.int16
        smin, smax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        ends = (smin * int(f.slope) + int(f.intercept), smax * int(f.slope) + int(f.intercept))
        lo, hi = min(lo, *ends), max(hi, *ends)
    for dt in (np.int16, np.int32, np.int64):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return dt
    return np.float64


def _frame_plane(arr: npt.NDArray[Any], frame: Frame, path: str) -> npt.NDArray[Any]:
    if frame.tile_index is not None:
        from imaging_triage.dicom import mosaic

        tiles_per_row = max(1, arr.shape[2] // max(frame.cols, 1))
        return mosaic.tile_pixels(arr[0], frame, tiles_per_row)
    index = frame.frame_index or 0
    if index >= arr.shape[0]:
        raise SeriesError(
            f"frame {index + 1} requested but the file holds {arr.shape[0]} frames", path=path
        )
    plane = arr[index]
    if plane.shape[0] != frame.rows or plane.shape[1] != frame.cols:
        raise SeriesError(
            f"decoded plane is {plane.shape[:2]} where the header says {frame.rows}x{frame.cols}",
            path=path,
        )
    return plane


def resample_even(
    data: npt.NDArray[Any],
    geom: StackGeometry,
    affine_lps: npt.NDArray[np.float64],
    *,
    max_bytes: int = px.DEFAULT_MAX_BYTES,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
    """Resample along k onto an even grid of ``geom.step``, linearly between slices.

    Only neighbouring slices along the stack are mixed (never pixels within a slice).
    Returns the new array (float32) and the affine of the even grid (``lps_affine``
    already uses ``geom.step``).

    Raises
    ------
    ResourceLimitError
        The even grid would exceed ``max_bytes``.
    """
    offsets = geom.offsets
    n_new = int(np.floor(float(offsets[-1]) / geom.step + 1e-6)) + 1
    if data.shape[0] * data.shape[1] * n_new * int(np.prod(data.shape[3:])) * 4 > max_bytes:
        raise ResourceLimitError(
            f"resampling onto {n_new} slices of {geom.step:.3f} mm would exceed the memory "
            "limit; raise IMAGING_TRIAGE_MAX_BYTES if genuine"
        )
    targets = np.arange(n_new) * geom.step
    upper = np.clip(np.searchsorted(offsets, targets, side="right"), 1, len(offsets) - 1)
    lower = upper - 1
    span = offsets[upper] - offsets[lower]
    w = np.clip((targets - offsets[lower]) / np.where(span > 0, span, 1.0), 0.0, 1.0)
    src = data.astype(np.float32, copy=False)
    out = np.empty((*data.shape[:2], n_new, *data.shape[3:]), dtype=np.float32)
    for c in range(n_new):
        a, b, wc = lower[c], upper[c], np.float32(w[c])
        if wc == 0 or a == b:
            out[:, :, c] = src[:, :, a]
        elif wc == 1:
            out[:, :, c] = src[:, :, b]
        else:
            plane = out[:, :, c]
            np.multiply(src[:, :, a], 1 - wc, out=plane)
            plane += src[:, :, b] * wc
    return out, affine_lps
