"""Private attributes kept with the Retain Safe Private Option, and the Siemens CSA
image header scrubbed before it is kept (walked by :mod:`imaging_triage.dicom.csa`, the
one reader of the CSA format)."""

from __future__ import annotations

from imaging_triage.dicom.csa import CSA_CREATOR, CSA_IMAGE_ELEMENT, CsaError, layout

#: private elements kept with ``keep_safe_private`` (the standard's Retain Safe Private
#: Option, 113111): (group, private creator) -> element offsets inside the block. Only what
#: converters need for geometry and values: Siemens mosaic tile count, CSA image header
#: (slice normal, diffusion), Philips MR scale factors and per-frame items, GE b-values.
SAFE_PRIVATE: dict[tuple[int, str], frozenset[int]] = {
    (0x0019, "SIEMENS MR HEADER"): frozenset({0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x27, 0x29}),
    (0x0029, CSA_CREATOR): frozenset({CSA_IMAGE_ELEMENT}),
    (0x2005, "Philips MR Imaging DD 001"): frozenset({0x0D, 0x0E}),
    (0x2005, "Philips MR Imaging DD 005"): frozenset({0x0F}),
    (0x0043, "GEMS_PARM_01"): frozenset({0x39}),
    (0x0019, "GEMS_ACQU_01"): frozenset({0xBB, 0xBC, 0xBD}),
}

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


def scrub_csa(data: bytes, keep: frozenset[str] = CSA_KEEP) -> bytes | None:
    """Zero the values of every Siemens CSA header field not in ``keep``; same layout.

    The CSA image header is a binary list of named fields; besides geometry it can hold
    station names, serial numbers and dates. Field names, counts and lengths are kept, so
    any CSA parser still reads it; only the bytes of the values are zeroed, and so are the
    bytes after the end of each field name inside its 64-byte slot, the padding after each
    kept value, and anything after the last field.

    Returns
    -------
    bytes or None
        The scrubbed header, or ``None`` if it is not a well-formed CSA header
        (:func:`imaging_triage.dicom.csa.layout` refuses it): then the caller removes it.

    Examples
    --------
    >>> scrub_csa(b"not a CSA header") is None
    True
    """
    try:
        walked = layout(data)
    except CsaError:
        return None
    buf = bytearray(data)
    for f in walked.fields:
        name_end = f.name_start + len(f.name.encode("latin-1"))
        buf[name_end : f.name_start + 64] = bytes(f.name_start + 64 - name_end)
        for item in f.items:
            wipe_from = item.start if f.name not in keep else item.start + item.length
            buf[wipe_from : item.start + item.padded] = bytes(item.start + item.padded - wipe_from)
    buf[walked.end :] = bytes(len(buf) - walked.end)
    return bytes(buf)
