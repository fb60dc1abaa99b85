"""Rendering: radiological orientation, labels, aspect ratio, click <-> voxel mapping."""

from __future__ import annotations

import numpy as np
import pytest
from viewer.synthetic_studies import lps_affine

from imaging_triage.viewer.render import (
    CROSSHAIR_RGB,
    MARKER_RGB,
    DisplayVolume,
    Plane,
    fraction_to_voxel,
    pixel_to_voxel,
    render_slice,
    slice_array,
    voxel_to_pixel,
)
from imaging_triage.viewer.window import Window
from imaging_triage.volume import SeriesInfo, Volume

WINDOW = Window(200.0, 50.0)


def _marker_volume(
    affine: np.ndarray, shape: tuple[int, int, int], xyz: tuple[float, ...]
) -> Volume:
    """Zeros with a bright 3x3x3 cube centred on the voxel nearest RAS ``xyz``."""
    data = np.zeros(shape, dtype=np.float32)
    ijk = np.rint(np.linalg.inv(affine)[:3, :3] @ np.asarray(xyz) + np.linalg.inv(affine)[:3, 3])
    i, j, k = (int(v) for v in ijk)
    data[i - 1 : i + 2, j - 1 : j + 2, k - 1 : k + 2] = 150.0
    return Volume(data=data, affine=affine, info=SeriesInfo(modality="CT", hounsfield=True))


def _bright_centroid(rgb: np.ndarray) -> tuple[float, float]:
    """(row, col) centroid of near-white pixels (labels and lines are coloured)."""
    grey = (rgb[..., 0] > 240) & (rgb[..., 1] > 240) & (rgb[..., 2] > 240)
    rows, cols = np.nonzero(grey)
    assert rows.size > 0, "marker not visible"
    return float(rows.mean()), float(cols.mean())


AFFINES = {
    "LPS grid (DICOM order)": lps_affine((40, 50, 30), (1.0, 1.0, 2.0)),
    "RAS grid": np.diag([1.0, 1.0, 2.0, 1.0])
    @ np.array([[1, 0, 0, -20], [0, 1, 0, -25], [0, 0, 1, -15], [0, 0, 0, 1.0]]),
}


@pytest.mark.parametrize("name", list(AFFINES))
def test_patient_left_marker_appears_on_screen_right_in_axial_view(name: str) -> None:
    affine = AFFINES[name]
    vol = _marker_volume(affine, (40, 50, 30), (-12.0, 8.0, 4.0))  # left, anterior, superior
    dv = DisplayVolume.from_volume(vol)
    k = dv.from_world((-12.0, 8.0, 4.0))[2]
    img = render_slice(dv, Plane.AXIAL, k, WINDOW, draw_labels=True)
    h, w, _ = img.rgb.shape
    row, col = _bright_centroid(img.rgb)
    assert col > w / 2, "patient's left must be on the screen's right"
    assert row < h / 2, "anterior must be at the top of an axial view"
    assert img.labels == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    # the drawn label on the right edge is cyan-ish text: check a label was drawn there
    right_strip = img.rgb[:, -20:, :]
    assert np.any((right_strip[..., 2] > 200) & (right_strip[..., 0] < 150))

    cor = render_slice(dv, Plane.CORONAL, dv.from_world((-12.0, 8.0, 4.0))[1], WINDOW)
    row, col = _bright_centroid(cor.rgb)
    assert col > cor.rgb.shape[1] / 2 and row < cor.rgb.shape[0] / 2  # left, superior
    assert cor.labels == {"left": "R", "right": "L", "top": "S", "bottom": "I"}

    sag = render_slice(dv, Plane.SAGITTAL, dv.from_world((-12.0, 8.0, 4.0))[0], WINDOW)
    row, col = _bright_centroid(sag.rgb)
    assert col < sag.rgb.shape[1] / 2 and row < sag.rgb.shape[0] / 2  # anterior, superior
    assert sag.labels == {"left": "A", "right": "P", "top": "S", "bottom": "I"}


def test_voxel_order_does_not_change_what_is_shown() -> None:
    lps = _marker_volume(AFFINES["LPS grid (DICOM order)"], (40, 50, 30), (-12.0, 8.0, 4.0))
    # the same image stored in RAS order: flip i and j, and the affine with them
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = [39, 49]
    ras = Volume(lps.data[::-1, ::-1, :].copy(), lps.affine @ flip, lps.info)
    a, b = DisplayVolume.from_volume(lps), DisplayVolume.from_volume(ras)
    np.testing.assert_allclose(a.affine, b.affine, atol=1e-9)
    for plane in Plane:
        np.testing.assert_array_equal(slice_array(a, plane, 5), slice_array(b, plane, 5))


