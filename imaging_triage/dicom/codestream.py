"""Frame dimensions read from compressed codestreams, before any decoder sees them.

A decoder allocates what the codestream declares, not what the DICOM header says: a
64x64 slice whose JPEG 2000 SIZ marker says 60000x60000, or a JPEG-LS frame header of
65535x65535, makes a native decoder allocate gigabytes or abort. :func:`check_fragments`
reads the rows and columns from each frame's markers (JPEG SOF, JPEG-LS SOF55, JPEG 2000
SIZ) or the RLE header, and refuses a frame that disagrees with the header.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable

from imaging_triage.errors import PixelDataError

#: JPEG start-of-frame markers (SOF0..SOF15 without DHT, JPG, DAC) and JPEG-LS SOF55
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}
#: markers without a length field
_STANDALONE = frozenset(range(0xD0, 0xD9)) | {0x01}
_J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
#: how far into a JP2 file the codestream may start
_JP2_SEARCH = 64 * 1024


def jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """(rows, columns) from the first SOF (JPEG) or SOF55 (JPEG-LS) marker segment.

    Returns ``None`` when ``data`` is not a JPEG stream or holds no frame header.

    Examples
    --------
    >>> sof = b"\\xff\\xd8\\xff\\xc0\\x00\\x0b\\x08\\x00\\x40\\x00\\x20\\x01\\x01\\x11\\x00"
    >>> jpeg_dimensions(sof)
    (64, 32)
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            if pos + 9 > len(data):
                return None
            rows, cols = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(rows), int(cols)
        if marker == 0xDA or length < 2:  # start of scan before any frame header
            return None
        pos += 2 + length
    return None


def j2k_dimensions(data: bytes) -> tuple[int, int] | None:
    """(rows, columns) from the JPEG 2000 SIZ marker (raw codestream or JP2 file)."""
    start = 0
    if data.startswith(_JP2_SIGNATURE):
        start = data.find(_J2K_SOC_SIZ, 0, _JP2_SEARCH)
        if start < 0:
            return None
    elif not data.startswith(_J2K_SOC_SIZ):
        return None
    siz = data[start + 4 : start + 4 + 2 + 2 + 16]
    if len(siz) < 20:
        return None
    xsiz, ysiz, xosiz, yosiz = struct.unpack(">IIII", siz[4:20])
    return max(int(ysiz) - int(yosiz), 0), max(int(xsiz) - int(xosiz), 0)


def check_rle(data: bytes, segments: int, path: str) -> None:
    """Check an RLE frame's 64-byte header: segment count and offsets inside the frame.

    Raises
    ------
    PixelDataError
        Wrong segment count, or an offset outside the frame or out of order.
    """
    if len(data) < 64:
        raise PixelDataError("RLE frame shorter than its 64-byte header", path=path)
    header = struct.unpack("<16I", data[:64])
    count = header[0]
    if count != segments:
        raise PixelDataError(
            f"RLE frame has {count} segments where the header implies {segments}; the "
            "stream is damaged: re-export the series",
            path=path,
        )
    offsets = header[1 : 1 + count]
    if not offsets or offsets[0] != 64 or any(b <= a for a, b in itertools.pairwise(offsets)):
        raise PixelDataError("RLE segment offsets out of order; the stream is damaged", path=path)
    if offsets[-1] >= len(data):
        raise PixelDataError("RLE segment offset past the end of the frame", path=path)


def check_fragments(
    fragments: Iterable[bytes],
    rows: int,
    cols: int,
    path: str,
    *,
    rle_segments: int | None = None,
) -> int:
    """Compare the dimensions every frame's codestream declares with the header's.

    Parameters
    ----------
    fragments : iterable of bytes
        The encapsulated fragments; those starting a JPEG, JPEG-LS or JPEG 2000 stream are
        checked (continuation fragments are skipped).
    rows, cols : int
        The header's Rows and Columns.
    path : str
        For messages.
    rle_segments : int, optional
        For RLE: the expected number of segments per frame (samples x bytes per sample);
        every fragment is then checked as an RLE frame.

    Returns
    -------
    int
        How many frame headers were checked.

    Raises
    ------
    PixelDataError
        A codestream declares another size than the header.
    """
    checked = 0
    for fragment in fragments:
        if rle_segments is not None:
            check_rle(fragment, rle_segments, path)
            checked += 1
            continue
        dims = jpeg_dimensions(fragment) or j2k_dimensions(fragment)
        if dims is None:
            continue
        checked += 1
        if dims != (rows, cols):
            raise PixelDataError(
                f"compressed frame declares {dims[0]}x{dims[1]} pixels where the header says "
                f"{rows}x{cols}; the file is damaged or hostile and is not decoded",
                path=path,
            )
    return checked
