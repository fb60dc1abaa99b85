"""De-identification of DICOM files: PS3.15 Annex E Basic Application Level Confidentiality Profile.

What is done to every dataset (and, recursively, to every item of every kept sequence):

* the actions of PS3.15 Table E.1-1 (:mod:`imaging_triage.dicom.deid_table`, generated from
  the machine-readable standard) are applied: ``D`` dummy value, ``Z`` empty value, ``X``
  removed, ``K`` kept, ``C`` cleaned (treated as ``D``), ``U`` UID replaced. Compound codes
  are resolved to the choice that leaks nothing *and* keeps the object valid whatever the
  IOD says of the attribute: ``X/Z`` -> ``Z``, ``X/D``, ``Z/D``, ``X/Z/D`` -> ``D``, and
  ``X/Z/U*`` -> keep the sequence, with its items de-identified (their UIDs replaced);
* every private attribute (odd group) is removed, and so are curves (``50xx``) and whole
  overlay planes (``60xx``: the table removes overlay data and comments, and an overlay plane
  without its data is invalid). With ``keep_safe_private`` (the Retain Safe Private Option)
  the few private elements of :data:`SAFE_PRIVATE` that converters need are kept: Siemens
  mosaics cannot be rebuilt without them. The Siemens CSA image header among them is scrubbed
  first (:func:`scrub_csa`: every field outside :data:`CSA_KEEP` zeroed);
* values that do not match their VR (text in a DS/IS field, letters in a date) are removed;
  a file whose geometry or pixel description does not parse is refused;
* beyond the table (the profile keeps unlisted attributes; this module does not trust that
  a vendor left no name in them): free-text attributes (PN, LO, SH, LT, ST, UT, UC, UR, AE) that
  the table does not list are removed, except the technical ones in :data:`KEEP_UNLISTED_TEXT`
  that describe the acquisition; unknown attributes of VR ``UN`` are removed;
* UIDs are replaced by ``2.25.<int>`` derived from an HMAC-SHA-256 of the original UID with a
  secret key (:class:`UidMapper`): the same key gives the same UIDs, so study, series and frame
  of reference grouping survive across files and runs; well-known UIDs (SOP classes, transfer
  syntaxes) and ``...ClassUID`` attributes are kept;
* dates are removed (the table's action), or, with a date shift, every date (DA, and the date
  part of DT) is moved by the same number of days; times are then kept;
* PatientIdentityRemoved = YES, DeidentificationMethod and DeidentificationMethodCodeSequence
  (113100, DCM, Basic Application Confidentiality Profile; 113107 when dates are shifted) and
  LongitudinalTemporalInformationModified are recorded; the file meta's
  MediaStorageSOPInstanceUID follows the new SOP Instance UID.

Geometry is untouched: ImagePositionPatient, ImageOrientationPatient, PixelSpacing,
SliceThickness, rescale, pixel data and the per-frame functional groups are not in the table,
and FrameOfReferenceUID is mapped like every UID, so the copy converts to the same volumes.

Images that may carry identity in their pixels (BurnedInAnnotation YES, secondary captures,
screen captures, photographs, encapsulated documents, ultrasound not declared free of burned-in
text) are refused with :class:`~imaging_triage.errors.DeidentificationError` unless allowed:
this module does not read text in pixels.

Examples
--------
>>> config = DeidConfig(key=b"a secret kept apart from the data", date_shift_days=-100)
>>> report = deidentify_tree("in", "out", config, map_path="private/out.map.json")  # doctest: +SKIP
>>> report.counts()  # doctest: +SKIP
{'written': 28, 'quarantined': 1, 'failed': 0, 'skipped': 2}
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import io
import logging
import os
import re
import secrets
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.dicom import deid_table
from imaging_triage.errors import (
    ConfigError,
    DeidentificationError,
    InputError,
    NotDicomError,
    TriageError,
)
from imaging_triage.volume import atomic_write_bytes, atomic_write_json

logger = logging.getLogger(__name__)

#: UID root of UUID-derived UIDs (PS3.5 B.2); the suffix is a 128-bit integer
UID_ROOT = "2.25."

#: free-text attributes the table does not list that are kept anyway: technical descriptions
#: of the acquisition or of coded concepts, needed by converters, never about the patient
KEEP_UNLISTED_TEXT: frozenset[int] = frozenset(
    {
        0x00080070,  # Manufacturer
        0x00080100,  # Code Value
        0x00080102,  # Coding Scheme Designator
        0x00080103,  # Coding Scheme Version
        0x00080104,  # Code Meaning
        0x00081090,  # Manufacturer's Model Name
        0x00180024,  # Sequence Name
        0x00180085,  # Imaged Nucleus
        0x00181020,  # Software Versions
        0x00181160,  # Filter Type
        0x00181210,  # Convolution Kernel
        0x00181250,  # Receive Coil Name
        0x00181251,  # Transmit Coil Name
        0x00189005,  # Pulse Sequence Name
        0x00189041,  # Receive Coil Manufacturer Name
        0x00189047,  # Multi-Coil Element Name
        0x00189050,  # Transmit Coil Manufacturer Name
        0x00209056,  # Stack ID
        0x00209213,  # Dimension Index Private Creator
        0x00209238,  # Functional Group Private Creator
        0x00209421,  # Dimension Description Label
        0x00281054,  # Rescale Type
        0x00281055,  # Window Center & Width Explanation
        0x00409210,  # LUT Label
    }
)

#: value representations holding free text (names, descriptions, comments, addresses)
TEXT_VRS = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC", "UR", "AE"})

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

DIRECTORY_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory (DICOMDIR)

#: dummy values per VR for action D (dates/times only when they are not shifted)
DUMMY_TEXT = "ANONYMIZED"
DUMMY_BY_VR: dict[str, Any] = {
    "AE": "ANONYMIZED",
    "AS": "000D",
    "CS": "ANONYMIZED",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "DS": "0",
    "IS": "0",
    "UR": "",
}
NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"})
BINARY_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})


class Action(str, enum.Enum):
    """What is done to one attribute (PS3.15 Table E.1-1 action codes)."""

    #: replace with a dummy value consistent with the VR (dates shifted when shifting)
    DUMMY = "D"
    #: replace with a zero-length value
    ZERO = "Z"
    #: remove the attribute
    REMOVE = "X"
    #: keep the attribute
    KEEP = "K"
    #: clean: keep the meaning, drop identity; done here as DUMMY
    CLEAN = "C"
    #: replace the UID(s) by keyed ones; for a sequence: keep it, de-identify its items
    UID = "U"


#: how each code of the table becomes one action (see the module docstring)
RESOLVE: dict[str, Action] = {
    "D": Action.DUMMY,
    "Z": Action.ZERO,
    "X": Action.REMOVE,
    "K": Action.KEEP,
    "C": Action.CLEAN,
    "U": Action.UID,
    "X/Z": Action.ZERO,
    "X/D": Action.DUMMY,
    "Z/D": Action.DUMMY,
    "X/Z/D": Action.DUMMY,
    "X/Z/U*": Action.UID,
}


def resolve_action(code: str) -> Action:
    """Return the single action for a (possibly compound) table code.

    Raises
    ------
    ConfigError
        If the code is unknown (the generated table is newer than this module).
    """
    try:
        return RESOLVE[code]
    except KeyError as err:
        raise ConfigError(
            f"unknown de-identification action {code!r}; update RESOLVE in deid.py",
            code="deid-table",
        ) from err


def table_action(tag: int) -> Action | None:
    """Return the profile's action for a tag, ``None`` when the table does not list it."""
    code = deid_table.ACTIONS.get(tag)
    if code is None:
        for mask, value, wild_code, _name in deid_table.WILDCARDS:
            if tag & mask == value:
                code = wild_code
                break
    return None if code is None else resolve_action(code)


