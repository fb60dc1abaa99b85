"""Slice rendering for the viewer: reformats in radiological convention, to 8-bit RGB.

A volume is first brought to the closest canonical RAS+ voxel order (axis 0 towards the
patient's right, 1 anterior, 2 superior) by flips and transposes only, never by
resampling. Views are then cut in **radiological convention**:

========  ===================  ====================  ======================
view      screen left / right  screen top / bottom   pixel size (row, col)
========  ===================  ====================  ======================
axial     R / L                A / P                 (dy, dx)
coronal   R / L                S / I                 (dz, dx)
sagittal  A / P                S / I                 (dz, dy)
========  ===================  ====================  ======================

so the patient's right is on the screen's left, as if facing the patient (axial from
the feet). Rendered images are resized so that one screen pixel covers the same
millimetres in both directions (the aspect ratio follows the voxel spacing).

Examples
--------
>>> dv = DisplayVolume.from_volume(volume)                          # doctest: +SKIP
>>> img = render_slice(dv, Plane.AXIAL, 40, Preset.BRAIN.window)     # doctest: +SKIP
>>> img.labels["left"], img.labels["right"]                          # doctest: +SKIP
('R', 'L')
"""

from __future__ import annotations

import enum
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.viewer.window import Window, apply_window
from imaging_triage.volume import SeriesInfo, Volume


class Plane(str, enum.Enum):
    """A viewing plane; its ``axis`` is the canonical voxel axis held fixed."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"

    @property
    def axis(self) -> int:
        """Canonical (RAS) voxel axis normal to the plane."""
        return {Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}[self]

    @property
    def labels(self) -> dict[str, str]:
        """Orientation letters at the screen's left, right, top and bottom."""
        return dict(zip(("left", "right", "top", "bottom"), _LABELS[self], strict=True))


_LABELS = {
    Plane.AXIAL: ("R", "L", "A", "P"),
    Plane.CORONAL: ("R", "L", "S", "I"),
    Plane.SAGITTAL: ("A", "P", "S", "I"),
}

#: statement shown on the page next to the images
CONVENTION = (
    "Radiological convention: the patient's right is on the screen's left "
    "(axial views seen from the feet; sagittal views with anterior on the left)."
)


