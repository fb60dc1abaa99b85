"""Assembling stacks into volumes: values, types, resampling, dcm2niix voxel centres.

Moved from the ingest review (test_ingest_review.py), one file per module tested.
"""

from __future__ import annotations

import random
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from dicomgen import SeriesSpec, pixel_centres, value_at, write_series
from ingestcheck import (
    DCM2NIIX,
    ORIENTATION_CASES,
    add_orientation,
    centres,
    dcm2niix,
    loaded_or_refused,
    only_ok,
    sample_lps,
    set_ipp,
    write,
)
from pydicom.dataset import Dataset

from imaging_triage.ingest import Strictness
from imaging_triage.volume import to_nifti


@pytest.mark.skipif(not DCM2NIIX.is_file(), reason="dcm2niix not installed in the venv")
@pytest.mark.parametrize("case", sorted(ORIENTATION_CASES))
def test_voxel_centres_agree_with_dcm2niix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    base, rot = ORIENTATION_CASES[case]
    name = base
    if rot is not None:
        name = f"review_{case}"
        add_orientation(monkeypatch, name, rot, base)
    spec = SeriesSpec(n=9, rows=14, cols=11, pixel_spacing=(0.9, 1.3), orientation=name)
    order = list(range(spec.n))
    random.Random(7).shuffle(order)
    write_series(tmp_path / "in", spec, order=order)
    vol, _ = only_ok(tmp_path / "in")
    ours = nib.as_closest_canonical(to_nifti(vol))
    theirs = nib.as_closest_canonical(dcm2niix(tmp_path / "in", tmp_path / "out"))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(centres(ours), centres(theirs), atol=0.1)
    np.testing.assert_array_equal(np.asarray(ours.dataobj), np.asarray(theirs.dataobj))
    # and both put every stored pixel at its DICOM position (PS3.3 C.7.6.2.1.1)
    pts = pixel_centres(spec, 4)
    np.testing.assert_allclose(sample_lps(vol, pts), np.round(value_at(pts)), atol=1.0)


def test_signed_12bit_and_overlay_bits_decoded(tmp_path: Path) -> None:
    """BitsStored < BitsAllocated: sign extension, and junk above HighBit masked (C.7.6.3)."""
    spec = SeriesSpec(n=4, rows=6, cols=5)

    def signed12(ds: Dataset, k: int) -> None:
        ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 1
        ds.RescaleIntercept = "0"
        arr = np.full((spec.rows, spec.cols), (-100) & 0xFFF, np.uint16)
        arr[0, 0] = ((-100) & 0xFFF) | 0x8000  # an overlay bit above HighBit
        ds.PixelData = arr.tobytes()

    write(tmp_path, spec, signed12)
    vol, _ = only_ok(tmp_path)
    assert vol.data.dtype == np.int16
    assert np.all(vol.data == -100)


def test_uint32_stored_values_do_not_wrap(tmp_path: Path) -> None:
    spec = SeriesSpec(n=4, rows=6, cols=5, modality="MR")

    def uint32(ds: Dataset, k: int) -> None:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 32, 32, 31, 0
        ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
        ds.PixelData = np.full((spec.rows, spec.cols), 3_000_000_000, np.uint32).tobytes()

    write(tmp_path, spec, uint32)
    vol = loaded_or_refused(tmp_path)
    assert vol is None or np.all(vol.data == 3_000_000_000)


def test_float_pixel_data_not_truncated_to_integers(tmp_path: Path) -> None:
    spec = SeriesSpec(n=4, rows=6, cols=5, modality="MR")

    def float_pixels(ds: Dataset, k: int) -> None:
        del ds.PixelData, ds.BitsStored, ds.HighBit, ds.PixelRepresentation
        ds.BitsAllocated = 32
        ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
        ds.FloatPixelData = np.full((spec.rows, spec.cols), 0.75, np.float32).tobytes()

    write(tmp_path, spec, float_pixels)
    vol = loaded_or_refused(tmp_path)
    assert vol is None or np.allclose(vol.data, 0.75)


def test_large_integral_slope_does_not_overflow(tmp_path: Path) -> None:
    spec = SeriesSpec(n=4, rows=6, cols=5, modality="MR")

    def big_slope(ds: Dataset, k: int) -> None:
        ds.PixelRepresentation = 0
        ds.RescaleSlope, ds.RescaleIntercept = "100000", "0"
        ds.PixelData = np.full((spec.rows, spec.cols), 30000, np.uint16).tobytes()

    write(tmp_path, spec, big_slope)
    vol = loaded_or_refused(tmp_path)
    assert vol is None or np.allclose(vol.data, 3.0e9)


def test_resample_does_not_invent_a_slice_past_the_last_one(tmp_path: Path) -> None:
    spec = SeriesSpec(n=6, rows=8, cols=7, step=3.0)
    offsets = [0.0, 3.0, 6.0, 9.0, 12.0, 13.8]  # uneven last step; 13.8 / 3 rounds to 5

    def place(ds: Dataset, k: int) -> None:
        lps = np.array(spec.origin) + np.array([0.0, 0.0, offsets[k]])
        set_ipp(ds, lps)
        jj, ii = np.meshgrid(np.arange(spec.rows), np.arange(spec.cols), indexing="ij")
        pts = lps + np.stack([ii * 1.2, jj * 1.0, np.zeros_like(ii)], -1)
        ds.PixelData = np.round(value_at(pts) + 1024).astype(np.uint16).tobytes()
        ds.PixelRepresentation = 0

    write(tmp_path, spec, place)
    vol, _ = only_ok(tmp_path, strictness=Strictness.RESAMPLE)
    last = vol.data.shape[2] - 1
    last_z = float(vol.world([0, 0, last])[2])
    assert last_z <= spec.origin[2] + offsets[-1] + 1e-3, (
        f"slice {last} claims z={last_z} mm, beyond the last acquired slice "
        f"(z={spec.origin[2] + offsets[-1]} mm)"
    )


def test_modality_lut_sequence_not_silently_ignored(tmp_path: Path) -> None:
    spec = SeriesSpec(n=4, rows=6, cols=5, modality="MR")

    def with_lut(ds: Dataset, k: int) -> None:
        del ds.RescaleSlope
        del ds.RescaleIntercept
        item = Dataset()
        item.LUTDescriptor = [4096, 0, 16]
        item.ModalityLUTType = "US"
        item.add_new(0x00283006, "OW", (2 * np.arange(4096)).astype("<u2").tobytes())
        ds.ModalityLUTSequence = [item]
        ds.PixelRepresentation = 0
        ds.PixelData = np.full((spec.rows, spec.cols), 1000, np.uint16).tobytes()

    write(tmp_path, spec, with_lut)
    vol = loaded_or_refused(tmp_path)
    assert vol is None or np.all(vol.data == 2000)


def test_ct_without_rescale_is_not_silently_called_hounsfield(tmp_path: Path) -> None:
    spec = SeriesSpec(n=4, rows=6, cols=5)

    def no_rescale(ds: Dataset, k: int) -> None:
        del ds.RescaleSlope, ds.RescaleIntercept

    write(tmp_path, spec, no_rescale)
    vol = loaded_or_refused(tmp_path)
    assert (
        vol is None
        or not vol.info.hounsfield
        or any("Rescale" in w for w in vol.info.warnings + vol.info.corrections)
    )