class FileStatus(str, enum.Enum):
    """What became of one input file."""

    #: a de-identified copy was written
    WRITTEN = "written"
    #: refused: its pixels may show identity (see ``--allow-burned-in``)
    QUARANTINED = "quarantined"
    #: could not be read or de-identified (typed error in ``reason``)
    FAILED = "failed"
    #: not DICOM, or a DICOMDIR index (not copied: it lists names and paths)
    SKIPPED = "skipped"


@dataclass(frozen=True)
class DeidConfig:
    """Settings of one de-identification run.

    Attributes
    ----------
    key : bytes
        Secret for the keyed UID mapping (and the keyed date shift). Keep it apart from the
        data: with it and an original UID anyone can recompute the replacement.
    date_shift_days : int or None
        ``None``: dates follow the table (removed or dummy). An integer: every date is moved by
        that many days (times kept), so intervals between studies survive.
    allow_burned_in : bool
        Write images that may carry burned-in identity instead of quarantining them.
    remove_unlisted_text : bool
        Remove free-text attributes that the table does not list (see module docstring).
    keep_safe_private : bool
        Keep the private elements of :data:`SAFE_PRIVATE` (and their creators), which some
        vendors' series need to convert (Siemens mosaics, GE diffusion); off by default:
        then every private attribute is removed.
    """

    key: bytes
    date_shift_days: int | None = None
    allow_burned_in: bool = False
    remove_unlisted_text: bool = True
    keep_safe_private: bool = False

    def __post_init__(self) -> None:
        if len(self.key) < 8:
            raise ConfigError("the de-identification key must be at least 8 bytes long")