@dataclass
class DisplayVolume:
    """A 3-D volume in canonical RAS+ voxel order, with the way back to the original.

    Attributes
    ----------
    data : numpy.ndarray
        Voxels indexed (i, j, k) with i towards R, j towards A, k towards S (a view of
        the original array when possible: no copy).
    affine : numpy.ndarray
        Canonical voxel -> RAS+ mm.
    source_affine : numpy.ndarray
        The original volume's affine (to report voxel indices of the loaded series).
    info : SeriesInfo
        The series description (modality, Hounsfield flag, ...).
    """

    data: npt.NDArray[Any]
    affine: npt.NDArray[np.float64]
    source_affine: npt.NDArray[np.float64]
    info: SeriesInfo = field(default_factory=SeriesInfo)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_volume(cls, volume: Volume) -> DisplayVolume:
        """Reorient ``volume`` to the closest canonical RAS+ order (flips/transposes only).

        A 4-D volume shows its first frame; an oblique one is shown on its closest
        canonical axes, and a note says so.
        """
        import nibabel.orientations as nio

        data = volume.data
        notes: list[str] = []
        if data.ndim == 4:
            notes.append(f"4-D series: showing frame 1 of {data.shape[3]}")
            data = data[..., 0]
        ornt = nio.io_orientation(volume.affine)
        transform = nio.ornt_transform(ornt, nio.axcodes2ornt(("R", "A", "S")))
        canonical = nio.apply_orientation(data, transform)
        affine = volume.affine @ nio.inv_ornt_aff(transform, data.shape)
        cosines = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
        if np.max(np.abs(cosines - np.eye(3))) > 1e-3:
            notes.append("oblique acquisition: shown on its closest anatomical axes")
        return cls(
            data=canonical,
            affine=np.asarray(affine, dtype=np.float64),
            source_affine=np.asarray(volume.affine, dtype=np.float64),
            info=volume.info,
            notes=notes,
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """Canonical shape (nx, ny, nz)."""
        s = self.data.shape
        return (int(s[0]), int(s[1]), int(s[2]))

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along canonical i, j, k."""
        n = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(n[0]), float(n[1]), float(n[2]))

    def center(self) -> tuple[int, int, int]:
        """The central voxel (canonical indices)."""
        nx, ny, nz = self.shape
        return (nx // 2, ny // 2, nz // 2)

    def clamp(self, ijk: tuple[int, int, int]) -> tuple[int, int, int]:
        """``ijk`` clamped into the volume."""
        nx, ny, nz = self.shape
        i, j, k = ijk
        return (
            min(max(int(i), 0), nx - 1),
            min(max(int(j), 0), ny - 1),
            min(max(int(k), 0), nz - 1),
        )

    def world(self, ijk: tuple[int, int, int]) -> tuple[float, float, float]:
        """RAS+ mm of a canonical voxel."""
        xyz = self.affine[:3, :3] @ np.asarray(ijk, dtype=np.float64) + self.affine[:3, 3]
        return (float(xyz[0]), float(xyz[1]), float(xyz[2]))

    def source_index(self, ijk: tuple[int, int, int]) -> tuple[int, int, int]:
        """Index in the original (as loaded) array of a canonical voxel."""
        inv = np.linalg.inv(self.source_affine)
        xyz = np.asarray(self.world(ijk))
        src = inv[:3, :3] @ xyz + inv[:3, 3]
        r = np.rint(src).astype(int)
        return (int(r[0]), int(r[1]), int(r[2]))

    def from_world(self, xyz: tuple[float, float, float]) -> tuple[int, int, int]:
        """Nearest canonical voxel of a RAS+ mm point (clamped into the volume)."""
        inv = np.linalg.inv(self.affine)
        ijk = inv[:3, :3] @ np.asarray(xyz, dtype=np.float64) + inv[:3, 3]
        r = np.rint(ijk).astype(int)
        return self.clamp((int(r[0]), int(r[1]), int(r[2])))

    def value(self, ijk: tuple[int, int, int]) -> float:
        """Voxel value (HU for CT) at a canonical voxel."""
        return float(self.data[ijk])

    def n_slices(self, plane: Plane) -> int:
        """Number of slices along the plane's normal."""
        return self.shape[plane.axis]

    def pixel_mm(self, plane: Plane) -> tuple[float, float]:
        """Size in mm of one source pixel of the plane's image: (row, col)."""
        dx, dy, dz = self.spacing
        return {Plane.AXIAL: (dy, dx), Plane.CORONAL: (dz, dx), Plane.SAGITTAL: (dz, dy)}[plane]


def slice_array(dv: DisplayVolume, plane: Plane, index: int) -> npt.NDArray[Any]:
    """The 2-D image (rows, cols) of slice ``index`` in radiological screen orientation."""
    d = dv.data
    if plane is Plane.AXIAL:
        return d[::-1, ::-1, index].T
    if plane is Plane.CORONAL:
        return d[::-1, index, ::-1].T
    return d[index, ::-1, ::-1].T


def voxel_to_pixel(dv: DisplayVolume, plane: Plane, ijk: tuple[int, int, int]) -> tuple[int, int]:
    """Screen (row, col) in the plane's source image of a canonical voxel."""
    nx, ny, nz = dv.shape
    i, j, k = ijk
    if plane is Plane.AXIAL:
        return (ny - 1 - j, nx - 1 - i)
    if plane is Plane.CORONAL:
        return (nz - 1 - k, nx - 1 - i)
    return (nz - 1 - k, ny - 1 - j)


def pixel_to_voxel(
    dv: DisplayVolume, plane: Plane, index: int, row: int, col: int
) -> tuple[int, int, int]:
    """Canonical voxel under screen (row, col) of slice ``index`` (clamped)."""
    nx, ny, nz = dv.shape
    if plane is Plane.AXIAL:
        ijk = (nx - 1 - col, ny - 1 - row, index)
    elif plane is Plane.CORONAL:
        ijk = (nx - 1 - col, index, nz - 1 - row)
    else:
        ijk = (index, ny - 1 - col, nz - 1 - row)
    return dv.clamp(ijk)


def fraction_to_voxel(
    dv: DisplayVolume, plane: Plane, index: int, fx: float, fy: float
) -> tuple[int, int, int]:
    """Canonical voxel under a click at fractions (fx, fy) of the image's width/height."""
    rows, cols = _plane_shape(dv, plane)
    col = int(np.floor(min(max(fx, 0.0), 0.999999) * cols))
    row = int(np.floor(min(max(fy, 0.0), 0.999999) * rows))
    return pixel_to_voxel(dv, plane, index, row, col)


def _plane_shape(dv: DisplayVolume, plane: Plane) -> tuple[int, int]:
    nx, ny, nz = dv.shape
    return {Plane.AXIAL: (ny, nx), Plane.CORONAL: (nz, nx), Plane.SAGITTAL: (nz, ny)}[plane]


@dataclass
class RenderedSlice:
    """An RGB image ready for the page, and what it shows."""

    rgb: npt.NDArray[np.uint8]
    plane: Plane
    index: int
    labels: dict[str, str]
    #: source image size (rows, cols) before the aspect-ratio resize
    source_shape: tuple[int, int]
    #: millimetres per screen pixel (equal in both directions)
    mm_per_pixel: float

    def png(self) -> bytes:
        """PNG bytes of the image."""
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(self.rgb).save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()


CROSSHAIR_RGB = (255, 200, 0)
MARKER_RGB = (255, 64, 64)
LABEL_RGB = (80, 220, 255)


def render_slice(
    dv: DisplayVolume,
    plane: Plane,
    index: int,
    window: Window,
    *,
    crosshair: tuple[int, int, int] | None = None,
    markers: list[tuple[int, int, int]] | None = None,
    max_size: int = 512,
    draw_labels: bool = True,
) -> RenderedSlice:
    """Window one slice to 8 bits and draw the crosshair, markers and orientation labels.

    Parameters
    ----------
    dv : DisplayVolume
        The canonical volume.
    plane, index : Plane, int
        Which slice (clamped into the volume).
    window : Window
        Width/level mapping to grey levels.
    crosshair : tuple of int, optional
        Canonical voxel at which two lines cross (only lines through this plane).
    markers : list of tuple of int, optional
        Canonical voxels of findings; a circle is drawn for those within one slice.
    max_size : int
        Longest side of the output in pixels (the aspect ratio is kept).
    """
    from PIL import Image, ImageDraw

    index = int(min(max(index, 0), dv.n_slices(plane) - 1))
    grey = apply_window(slice_array(dv, plane, index), window)
    rows, cols = grey.shape
    row_mm, col_mm = dv.pixel_mm(plane)
    height_mm, width_mm = rows * row_mm, cols * col_mm
    mm_per_px = max(height_mm, width_mm) / max_size
    out_w = max(1, round(width_mm / mm_per_px))
    out_h = max(1, round(height_mm / mm_per_px))
    image = Image.fromarray(grey, mode="L")
    if (out_h, out_w) != (rows, cols):
        image = image.resize((out_w, out_h), Image.Resampling.BILINEAR)
    image = image.convert("RGB")
    draw = ImageDraw.Draw(image)
    sy, sx = out_h / rows, out_w / cols

    def centre(ijk: tuple[int, int, int]) -> tuple[float, float]:
        r, c = voxel_to_pixel(dv, plane, ijk)
        return ((c + 0.5) * sx, (r + 0.5) * sy)

    if crosshair is not None:
        x, y = centre(crosshair)
        gap = 8
        draw.line([(0, y), (x - gap, y)], fill=CROSSHAIR_RGB, width=1)
        draw.line([(x + gap, y), (out_w, y)], fill=CROSSHAIR_RGB, width=1)
        draw.line([(x, 0), (x, y - gap)], fill=CROSSHAIR_RGB, width=1)
        draw.line([(x, y + gap), (x, out_h)], fill=CROSSHAIR_RGB, width=1)
    for ijk in markers or []:
        if abs(ijk[plane.axis] - index) <= 1:
            x, y = centre(ijk)
            draw.ellipse([x - 7, y - 7, x + 7, y + 7], outline=MARKER_RGB, width=2)
    labels = plane.labels
    if draw_labels:
        _draw_labels(draw, labels, out_w, out_h)
    return RenderedSlice(
        rgb=np.asarray(image, dtype=np.uint8),
        plane=plane,
        index=index,
        labels=labels,
        source_shape=(rows, cols),
        mm_per_pixel=mm_per_px,
    )


def _draw_labels(draw: Any, labels: dict[str, str], width: int, height: int) -> None:
    from PIL import ImageFont

    size = max(12, min(width, height) // 20)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    pad = 4
    spots = {
        "left": (pad, height / 2, "lm"),
        "right": (width - pad, height / 2, "rm"),
        "top": (width / 2, pad, "mt"),
        "bottom": (width / 2, height - pad, "mb"),
    }
    for side, (x, y, anchor) in spots.items():
        draw.text(
            (x, y),
            labels[side],
            fill=LABEL_RGB,
            font=font,
            anchor=anchor,
            stroke_width=1,
            stroke_fill=(0, 0, 0),
        )
