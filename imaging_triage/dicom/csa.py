"""The Siemens CSA header: one walker for everything that reads or rewrites it.

Siemens MR files carry binary "CSA" headers in private elements ``(0029,xx10)`` (image)
and ``(0029,xx20)`` (series) of the block reserved by ``SIEMENS CSA HEADER``. A header is
a list of named fields, each with items of text. Two layouts exist: CSA2 (starts with
``"SV10"``) and CSA1 (item lengths stored relative to the second field's item count).

:func:`layout` walks the bytes once and says where every field name and item value
sits; :func:`parse_csa` reads the values (mosaic geometry, diffusion), and the
de-identifier (:func:`imaging_triage.dicom.deid.private.scrub_csa`) zeroes the values it
does not keep without changing the layout.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from imaging_triage.errors import InputError

#: Private creator of the CSA headers.
CSA_CREATOR = "SIEMENS CSA HEADER"
#: Element offsets of the CSA image and series headers inside their private block.
CSA_IMAGE_ELEMENT = 0x10
CSA_SERIES_ELEMENT = 0x20

_TAG_HEADER = struct.Struct("<64si4s3i")
_ITEM_HEADER = struct.Struct("<4i")
MAX_TAGS = 1000
MAX_ITEMS = 1000


class CsaError(InputError):
    """A Siemens CSA header cannot be parsed (corrupt or truncated private data)."""

    code = "csa-header"


@dataclass
class CsaItem:
    """One item value: ``length`` bytes at ``start``, then padding up to ``padded``."""

    start: int
    length: int
    padded: int


@dataclass
class CsaField:
    """One named field: where its 64-byte name sits, its value multiplicity and items."""

    name: str
    name_start: int
    vm: int
    items: list[CsaItem] = field(default_factory=list)


@dataclass
class CsaLayout:
    """Every field of a CSA header and the offset just after the last one."""

    fields: list[CsaField]
    end: int


def layout(data: bytes) -> CsaLayout:
    """Walk a CSA1 or CSA2 header and return where every field and item is.

    A CSA1 field whose item runs past the end stops there (readers skip the rest of its
    items, as Siemens' own do); in CSA2 that is an error.

    Raises
    ------
    CsaError
        The bytes are not a CSA header, declare absurd counts, or are truncated.
    """
    size = len(data)
    csa2 = data[:4] == b"SV10"
    ptr = 8 if csa2 else 0
    try:
        n_tags, _check = struct.unpack_from("<2I", data, ptr)
    except struct.error as err:
        raise CsaError("CSA header too short") from err
    ptr += 8
    if not 0 < n_tags <= MAX_TAGS:
        raise CsaError(f"CSA header declares {n_tags} tags; expected 1 to {MAX_TAGS}")
    fields: list[CsaField] = []
    first_n_items = 0
    for tag_no in range(n_tags):
        try:
            raw_name, vm, _vr, _syngodt, n_items, _last = _TAG_HEADER.unpack_from(data, ptr)
        except struct.error as err:
            raise CsaError(f"CSA header truncated in tag {tag_no}") from err
        name = raw_name.split(b"\0", 1)[0].decode("latin-1")
        current = CsaField(name, ptr, vm)
        fields.append(current)
        ptr += _TAG_HEADER.size
        if tag_no == 1:
            first_n_items = n_items
        if not 0 <= n_items <= MAX_ITEMS:
            raise CsaError(f"CSA tag {name!r} declares {n_items} items")
        for _item_no in range(n_items):
            try:
                x0, x1, _x2, _x3 = _ITEM_HEADER.unpack_from(data, ptr)
            except struct.error as err:
                raise CsaError(f"CSA header truncated in tag {name!r}") from err
            ptr += _ITEM_HEADER.size
            length = x1 if csa2 else x0 - first_n_items
            if length < 0 or ptr + length > size:
                if csa2:
                    raise CsaError(f"CSA item of tag {name!r} runs past the end of the header")
                break
            padded = min(size - ptr, length + (-length % 4))
            current.items.append(CsaItem(ptr, length, padded))
            ptr += padded
    return CsaLayout(fields, ptr)


def parse_csa(data: bytes) -> dict[str, list[str]]:
    """Parse a Siemens CSA header (CSA1 or CSA2 ``"SV10"``) into ``{name: [items]}``.

    Item values are returned as stripped strings (numbers are stored as text); empty
    trailing items are dropped.

    Raises
    ------
    CsaError
        The bytes are not a CSA header or are truncated.
    """
    out: dict[str, list[str]] = {}
    for f in layout(data).fields:
        n_values = f.vm if f.vm > 0 else len(f.items)
        items = [
            data[i.start : i.start + i.length].split(b"\0", 1)[0].decode("latin-1").strip()
            for i in f.items[:n_values]
        ]
        while items and items[-1] == "":
            items.pop()
        out[f.name] = items
    return out
