"""Resample to a target voxel spacing (images linear or B-spline, masks nearest neighbour).

The field of view is kept: the new grid has the same direction and covers the same
physical extent (outer voxel edges aligned), with as many voxels as fit.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.base import Sample
from imaging_triage.volume import Volume, from_sitk, to_sitk


class Interpolation(str, enum.Enum):
    """How image values between voxel centres are computed when resampling."""

    #: trilinear: no overshoot, slight smoothing (the default for images)
    LINEAR = "linear"
    #: cubic B-spline: sharper, may overshoot near edges (e.g. below -1000 HU next to bone)
    BSPLINE = "bspline"
    #: nearest neighbour: for label images and masks
    NEAREST = "nearest"


def _sitk_interpolator(interp: Interpolation) -> int:
    import SimpleITK as sitk

    return {
        Interpolation.LINEAR: sitk.sitkLinear,
        Interpolation.BSPLINE: sitk.sitkBSpline,
        Interpolation.NEAREST: sitk.sitkNearestNeighbor,
    }[interp]


def target_grid(
    shape: tuple[int, ...], affine: npt.NDArray[np.float64], spacing_mm: tuple[float, ...]
) -> tuple[tuple[int, int, int], npt.NDArray[np.float64]]:
    """Shape and affine of the grid with ``spacing_mm`` covering the same field of view."""
    old = np.linalg.norm(affine[:3, :3], axis=0)
    new = np.asarray(spacing_mm, dtype=np.float64)
    size = tuple(
        max(1, math.floor(n * o / s + 1e-6)) for n, o, s in zip(shape[:3], old, new, strict=True)
    )
    direction = affine[:3, :3] / old
    # keep the outer edge of the first voxel where it was
    first_edge = affine[:3, 3] - direction @ (old / 2)
    out = np.eye(4)
    out[:3, :3] = direction * new
    out[:3, 3] = first_edge + direction @ (new / 2)
    return (size[0], size[1], size[2]), out


def resample_array(
    data: npt.NDArray[Any],
    affine: npt.NDArray[np.float64],
    shape: tuple[int, int, int],
    new_affine: npt.NDArray[np.float64],
    interpolation: Interpolation,
    fill: float,
) -> npt.NDArray[Any]:
    """Resample a 3-D array from one grid onto another (both given by their affines)."""
    import SimpleITK as sitk

    src = to_sitk(Volume(np.asarray(data), affine))
    ref = sitk.Image([int(s) for s in shape], sitk.sitkUInt8)
    grid = to_sitk(Volume(np.zeros((1, 1, 1), dtype=np.uint8), new_affine))
    ref.SetSpacing(grid.GetSpacing())
    ref.SetOrigin(grid.GetOrigin())
    ref.SetDirection(grid.GetDirection())
    out_type = src.GetPixelID() if interpolation is Interpolation.NEAREST else sitk.sitkFloat32
    res = sitk.Resample(
        src, ref, sitk.Transform(), _sitk_interpolator(interpolation), float(fill), out_type
    )
    return from_sitk(res).data


@dataclass(frozen=True)
class Resample:
    """Resample the image to ``spacing_mm`` (empty: keep the native spacing).

    The image uses ``interpolation``; the mask and the derivatives always use nearest
    neighbour. Voxels outside the original field of view get ``fill`` (default: the
    image minimum, e.g. air for CT).

    Raises
    ------
    ConfigError
        If a spacing is not positive.
    """

    name: ClassVar[str] = "resample"

    spacing_mm: tuple[float, ...] = (1.0, 1.0, 1.0)
    interpolation: Interpolation = Interpolation.LINEAR

    def __post_init__(self) -> None:
        if self.spacing_mm and (len(self.spacing_mm) != 3 or min(self.spacing_mm) <= 0):
            raise ConfigError(
                f"resample: spacing_mm must be three positive numbers or empty, "
                f"got {list(self.spacing_mm)}"
            )

    def __call__(self, sample: Sample) -> Sample:
        """Apply the step."""
        image = sample.image
        if not self.spacing_mm or np.allclose(image.spacing, self.spacing_mm, atol=1e-4):
            return sample
        shape, affine = target_grid(image.shape, image.affine, self.spacing_mm)
        fill = float(np.min(image.data)) if image.data.size else 0.0
        data = resample_array(image.data, image.affine, shape, affine, self.interpolation, fill)
        mask = None
        if sample.mask is not None:
            mask = resample_array(
                sample.mask.astype(np.uint8), image.affine, shape, affine, Interpolation.NEAREST, 0
            ).astype(bool)
        derivatives = {
            k: resample_array(v, image.affine, shape, affine, Interpolation.NEAREST, 0)
            for k, v in sample.derivatives.items()
        }
        out = sample.replace(
            image=Volume(data, affine, image.info), mask=mask, derivatives=derivatives
        )
        before = "x".join(f"{s:.3g}" for s in image.spacing)
        after = "x".join(f"{s:.3g}" for s in self.spacing_mm)
        out.notes.append(f"resampled {before} mm -> {after} mm ({self.interpolation.value})")
        return out
