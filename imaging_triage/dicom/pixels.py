"""Decode the pixel data of one DICOM instance, safely.

Compressed transfer syntaxes (JPEG baseline and lossless, JPEG-LS, JPEG 2000, RLE) are
decoded by pydicom's pixel backends (pylibjpeg with its openjpeg/libjpeg/rle plugins, or
python-gdcm). Before anything is allocated, the declared matrix is checked against a
limit and, for native (uncompressed) data, against the bytes actually present, so a
header that declares a huge matrix or a truncated file gives a typed error, not a crash.
Compressed frames are also checked against the dimensions their codestream declares
(:mod:`imaging_triage.dicom.codestream`), since that is what a decoder allocates, and are
decoded by one decoder chosen per transfer syntax (a stream that decoder rejects is not
handed to a more lenient one unless ``IMAGING_TRIAGE_DECODER_FALLBACK=1``), in an isolated
worker process where this process is not one already (:mod:`imaging_triage.dicom.isolate`).
"""

from __future__ import annotations

import logging
import os
from struct import error as struct_error
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.dicom import codestream, isolate
from imaging_triage.errors import PixelDataError, ResourceLimitError
from imaging_triage.limits import DEFAULT_MAX_BYTES

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_BYTES", "check_size", "declared_shape", "decode"]

#: set to "1" to let pydicom try every installed decoder when the chosen one fails
FALLBACK_ENV_VAR = "IMAGING_TRIAGE_DECODER_FALLBACK"

#: decoding plugins in order of preference; the first one installed for a transfer
#: syntax is the only one used
PLUGIN_PREFERENCE = ("pylibjpeg", "gdcm", "pillow", "pyjpegls", "pydicom")

_RLE_LOSSLESS = "1.2.840.10008.1.2.5"