def test_aspect_ratio_follows_voxel_spacing() -> None:
    vol = Volume(np.zeros((100, 80, 30), np.float32), np.diag([0.5, 0.5, 5.0, 1.0]))
    dv = DisplayVolume.from_volume(vol)
    axial = render_slice(dv, Plane.AXIAL, 10, WINDOW, max_size=400)
    assert axial.rgb.shape[:2] == (320, 400)  # 40 mm tall (A-P) x 50 mm wide (R-L)
    coronal = render_slice(dv, Plane.CORONAL, 10, WINDOW, max_size=400)
    # 150 mm tall (30 x 5 mm) by 50 mm wide: height is the long side
    assert coronal.rgb.shape[:2] == (400, 133)
    assert coronal.mm_per_pixel == pytest.approx(150.0 / 400)
    sagittal = render_slice(dv, Plane.SAGITTAL, 10, WINDOW, max_size=300)
    assert sagittal.rgb.shape[:2] == (300, 80)  # 150 mm by 40 mm


@pytest.mark.parametrize("plane", list(Plane))
def test_pixel_voxel_mapping_round_trips(plane: Plane) -> None:
    dv = DisplayVolume.from_volume(
        Volume(np.zeros((7, 9, 11), np.float32), AFFINES["LPS grid (DICOM order)"])
    )
    rng = np.random.default_rng(0)
    for _ in range(20):
        ijk = tuple(int(rng.integers(0, n)) for n in dv.shape)
        row, col = voxel_to_pixel(dv, plane, ijk)  # type: ignore[arg-type]
        assert pixel_to_voxel(dv, plane, ijk[plane.axis], row, col) == ijk
        rows, cols = slice_array(dv, plane, ijk[plane.axis]).shape
        assert (
            fraction_to_voxel(dv, plane, ijk[plane.axis], (col + 0.5) / cols, (row + 0.5) / rows)
            == ijk
        )


def test_source_index_and_world_agree_with_the_loaded_volume() -> None:
    affine = AFFINES["LPS grid (DICOM order)"]
    vol = Volume(np.arange(40 * 50 * 30, dtype=np.float32).reshape(40, 50, 30), affine)
    dv = DisplayVolume.from_volume(vol)
    for ijk in [(0, 0, 0), (3, 17, 29), (39, 1, 12)]:
        src = dv.source_index(ijk)
        assert dv.value(ijk) == vol.data[src]
        np.testing.assert_allclose(dv.world(ijk), vol.world(src), atol=1e-9)
        assert dv.from_world(dv.world(ijk)) == ijk


def test_crosshair_and_marker_are_drawn_where_asked() -> None:
    vol = Volume(np.zeros((64, 64, 8), np.float32), np.eye(4))
    dv = DisplayVolume.from_volume(vol)
    img = render_slice(
        dv,
        Plane.AXIAL,
        4,
        WINDOW,
        crosshair=(10, 20, 4),
        markers=[(50, 50, 4)],
        max_size=64,
        draw_labels=False,
    )
    row, col = voxel_to_pixel(dv, Plane.AXIAL, (10, 20, 4))
    assert tuple(img.rgb[row, 0]) == CROSSHAIR_RGB  # horizontal line through the row
    assert tuple(img.rgb[0, col]) == CROSSHAIR_RGB  # vertical line through the column
    mrow, mcol = voxel_to_pixel(dv, Plane.AXIAL, (50, 50, 4))
    ring = img.rgb[mrow - 8 : mrow + 9, mcol - 8 : mcol + 9].reshape(-1, 3)
    assert any(tuple(p) == MARKER_RGB for p in ring)
    far = render_slice(dv, Plane.AXIAL, 0, WINDOW, markers=[(50, 50, 4)], draw_labels=False)
    assert not any(tuple(p) == MARKER_RGB for p in far.rgb.reshape(-1, 3))


def test_png_is_a_png() -> None:
    dv = DisplayVolume.from_volume(Volume(np.zeros((8, 8, 8), np.float32), np.eye(4)))
    png = render_slice(dv, Plane.AXIAL, 0, WINDOW).png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_four_d_volume_shows_first_frame_with_a_note() -> None:
    data = np.zeros((4, 4, 4, 3), np.float32)
    data[..., 1] = 5.0
    dv = DisplayVolume.from_volume(Volume(data, np.eye(4)))
    assert dv.shape == (4, 4, 4) and float(dv.data.max()) == 0.0
    assert any("frame 1 of 3" in n for n in dv.notes)
