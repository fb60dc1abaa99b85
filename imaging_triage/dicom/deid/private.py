"""Private attributes kept with the Retain Safe Private Option, and the Siemens CSA
image header scrubbed before it is kept."""

from __future__ import annotations

import struct

#: private elements kept with ``keep_safe_private`` (the standard's Retain Safe Private
#: Option, 113111): (group, private creator) -> element offsets inside the block. Only what
#: converters need for geometry and values: Siemens mosaic tile count, CSA image header
#: (slice normal, diffusion), Philips MR scale factors and per-frame items, GE b-values.
SAFE_PRIVATE: dict[tuple[int, str], frozenset[int]] = {
    (0x0019, "SIEMENS MR HEADER"): frozenset({0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x27, 0x29}),
    (0x0029, "SIEMENS CSA HEADER"): frozenset({0x10}),
    (0x2005, "Philips MR Imaging DD 001"): frozenset({0x0D, 0x0E}),
    (0x2005, "Philips MR Imaging DD 005"): frozenset({0x0F}),
    (0x0043, "GEMS_PARM_01"): frozenset({0x39}),
    (0x0019, "GEMS_ACQU_01"): frozenset({0xBB, 0xBC, 0xBD}),
}

#: the CSA image header blob, kept only after :func:`scrub_csa`
CSA_CREATOR = "SIEMENS CSA HEADER"

CSA_IMAGE_OFFSET = 0x10

#: CSA image header fields whose values survive :func:`scrub_csa` (geometry, diffusion,
#: timing); every other field keeps its name and layout but its values are zeroed
CSA_KEEP: frozenset[str] = frozenset(
    {
        "NumberOfImagesInMosaic",
        "SliceNormalVector",
        "MosaicRefAcqTimes",
        "B_value",
        "B_matrix",
        "DiffusionGradientDirection",
        "DiffusionDirectionality",
        "SliceMeasurementDuration",
        "PhaseEncodingDirectionPositive",
        "BandwidthPerPixelPhaseEncode",
        "AcquisitionMatrixText",
        "RealDwellTime",
    }
)

_CSA_TAG = struct.Struct("<64si4s3i")

_CSA_ITEM = struct.Struct("<4i")


def scrub_csa(data: bytes, keep: frozenset[str] = CSA_KEEP) -> bytes | None:
    """Zero the values of every Siemens CSA header field not in ``keep``; same layout.

    The CSA image header is a binary list of named fields; besides geometry it can hold
    station names, serial numbers and dates. Field names, counts and lengths are kept, so
    any CSA parser still reads it; only the bytes of the values are zeroed, as is anything
    after the last field.

    Returns
    -------
    bytes or None
        The scrubbed header, or ``None`` if it is not a well-formed CSA header (then the
        caller removes it).
    """
    buf = bytearray(data)
    size = len(buf)
    csa2 = bytes(buf[:4]) == b"SV10"
    ptr = 8 if csa2 else 0
    try:
        n_tags, _check = struct.unpack_from("<2I", buf, ptr)
        ptr += 8
        if not 0 < n_tags <= 1000:
            return None
        first_n_items = 0
        for tag_no in range(n_tags):
            raw_name, _vm, _vr, _dt, n_items, _last = _CSA_TAG.unpack_from(buf, ptr)
            name_bytes = raw_name.split(b"\0", 1)[0]
            buf[ptr + len(name_bytes) : ptr + 64] = bytes(64 - len(name_bytes))
            ptr += _CSA_TAG.size
            if tag_no == 1:
                first_n_items = n_items
            if not 0 <= n_items <= 1000:
                return None
            wipe = name_bytes.decode("latin-1") not in keep
            for _item in range(n_items):
                x0, x1, _x2, _x3 = _CSA_ITEM.unpack_from(buf, ptr)
                ptr += _CSA_ITEM.size
                item_len = x1 if csa2 else x0 - first_n_items
                if item_len < 0 or ptr + item_len > size:
                    if csa2:
                        return None
                    break  # CSA1 quirk: readers skip the rest of this field's items
                padded = min(size - ptr, item_len + (-item_len % 4))
                if wipe:
                    buf[ptr : ptr + padded] = bytes(padded)
                else:  # keep the value, zero the padding after it
                    buf[ptr + item_len : ptr + padded] = bytes(padded - item_len)
                ptr += padded
    except struct.error:
        return None
    buf[ptr:] = bytes(size - ptr)
    return bytes(buf)