#: native little-endian transfer syntaxes (Implicit VR, Explicit VR, Deflated Explicit VR:
#: pydicom has inflated the last one by the time the dataset is read)
_NATIVE_LITTLE_ENDIAN = frozenset(
    {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99"}
)


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
    if compressed and "PixelData" in ds:
        _check_codestreams(ds, path, frames, rows, cols, samples, bits)
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


def _check_codestreams(
    ds: Any, path: str, frames: int, rows: int, cols: int, samples: int, bits: int
) -> None:
    """Compare each compressed frame's own dimensions with the header's."""
    from pydicom.encaps import generate_fragments

    ts = str(ds.file_meta.TransferSyntaxUID)
    rle_segments = samples * max(bits, 8) // 8 if ts == _RLE_LOSSLESS else None
    try:
        fragments = generate_fragments(ds.PixelData)
        next(fragments, None)  # the Basic Offset Table item (possibly empty)
        checked = codestream.check_fragments(fragments, rows, cols, path, rle_segments=rle_segments)
    except PixelDataError:
        raise
    except (ValueError, TypeError, struct_error) as err:
        raise PixelDataError(
            f"encapsulated pixel data cannot be split into fragments ({err}); the file is "
            "damaged: re-export it",
            path=path,
        ) from err
    if checked > frames:
        raise PixelDataError(
            f"{checked} compressed frames where the header declares {frames}; the file is damaged",
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
    plugin = decoding_plugin(ds) if _is_compressed(ds, path) else None
    native = _native_array(ds, frames * rows * cols) if plugin is None and samples == 1 else None
    if native is not None:
        arr = native
    elif plugin is not None and isolate.enabled():
        arr = isolate.run(
            _decode_minimal, _minimal(ds), path, plugin, path=path, max_bytes=max_bytes
        )
    else:
        arr = _pixel_array(ds, path, plugin)
    arr = np.asarray(arr)
    shape = (frames, rows, cols) if samples == 1 else (frames, rows, cols, samples)
    if arr.size != int(np.prod(shape)):
        raise PixelDataError(
            f"decoded {arr.size} values where the header declares {shape}; the header or the "
            "pixel data is damaged",
            path=path,
        )
    return arr.reshape(shape)


def _native_array(ds: Any, count: int) -> npt.NDArray[Any] | None:
    """Grey-scale native little-endian pixel data read straight from the buffer.

    The values :func:`decode` promises (PS3.5 section 8.1.1: the bits above BitsStored are
    not part of the value, so they are shifted out, sign-extending signed data), without
    pydicom's general machinery: the common CT/MR case, decoded for the viewer's first
    image. ``None`` (pydicom decodes) for anything else: other transfer syntaxes, float
    or 1-bit data, a missing or inconsistent pixel module. :func:`check_size` has already
    checked the buffer holds ``count`` values.
    """
    meta = getattr(ds, "file_meta", None)
    if str(getattr(meta, "TransferSyntaxUID", "")) not in _NATIVE_LITTLE_ENDIAN:
        return None
    try:
        allocated = int(ds.BitsAllocated)
        stored = int(ds.BitsStored)
        signed = int(ds.PixelRepresentation) == 1
        raw = ds.PixelData
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    if allocated not in (8, 16, 32) or not 1 <= stored <= allocated:
        return None
    if not isinstance(raw, (bytes, bytearray)) or len(raw) < count * allocated // 8:
        return None
    dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
    arr = np.frombuffer(raw, dtype, count=count).copy()
    shift = allocated - stored
    if shift:
        np.left_shift(arr, shift, out=arr)
        np.right_shift(arr, shift, out=arr)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def decoding_plugin(ds: Any) -> str:
    """The one pydicom decoding plugin used for ``ds``'s (compressed) transfer syntax.

    Empty when the user allows falling back (``IMAGING_TRIAGE_DECODER_FALLBACK=1``) or
    no plugin is installed (pydicom then says what to install).
    """
    if os.environ.get(FALLBACK_ENV_VAR, "").strip() == "1":
        return ""
    from pydicom.pixels import get_decoder

    try:
        available = get_decoder(ds.file_meta.TransferSyntaxUID).available_plugins
    except (NotImplementedError, ValueError, AttributeError, KeyError):
        return ""
    for name in PLUGIN_PREFERENCE:
        if name in available:
            return name
    return available[0] if available else ""


def _pixel_array(ds: Any, path: str, plugin: str | None) -> npt.NDArray[Any]:
    """``ds.pixel_array`` with one plugin, every decoder failure as a typed error.

    Module-level so that the isolated worker can run it.
    """
    try:
        if plugin:
            ds.pixel_array_options(decoding_plugin=plugin)
        return np.asarray(ds.pixel_array)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except MemoryError as err:
        raise ResourceLimitError("not enough memory to decode the pixel data", path=path) from err
    except BaseException as err:  # decoders raise many types; Rust decoders panic (BaseException)
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(ts, "name", str(ts))
        detail = " ".join(str(err).split())[:160]  # one line: decoders list their failures
        raise PixelDataError(
            f"cannot decode pixel data in transfer syntax {name} ({type(err).__name__}: "
            f"{detail}); install pylibjpeg with its plugins or python-gdcm, or re-export "
            "the series uncompressed",
            path=path,
        ) from err


#: what a decoder reads besides the pixel data: all the isolated worker is sent
_PIXEL_KEYWORDS = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "NumberOfFrames",
    "PixelData",
)


def _minimal(ds: Any) -> tuple[str, dict[str, Any]]:
    """The transfer syntax and the pixel module of ``ds``, cheap to send to a process."""
    values = {k: ds[k].value for k in _PIXEL_KEYWORDS if k in ds}
    return str(ds.file_meta.TransferSyntaxUID), values


def _decode_minimal(
    minimal: tuple[str, dict[str, Any]], path: str, plugin: str
) -> npt.NDArray[Any]:
    """Rebuild the pixel module from :func:`_minimal` and decode it (in the worker)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID

    syntax, values = minimal
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return _pixel_array(ds, path, plugin)
