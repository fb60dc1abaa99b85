"""The Siemens CSA header walker shared by every reader and rewriter of it."""

from __future__ import annotations

import struct
import warnings

import pytest
from dicomgen import csa2_bytes
from pydicom.dataset import Dataset

from imaging_triage.dicom import csa, mosaic

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from nibabel.nicom import csareader


def test_csa2_header_parsed_like_nibabel() -> None:
    raw = csa2_bytes(
        {
            "NumberOfImagesInMosaic": ("US", ["36"]),
            "SliceNormalVector": ("FD", ["0.1", "-0.2", "0.97467943"]),
            "ImaCoilString": ("LO", ["HEA;HEP"]),
        }
    )
    ours = csa.parse_csa(raw)
    theirs = csareader.read(raw)
    assert ours["NumberOfImagesInMosaic"] == ["36"]
    assert ours["ImaCoilString"] == ["HEA;HEP"]
    assert [float(v) for v in ours["SliceNormalVector"]] == theirs["tags"]["SliceNormalVector"][
        "items"
    ]
    assert csareader.get_n_mosaic(theirs) == 36


def test_truncated_csa_header_is_an_error_naming_the_problem() -> None:
    raw = csa2_bytes({"NumberOfImagesInMosaic": ("US", ["36"])})
    with pytest.raises(csa.CsaError, match=r"truncated|past the end"):
        csa.parse_csa(raw[:100])
    with pytest.raises(csa.CsaError, match="tags"):
        csa.parse_csa(b"SV10\x04\x03\x02\x01" + struct.pack("<2I", 0, 77))


def test_layout_spans_hold_the_values_and_zeroing_them_keeps_the_layout() -> None:
    raw = csa2_bytes({"NumberOfImagesInMosaic": ("US", ["36"]), "PatientSecret": ("LO", ["X1"])})
    lay = csa.layout(raw)
    assert [f.name for f in lay.fields] == ["NumberOfImagesInMosaic", "PatientSecret"]
    first = lay.fields[1].items[0]
    assert raw[first.start : first.start + first.length] == b"X1\0"
    buf = bytearray(raw)
    for item in lay.fields[1].items:
        buf[item.start : item.start + item.padded] = bytes(item.padded)
    parsed = csa.parse_csa(bytes(buf))
    assert parsed == {"NumberOfImagesInMosaic": ["36"], "PatientSecret": []}
    assert lay.end == len(raw)


@pytest.mark.parametrize("slot", [0x10, 0x11, 0x15])
def test_csa_header_found_through_its_creator_in_any_block(slot: int) -> None:
    ds = Dataset()
    for n in range(0x10, slot):
        ds.private_block(0x0029, f"OTHER {n}", create=True).add_new(0x10, "OB", b"junk")
    block = ds.private_block(0x0029, csa.CSA_CREATOR, create=True)
    block.add_new(
        csa.CSA_IMAGE_ELEMENT, "OB", csa2_bytes({"NumberOfImagesInMosaic": ("US", ["9"])})
    )
    assert mosaic.n_images_in_mosaic(ds) == 9


def test_tile_count_of_the_siemens_mr_header_found_through_its_creator() -> None:
    ds = Dataset()
    ds.private_block(0x0019, "SOMEONE ELSE", create=True).add_new(0x0A, "US", 99)
    ds.private_block(0x0019, mosaic.SIEMENS_MR_CREATOR, create=True).add_new(0x0A, "US", 12)
    assert (0x0019, 0x110A) in ds
    assert mosaic.n_images_in_mosaic(ds) == 12
