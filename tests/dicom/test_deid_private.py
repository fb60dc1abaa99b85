"""The Siemens CSA image header scrubbed by de-identification through dicom/csa.py's walker:
whatever is not kept is zeroed, and a header that does not parse is removed, never kept."""

from __future__ import annotations

import struct
from pathlib import Path

import pydicom
import pytest
from dicomgen import SeriesSpec, csa_bytes, make_dataset

from imaging_triage.dicom.csa import CSA_CREATOR, CSA_IMAGE_ELEMENT, parse_csa
from imaging_triage.dicom.deid import CSA_KEEP, DeidConfig, FileStatus, deidentify_tree, scrub_csa

#: a patient-name-like string planted wherever a CSA header can carry bytes
NAME = b"DOE^JANE^QZXPLANT"

FIELDS = {
    "NumberOfImagesInMosaic": ("US", ["16"]),
    "PatientName": ("PN", [NAME.decode()]),
    "SliceNormalVector": ("FD", ["0.0", "0.1", "0.99"]),
    "ScanningDevice": ("LO", ["ST" + NAME.decode(), "SN12345"]),
}


def _planted(csa1: bool) -> bytes:
    """A header with the name in two fields deid does not keep, after every field name
    inside its 64-byte slot, in the padding after every value, and after the last field."""
    return csa_bytes(FIELDS, csa1=csa1, name_slack=NAME, pad=b"J", tail=NAME)


@pytest.mark.parametrize("csa1", [False, True], ids=["csa2", "csa1"])
def test_scrub_clears_every_planted_name_and_keeps_the_values_deid_keeps(csa1: bool) -> None:
    blob = _planted(csa1)
    before = parse_csa(blob)
    assert before["PatientName"] == [NAME.decode()]
    assert blob.count(NAME) == 2 + len(FIELDS) + 1  # two values, each name slot, the tail
    assert b"J" in blob
    scrubbed = scrub_csa(blob)
    assert scrubbed is not None and len(scrubbed) == len(blob)
    assert NAME not in scrubbed and b"QZX" not in scrubbed and b"SN12345" not in scrubbed
    assert b"J" not in scrubbed  # no padding byte survives either
    after = parse_csa(scrubbed)
    assert list(after) == list(FIELDS)  # same fields, same layout
    assert after["PatientName"] == [] and after["ScanningDevice"] == []
    for name in FIELDS.keys() & CSA_KEEP:
        assert after[name] == before[name], name
    assert scrub_csa(scrubbed) == scrubbed  # nothing left to clear


def _malformed() -> dict[str, bytes]:
    good = _planted(csa1=False)
    item_too_long = bytearray(good)
    first_item = 8 + 8 + 84  # "SV10" + unused, counts, first tag header
    struct.pack_into("<4i", item_too_long, first_item, 4, 10_000, 77, 4)
    return {
        "truncated": good[: len(good) // 2],
        "too short for a tag": good[:16] + NAME,
        "zero tags": b"SV10\x04\x03\x02\x01" + struct.pack("<2I", 0, 77) + NAME,
        "absurd tag count": b"SV10\x04\x03\x02\x01" + struct.pack("<2I", 10**6, 77) + NAME,
        "item past the end": bytes(item_too_long),
        "absurd item count": good[:16]
        + struct.pack("<64si4s3i", b"X\0", 1, b"LO\0\0", 0, 5000, 77)
        + NAME,
        "not CSA": b"plain text " + NAME,
    }


@pytest.mark.parametrize("case", list(_malformed()))
def test_malformed_header_is_refused_and_removed_by_deidentify(case: str, tmp_path: Path) -> None:
    blob = _malformed()[case]
    assert NAME in blob
    assert scrub_csa(blob) is None  # refused, never returned half-cleaned
    src = tmp_path / "in"
    src.mkdir()
    ds = make_dataset(SeriesSpec(n=1, modality="MR", intercept=0.0), 0)
    block = ds.private_block(0x0029, CSA_CREATOR, create=True)
    block.add_new(CSA_IMAGE_ELEMENT, "OB", blob)
    ds.save_as(src / "a.dcm", enforce_file_format=True)
    config = DeidConfig(key=b"test key", keep_safe_private=True)
    report = deidentify_tree(src, tmp_path / "out", config, map_path=tmp_path / "map.json")
    (written,) = list((tmp_path / "out").rglob("*.dcm"))
    assert NAME not in written.read_bytes()
    out = pydicom.dcmread(written)
    assert not any(e.tag.group == 0x0029 and e.tag.element > 0xFF for e in out)
    assert [o.status for o in report.outcomes] == [FileStatus.WRITTEN]  # the file goes on


def test_well_formed_header_is_kept_scrubbed_through_deidentify(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    ds = make_dataset(SeriesSpec(n=1, modality="MR", intercept=0.0), 0)
    block = ds.private_block(0x0029, CSA_CREATOR, create=True)
    block.add_new(CSA_IMAGE_ELEMENT, "OB", _planted(csa1=True))
    ds.save_as(src / "a.dcm", enforce_file_format=True)
    config = DeidConfig(key=b"test key", keep_safe_private=True)
    deidentify_tree(src, tmp_path / "out", config, map_path=tmp_path / "map.json")
    (written,) = list((tmp_path / "out").rglob("*.dcm"))
    assert NAME not in written.read_bytes()
    out = pydicom.dcmread(written)
    kept = out.private_block(0x0029, CSA_CREATOR)
    parsed = parse_csa(out[kept.get_tag(CSA_IMAGE_ELEMENT)].value)
    assert parsed["NumberOfImagesInMosaic"] == ["16"] and parsed["PatientName"] == []
