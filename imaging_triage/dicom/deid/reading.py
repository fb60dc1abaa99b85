"""Reading a file for de-identification: every element parsed now, values that do not
match their VR removed, truncated or incomplete datasets refused."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from imaging_triage.dicom.deid.values import is_numeric, is_temporal
from imaging_triage.errors import (
    InputError,
    NotDicomError,
)

logger = logging.getLogger(__name__)


def read_complete(path: Path) -> Any:
    """Read a DICOM file completely (gzip too); typed errors that quote no header value."""
    from imaging_triage.dicom.discover import read_header

    try:
        ds = read_header(path, pixels=True)
    except NotDicomError as err:
        raise NotDicomError("not a DICOM file", path=path) from err
    except InputError as err:
        raise InputError(
            "cannot parse as DICOM; the file may be truncated or corrupt: re-export it from "
            "the source",
            path=path,
        ) from err
    try:
        dropped = materialize(ds)
    except InputError as err:
        raise InputError(err.reason, path=path) from err
    except RecursionError as err:
        raise InputError(
            "sequences nested too deeply; re-export the file from the source", path=path
        ) from err
    if dropped:
        logger.debug("%d element(s) with unparseable values removed", dropped)
    return ds


#: elements whose value must parse: a file whose geometry or pixel description cannot be
#: read is refused rather than silently altered
_MUST_PARSE = frozenset(
    {
        0x00020010,  # TransferSyntaxUID
        0x00080016,  # SOPClassUID
        0x00080018,  # SOPInstanceUID
        0x0020000D,  # StudyInstanceUID
        0x0020000E,  # SeriesInstanceUID
        0x00200032,  # ImagePositionPatient
        0x00200037,  # ImageOrientationPatient
        0x00280002,  # SamplesPerPixel
        0x00280008,  # NumberOfFrames
        0x00280010,  # Rows
        0x00280011,  # Columns
        0x00280030,  # PixelSpacing
        0x00280100,  # BitsAllocated
        0x00281052,  # RescaleIntercept
        0x00281053,  # RescaleSlope
    }
)


def materialize(ds: Any) -> int:
    """Parse every element now (pydicom converts lazily); remove those that do not parse.

    A value that does not match its VR (text typed into a numeric field, a bad VR) cannot be
    checked, so it is removed; the removal leaks nothing. Returns the number removed.

    Raises
    ------
    InputError
        If an element of :data:`_MUST_PARSE` does not parse.
    """
    dropped = 0
    for tag in list(ds.keys()):
        try:
            elem = ds[tag]
            if elem.VR == "SQ":
                for item in elem.value or []:
                    dropped += materialize(item)
            elif elem.VR in ("DS", "IS") and not is_numeric(elem.value):
                raise ValueError(f"{elem.VR} value is not a number")
            elif elem.VR in ("DA", "DT", "TM") and not is_temporal(elem.value):
                raise ValueError(f"{elem.VR} value is not a date or time")
        except RecursionError:
            raise
        except Exception as err:  # pydicom raises many types for values it cannot convert
            if int(tag) in _MUST_PARSE:
                raise InputError(
                    f"element {tag} cannot be parsed ({type(err).__name__}); re-export the "
                    "file from the source"
                ) from err
            del ds[tag]
            dropped += 1
    return dropped


def check_complete(ds: Any, path: Path) -> None:
    """Refuse datasets that parsed but are cut short (pydicom stops silently at EOF)."""
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        if not str(ds.get(keyword, "") or "").strip():
            raise InputError(
                f"no {keyword}; the file is truncated or not a composite DICOM instance: "
                "re-export it from the source",
                path=path,
            )
    sop_class = str(ds.get("SOPClassUID", "") or "")
    pixel_keywords = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
    has_pixels = any(k in ds for k in pixel_keywords)
    if not has_pixels and sop_class in IMAGE_CLASSES:
        raise InputError(
            "image without pixel data; the file is truncated: re-export it from the source",
            path=path,
        )
    if "PixelData" not in ds:
        return
    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if syntax is not None and getattr(syntax, "is_compressed", False):
        return
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.BitsAllocated)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError) as err:
        raise InputError(
            "pixel data without a valid image description (Rows, Columns, BitsAllocated)",
            path=path,
        ) from err
    n_bits = rows * cols * samples * frames * bits
    expected = (n_bits + 7) // 8
    found = len(ds.PixelData or b"")
    if found < expected:
        raise InputError(
            f"pixel data truncated ({found} of {expected} bytes); re-export it from the source",
            path=path,
        )


def _image_classes() -> frozenset[str]:
    from pydicom.uid import UID_dictionary

    return frozenset(
        uid for uid, entry in UID_dictionary.items() if str(entry[0]).endswith("Image Storage")
    )


IMAGE_CLASSES = _image_classes()

DIRECTORY_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory (DICOMDIR)


def is_dicomdir(ds: Any) -> bool:
    """Whether ``ds`` is a DICOMDIR index (it lists names and paths: never copied)."""
    meta = getattr(ds, "file_meta", None)
    sop = str(getattr(meta, "MediaStorageSOPClassUID", "") or ds.get("SOPClassUID", "") or "")
    return sop == DIRECTORY_CLASS or "DirectoryRecordSequence" in ds