def random_key() -> bytes:
    """A fresh 32-byte key (UIDs then differ from every other run)."""
    return secrets.token_bytes(32)


def keyed_date_shift(key: bytes) -> int:
    """A shift between -3650 and -1 days derived from ``key`` (same key, same shift)."""
    digest = hmac.new(key, b"imaging_triage date shift", hashlib.sha256).digest()
    return -(1 + int.from_bytes(digest[:4], "big") % 3650)


def keyed_uid(key: bytes, uid: str) -> str:
    """Return the replacement of ``uid``: ``2.25.`` and 128 bits of HMAC-SHA-256(key, uid).

    Examples
    --------
    >>> keyed_uid(b"0123456789", "1.2.3") == keyed_uid(b"0123456789", "1.2.3")
    True
    >>> keyed_uid(b"0123456789", "1.2.3").startswith("2.25.")
    True
    """
    digest = hmac.new(key, uid.strip().encode("ascii", "replace"), hashlib.sha256).digest()
    return UID_ROOT + str(int.from_bytes(digest[:16], "big"))


class UidMapper:
    """Keyed, consistent UID replacement, remembering every pair for the map file."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.mapping: dict[str, str] = {}

    def __call__(self, uid: str) -> str:
        """Return the replacement of ``uid`` (empty stays empty)."""
        original = str(uid).strip().rstrip("\x00")
        if not original:
            return ""
        new = self.mapping.get(original)
        if new is None:
            new = keyed_uid(self._key, original)
            self.mapping[original] = new
        return new


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
    image_type = [str(v).upper() for v in _as_list(ds.get("ImageType", []))]
    if "SECONDARY" in image_type and any(
        word in value
        for value in image_type
        for word in ("SCREEN", "CAPTURE", "SUMMARY", "REPORT", "SAVE")
    ):
        return "ImageType marks a secondary screen capture"
    if str(ds.get("Modality", "") or "").upper() == "US" and burned != "NO":
        return "ultrasound image not declared free of burned-in annotation"
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


def _shift_date(value: str, days: int) -> str:
    """Shift one DA value (or a ``from-to`` range); unparseable values become empty."""
    parts = value.strip().split("-")
    out = []
    for part in parts:
        if not part:
            out.append("")
            continue
        try:
            day = dt.datetime.strptime(part[:8], "%Y%m%d").date()
        except ValueError:
            return ""
        if len(part) != 8:
            return ""
        out.append((day + dt.timedelta(days=days)).strftime("%Y%m%d"))
    return "-".join(out)


def _shift_datetime(value: str, days: int) -> str:
    """Shift the date part of one DT value; values without a full date become empty."""
    text = value.strip()
    if "-" in text[1:] and not any(c in text for c in "+&"):
        # a range (query syntax) or a negative offset: shift each side
        pieces = text.split("-")
        if len(pieces) == 2 and all(len(p) >= 8 or not p for p in pieces):
            return "-".join(_shift_datetime(p, days) if p else "" for p in pieces)
    if len(text) < 8 or not text[:8].isdigit():
        return ""
    shifted = _shift_date(text[:8], days)
    return shifted + text[8:] if shifted else ""


def _shifted(elem: Any, days: int) -> Any:
    """The value of a DA/DT element with every date shifted by ``days``."""
    fn = _shift_date if elem.VR == "DA" else _shift_datetime
    values = [fn(str(v), days) for v in _as_list(elem.value) if str(v).strip()]
    values = [v for v in values if v]
    if not values:
        return ""
    return values[0] if len(values) == 1 else values


def _empty(vr: str) -> Any:
    """A zero-length value for ``vr`` (action Z)."""
    if vr == "SQ":
        return []
    if vr in BINARY_VRS:
        return b""
    if vr in NUMERIC_VRS:
        return None
    return ""


def _dummy(elem: Any) -> Any:
    vr = elem.VR
    if vr in DUMMY_BY_VR:
        return DUMMY_BY_VR[vr]
    if vr in TEXT_VRS or vr in ("LT", "ST", "UT", "UC"):
        return DUMMY_TEXT
    if vr in NUMERIC_VRS:
        return 0
    if vr in BINARY_VRS:
        return b""
    return None


#: UI attributes not listed in the table whose values name classes, not instances
_CLASS_UID_SUFFIXES = ("ClassUID", "SyntaxUID", "SchemeUID", "ResourceUID", "ContextUID")


def _is_class_uid(elem: Any) -> bool:
    keyword = str(elem.keyword or "")
    return keyword.endswith(_CLASS_UID_SUFFIXES)


def _uid_like(value: Any) -> bool:
    """Whether every value is made of digits and dots only (as a UID must be)."""
    return all(re.fullmatch(r"[0-9.]*", str(v).strip().rstrip("\x00")) for v in _as_list(value))


def _is_well_known_uid(uid: str) -> bool:
    from pydicom.uid import UID_dictionary

    return uid.strip() in UID_dictionary


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


class _Cleaner:
    """Applies the profile to one dataset tree; counts what it did (no values kept)."""

    def __init__(self, config: DeidConfig, uids: UidMapper) -> None:
        self.config = config
        self.uids = uids
        self.removed_unlisted = 0

    def dataset(self, ds: Any) -> None:
        safe = self.safe_private(ds) if self.config.keep_safe_private else {}
        for elem in list(ds):  # a copy: elements are deleted while walking
            kind = safe.get(int(elem.tag))
            if kind is None:
                self.element(ds, elem)
            elif kind == (CSA_CREATOR, CSA_IMAGE_OFFSET):
                value = elem.value if isinstance(elem.value, bytes) else None
                scrubbed = scrub_csa(value) if value is not None else None
                if scrubbed is None:
                    del ds[elem.tag]
                else:
                    elem.value = scrubbed
            elif elem.VR == "SQ":
                self.items(elem)

    @staticmethod
    def safe_private(ds: Any) -> dict[int, tuple[str, int]]:
        """Tags of ``ds`` (this level only) listed in :data:`SAFE_PRIVATE`, creators included,
        each with its (creator, element offset); the offset of a creator element is -1.

        Text values are never kept; a listed element stored as ``UN`` (content unknown to
        the parser) is kept only in the Siemens CSA block, whose binary header
        :func:`scrub_csa` cleans.
        """
        elements = {int(e.tag): e for e in ds}
        keep: dict[int, tuple[str, int]] = {}
        for tag, elem in elements.items():
            group, element = tag >> 16, tag & 0xFFFF
            if group % 2 == 0 or not 0x10 <= element <= 0xFF:
                continue
            creator = str(elem.value or "").strip()
            offsets = SAFE_PRIVATE.get((group, creator))
            if offsets is None:
                continue
            for offset in offsets:
                wanted = (group << 16) | (element << 8) | offset
                found = elements.get(wanted)
                if found is None or found.VR in TEXT_VRS or found.VR in ("CS", "AS"):
                    continue  # only numbers, sequences and the CSA blob are kept
                if found.VR != "UN" or creator == CSA_CREATOR:
                    keep[wanted] = (creator, offset)
                    keep[tag] = (creator, -1)
        return keep

    def element(self, ds: Any, elem: Any) -> None:
        tag = int(elem.tag)
        group = tag >> 16
        if group % 2 == 1 or (tag & 0xFFFF) == 0 or (group & 0xFF00) in (0x5000, 0x6000):
            del ds[elem.tag]  # private, group length, curves, overlay planes
            return
        action = table_action(tag)
        if action is None:
            self.unlisted(ds, elem)
            return
        shift = self.config.date_shift_days
        if (
            shift is not None
            and elem.VR in ("DA", "DT", "TM")
            and "rtnLongModifDatesOpt=C" in deid_table.OPTIONS.get(tag, "")
            and action is not Action.KEEP
        ):
            if elem.VR != "TM":
                elem.value = _shifted(elem, shift)
            return
        if action is Action.REMOVE:
            del ds[elem.tag]
        elif action is Action.KEEP:
            if elem.VR == "SQ":
                self.items(elem)
        elif action is Action.ZERO:
            elem.value = _empty(elem.VR)
        elif action is Action.UID:
            if elem.VR == "SQ":
                self.items(elem)
            elif elem.VR == "UI":
                self.map_uids(elem)
            else:
                elem.value = _dummy(elem)
        else:  # DUMMY, CLEAN
            if elem.VR == "SQ":
                self.items(elem)
            elif elem.VR == "UI":
                self.map_uids(elem)
            else:
                elem.value = _dummy(elem)

    def unlisted(self, ds: Any, elem: Any) -> None:
        vr = elem.VR
        if vr == "SQ":
            self.items(elem)
        elif vr == "UI":
            if not (_is_class_uid(elem) and _uid_like(elem.value)):
                self.map_uids(elem)
        elif vr in ("DA", "DT"):
            if self.config.date_shift_days is not None:
                elem.value = _shifted(elem, self.config.date_shift_days)
            else:
                del ds[elem.tag]
        elif vr == "UN" or (
            self.config.remove_unlisted_text
            and vr in TEXT_VRS
            and int(elem.tag) not in KEEP_UNLISTED_TEXT
        ):
            del ds[elem.tag]
            self.removed_unlisted += 1

    def items(self, elem: Any) -> None:
        for item in elem.value or []:
            self.dataset(item)

    def map_uids(self, elem: Any) -> None:
        values = [str(v) for v in _as_list(elem.value)]
        new = [v if _is_well_known_uid(v) else self.uids(v) for v in values]
        new = [v for v in new if v]
        elem.value = "" if not new else new[0] if len(new) == 1 else new


def _method_values(config: DeidConfig) -> list[str]:
    from imaging_triage import __version__

    values = [
        f"imaging_triage {__version__} PS3.15 E Basic Profile"[:64],
        deid_table.TABLE_VERSION[:64],
        "private attributes removed",
        "UIDs replaced by keyed HMAC under 2.25",
        "dates shifted" if config.date_shift_days is not None else "dates removed",
    ]
    if config.remove_unlisted_text:
        values.append("unlisted free text removed")
    if config.keep_safe_private:
        values[2] = "private attributes removed except a safe list"
    return values


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


def deidentify_dataset(ds: Any, config: DeidConfig, uids: UidMapper) -> Any:
    """De-identify ``ds`` in place and return it.

    Parameters
    ----------
    ds : pydicom.Dataset
        A dataset read with its pixel data; modified in place.
    config : DeidConfig
        Key, date policy, burned-in policy.
    uids : UidMapper
        Shared by every file of a tree, so references between files stay consistent.

    Raises
    ------
    DeidentificationError
        If the pixels may show identity and ``config.allow_burned_in`` is false, or the
        dataset has no SOP Instance UID to replace.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence as DicomSequence

    if not config.allow_burned_in:
        reason = burned_in_reason(ds)
        if reason is not None:
            raise DeidentificationError(
                f"quarantined: {reason}; check the pixels by eye, then rerun with "
                "--allow-burned-in if they show no identity",
                code="burned-in",
            )
    clear_unused_pixel_bits(ds)
    if not str(ds.get("SOPInstanceUID", "") or "").strip():
        raise DeidentificationError(
            "no SOP Instance UID; not a composite DICOM instance", code="no-sop-instance"
        )
    cleaner = _Cleaner(config, uids)
    cleaner.dataset(ds)
    if cleaner.removed_unlisted:
        logger.debug("%d unlisted free-text attribute(s) removed", cleaner.removed_unlisted)

    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = _method_values(config)
    codes = [("113100", "Basic Application Confidentiality Profile")]
    if config.date_shift_days is not None:
        codes.append(("113107", "Retain Longitudinal Temporal Information Modified Dates Option"))
    if config.keep_safe_private:
        codes.append(("113111", "Retain Safe Private Option"))
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = DicomSequence(items)
    ds.LongitudinalTemporalInformationModified = (
        "MODIFIED" if config.date_shift_days is not None else "REMOVED"
    )

    meta = getattr(ds, "file_meta", None)
    new_meta = FileMetaDataset()
    if meta is not None and "TransferSyntaxUID" in meta:
        new_meta.TransferSyntaxUID = meta.TransferSyntaxUID
    else:
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

        implicit = getattr(ds, "original_encoding", (True, True))[0]
        new_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    new_meta.MediaStorageSOPClassUID = ds.get("SOPClassUID", "1.2.840.10008.5.1.4.1.1.7")
    new_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta = new_meta
    ds.preamble = b"\0" * 128  # the preamble may hold anything (TIFF headers, vendor text)
    return ds


