"""The profile applied to one dataset tree (every item of every kept sequence too), and the
attributes that record what was done."""

from __future__ import annotations

import logging
from typing import Any

import imaging_triage.dicom.deid.table as deid_table
from imaging_triage.dicom.csa import CSA_CREATOR, CSA_IMAGE_ELEMENT
from imaging_triage.dicom.deid.actions import Action, table_action
from imaging_triage.dicom.deid.allowlist import KEEP_UNLISTED
from imaging_triage.dicom.deid.burned_in import burned_in_reason, clear_unused_pixel_bits
from imaging_triage.dicom.deid.config import DeidConfig
from imaging_triage.dicom.deid.dates import shifted
from imaging_triage.dicom.deid.keys import UidMapper, is_well_known_uid
from imaging_triage.dicom.deid.private import SAFE_PRIVATE, scrub_csa
from imaging_triage.dicom.deid.values import NUMERIC_VRS, as_list, dummy_value, empty_value
from imaging_triage.errors import (
    DeidentificationError,
)

logger = logging.getLogger(__name__)

#: value representations of the safe private elements kept (numbers and sequences)
_SAFE_PRIVATE_VRS = NUMERIC_VRS | {"DS", "IS", "SQ"}


class Cleaner:
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
            elif kind == (CSA_CREATOR, CSA_IMAGE_ELEMENT):
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

        Only numbers and sequences are kept; bytes (``OB``, ``UN``: content unknown to the
        parser, possibly text) only in the Siemens CSA block, whose binary header
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
                if found is None:
                    continue
                csa_blob = creator == CSA_CREATOR and offset == CSA_IMAGE_ELEMENT
                if found.VR in _SAFE_PRIVATE_VRS or csa_blob:
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
                elem.value = shifted(elem, shift)
            return
        if action is Action.REMOVE:
            del ds[elem.tag]
        elif action is Action.KEEP:
            if elem.VR == "SQ":
                self.items(elem)
        elif action is Action.ZERO:
            elem.value = empty_value(elem.VR)
        elif action is Action.UID:
            if elem.VR == "SQ":
                self.items(elem)
            elif elem.VR == "UI":
                self.map_uids(elem)
            else:
                elem.value = dummy_value(elem)
        else:  # DUMMY, CLEAN
            if elem.VR == "SQ":
                self.items(elem)
            elif elem.VR == "UI":
                self.map_uids(elem)
            else:
                elem.value = dummy_value(elem)

    def unlisted(self, ds: Any, elem: Any) -> None:
        """An attribute the table does not list: UIDs mapped (registered class UIDs kept),
        dates shifted or removed, anything else kept only if :data:`KEEP_UNLISTED` has it."""
        vr = elem.VR
        if vr == "UI":
            self.map_uids(elem)  # a ...ClassUID holding an instance-like UID is mapped too
        elif vr in ("DA", "DT"):
            if self.config.date_shift_days is not None:
                elem.value = shifted(elem, self.config.date_shift_days)
            else:
                del ds[elem.tag]
        elif int(elem.tag) in KEEP_UNLISTED or not self.config.remove_unlisted_text:
            if vr == "UN":  # content unknown to the parser: cannot be checked
                del ds[elem.tag]
                self.removed_unlisted += 1
            elif vr == "SQ":
                self.items(elem)
        else:
            del ds[elem.tag]
            self.removed_unlisted += 1

    def items(self, elem: Any) -> None:
        for item in elem.value or []:
            self.dataset(item)

    def map_uids(self, elem: Any) -> None:
        values = [str(v) for v in as_list(elem.value)]
        new = [v if is_well_known_uid(v) else self.uids(v) for v in values]
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
        values.append("unlisted attributes removed but an allow list")
    if config.keep_safe_private:
        values[2] = "private attributes removed except a safe list"
    return values


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
    cleaner = Cleaner(config, uids)
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
