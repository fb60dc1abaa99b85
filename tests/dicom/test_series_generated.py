"""Series assembly on generated series with known geometry (issue 2, acceptance 6)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from dicomgen import SeriesSpec, pixel_centres, value_at, write_localizer, write_series
from scipy import ndimage

from imaging_triage.ingest import Status, Strictness, load, scan
from imaging_triage.volume import LPS_TO_RAS, Volume


def _only_ok(path: Path, **kwargs) -> tuple[Volume, object]:
    result = scan(path, **kwargs)
    ok = [r for r in result.series if r.status is Status.OK]
    assert len(ok) == 1, [(r.status, r.reason) for r in result.series]
    return load(ok[0])[0], result


def _sample_lps(volume: Volume, lps: np.ndarray) -> np.ndarray:
    """Trilinear sample of ``volume`` at LPS points (..., 3)."""
    ras = lps * np.array([-1.0, -1.0, 1.0])
    ijk = volume.index(ras.reshape(-1, 3)).T
    vals = ndimage.map_coordinates(volume.data.astype(np.float64), ijk, order=1, mode="nearest")
    return vals.reshape(lps.shape[:-1])


def test_shuffled_instance_numbers_sorted_by_position(tmp_path: Path) -> None:
    spec = SeriesSpec(n=10)
    order = list(range(10))
    random.Random(3).shuffle(order)
    write_series(tmp_path, spec, order=order)
    vol, _ = _only_ok(tmp_path)
    assert vol.shape == (spec.cols, spec.rows, spec.n)
    for k in (0, 4, 9):
        expected = value_at(pixel_centres(spec, k))  # (rows, cols)
        np.testing.assert_allclose(vol.data[:, :, k].T, np.round(expected), atol=0.5)
    # affine: voxel (0,0,0) is the first slice's first pixel, in RAS
    np.testing.assert_allclose(vol.affine[:3, 3], [12.0, 15.0, -20.0], atol=1e-4)
    np.testing.assert_allclose(vol.spacing, (1.2, 1.0, 3.0), atol=1e-5)


def test_missing_slice_refused_with_reason_or_resampled(tmp_path: Path) -> None:
    spec = SeriesSpec(n=10)
    write_series(tmp_path, spec, skip=[5])
    result = scan(tmp_path)
    (rec,) = result.series
    assert rec.status is Status.FAILED
    assert "1 missing slice" in rec.reason and "6.00 mm" in rec.reason
    # resample mode fills the gap by linear interpolation: exact for a linear field
    vol, _ = _only_ok(tmp_path, strictness=Strictness.RESAMPLE)
    assert vol.shape[2] == 10
    assert any("missing slice" in c for c in vol.info.corrections)
    expected = value_at(pixel_centres(spec, 5))
    np.testing.assert_allclose(vol.data[:, :, 5].T, expected, atol=1.0)


def test_duplicate_slice_refused(tmp_path: Path) -> None:
    spec = SeriesSpec(n=8)
    write_series(tmp_path, spec, order=[0, 1, 2, 3, 3, 4, 5, 6, 7])
    (rec,) = scan(tmp_path).series
    assert rec.status is Status.FAILED
    assert "duplicate slices" in rec.reason


def test_copied_file_is_not_a_second_slice(tmp_path: Path) -> None:
    spec = SeriesSpec(n=6)
    paths = write_series(tmp_path / "a", spec)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "again").write_bytes(paths[2].read_bytes())
    result = scan(tmp_path)
    assert result.duplicate_files == 1
    vol, _ = _only_ok(tmp_path)
    assert vol.shape[2] == 6


def test_per_slice_rescale_slope(tmp_path: Path) -> None:
    slopes = [1.0, 0.5, 2.0, 1.0, 0.25, 1.0, 1.0, 0.5]
    spec = SeriesSpec(n=8, slope=slopes, intercept=-1000.0)
    write_series(tmp_path, spec)
    vol, _ = _only_ok(tmp_path)
    assert vol.info.hounsfield
    for k in range(8):
        expected = value_at(pixel_centres(spec, k))
        # stored values were rounded with the slice's own slope: tolerance slope/2
        np.testing.assert_allclose(vol.data[:, :, k].T, expected, atol=slopes[k] / 2 + 1e-6)


@pytest.mark.parametrize("orientation", ["sagittal", "coronal"])
def test_sagittal_and_coronal_stacks(tmp_path: Path, orientation: str) -> None:
    spec = SeriesSpec(n=9, orientation=orientation, modality="MR", intercept=-500.0)
    write_series(tmp_path, spec, order=list(reversed(range(9))))
    vol, _ = _only_ok(tmp_path)
    for k in (0, 3, 8):
        pts = pixel_centres(spec, k)
        np.testing.assert_allclose(_sample_lps(vol, pts), value_at(pts), atol=0.6)
    # the affine is right-handed: a sagittal stack's slice axis follows row x column
    assert np.linalg.det(vol.affine[:3, :3]) != 0


def test_localizer_inside_series_dropped(tmp_path: Path) -> None:
    spec = SeriesSpec(n=6)
    write_series(tmp_path, spec)
    write_localizer(tmp_path, spec)
    result = scan(tmp_path)
    statuses = sorted((r.status.value, r.reason) for r in result.series)
    assert statuses[0][0] == "dropped" and "localizer" in statuses[0][1]
    assert statuses[1] == ("ok", "")


def test_non_dicom_files_counted_and_truncated_file_named(tmp_path: Path) -> None:
    spec = SeriesSpec(n=6)
    paths = write_series(tmp_path, spec)
    (tmp_path / "notes.txt").write_text("not an image\n")
    (tmp_path / "thumbs.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[: len(data) - 200])  # pixel data cut short
    result = scan(tmp_path)
    assert result.skipped_files == 2
    (rec,) = [r for r in result.series]
    assert rec.status is Status.OK  # headers are fine: the damage shows when decoding
    with pytest.raises(Exception) as info:
        load(rec)
    assert "truncated" in str(info.value) and paths[3].name in str(info.value)
    from imaging_triage.errors import PixelDataError

    assert isinstance(info.value, PixelDataError)


def test_header_truncated_file_is_failed_row(tmp_path: Path) -> None:
    spec = SeriesSpec(n=4)
    paths = write_series(tmp_path / "s", spec)
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(paths[0].read_bytes()[:300])
    result = scan(tmp_path)
    failed = [r for r in result.series if r.status is Status.FAILED]
    assert len(failed) == 1 and failed[0].input == "broken.dcm"
    assert failed[0].reason


@pytest.mark.parametrize("tilt", [15.0, -15.0])
@pytest.mark.parametrize("with_tag", [True, False])
def test_gantry_tilt_corrected_to_true_positions(
    tmp_path: Path, tilt: float, with_tag: bool
) -> None:
    spec = SeriesSpec(n=14, rows=30, cols=26, tilt_deg=tilt, write_tilt_tag=with_tag)
    write_series(tmp_path, spec)
    (rec,) = scan(tmp_path).series
    assert rec.status is Status.OK
    assert rec.tilt_deg == pytest.approx(abs(tilt), abs=0.05)
    vol = load(rec)[0]
    assert any("gantry tilt 15.00 deg" in c for c in vol.info.corrections)
    # the corrected grid is orthogonal
    m = vol.affine[:3, :3] / np.array(vol.spacing)
    np.testing.assert_allclose(m.T @ m, np.eye(3), atol=1e-6)
    # original pixel centres (interior slices) sampled through our affine give the original values
    for k in (2, 7, 11):
        pts = pixel_centres(spec, k)[2:-2, 2:-2]
        got = _sample_lps(vol, pts)
        np.testing.assert_allclose(got, np.round(value_at(pts)), atol=1.0)
    # and ignoring the tilt would have been wrong by far more than that
    naive = np.eye(4)
    naive[:3, :3] = vol.affine[:3, :3]
    assert not np.allclose(LPS_TO_RAS @ naive, vol.affine)


def test_series_with_a_damaged_member_is_refused(tmp_path: Path) -> None:
    """A damaged end slice would otherwise vanish without a gap to reveal it."""
    spec = SeriesSpec(n=6)
    paths = write_series(tmp_path, spec)
    data = paths[-1].read_bytes()
    cut = data.index(b"\x28\x00\x10\x00")  # cut just before Rows (0028,0010)
    paths[-1].write_bytes(data[:cut])
    result = scan(tmp_path)
    stack = [r for r in result.series if r.n_frames == 5]
    assert len(stack) == 1 and stack[0].status is Status.FAILED
    assert paths[-1].name in stack[0].reason and "cannot be read" in stack[0].reason
