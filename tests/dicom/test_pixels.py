"""Native pixel data read straight from the buffer equals pydicom's decoding."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

from imaging_triage.dicom import assemble, pixels
from imaging_triage.errors import PixelDataError


def _dataset(
    raw: np.ndarray, *, allocated: int, stored: int, signed: bool, frames: int, syntax: Any
) -> Dataset:
    """Write a grey-scale instance holding ``raw`` (any bit pattern) and read it back."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = raw.shape[-2:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, stored, stored - 1
    ds.PixelRepresentation = int(signed)
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = raw.astype(raw.dtype.newbyteorder("<")).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


CASES = [
    # (allocated, stored, signed, frames, syntax)
    (16, 12, False, 1, ExplicitVRLittleEndian),  # CT with garbage in the 4 high bits
    (16, 12, True, 1, ExplicitVRLittleEndian),  # signed 12-bit: bit 11 is the sign
    (16, 16, True, 2, ImplicitVRLittleEndian),
    (16, 16, False, 1, DeflatedExplicitVRLittleEndian),
    (8, 8, False, 3, ExplicitVRLittleEndian),
    (8, 6, True, 1, ImplicitVRLittleEndian),
    (32, 32, True, 1, ExplicitVRLittleEndian),
    (32, 20, False, 1, ExplicitVRLittleEndian),
]


@pytest.mark.parametrize(("allocated", "stored", "signed", "frames", "syntax"), CASES)
def test_native_read_equals_pydicom(
    allocated: int, stored: int, signed: bool, frames: int, syntax: Any
) -> None:
    rng = np.random.default_rng(allocated * 100 + stored)
    dtype = np.dtype(f"{'i' if signed else 'u'}{allocated // 8}")
    info = np.iinfo(dtype)
    raw = rng.integers(info.min, info.max, size=(frames, 7, 9), dtype=dtype, endpoint=True)
    ds = _dataset(
        raw, allocated=allocated, stored=stored, signed=signed, frames=frames, syntax=syntax
    )
    reference = np.asarray(ds.pixel_array).reshape(frames, 7, 9)
    native = pixels._native_array(ds, frames * 7 * 9)
    assert native is not None, "the native path must take this case"
    assert native.dtype == reference.dtype
    np.testing.assert_array_equal(native.reshape(reference.shape), reference)
    decoded = pixels.decode(ds, "x.dcm")
    np.testing.assert_array_equal(decoded, reference)
    if stored < allocated:  # the high bits were random: the shift changed something
        assert not np.array_equal(raw, reference)


def test_native_path_declines_what_it_does_not_read() -> None:
    raw = np.arange(63, dtype=np.uint16).reshape(1, 7, 9)
    ds = _dataset(
        raw, allocated=16, stored=16, signed=False, frames=1, syntax=ExplicitVRLittleEndian
    )
    del ds.PixelRepresentation
    assert pixels._native_array(ds, 63) is None  # pydicom decides (and refuses)
    ds.PixelRepresentation = 0
    ds.BitsStored = 17  # more than allocated: not ours to interpret
    assert pixels._native_array(ds, 63) is None
    with pytest.raises(PixelDataError, match=r"x\.dcm"):
        pixels.decode(ds, "x.dcm")


@pytest.mark.parametrize(
    ("stored_dtype", "slope", "intercept", "out_dtype"),
    [
        (np.uint16, 1, -1024, np.int16),  # the usual CT: 12-bit unsigned, intercept -1024
        (np.uint16, 1, -32768, np.int16),  # a cast of 40000 wraps; the result fits
        (np.int16, 3, 7, np.int32),
        (np.uint8, 2, -300, np.int16),
        (np.uint16, 40000, 0, np.int64),  # the slope itself does not fit the out type
    ],
)
def test_rescale_in_place_is_exact(
    stored_dtype: Any, slope: int, intercept: int, out_dtype: Any
) -> None:
    rng = np.random.default_rng(7)
    info = np.iinfo(stored_dtype)
    plane = rng.integers(info.min, info.max, size=(16, 16), dtype=stored_dtype, endpoint=True)
    if stored_dtype == np.uint16 and intercept == -32768:
        plane = np.clip(plane, 0, 65535).astype(np.uint16)
    exact = plane.astype(np.int64) * slope + intercept
    lo, hi = int(exact.min()), int(exact.max())
    buf = np.zeros((1, 16, 16), out_dtype)
    buf = assemble._widen_to_range(buf, (lo, hi))
    assert np.iinfo(buf.dtype).min <= lo and hi <= np.iinfo(buf.dtype).max
    assemble._rescale_into(buf[0], plane, slope, intercept)
    np.testing.assert_array_equal(buf[0].astype(np.int64), exact)
