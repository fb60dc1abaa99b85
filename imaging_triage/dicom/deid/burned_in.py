"""Pixels that may show identity: signs of burned-in annotation, and the unused high bits
of native pixel words where old-style overlays draw."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.dicom.deid.values import as_list

#: SOP classes whose pixels are screen or document captures
SECONDARY_CAPTURE_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
        "1.2.840.10008.5.1.4.1.1.7.1",  # Multi-frame Single Bit SC
        "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte SC
        "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word SC
        "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color SC
    }
)

#: SOP class UID prefixes of objects that show the patient or a document by nature
PHOTO_OR_DOCUMENT_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.77.",  # visible light (photographs, video, microscopy)
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated PDF, CDA, STL, ...
)


def burned_in_reason(ds: Any) -> str | None:
    """Why the pixels of ``ds`` may show identity, or ``None`` when no sign says so.

    Signs: BurnedInAnnotation YES; a secondary capture SOP class or a ConversionType;
    ImageType SECONDARY with a screen/capture/summary/report value; visible-light
    photographs and encapsulated documents; ultrasound without BurnedInAnnotation NO.
    """
    burned = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if burned == "YES":
        return "BurnedInAnnotation is YES"
    sop_class = str(ds.get("SOPClassUID", "") or "").strip()
    if sop_class in SECONDARY_CAPTURE_CLASSES:
        return "secondary capture image (screen or document capture)"
    if any(sop_class.startswith(prefix) for prefix in PHOTO_OR_DOCUMENT_PREFIXES):
        return "photograph, video or encapsulated document"
    if str(ds.get("ConversionType", "") or "").strip():
        return "has a ConversionType (captured from a screen, film or document)"
    image_type = [str(v).upper() for v in as_list(ds.get("ImageType", []))]
    if "SECONDARY" in image_type and any(
        word in value
        for value in image_type
        for word in ("SCREEN", "CAPTURE", "SUMMARY", "REPORT", "SAVE")
    ):
        return "ImageType marks a secondary screen capture"
    if str(ds.get("Modality", "") or "").upper() == "US" and burned != "NO":
        return "ultrasound image not declared free of burned-in annotation"
    return None


def clear_unused_pixel_bits(ds: Any) -> None:
    """Clear the bits of native pixel words outside BitsStored (PS3.5 8.1.1).

    Those bits are no part of the pixel value, but old-style overlays (60xx with
    OverlayBitsAllocated > 1) draw annotation there, which may show identity. Unsigned
    values keep zeros above HighBit; signed values are sign-extended, so readers that do
    not mask still see the right numbers. Compressed pixel data is left as it is.
    """
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    try:
        compressed = bool(ts is not None and ts.is_compressed)
    except (ValueError, AttributeError):
        return
    if compressed or "PixelData" not in ds:
        return
    try:
        allocated = int(ds.BitsAllocated)
        stored = int(ds.BitsStored)
        high = int(ds.get("HighBit", stored - 1))
        signed = int(ds.get("PixelRepresentation", 0)) == 1
    except (AttributeError, TypeError, ValueError):
        return
    if allocated not in (8, 16) or not 0 < stored < allocated or high != stored - 1:
        return
    raw = bytes(ds.PixelData)
    little = bool(getattr(ts, "is_little_endian", True)) if ts is not None else True
    dtype = np.dtype(np.uint8 if allocated == 8 else ("<u2" if little else ">u2"))
    if len(raw) % dtype.itemsize:
        return
    words: npt.NDArray[Any] = np.frombuffer(raw, dtype).copy()
    mask = (1 << stored) - 1
    values = words & mask
    if signed:
        negative = (values >> (stored - 1)) & 1 == 1
        values[negative] |= np.array(~mask & ((1 << allocated) - 1), dtype)
    ds.PixelData = values.astype(dtype).tobytes()
