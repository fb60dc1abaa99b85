"""A canonical RAS volume and its three radiological planes.

A volume is first brought to the closest canonical RAS+ voxel order (axis 0 towards the
patient's right, 1 anterior, 2 superior) by flips and transposes only, never by
resampling. Its planes are then cut in **radiological convention**:

========  ===================  ====================  ======================
view      screen left / right  screen top / bottom   pixel size (row, col)
========  ===================  ====================  ======================
axial     R / L                A / P                 (dy, dx)
coronal   R / L                S / I                 (dz, dx)
sagittal  A / P                S / I                 (dz, dy)
========  ===================  ====================  ======================

so the patient's right is on the screen's left, as if facing the patient (axial from
the feet). The browser engine (``viewer/engine.js``) draws the images with the same
geometry; :func:`slice_array`, :func:`voxel_to_pixel` and :func:`pixel_to_voxel` state
it here so that it can be tested (and the browser tests find where to look).

Examples
--------
>>> dv = DisplayVolume.from_volume(volume)                          # doctest: +SKIP
>>> image = slice_array(dv, Plane.AXIAL, 40)                        # doctest: +SKIP
>>> Plane.AXIAL.labels["left"], Plane.AXIAL.labels["right"]
('R', 'L')
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

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