@dataclass
class FileOutcome:
    """What happened to one input file (``input`` is only written to the map file)."""

    input: str
    status: FileStatus
    output: str = ""
    reason: str = ""
    code: str = ""
    #: class name of the typed error (``InputError``, ``DeidentificationError``, ...)
    error: str = ""


@dataclass
class DeidReport:
    """Result of :func:`deidentify_tree`."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    date_shift_days: int | None = None
    uid_count: int = 0

    def counts(self) -> dict[str, int]:
        """Number of files per status (every status listed)."""
        return {s.value: sum(o.status is s for o in self.outcomes) for s in FileStatus}


def _read(path: Path) -> Any:
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
        dropped = _materialize(ds)
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


_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


def _numeric(value: Any) -> bool:
    """Whether every value of a DS/IS element is a decimal number (or empty)."""
    for v in _as_list(value):
        if v is None or isinstance(v, int | float):
            continue
        text = str(v)
        if text.strip() and not _NUMBER.match(text):
            return False
    return True


_TEMPORAL = re.compile(r"^[0-9.+\-: ]*$")


def _temporal(value: Any) -> bool:
    """Whether every value of a DA/DT/TM element holds only digits and separators."""
    return all(_TEMPORAL.match(str(v)) for v in _as_list(value) if v is not None)


def _materialize(ds: Any) -> int:
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
                    dropped += _materialize(item)
            elif elem.VR in ("DS", "IS") and not _numeric(elem.value):
                raise ValueError(f"{elem.VR} value is not a number")
            elif elem.VR in ("DA", "DT", "TM") and not _temporal(elem.value):
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


def _check_complete(ds: Any, path: Path) -> None:
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
    if not has_pixels and sop_class in _IMAGE_CLASSES:
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


_IMAGE_CLASSES = _image_classes()


def _encode(ds: Any, path: Path) -> bytes:
    buffer = io.BytesIO()
    try:
        ds.save_as(buffer, enforce_file_format=True)
    except Exception as err:
        raise DeidentificationError(
            f"cannot write the de-identified copy ({type(err).__name__}); the header may be "
            "damaged: re-export the file from the source",
            path=path,
        ) from err
    return buffer.getvalue()


def _output_name(ds: Any) -> str:
    """Relative output path from new UIDs only: ``study_<h>/series_<h>/<SOPInstanceUID>.dcm``."""

    def short(uid: str) -> str:
        return hashlib.sha256(uid.encode()).hexdigest()[:12]

    study = str(ds.get("StudyInstanceUID", "") or "none")
    series = str(ds.get("SeriesInstanceUID", "") or "none")
    return f"study_{short(study)}/series_{short(series)}/{ds.SOPInstanceUID}.dcm"


def iter_files(root: Path) -> Iterator[Path]:
    """Every file under ``root`` (or ``root`` itself) exactly as the ingest walks it (see
    :func:`imaging_triage.dicom.discover.walk`: file links followed, hidden names and
    folders marked ``.imaging-triage-ignore`` skipped), so both trees hold the same series."""
    from imaging_triage.dicom.discover import walk

    for found in walk(root):
        yield Path(found.path)


def default_map_path(out: str | os.PathLike[str]) -> Path:
    """The map file next to (never inside) the output folder: ``OUT.deid-map.json``."""
    target = Path(out).resolve()
    return target.parent / f"{target.name}.deid-map.json"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def is_dicomdir(ds: Any) -> bool:
    """Whether ``ds`` is a DICOMDIR index (it lists names and paths: never copied)."""
    meta = getattr(ds, "file_meta", None)
    sop = str(getattr(meta, "MediaStorageSOPClassUID", "") or ds.get("SOPClassUID", "") or "")
    return sop == DIRECTORY_CLASS or "DirectoryRecordSequence" in ds


def _name(err: BaseException) -> str:
    return type(err).__name__


def _unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name`` with ``-2``, ``-3``... when another input of this run had the same
    SOP Instance UID (the same instance stored twice, e.g. in two transfer syntaxes)."""
    if name not in taken:
        return name
    stem = name[: -len(".dcm")]
    n = 2
    while f"{stem}-{n}.dcm" in taken:
        n += 1
    return f"{stem}-{n}.dcm"


