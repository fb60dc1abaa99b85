"""Siemens mosaic: CSA header parsing, tile positions and tile pixels.

The mosaics are generated here (there is none in ../shared/realdata): a CSA2 header is
built byte by byte following the layout nibabel's ``csareader`` documents, and nibabel's
independent ``MosaicWrapper`` is the reference for where every voxel lies.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from dicomgen import csa2_bytes
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from imaging_triage.dicom import mosaic
from imaging_triage.dicom.frame import Frame
from imaging_triage.errors import InputError

with warnings.catch_warnings():
    # nibabel warns on import that its DICOM readers are experimental; they are only our
    # independent reference here
    warnings.simplefilter("ignore", UserWarning)
    from nibabel.nicom.dicomwrappers import MosaicWrapper


def make_mosaic(
    tmp_path: Path,
    *,
    n_slices: int = 7,
    tile: tuple[int, int] = (4, 5),
    iop: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    normal_sign: float = 1.0,
    spacing: tuple[float, float] = (3.0, 2.5),
    slice_gap: float = 4.0,
    ipp: tuple[float, float, float] = (-120.0, -110.0, 30.0),
    csa_tiles: bool = True,
    series_uid: str | None = None,
    volume: int = 1,
) -> tuple[Path, Dataset]:
    """Write a mosaic whose pixel values are unique (flat index + 1000 x (volume - 1))."""
    per_row = int(np.ceil(np.sqrt(n_slices)))
    rows, cols = tile[0] * per_row, tile[1] * per_row
    row_cos, col_cos = np.array(iop[:3]), np.array(iop[3:])
    normal = np.cross(row_cos, col_cos) * normal_sign
    tags: dict[str, tuple[str, list[str]]] = {
        "SliceNormalVector": ("FD", [f"{v:.8f}" for v in normal]),
        "B_value": ("IS", ["1000"]),
        "DiffusionGradientDirection": ("FD", ["0.0", "0.6", "0.8"]),
        "MosaicRefAcqTimes": ("FD", [f"{(t * 3) % n_slices * 100.0:.1f}" for t in range(n_slices)]),
    }
    if csa_tiles:
        tags["NumberOfImagesInMosaic"] = ("US", [str(n_slices)])
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.4")
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesNumber = 9
    ds.SeriesDescription = "ep2d_diff mosaic"
    ds.InstanceNumber = volume
    ds.AcquisitionNumber = volume
    ds.AcquisitionTime = f"1200{volume:02d}.000000"
    ds.Modality = "MR"
    ds.Manufacturer = "SIEMENS"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]
    ds.ImagePositionPatient = [f"{v:.6f}" for v in ipp]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in iop]
    ds.PixelSpacing = [str(spacing[0]), str(spacing[1])]
    ds.SliceThickness = str(slice_gap)
    ds.SpacingBetweenSlices = str(slice_gap)
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    pixels = (np.arange(rows * cols) + 1000 * (volume - 1)).astype(np.uint16).reshape(rows, cols)
    ds.PixelData = pixels.tobytes()
    block = ds.private_block(0x0029, mosaic.CSA_CREATOR, create=True)
    block.add_new(0x10, "OB", csa2_bytes(tags))
    path = tmp_path / f"mosaic_{volume:03d}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, pydicom.dcmread(path)


def base_frame(ds: Dataset, path: Path) -> Frame:
    """The frame of the whole mosaic, as a classic single-frame reader would make it."""
    iop = [float(v) for v in ds.ImageOrientationPatient]
    return Frame(
        path=str(path),
        frame_index=None,
        tile_index=None,
        position=tuple(float(v) for v in ds.ImagePositionPatient),  # type: ignore[arg-type]
        row_cosine=(iop[0], iop[1], iop[2]),
        col_cosine=(iop[3], iop[4], iop[5]),
        row_spacing=float(ds.PixelSpacing[0]),
        col_spacing=float(ds.PixelSpacing[1]),
        rows=int(ds.Rows),
        cols=int(ds.Columns),
        stack_key=("series", str(ds.SeriesInstanceUID)),
        order_key=(1,),
        slice_thickness=float(ds.SliceThickness),
        meta={"EchoTime": 30.0},
    )


def test_is_mosaic_needs_image_type_and_tile_count(tmp_path: Path) -> None:
    _, ds = make_mosaic(tmp_path)
    assert mosaic.is_mosaic(ds)
    assert mosaic.n_images_in_mosaic(ds) == 7
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    assert not mosaic.is_mosaic(ds)
    _, no_count = make_mosaic(tmp_path, csa_tiles=False)
    assert not mosaic.is_mosaic(no_count)


IOPS = {
    "axial": (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    "oblique": (
        0.99174,
        0.0,
        0.12826,
        -0.0241,
        0.98217,
        0.18635,
    ),
    "sagittal": (0.0, 1.0, 0.0, 0.0, 0.0, -1.0),
}


@pytest.mark.parametrize("name", sorted(IOPS))
@pytest.mark.parametrize("normal_sign", [1.0, -1.0])
def test_tile_positions_match_nibabel(tmp_path: Path, name: str, normal_sign: float) -> None:
    iop = IOPS[name]
    # make the oblique cosines exactly orthonormal (the header keeps 8 decimals)
    r, c = np.array(iop[:3]), np.array(iop[3:])
    r /= np.linalg.norm(r)
    c -= r * np.dot(r, c)
    c /= np.linalg.norm(c)
    path, ds = make_mosaic(tmp_path, iop=(*r, *c), normal_sign=normal_sign)
    frames = mosaic.frames_from_mosaic(ds, str(path), base_frame(ds, path))

    assert [f.tile_index for f in frames] == list(range(7))
    assert {(f.rows, f.cols) for f in frames} == {(4, 5)}
    assert all(f.meta["MosaicTilesPerRow"] == 3 and f.meta["EchoTime"] == 30.0 for f in frames)
    assert {f.stack_key for f in frames} == {("series", str(ds.SeriesInstanceUID))}

    wrapper = MosaicWrapper(ds)
    ref_data = wrapper.get_data()  # (tile rows, tile cols, slices), values = mosaic index
    ref_affine = wrapper.affine  # voxel -> LPS mm
    pixels = ds.pixel_array
    rr, cc = np.meshgrid(np.arange(4), np.arange(5), indexing="ij")
    for f in frames:
        tile = mosaic.tile_pixels(pixels, f, f.meta["MosaicTilesPerRow"])
        np.testing.assert_array_equal(tile, ref_data[:, :, f.tile_index])
        ours = f.pixel_to_lps(rr, cc)
        ijk = np.stack([rr, cc, np.full_like(rr, f.tile_index), np.ones_like(rr)], axis=-1)
        theirs = ijk @ ref_affine.T
        np.testing.assert_allclose(ours, theirs[..., :3], atol=1e-4)

    # tiles follow each other along the CSA normal, one slice gap apart
    steps = np.diff([np.asarray(f.position) for f in frames], axis=0)
    expected = np.cross(r, c) * normal_sign * 4.0
    np.testing.assert_allclose(steps, np.tile(expected, (6, 1)), atol=1e-5)


def test_first_tile_position_shift_by_hand(tmp_path: Path) -> None:
    # axial, 3x3 grid of 4x5 tiles: mosaic 12x15; the first tile's first pixel lies
    # (12-4)/2 = 4 rows and (15-5)/2 = 5 columns from the mosaic's declared position
    path, ds = make_mosaic(tmp_path, spacing=(3.0, 2.5), ipp=(-120.0, -110.0, 30.0))
    first = mosaic.frames_from_mosaic(ds, str(path), base_frame(ds, path))[0]
    assert first.position == pytest.approx((-120.0 + 5 * 2.5, -110.0 + 4 * 3.0, 30.0))


def test_tile_pixels_rejects_non_tiles(tmp_path: Path) -> None:
    path, ds = make_mosaic(tmp_path)
    base = base_frame(ds, path)
    with pytest.raises(InputError, match="not a mosaic tile"):
        mosaic.tile_pixels(ds.pixel_array, base, 3)


def test_mosaic_without_tile_count_is_refused_with_reason(tmp_path: Path) -> None:
    path, ds = make_mosaic(tmp_path, csa_tiles=False)
    with pytest.raises(InputError, match="NumberOfImagesInMosaic"):
        mosaic.frames_from_mosaic(ds, str(path), base_frame(ds, path))


def test_mosaic_size_not_divisible_is_refused(tmp_path: Path) -> None:
    path, ds = make_mosaic(tmp_path)
    base = base_frame(ds, path)
    bad = Frame(**{**base.__dict__, "rows": 13})
    with pytest.raises(InputError, match="cannot hold"):
        mosaic.frames_from_mosaic(ds, str(path), bad)


@pytest.mark.parametrize("normal_sign", [1.0, -1.0])
def test_mosaic_series_through_scan_and_load_matches_nibabel(
    tmp_path: Path, normal_sign: float
) -> None:
    """Three mosaic files of one series (3 time points) become one 4-D volume whose voxels
    sit where nibabel's MosaicWrapper puts them, with the same values."""
    from imaging_triage.ingest import Status, load, scan
    from imaging_triage.volume import LPS_TO_RAS

    uid = generate_uid()
    iop = IOPS["oblique"]
    r, c = np.array(iop[:3]), np.array(iop[3:])
    r /= np.linalg.norm(r)
    c -= r * np.dot(r, c)
    c /= np.linalg.norm(c)
    written = [
        make_mosaic(tmp_path, iop=(*r, *c), normal_sign=normal_sign, series_uid=uid, volume=t)
        for t in (1, 2, 3)
    ]
    result = scan(tmp_path)
    (record,) = result.series
    assert record.status is Status.OK, record.reason
    assert record.shape == (5, 4, 7, 3)
    (volume,) = load(record)

    reference = []
    for _, ds in written:
        wrapper = MosaicWrapper(ds)
        reference.append(wrapper.get_data())
        affine = LPS_TO_RAS @ wrapper.affine
    ref_img = nib.as_closest_canonical(nib.Nifti1Image(np.stack(reference, axis=-1), affine))
    our_img = nib.as_closest_canonical(
        nib.Nifti1Image(np.asarray(volume.data, dtype=np.float64), volume.affine)
    )
    assert our_img.shape == ref_img.shape
    n = np.array(our_img.shape[:3]) - 1
    corners = np.array([[i, j, k, 1] for i in (0, n[0]) for j in (0, n[1]) for k in (0, n[2])])
    err = np.abs(corners @ our_img.affine.T - corners @ ref_img.affine.T)[:, :3].max()
    assert err < 1e-3
    np.testing.assert_array_equal(np.asanyarray(our_img.dataobj), np.asanyarray(ref_img.dataobj))


def test_diffusion_and_slice_timing_from_csa(tmp_path: Path) -> None:
    path, ds = make_mosaic(tmp_path, n_slices=7)
    frames = mosaic.frames_from_mosaic(ds, str(path), base_frame(ds, path))
    meta = frames[3].meta
    assert meta["DiffusionBValue"] == 1000.0
    assert meta["DiffusionGradientDirection"] == [0.0, 0.6, 0.8]
    # interleaved acquisition written as (3 t mod 7) x 100 ms, reported in seconds
    assert meta["SliceTiming"] == [0.0, 0.3, 0.6, 0.2, 0.5, 0.1, 0.4]
