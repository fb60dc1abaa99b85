"""Frame dimensions read from JPEG, JPEG-LS, JPEG 2000 and RLE codestreams."""

from __future__ import annotations

import struct

import pytest

from imaging_triage.dicom.codestream import (
    check_fragments,
    check_rle,
    j2k_dimensions,
    jpeg_dimensions,
)
from imaging_triage.errors import PixelDataError


def _jpeg(rows: int, cols: int, marker: int = 0xC0) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + bytes(9)
    sof = bytes([0xFF, marker]) + struct.pack(">HBHHB", 11, 8, rows, cols, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xda"


def _j2k(rows: int, cols: int, jp2: bool = False) -> bytes:
    siz = b"\xff\x4f\xff\x51" + struct.pack(">HHIIII", 41, 0, cols, rows, 0, 0) + bytes(20)
    if jp2:
        return b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00\x00\x00\x14ftypjp2 " + bytes(8) + siz
    return siz


def test_jpeg_and_jpeg_ls_frame_headers() -> None:
    assert jpeg_dimensions(_jpeg(64, 48)) == (64, 48)
    assert jpeg_dimensions(_jpeg(65535, 65535, marker=0xF7)) == (65535, 65535)  # JPEG-LS
    assert jpeg_dimensions(b"\xff\xd8\xff\xda") is None  # scan before any frame header
    assert jpeg_dimensions(b"not a jpeg") is None


def test_j2k_siz_raw_and_in_jp2() -> None:
    assert j2k_dimensions(_j2k(64, 32)) == (64, 32)
    assert j2k_dimensions(_j2k(60000, 60000, jp2=True)) == (60000, 60000)
    assert j2k_dimensions(b"\xff\x4f\xff\x51\x00") is None


def test_fragment_disagreeing_with_header_is_refused() -> None:
    assert check_fragments([_jpeg(64, 64), b"continuation"], 64, 64, "a.dcm") == 1
    with pytest.raises(PixelDataError, match="declares 60000x60000 pixels where the header"):
        check_fragments([_j2k(60000, 60000)], 64, 64, "a.dcm")


def test_rle_header_checks() -> None:
    good = struct.pack("<16I", 2, 64, 80, *([0] * 13)) + bytes(40)
    check_rle(good, 2, "r.dcm")
    with pytest.raises(PixelDataError, match="2 segments where"):
        check_rle(good, 1, "r.dcm")
    past_end = struct.pack("<16I", 2, 64, 0x7FFFFFF0, *([0] * 13)) + bytes(40)
    with pytest.raises(PixelDataError, match="past the end"):
        check_rle(past_end, 2, "r.dcm")
    backwards = struct.pack("<16I", 2, 64, 64, *([0] * 13)) + bytes(40)
    with pytest.raises(PixelDataError, match="out of order"):
        check_rle(backwards, 2, "r.dcm")
