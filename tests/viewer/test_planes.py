"""Planes: radiological orientation, voxel order, aspect, pixel <-> voxel mapping.

The browser engine draws the images; these tests pin the geometry it shares with
:mod:`imaging_triage.viewer.planes` (and the browser tests check the drawn page
against :func:`voxel_to_pixel`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from viewer.synthetic_studies import lps_affine

from imaging_triage.viewer.planes import (
    DisplayVolume,
    Plane,
    pixel_to_voxel,
    slice_array,
    voxel_to_pixel,
)
from imaging_triage.volume import SeriesInfo, Volume

ENGINE_JS = Path(__file__).resolve().parents[2] / "imaging_triage" / "viewer" / "engine.js"

#: a point on the patient's left (RAS x < 0), anterior and superior
LEFT_ANTERIOR_SUPERIOR = (-12.0, 8.0, 4.0)


def _marker_volume(
    affine: np.ndarray, shape: tuple[int, int, int], xyz: tuple[float, ...]
) -> tuple[Volume, tuple[float, float, float]]:
    """Zeros with one bright voxel, the one nearest RAS ``xyz``, and that voxel's RAS mm."""
    data = np.zeros(shape, dtype=np.float32)
    inv = np.linalg.inv(affine)
    ijk = np.rint(inv[:3, :3] @ np.asarray(xyz) + inv[:3, 3])
    data[tuple(int(v) for v in ijk)] = 150.0
    x, y, z = (float(v) for v in affine[:3, :3] @ ijk + affine[:3, 3])
    return Volume(data, affine, SeriesInfo(modality="CT", hounsfield=True)), (x, y, z)


def _expected_pixel(vol: Volume, plane: Plane, xyz: tuple[float, ...]) -> tuple[int, int]:
    """Screen (row, col) of RAS ``xyz`` from the source grid's extent alone.

    Radiological convention: the screen's left column is the patient's rightmost voxels
    (largest RAS x) in axial and coronal views, the most anterior ones (largest y) in
    sagittal views; the top row is the most anterior (axial) or superior (others).
    """
    corners = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)])
    corners = corners * (np.asarray(vol.data.shape[:3]) - 1)
    world = corners @ vol.affine[:3, :3].T + vol.affine[:3, 3]
    top = world.max(axis=0)
    spacing = np.linalg.norm(vol.affine[:3, :3], axis=0)
    # RAS axis along the screen's rows / columns, and the voxel size along it
    row_axis, col_axis = {Plane.AXIAL: (1, 0), Plane.CORONAL: (2, 0), Plane.SAGITTAL: (2, 1)}[plane]
    size = {int(np.argmax(np.abs(vol.affine[:3, n]))): spacing[n] for n in range(3)}
    row = (top[row_axis] - xyz[row_axis]) / size[row_axis]
    col = (top[col_axis] - xyz[col_axis]) / size[col_axis]
    return int(np.rint(row)), int(np.rint(col))


AFFINES = {
    "LPS grid (DICOM order)": lps_affine((40, 50, 30), (1.0, 1.0, 2.0)),
    "RAS grid": np.diag([1.0, 1.0, 2.0, 1.0])
    @ np.array([[1, 0, 0, -20], [0, 1, 0, -25], [0, 0, 1, -15], [0, 0, 0, 1.0]]),
}


@pytest.mark.parametrize("name", list(AFFINES))
@pytest.mark.parametrize("plane", list(Plane))
def test_marker_appears_where_the_radiological_convention_puts_it(name: str, plane: Plane) -> None:
    vol, xyz = _marker_volume(AFFINES[name], (40, 50, 30), LEFT_ANTERIOR_SUPERIOR)
    dv = DisplayVolume.from_volume(vol)
    ijk = dv.from_world(xyz)
    image = slice_array(dv, plane, ijk[plane.axis])
    row, col = np.unravel_index(int(np.argmax(image)), image.shape)
    assert image[row, col] == 150.0, "marker not in its slice"
    assert (row, col) == _expected_pixel(vol, plane, xyz)
    assert (row, col) == voxel_to_pixel(dv, plane, ijk)
    rows, cols = image.shape
    if plane is Plane.SAGITTAL:
        assert col < cols / 2, "anterior must be on the screen's left of a sagittal view"
    else:
        assert col > cols / 2, "the patient's left must be on the screen's right"
    top = "anterior" if plane is Plane.AXIAL else "superior"
    assert row < rows / 2, f"{top} must be at the top of a {plane.value} view"


def test_orientation_letters_follow_the_convention() -> None:
    assert Plane.AXIAL.labels == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert Plane.CORONAL.labels == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
    assert Plane.SAGITTAL.labels == {"left": "A", "right": "P", "top": "S", "bottom": "I"}


