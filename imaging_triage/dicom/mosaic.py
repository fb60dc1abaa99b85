"""Siemens mosaic images: one 2-D DICOM image holding all slices of a volume as tiles.

Siemens EPI series (fMRI, diffusion: the key MR sequence for acute stroke) often store
each volume as a *mosaic*: the slices are tiles of one large image, laid out row by row
in a square grid of ``ceil(sqrt(n))`` tiles per side, unused tiles at the end left black.
The number of slices and the slice direction are in the Siemens CSA image header
(private element ``(0029,xx10)``, creator ``SIEMENS CSA HEADER``):
``NumberOfImagesInMosaic`` and ``SliceNormalVector``.

The mosaic's ImagePositionPatient is the position of the *whole mosaic's* first pixel, as
if it were one large image: the first tile's first pixel is shifted by half the size
difference between the mosaic and a tile, along rows and columns (the correction
nibabel's ``MosaicWrapper.image_position`` and dcm2niix apply). Tiles follow each other
along the CSA ``SliceNormalVector``, one slice spacing apart (SpacingBetweenSlices, or
SliceThickness when absent).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.dicom import header
from imaging_triage.dicom.csa import (
    CSA_CREATOR,
    CSA_IMAGE_ELEMENT,
    CSA_SERIES_ELEMENT,
    CsaError,
    parse_csa,
)
from imaging_triage.dicom.frame import Frame
from imaging_triage.errors import GeometryError, InputError

__all__ = [
    "CSA_CREATOR",
    "CSA_IMAGE_ELEMENT",
    "CSA_SERIES_ELEMENT",
    "CsaError",
    "csa_image_header",
    "frames_from_mosaic",
    "is_mosaic",
    "n_images_in_mosaic",
    "parse_csa",
    "tile_pixels",
    "tiles_per_row",
]

logger = logging.getLogger(__name__)

#: Private creator of the Siemens MR header, whose (0019,xx0A) repeats the tile count.
SIEMENS_MR_CREATOR = "SIEMENS MR HEADER"


def csa_image_header(ds: Any) -> dict[str, list[str]] | None:
    """Parsed CSA image header of ``ds``, or ``None`` when absent or unreadable."""
    raw = header.private_bytes(ds, 0x0029, CSA_CREATOR, CSA_IMAGE_ELEMENT)
    if raw is None:
        return None
    try:
        return parse_csa(raw)
    except CsaError as err:
        logger.debug("CSA image header not parsed: %s", err)
        return None


def _csa_floats(csa: dict[str, list[str]], name: str) -> list[float]:
    out = []
    for item in csa.get(name, []):
        try:
            out.append(float(item))
        except ValueError:
            return []
    return out


def n_images_in_mosaic(ds: Any) -> int | None:
    """Number of tiles holding slices, from the CSA header (or (0019,xx0A)); else None."""
    csa = csa_image_header(ds)
    if csa is not None:
        values = _csa_floats(csa, "NumberOfImagesInMosaic")
        if values and math.isfinite(values[0]) and values[0] >= 1:
            return int(values[0])
    count = header.private_float(ds, 0x0019, SIEMENS_MR_CREATOR, 0x0A, vr="US")
    return int(count) if count is not None and count >= 1 else None


def is_mosaic(ds: Any) -> bool:
    """Whether ``ds`` is a Siemens mosaic: ImageType has MOSAIC and a tile count is known.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset()
    >>> ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]
    >>> is_mosaic(ds)  # no CSA header: the tile count is unknown
    False
    """
    image_type = ds.get("ImageType")
    if image_type is None:
        return False
    values = [image_type] if isinstance(image_type, str) else list(image_type)
    if "MOSAIC" not in {str(v).strip().upper() for v in values}:
        return False
    return n_images_in_mosaic(ds) is not None


def tiles_per_row(n_images: int) -> int:
    """Tiles per row (and per column) of a mosaic of ``n_images`` slices."""
    return max(1, math.ceil(math.sqrt(n_images)))


def frames_from_mosaic(ds: Any, path: str, base: Frame) -> list[Frame]:
    """Cut a mosaic's Frame into one Frame per slice tile.

    Parameters
    ----------
    ds : pydicom.Dataset
        Headers of the mosaic (``stop_before_pixels=True`` is enough).
    path : str
        The file (named in errors).
    base : Frame
        The frame read from the file as a classic image: position, orientation, spacing
        and size of the whole mosaic; its stack key, order key, scaling and meta are kept.

    Returns
    -------
    list of Frame
        One per slice, ``tile_index`` 0..n-1 in mosaic order, ``rows``/``cols`` the tile
        size, ``position`` the true position of the tile's first pixel.
        ``meta["MosaicTilesPerRow"]`` is the grid size to give :func:`tile_pixels`.

    Raises
    ------
    imaging_triage.errors.InputError
        No tile count, or a mosaic size not divisible into tiles.
    imaging_triage.errors.GeometryError
        Slice spacing unknown.
    """
    n_images = n_images_in_mosaic(ds)
    if n_images is None:
        raise InputError(
            "ImageType says MOSAIC but no NumberOfImagesInMosaic was found in the Siemens "
            "CSA header; the private header may have been removed by anonymisation: "
            "export the series from the scanner with private tags kept",
            path=path,
            code="mosaic",
        )
    per_row = tiles_per_row(n_images)
    if base.rows % per_row or base.cols % per_row:
        raise InputError(
            f"mosaic of {base.rows}x{base.cols} pixels cannot hold {per_row}x{per_row} "
            f"equal tiles for {n_images} slices; the CSA header and the image disagree",
            path=path,
            code="mosaic",
        )
    tile_rows, tile_cols = base.rows // per_row, base.cols // per_row

    row_cos = np.asarray(base.row_cosine, dtype=np.float64)
    col_cos = np.asarray(base.col_cosine, dtype=np.float64)
    # shift from the mosaic's first pixel to the first tile's first pixel
    origin = (
        np.asarray(base.position, dtype=np.float64)
        + col_cos * base.row_spacing * (base.rows - tile_rows) / 2.0
        + row_cos * base.col_spacing * (base.cols - tile_cols) / 2.0
    )
    normal, normal_source = _slice_normal(ds, row_cos, col_cos)
    spacing = _slice_spacing(ds, base)
    if spacing is None:
        raise GeometryError(
            "mosaic has neither SpacingBetweenSlices nor SliceThickness; the slice positions "
            "cannot be computed",
            path=path,
            code="no-spacing",
        )

    extras = _acquisition_extras(ds, n_images)
    frames = []
    for tile in range(n_images):
        pos = origin + tile * spacing * normal
        meta = dict(base.meta)
        meta.update(extras)
        meta.update(
            {
                "Mosaic": True,
                "MosaicTilesPerRow": per_row,
                "NumberOfImagesInMosaic": n_images,
                "MosaicSliceSpacing": spacing,
                "SliceNormalSource": normal_source,
            }
        )
        frames.append(
            dataclasses.replace(
                base,
                path=path,
                tile_index=tile,
                position=(float(pos[0]), float(pos[1]), float(pos[2])),
                rows=tile_rows,
                cols=tile_cols,
                meta=meta,
            )
        )
    logger.debug("%s: mosaic of %d tiles (%d per row)", path, n_images, per_row)
    return frames


def tile_pixels(pixels: npt.NDArray[Any], frame: Frame, n_tiles_per_row: int) -> npt.NDArray[Any]:
    """Return the tile of ``frame`` from the mosaic's 2-D pixel array (a view).

    Parameters
    ----------
    pixels : numpy.ndarray
        The whole mosaic, shape (Rows, Columns).
    frame : Frame
        A tile frame from :func:`frames_from_mosaic` (``tile_index``, ``rows``, ``cols``).
    n_tiles_per_row : int
        Grid size, ``frame.meta["MosaicTilesPerRow"]``.

    Raises
    ------
    imaging_triage.errors.InputError
        The frame is not a tile, or the array is too small for the grid.
    """
    if frame.tile_index is None:
        raise InputError("frame is not a mosaic tile", path=frame.path, code="mosaic")
    if pixels.ndim != 2:
        raise InputError(
            f"expected the 2-D mosaic pixel array, got shape {pixels.shape}",
            path=frame.path,
            code="mosaic",
        )
    r0 = (frame.tile_index // n_tiles_per_row) * frame.rows
    c0 = (frame.tile_index % n_tiles_per_row) * frame.cols
    if r0 + frame.rows > pixels.shape[0] or c0 + frame.cols > pixels.shape[1]:
        raise InputError(
            f"tile {frame.tile_index} lies outside the {pixels.shape[0]}x{pixels.shape[1]} "
            f"mosaic for a grid of {n_tiles_per_row} tiles per row",
            path=frame.path,
            code="mosaic",
        )
    return pixels[r0 : r0 + frame.rows, c0 : c0 + frame.cols]


def _slice_normal(
    ds: Any, row_cos: npt.NDArray[np.float64], col_cos: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], str]:
    cross = np.cross(row_cos, col_cos)
    cross /= np.linalg.norm(cross)
    csa = csa_image_header(ds)
    if csa is not None:
        values = _csa_floats(csa, "SliceNormalVector")
        if len(values) == 3:
            vec = np.asarray(values, dtype=np.float64)
            norm = float(np.linalg.norm(vec))
            dot = float(np.dot(vec / norm, cross)) if norm > 0 else 0.0
            # must be (anti)parallel to the plane normal; anything else is corrupt. The
            # cross product is the more orthogonal direction: take only the sign from CSA.
            if abs(abs(dot) - 1.0) < 1e-3:
                return (cross if dot > 0 else -cross), "csa"
    logger.debug("no usable SliceNormalVector in the CSA header; using row x column")
    return cross, "row_x_column"


def _acquisition_extras(ds: Any, n_images: int) -> dict[str, Any]:
    """Diffusion encoding and slice timing from the CSA image header, when present.

    ``DiffusionBValue`` (s/mm2) and ``DiffusionGradientDirection`` (LPS unit vector) are
    per mosaic (per volume); ``SliceTiming`` lists, in seconds, when each tile (slice, in
    mosaic order) was acquired relative to the volume (BIDS SliceTiming).
    """
    csa = csa_image_header(ds)
    out: dict[str, Any] = {}
    if csa is None:
        return out
    b_value = _csa_floats(csa, "B_value")
    if b_value:
        out["DiffusionBValue"] = b_value[0]
    direction = _csa_floats(csa, "DiffusionGradientDirection")
    if len(direction) == 3:
        out["DiffusionGradientDirection"] = direction
    times = _csa_floats(csa, "MosaicRefAcqTimes")
    if len(times) >= n_images:
        out["SliceTiming"] = [round(t / 1000.0, 6) for t in times[:n_images]]
    return out


def _slice_spacing(ds: Any, base: Frame) -> float | None:
    for value in (ds.get("SpacingBetweenSlices"), ds.get("SliceThickness"), base.slice_thickness):
        try:
            spacing = float(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            spacing = None
        if spacing is not None and math.isfinite(spacing) and spacing > 0:
            return spacing
    return None