def deidentify_file(
    path: Path,
    out: Path,
    config: DeidConfig,
    uids: UidMapper,
    root: Path,
    taken: set[str] | None = None,
) -> FileOutcome:
    """De-identify one file into ``out``; never raises for a bad input (see the outcome).

    ``taken`` holds the output names already written by this run (updated in place).
    """
    if taken is None:
        taken = set()
    from pydicom.config import disable_value_validation

    # pydicom's validation warnings quote header values (names, IDs): none may reach a log
    with disable_value_validation(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _deidentify_file(path, out, config, uids, root, taken)


def _deidentify_file(
    path: Path, out: Path, config: DeidConfig, uids: UidMapper, root: Path, taken: set[str]
) -> FileOutcome:
    rel = str(path.relative_to(root)) if path != root else path.name
    try:
        ds = _read(path)
        if is_dicomdir(ds):
            return FileOutcome(rel, FileStatus.SKIPPED, reason="DICOMDIR index", code="dicomdir")
        _check_complete(ds, path)
        deidentify_dataset(ds, config, uids)
        name = _unique_name(_output_name(ds), taken)
        atomic_write_bytes(out / name, _encode(ds, path))
        taken.add(name)
    except NotDicomError as err:
        return FileOutcome(
            rel, FileStatus.SKIPPED, reason=err.reason, code=err.code, error=_name(err)
        )
    except DeidentificationError as err:
        status = FileStatus.QUARANTINED if err.code == "burned-in" else FileStatus.FAILED
        return FileOutcome(rel, status, reason=err.reason, code=err.code, error=_name(err))
    except TriageError as err:
        return FileOutcome(
            rel, FileStatus.FAILED, reason=err.reason, code=err.code, error=_name(err)
        )
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        OverflowError,
        NotImplementedError,
    ) as err:
        # pydicom raises these for values it cannot encode; the message may quote them
        return FileOutcome(
            rel,
            FileStatus.FAILED,
            reason=f"cannot de-identify ({type(err).__name__}); re-export it from the source",
            code="deid",
            error="DeidentificationError",
        )
    return FileOutcome(rel, FileStatus.WRITTEN, output=name)


