"""Decode the pixel data of one DICOM instance, safely.

Compressed transfer syntaxes (JPEG baseline and lossless, JPEG-LS, JPEG 2000, RLE) are
decoded by pydicom's pixel backends (pylibjpeg with its openjpeg/libjpeg/rle plugins, or
python-gdcm). Before anything is allocated, the declared matrix is checked against a
limit and, for native (uncompressed) data, against the bytes actually present, so a
header that declares a huge matrix or a truncated file gives a typed error, not a crash.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.errors import PixelDataError, ResourceLimitError

logger = logging.getLogger(__name__)

#: default limit on the decoded size of one instance or one volume (bytes)
DEFAULT_MAX_BYTES = int(os.environ.get("IMAGING_TRIAGE_MAX_BYTES", str(4 * 1024**3)))


def declared_shape(ds: Any) -> tuple[int, int, int, int]:
    """(frames, rows, columns, samples) as declared by the header."""
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        rows = int(ds.Rows)
        cols = int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
    except (AttributeError, TypeError, ValueError, OverflowError, NotImplementedError) as err:
        raise PixelDataError(
            f"Rows/Columns/NumberOfFrames/SamplesPerPixel missing or malformed ({err})"
        ) from err
    if min(frames, rows, cols, samples) < 1:
        raise PixelDataError(f"declared image size {frames}x{rows}x{cols}x{samples} is empty")
    return frames, rows, cols, samples


def check_size(ds: Any, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse before decoding when the declared size exceeds ``max_bytes`` or the data.

    Raises
    ------
    ResourceLimitError
        The declared matrix is larger than the limit.
    PixelDataError
        Native pixel data shorter than the declared matrix (truncated file).
    """
    try:
        frames, rows, cols, samples = declared_shape(ds)
        bits = int(ds.get("BitsAllocated", 16) or 16)
    except PixelDataError as err:
        raise PixelDataError(err.reason, path=path) from err
    except (TypeError, ValueError, OverflowError, NotImplementedError) as err:
        raise PixelDataError(f"BitsAllocated is malformed ({err})", path=path) from err
    if bits not in (1, 8, 16, 32, 64):
        raise PixelDataError(f"BitsAllocated {bits} is not valid", path=path)
    needed = frames * rows * cols * samples * max(bits, 8) // 8
    if needed > max_bytes:
        raise ResourceLimitError(
            f"header declares {frames}x{rows}x{cols}x{samples} pixels ({needed / 1e9:.1f} GB), "
            f"over the {max_bytes / 1e9:.1f} GB limit; raise IMAGING_TRIAGE_MAX_BYTES if genuine",
            path=path,
        )
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise PixelDataError("no pixel data in the file; it may be truncated", path=path)
    compressed = _is_compressed(ds, path)
    if not compressed and "PixelData" in ds:
        expected = frames * rows * cols * samples * bits // 8
        if bits == 1:
            expected = (frames * rows * cols * samples + 7) // 8
        present = len(ds.PixelData)
        if present < expected:
            raise PixelDataError(
                f"pixel data truncated: {present} of {expected} bytes present; "
                "re-export the file from the archive",
                path=path,
            )


def _is_compressed(ds: Any, path: str) -> bool:
    """Whether the transfer syntax encapsulates (compresses) the pixel data."""
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts is None:
        return False
    try:
        return bool(ts.is_compressed)
    except (ValueError, AttributeError) as err:
        raise PixelDataError(
            f"TransferSyntaxUID {str(ts)[:64]!r} is not a transfer syntax; the file meta is "
            "damaged: re-export the file",
            path=path,
        ) from err


def decode(ds: Any, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> npt.NDArray[Any]:
    """Return the stored pixel values, shape (frames, rows, cols[, samples]).

    Values are the stored values with BitsStored applied (unused high bits masked,
    signed data sign-extended); the rescale is *not* applied here.

    Raises
    ------
    PixelDataError
        No decoder for the transfer syntax, or the compressed stream is damaged.
    ResourceLimitError
        The declared size is over the limit.
    """
    check_size(ds, path, max_bytes)
    frames, rows, cols, samples = declared_shape(ds)
    try:
        arr = ds.pixel_array
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except MemoryError as err:
        raise ResourceLimitError("not enough memory to decode the pixel data", path=path) from err
    except BaseException as err:  # decoders raise many types; Rust decoders panic (BaseException)
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(ts, "name", str(ts))
        raise PixelDataError(
            f"cannot decode pixel data in transfer syntax {name} ({type(err).__name__}: "
            f"{str(err)[:120]}); install pylibjpeg with its plugins or python-gdcm, or re-export "
            "the series uncompressed",
            path=path,
        ) from err
    arr = np.asarray(arr)
    shape = (frames, rows, cols) if samples == 1 else (frames, rows, cols, samples)
    if arr.size != int(np.prod(shape)):
        raise PixelDataError(
            f"decoded {arr.size} values where the header declares {shape}; the header or the "
            "pixel data is damaged",
            path=path,
        )
    return arr.reshape(shape)