def test_the_browser_engine_uses_the_same_axes_and_letters() -> None:
    text = ENGINE_JS.read_text(encoding="utf-8")
    pattern = r'(\w+): \{ axis: (\d), labels: \["(\w)", "(\w)", "(\w)", "(\w)"\] \}'
    found = {m[0]: (int(m[1]), m[2:]) for m in re.findall(pattern, text)}
    assert found == {p.value: (p.axis, tuple(p.labels.values())) for p in Plane}


def test_voxel_order_does_not_change_what_is_shown() -> None:
    lps, xyz = _marker_volume(
        AFFINES["LPS grid (DICOM order)"], (40, 50, 30), LEFT_ANTERIOR_SUPERIOR
    )
    # the same image stored in RAS order: flip i and j, and the affine with them
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = [39, 49]
    ras = Volume(lps.data[::-1, ::-1, :].copy(), lps.affine @ flip, lps.info)
    # and stored slice-major (k, j, i), as some readers hand it over
    swap = np.eye(4)[[2, 1, 0, 3]]
    kji = Volume(np.ascontiguousarray(lps.data.transpose(2, 1, 0)), lps.affine @ swap, lps.info)
    a, b, c = (DisplayVolume.from_volume(v) for v in (lps, ras, kji))
    np.testing.assert_allclose(a.affine, b.affine, atol=1e-9)
    np.testing.assert_allclose(a.affine, c.affine, atol=1e-9)
    for plane in Plane:
        index = a.from_world(xyz)[plane.axis]
        assert slice_array(a, plane, index).max() == 150.0
        np.testing.assert_array_equal(slice_array(a, plane, index), slice_array(b, plane, index))
        np.testing.assert_array_equal(slice_array(a, plane, index), slice_array(c, plane, index))


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1)])
def test_aspect_follows_voxel_spacing_whatever_the_voxel_order(
    order: tuple[int, int, int],
) -> None:
    """One image pixel covers ``pixel_mm`` (row, col): the views keep the head's shape."""
    data = np.zeros((100, 80, 30), np.float32)  # 0.5 x 0.5 x 5 mm: 50 x 40 x 150 mm
    affine = np.diag([0.5, 0.5, 5.0, 1.0])
    perm = np.eye(4)[:, [*order, 3]]
    dv = DisplayVolume.from_volume(Volume(data.transpose(order), affine @ perm))
    expected_mm = {
        Plane.AXIAL: (40.0, 50.0),  # tall A-P, wide R-L
        Plane.CORONAL: (150.0, 50.0),  # tall S-I, wide R-L
        Plane.SAGITTAL: (150.0, 40.0),  # tall S-I, wide A-P
    }
    for plane, (height_mm, width_mm) in expected_mm.items():
        rows, cols = slice_array(dv, plane, 0).shape
        row_mm, col_mm = dv.pixel_mm(plane)
        assert (rows * row_mm, cols * col_mm) == pytest.approx((height_mm, width_mm))


@pytest.mark.parametrize("plane", list(Plane))
def test_pixel_voxel_mapping_round_trips(plane: Plane) -> None:
    dv = DisplayVolume.from_volume(
        Volume(np.zeros((7, 9, 11), np.float32), AFFINES["LPS grid (DICOM order)"])
    )
    rng = np.random.default_rng(0)
    for _ in range(20):
        ijk = tuple(int(rng.integers(0, n)) for n in dv.shape)
        row, col = voxel_to_pixel(dv, plane, ijk)  # type: ignore[arg-type]
        rows, cols = slice_array(dv, plane, ijk[plane.axis]).shape
        assert 0 <= row < rows and 0 <= col < cols
        assert pixel_to_voxel(dv, plane, ijk[plane.axis], row, col) == ijk
    # a position off the image is clamped to the image's edge, never outside the volume
    rows, cols = slice_array(dv, plane, 0).shape
    assert pixel_to_voxel(dv, plane, 0, -5, cols + 90) == pixel_to_voxel(dv, plane, 0, 0, cols - 1)


def test_source_index_and_world_agree_with_the_loaded_volume() -> None:
    affine = AFFINES["LPS grid (DICOM order)"]
    vol = Volume(np.arange(40 * 50 * 30, dtype=np.float32).reshape(40, 50, 30), affine)
    dv = DisplayVolume.from_volume(vol)
    for ijk in [(0, 0, 0), (3, 17, 29), (39, 1, 12)]:
        src = dv.source_index(ijk)
        assert dv.value(ijk) == vol.data[src]
        np.testing.assert_allclose(dv.world(ijk), vol.world(src), atol=1e-9)
        assert dv.from_world(dv.world(ijk)) == ijk


def test_four_d_volume_shows_first_frame_with_a_note() -> None:
    data = np.zeros((4, 4, 4, 3), np.float32)
    data[..., 1] = 5.0
    dv = DisplayVolume.from_volume(Volume(data, np.eye(4)))
    assert dv.shape == (4, 4, 4) and float(dv.data.max()) == 0.0
    assert any("frame 1 of 3" in n for n in dv.notes)