def deidentify_tree(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: DeidConfig,
    *,
    map_path: str | os.PathLike[str] | None = None,
) -> DeidReport:
    """De-identify every DICOM file under ``src`` into ``out``; write the UID map apart.

    Output files are named from the new UIDs only (the input names may hold identity):
    ``OUT/study_<hash>/series_<hash>/<new SOP Instance UID>.dcm``. ``OUT/deid_report.json``
    holds counts and reasons (no input paths). The map file (original -> new UIDs, the
    date shift, each input path and what became of it) is identifying: it is written with
    mode 0600 outside ``out``.

    Parameters
    ----------
    src : path
        A folder (walked recursively, symlinks not followed) or one file.
    out : path
        Output folder; must not be inside ``src``, nor ``src`` inside it.
    config : DeidConfig
        Key, dates, burned-in policy.
    map_path : path, optional
        Where to write the map; default :func:`default_map_path`. Must be outside ``out``.

    Returns
    -------
    DeidReport
        One outcome per input file; a batch goes on past bad files.

    Raises
    ------
    ConfigError
        If the folders overlap or the map would be written inside the output.
    InputError
        If ``src`` does not exist.
    """
    root = Path(src).resolve()
    target = Path(out).resolve()
    if not root.exists():
        raise InputError("input path does not exist", path=src)
    if _inside(target, root) or _inside(root, target):
        raise ConfigError(
            "the output folder and the input folder overlap; choose an output folder "
            "outside the input tree",
            path=out,
        )
    map_file = Path(map_path).resolve() if map_path is not None else default_map_path(target)
    if _inside(map_file, target) or _inside(map_file, root):
        raise ConfigError(
            "the UID map must be kept apart from the data: give --map a path outside both "
            "the input and the output folders",
            path=map_file,
        )
    target.mkdir(parents=True, exist_ok=True)
    uids = UidMapper(config.key)
    report = DeidReport(date_shift_days=config.date_shift_days)
    base = root if root.is_dir() else root.parent
    taken: set[str] = set()
    for path in iter_files(root):
        outcome = deidentify_file(path, target, config, uids, base, taken)
        report.outcomes.append(outcome)
        if outcome.status is FileStatus.FAILED:
            logger.warning("file %d failed: %s", len(report.outcomes), outcome.reason)
        elif outcome.status is FileStatus.QUARANTINED:
            logger.info("file %d not written: %s", len(report.outcomes), outcome.reason)
    report.uid_count = len(uids.mapping)
    _write_map(map_file, config, uids, report)
    atomic_write_json(
        target / "deid_report.json",
        {
            "profile": "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile",
            "table": deid_table.TABLE_VERSION,
            "counts": report.counts(),
            "dates": "shifted" if config.date_shift_days is not None else "removed",
            "not_written": [
                {"status": o.status.value, "error": o.error, "code": o.code, "reason": o.reason}
                for o in report.outcomes
                if o.status in (FileStatus.QUARANTINED, FileStatus.FAILED)
            ],
        },
    )
    return report


def _write_map(map_file: Path, config: DeidConfig, uids: UidMapper, report: DeidReport) -> None:
    fingerprint = hmac.new(config.key, b"imaging_triage key id", hashlib.sha256).hexdigest()[:16]
    payload = {
        "warning": "IDENTIFYING: maps original UIDs and paths to the de-identified copy",
        "key_id": fingerprint,
        "date_shift_days": config.date_shift_days,
        "uids": uids.mapping,
        "files": [
            {
                "input": o.input,
                "status": o.status.value,
                "output": o.output,
                "error": o.error,
                "reason": o.reason,
            }
            for o in report.outcomes
        ],
    }
    atomic_write_json(map_file, payload)
    os.chmod(map_file, 0o600)
