"""De-identification allow list (issue 11): an attribute the table does not list is removed
unless a converter or the viewer needs it, whatever its VR, at any depth; ``...ClassUID``
values that are not registered classes are mapped; safe private elements keep numbers only.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pydicom
from dicomgen import SeriesSpec, make_dataset
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage

from imaging_triage.dicom.deid import DeidConfig, deidentify_tree
from imaging_triage.dicom.deid.allowlist import KEEP_UNLISTED, REMOVED_ALTHOUGH_READ
from imaging_triage.dicom.deid.table import ACTIONS

CANARY = b"QZXCANARY"
KEY = b"allow-list test key"

#: every VR, with a value whose encoded bytes hold the canary
_TEXT_VRS = ("AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC")
_TEXT_VRS += ("UR", "UT", "UI")
_BYTE_VRS = ("OB", "OD", "OF", "OL", "OV", "OW", "UN")
_NUMBER_VRS = {"US": "<u2", "SS": "<i2", "UL": "<u4", "SL": "<i4", "FL": "<f4", "FD": "<f8"}
_NUMBER_VRS |= {"UV": "<u8", "SV": "<i8", "AT": "<u4"}


def _canary_value(vr: str) -> object:
    if vr in _TEXT_VRS:
        return CANARY.decode()
    if vr in _BYTE_VRS:
        return CANARY + b"\x00" * (-len(CANARY) % 8)
    dtype = np.dtype(_NUMBER_VRS[vr])
    padded = CANARY + b"\x00" * (-len(CANARY) % dtype.itemsize)
    return np.frombuffer(padded, dtype).tolist()


def _plant_every_vr(ds: Dataset, group: int) -> None:
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    for n, vr in enumerate((*_TEXT_VRS, *_BYTE_VRS, *_NUMBER_VRS)):
        tag = Tag((group << 16) | (0x1001 + n))
        if vr in ("DS", "IS"):  # text where a number belongs: only a raw element holds it
            raw = CANARY + b" "
            ds._dict[tag] = RawDataElement(tag, vr, len(raw), raw, 0, False, True)
            continue
        with pydicom.config.disable_value_validation():
            ds.add_new(tag, vr, _canary_value(vr))


def _slices(folder: Path) -> None:
    folder.mkdir(parents=True)
    spec = SeriesSpec(n=2)
    for k in range(2):
        ds = make_dataset(spec, k)
        _plant_every_vr(ds, 0x0045)  # unknown even group, top level
        ds.add_new(0x00440993, "OB", b"text in an unknown OB: " + CANARY)
        ds.BodyPartExamined = CANARY.decode()  # CS the table does not list
        ds.ScanOptions = "HELICAL"  # an allowed CS
        item = Dataset()
        _plant_every_vr(item, 0x0047)
        item.BodyPartExamined = CANARY.decode()
        pixel_measures = Dataset()
        pixel_measures.PixelSpacing = [0.5, 0.5]
        item.PixelMeasuresSequence = Sequence([pixel_measures])
        ds.SharedFunctionalGroupsSequence = Sequence([item])  # an allowed sequence
        region = Dataset()
        region.CodeValue, region.CodingSchemeDesignator = "69536005", "SCT"
        region.CodeMeaning = "Head"
        _plant_every_vr(region, 0x0049)
        ds.AnatomicRegionSequence = Sequence([region])
        ref = Dataset()
        ref.ReferencedSOPClassUID = "1.2.826.0.1.3680043.8.498.4242"  # instance-like
        ref.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.4243"
        ds.ReferencedImageSequence = Sequence([ref])
        ds.save_as(folder / f"{k}.dcm", enforce_file_format=True)


def _all_bytes(folder: Path) -> bytes:
    return b"".join((Path(d) / f).read_bytes() for d, _sub, files in os.walk(folder) for f in files)


def test_canary_in_every_vr_at_every_depth_is_removed(tmp_path: Path) -> None:
    _slices(tmp_path / "in")
    out = tmp_path / "out"
    report = deidentify_tree(
        tmp_path / "in", out, DeidConfig(key=KEY), map_path=tmp_path / "map.json"
    )
    assert report.counts()["written"] == 2
    assert CANARY not in _all_bytes(out)
    assert CANARY.decode("ascii").encode("utf-16-le") not in _all_bytes(out)
    ds = pydicom.dcmread(next(out.rglob("*.dcm")))
    assert "BodyPartExamined" not in ds and ds.ScanOptions == "HELICAL"
    assert not any(elem.tag.group in (0x0044, 0x0045, 0x0047, 0x0049) for elem in ds.iterall())
    shared = ds.SharedFunctionalGroupsSequence[0]
    assert [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing] == [0.5, 0.5]
    assert ds.AnatomicRegionSequence[0].CodeMeaning == "Head"
    assert ds.SOPClassUID == CTImageStorage  # a registered class UID is kept
    mapped = ds.ReferencedImageSequence[0].ReferencedSOPClassUID
    assert mapped.startswith("2.25.") and "4242" not in mapped


def test_safe_private_keeps_numbers_not_text_in_bytes(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    ds = make_dataset(SeriesSpec(n=1), 0)
    block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
    block.add_new(0x0A, "US", 4)  # NumberOfImagesInMosaic: a number, kept
    block.add_new(0x0B, "OB", b"name in bytes " + CANARY)  # listed offset, but bytes
    ds.save_as(tmp_path / "in" / "0.dcm", enforce_file_format=True)
    config = DeidConfig(key=KEY, keep_safe_private=True)
    deidentify_tree(tmp_path / "in", tmp_path / "out", config, map_path=tmp_path / "m.json")
    assert CANARY not in _all_bytes(tmp_path / "out")
    (out,) = (tmp_path / "out").rglob("*.dcm")
    kept = pydicom.dcmread(out).private_block(0x0019, "SIEMENS MR HEADER")
    assert kept[0x0A].value == 4


def test_every_attribute_the_ingest_reads_is_kept_or_deliberately_removed() -> None:
    """The allow list follows the ingest: a keyword read in imaging_triage/ (outside the
    de-identification) is in the table, in the allow list, or in REMOVED_ALTHOUGH_READ."""
    from pydicom.datadict import dictionary_VR, keyword_dict

    package = Path(__file__).resolve().parents[2] / "imaging_triage"
    source = "".join(
        p.read_text(encoding="utf-8")
        for p in package.rglob("*.py")
        # what the ingest reads; not the PACS queries or the SR writer (they build objects)
        if not {"deid", "pacs"} & set(p.parts) and p.name != "sr.py"
    )
    words = set(re.findall(r"\b([A-Z][A-Za-z0-9]+)\b", source))
    missing = []
    for word in sorted(words & set(keyword_dict)):
        tag = keyword_dict[word]
        if tag in ACTIONS or tag in KEEP_UNLISTED or word in REMOVED_ALTHOUGH_READ:
            continue
        if (tag >> 16) == 0x0002 or dictionary_VR(tag) in ("UI", "DA", "DT", "NONE"):
            continue  # file meta is rebuilt; UIDs are mapped; dates shifted or removed
        missing.append(word)
    # words that are keywords by accident (English words, DICOMDIR and status fields)
    accidental = {
        "Date",
        "Time",
        "Location",
        "Mass",
        "Plane",
        "Item",
        "Status",
        "Grid",
        "DataElement",
    }
    assert sorted(set(missing) - accidental - {"DirectoryRecordSequence"}) == []
