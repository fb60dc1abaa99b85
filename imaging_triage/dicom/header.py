"""Typed header value getters: one place for how a DICOM value becomes a Python value.

Every reader in :mod:`imaging_triage.dicom` gets its values here, with one tolerance:
missing, empty, malformed or non-finite values give the default (``None`` unless
given), never an exception. Multi-valued elements give their first value where one
number is asked for.

Private elements are read **only through their Private Creator** (PS3.5 section 7.8.1):
the creator ``(gggg,00xx)`` reserves the block ``(gggg,xx00-xxFF)``, and a vendor may
place its creator in any free slot, so ``(2005,140F)`` in one file is ``(2005,100F)`` in
another. Fixed private tags are never read.
"""

from __future__ import annotations

import math
import struct
from typing import Any, overload

#: unpacking of numeric private values read without a dictionary entry (implicit VR LE)
_BINARY_FORMATS = {"FL": "<f", "FD": "<d", "US": "<H", "SS": "<h", "UL": "<I", "SL": "<i"}


def _is_multi(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue"


@overload
def to_float(value: Any, default: float) -> float: ...
@overload
def to_float(value: Any, default: None = None) -> float | None: ...
def to_float(value: Any, default: float | None = None) -> float | None:
    """A finite float from a DICOM value (first of several), else ``default``.

    Examples
    --------
    >>> to_float("2.5"), to_float(["1", "2"]), to_float("nan"), to_float("", 0.0)
    (2.5, 1.0, None, 0.0)
    """
    if value is None or value == "":
        return default
    if _is_multi(value):
        if len(value) == 0:
            return default
        value = value[0]
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return out if math.isfinite(out) else default


@overload
def to_int(value: Any, default: int) -> int: ...
@overload
def to_int(value: Any, default: None = None) -> int | None: ...
def to_int(value: Any, default: int | None = None) -> int | None:
    """An int from a DICOM value (IS, DS with a whole value, US, ...), else ``default``.

    Examples
    --------
    >>> to_int("7"), to_int("7.0"), to_int("x"), to_int(None, 1)
    (7, 7, None, 1)
    """
    number = to_float(value)
    if number is None:
        return default
    return int(number)


def to_floats(value: Any, n: int) -> tuple[float, ...] | None:
    """Exactly ``n`` finite floats from a multi-valued DICOM value, else ``None``.

    Examples
    --------
    >>> to_floats(["1", "0", "0"], 3), to_floats(["1", "0"], 3)
    ((1.0, 0.0, 0.0), None)
    """
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError, OverflowError):
        return None
    if len(out) != n or not all(math.isfinite(v) for v in out):
        return None
    return out


def to_text(value: Any, default: str = "") -> str:
    """Text of a DICOM value, several values joined by backslash, stripped.

    Examples
    --------
    >>> to_text(["ORIGINAL", "PRIMARY"]), to_text(None, "-")
    ('ORIGINAL\\\\PRIMARY', '-')
    """
    if value is None:
        return default
    if _is_multi(value):
        return "\\".join(str(v).strip() for v in value)
    return str(value).strip()


def text(ds: Any, keyword: str, default: str = "") -> str:
    """Text of ``ds.keyword`` (see :func:`to_text`)."""
    return to_text(_get(ds, keyword), default)


@overload
def number(ds: Any, keyword: str, default: float) -> float: ...
@overload
def number(ds: Any, keyword: str, default: None = None) -> float | None: ...
def number(ds: Any, keyword: str, default: float | None = None) -> float | None:
    """Finite float of ``ds.keyword`` (see :func:`to_float`)."""
    return to_float(_get(ds, keyword), default)


@overload
def integer(ds: Any, keyword: str, default: int) -> int: ...
@overload
def integer(ds: Any, keyword: str, default: None = None) -> int | None: ...
def integer(ds: Any, keyword: str, default: int | None = None) -> int | None:
    """Int of ``ds.keyword`` (see :func:`to_int`)."""
    return to_int(_get(ds, keyword), default)


def numbers(ds: Any, keyword: str, n: int) -> tuple[float, ...] | None:
    """Exactly ``n`` floats of ``ds.keyword`` (see :func:`to_floats`)."""
    return to_floats(_get(ds, keyword), n)


def upper_values(ds: Any, keyword: str) -> tuple[str, ...]:
    """Values of a code-string element, upper case (``ImageType``, ``FrameType``)."""
    value = _get(ds, keyword)
    if value is None:
        return ()
    if _is_multi(value):
        return tuple(str(v).strip().upper() for v in value)
    return tuple(v.strip().upper() for v in str(value).split("\\"))


def _get(ds: Any, keyword: str) -> Any:
    try:
        return ds.get(keyword, None)
    except (AttributeError, TypeError, ValueError, KeyError):
        return None


def private_element(ds: Any, group: int, creator: str, offset: int) -> Any:
    """The private data element ``(group, xx<offset>)`` of the block reserved by ``creator``.

    Parameters
    ----------
    ds : pydicom.Dataset
        A dataset or sequence item.
    group : int
        Odd group number, e.g. ``0x2005``.
    creator : str
        Private Creator value, e.g. ``"Philips MR Imaging DD 001"``.
    offset : int
        Element offset inside the block (0x00-0xFF).

    Returns
    -------
    pydicom.DataElement or None
        ``None`` when the creator or the element is absent: never the element at a fixed
        tag that another creator's block happens to hold.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset()
    >>> ds.private_block(0x2005, "OTHER", create=True).add_new(0x0E, "FL", 9.0)
    >>> ds.private_block(0x2005, "WANTED", create=True).add_new(0x0E, "FL", 0.5)
    >>> private_element(ds, 0x2005, "WANTED", 0x0E).tag
    (2005,110E)
    >>> private_element(ds, 0x2005, "ABSENT", 0x0E) is None
    True
    """
    try:
        block = ds.private_block(group, creator)
        return block[offset]
    except (KeyError, ValueError, AttributeError, TypeError):
        return None


def private_float(ds: Any, group: int, creator: str, offset: int, vr: str = "FL") -> float | None:
    """Finite float of a private element found through its creator (see
    :func:`private_element`); raw bytes (implicit VR, no dictionary) unpack as ``vr``."""
    elem = private_element(ds, group, creator, offset)
    if elem is None:
        return None
    value = elem.value
    if isinstance(value, (bytes, bytearray)):
        fmt = _BINARY_FORMATS.get(vr)
        if fmt is None or len(value) != struct.calcsize(fmt):
            return None
        value = struct.unpack(fmt, bytes(value))[0]
    return to_float(value)


def private_bytes(ds: Any, group: int, creator: str, offset: int) -> bytes | None:
    """Raw bytes of a private element found through its creator, else ``None``."""
    elem = private_element(ds, group, creator, offset)
    if elem is None:
        return None
    value = elem.value
    return bytes(value) if isinstance(value, (bytes, bytearray)) else None


def private_item(ds: Any, group: int, creator: str, offset: int) -> Any:
    """First item of a private sequence found through its creator, else ``None``."""
    elem = private_element(ds, group, creator, offset)
    if elem is None:
        return None
    try:
        return elem.value[0] if len(elem.value) > 0 else None
    except (TypeError, AttributeError, IndexError):
        return None
