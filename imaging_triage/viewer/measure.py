"""Measurements on a canonical volume: distance, ROI statistics, hematoma volume.

The engine draws and previews measurements in the browser; the page recomputes them
here from the same geometry before they are shown as results or stored with a finding,
so the stored numbers come from one tested place.

Geometry: points are **continuous canonical voxel coordinates** (voxel centres at
integers, i towards the patient's right, j anterior, k superior) on one slice of a
plane (:class:`~imaging_triage.viewer.planes.Plane`). A voxel belongs to a region when
its centre lies inside the outline.

Examples
--------
>>> import numpy as np
>>> from imaging_triage.viewer.planes import Plane
>>> distance_mm([(0, 0, 0), (3, 4, 0)], spacing=(1.0, 1.0, 5.0))
5.0
>>> abc_over_2(40.0, 30.0, 20.0)  # mm -> mL
12.0
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.viewer.planes import Plane

Point = tuple[float, float, float]


class MeasureKind(str, enum.Enum):
    """What a measurement is."""

    #: straight line, length in mm
    DISTANCE = "distance"
    #: ellipse inscribed in the dragged box, statistics of the voxels inside
    ELLIPSE = "ellipse"
    #: closed outline drawn by hand, statistics of the voxels inside
    FREEHAND = "freehand"
    #: connected voxels within a value range around a seed (3-D)
    REGION = "region"
    #: ABC/2 hematoma volume from three diameters
    ABC2 = "abc2"


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the voxels of a region (values in HU for CT)."""

    n_voxels: int
    mean: float
    sd: float
    minimum: float
    maximum: float
    #: area in mm^2 (2-D) or volume in mL (3-D regions)
    size: float

    def text(self, unit: str = "", *, volume: bool = False) -> str:
        """One line for a reader, e.g. ``mean 68.2 SD 4.1 min 55 max 81 HU, 310.5 mm²``."""
        if self.n_voxels == 0:
            return "empty region"
        u = f" {unit}" if unit else ""
        size = f"{self.size:.2f} mL" if volume else f"{self.size:.1f} mm²"
        return (
            f"mean {self.mean:.1f} SD {self.sd:.1f} min {self.minimum:.0f} "
            f"max {self.maximum:.0f}{u}, {size} ({self.n_voxels} voxels)"
        )


def distance_mm(points: Sequence[Sequence[float]], spacing: Sequence[float]) -> float:
    """Length in mm of the segment between two canonical voxel points.

    Raises
    ------
    ValueError
        If not exactly two points are given.
    """
    if len(points) != 2:
        raise ValueError(f"a distance needs two points, got {len(points)}")
    a, b = (np.asarray(p, dtype=np.float64) for p in points)
    return float(np.linalg.norm((b - a) * np.asarray(spacing, dtype=np.float64)))


def _in_plane(plane: Plane, points: Sequence[Sequence[float]]) -> npt.NDArray[np.float64]:
    """The two in-plane coordinates (canonical axes other than the plane's normal)."""
    axes = [a for a in range(3) if a != plane.axis]
    return np.asarray(points, dtype=np.float64)[:, axes]


def _slice_2d(data: npt.NDArray[Any], plane: Plane, index: int) -> npt.NDArray[Any]:
    """The slice as a 2-D array indexed by the two in-plane canonical axes."""
    return np.take(data, int(index), axis=plane.axis)


def roi_mask(
    shape: tuple[int, int],
    plane: Plane,
    kind: MeasureKind,
    points: Sequence[Sequence[float]],
) -> npt.NDArray[np.bool_]:
    """Voxels (of a slice of ``shape``, in-plane canonical axes) whose centres are inside.

    ``ELLIPSE``: ``points`` are two opposite corners of the box the ellipse is inscribed
    in. ``FREEHAND``: the outline's vertices, closed automatically (even-odd rule).
    """
    pts = _in_plane(plane, points)
    ua, va = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    if kind is MeasureKind.ELLIPSE:
        (u0, v0), (u1, v1) = pts[0], pts[1]
        cu, cv = (u0 + u1) / 2.0, (v0 + v1) / 2.0
        ru, rv = abs(u1 - u0) / 2.0, abs(v1 - v0) / 2.0
        if ru <= 0 or rv <= 0:
            return np.zeros(shape, dtype=bool)
        return np.asarray(((ua - cu) / ru) ** 2 + ((va - cv) / rv) ** 2 <= 1.0)
    if kind is MeasureKind.FREEHAND:
        inside = np.zeros(shape, dtype=bool)
        n = len(pts)
        for a in range(n):
            (ua0, va0), (ub0, vb0) = pts[a], pts[a - 1]
            if va0 == vb0:
                continue
            crosses = (va0 > va) != (vb0 > va)
            at = (ub0 - ua0) * (va - va0) / (vb0 - va0) + ua0
            inside ^= crosses & (ua < at)
        return inside
    raise ValueError(f"{kind.value} is not a 2-D region")


def _stats(values: npt.NDArray[Any], size: float) -> RoiStats:
    if values.size == 0:
        nan = float("nan")
        return RoiStats(0, nan, nan, nan, nan, 0.0)
    v = values.astype(np.float64)
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return RoiStats(int(v.size), float(v.mean()), sd, float(v.min()), float(v.max()), size)


def roi_stats(
    data: npt.NDArray[Any],
    spacing: Sequence[float],
    plane: Plane,
    index: int,
    kind: MeasureKind,
    points: Sequence[Sequence[float]],
) -> RoiStats:
    """Mean, SD, min, max and area (mm²) of a 2-D region on slice ``index`` of ``plane``."""
    image = _slice_2d(data, plane, index)
    mask = roi_mask(image.shape, plane, kind, points)
    du, dv = (float(spacing[a]) for a in range(3) if a != plane.axis)
    return _stats(image[mask], float(mask.sum()) * du * dv)


#: the region tool's default range on CT: acute blood (HU)
CT_SEED_RANGE = (40.0, 100.0)
#: the region tool's default tolerance on MR (no units): a fraction of the series'
#: 1st-99th percentile intensity range, either side of the seed's value
MR_SEED_TOLERANCE = 0.10


def seed_range(
    data: npt.NDArray[Any],
    seed: tuple[int, int, int],
    *,
    is_ct: bool,
    ct_range: tuple[float, float] = CT_SEED_RANGE,
    tolerance: float = MR_SEED_TOLERANCE,
) -> tuple[float, float]:
    """The value range the region tool grows within, following the series.

    CT has units: the range is a fixed HU interval (``ct_range``, acute blood by
    default). MR intensities have none and differ between scanners and even series, so
    the range is centred on the seed's own value, ``tolerance`` times the series'
    1st-99th percentile range either side.

    >>> import numpy as np
    >>> mr = np.arange(1000, dtype=np.float32).reshape(10, 10, 10)
    >>> seed_range(mr, (5, 0, 0), is_ct=False, tolerance=0.1)
    (402.098, 597.902)
    >>> seed_range(mr, (5, 0, 0), is_ct=True)
    (40.0, 100.0)
    """
    if is_ct:
        return float(ct_range[0]), float(ct_range[1])
    if not 0 < tolerance <= 1:
        raise ValueError("the seed tolerance is a fraction of the intensity range, in (0, 1]")
    step = max(1, round((data.size / 2_000_000) ** (1 / 3)))  # a sample is enough
    sample = np.asarray(data[::step, ::step, ::step], dtype=np.float64)
    p1, p99 = (float(v) for v in np.percentile(sample, [1, 99]))
    half = tolerance * max(p99 - p1, 0.0)
    value = float(data[seed])
    return round(value - half, 3), round(value + half, 3)


def region_grow(
    data: npt.NDArray[Any],
    seed: tuple[int, int, int],
    low: float,
    high: float,
    *,
    max_voxels: int = 5_000_000,
) -> npt.NDArray[np.bool_]:
    """The 6-connected region of voxels with values in ``[low, high]`` containing ``seed``.

    Empty when the seed's own value is outside the range. Regions are bounded by
    ``max_voxels`` only in what they cost: the labelling is done once by
    :func:`scipy.ndimage.label`.
    """
    from scipy import ndimage

    inside = (data >= low) & (data <= high)
    if not inside[seed]:
        return np.zeros(data.shape, dtype=bool)
    labels, _ = ndimage.label(inside)
    region = np.asarray(labels == labels[seed])
    if int(region.sum()) > max_voxels:
        raise ValueError(f"the region holds more than {max_voxels} voxels; narrow the value range")
    return region


def region_stats(
    data: npt.NDArray[Any], spacing: Sequence[float], region: npt.NDArray[np.bool_]
) -> RoiStats:
    """Statistics of a 3-D region; ``size`` is its volume in mL."""
    voxel_ml = float(np.prod(np.asarray(spacing, dtype=np.float64))) / 1000.0
    return _stats(data[region], float(region.sum()) * voxel_ml)


def abc_over_2(a_mm: float, b_mm: float, c_mm: float) -> float:
    """ABC/2 hematoma volume in mL from three perpendicular diameters in mm.

    A is the largest diameter on the slice with the largest hemorrhage area, B the
    largest diameter perpendicular to A on that slice, C the craniocaudal extent
    (Kothari et al., Stroke 1996). The ellipsoid approximation over-estimates irregular
    hematomas; it is a bedside estimate, not a measurement of the voxels.

    Raises
    ------
    ValueError
        If a diameter is negative or not finite.
    """
    dims = np.asarray([a_mm, b_mm, c_mm], dtype=np.float64)
    if not np.all(np.isfinite(dims)) or np.any(dims < 0):
        raise ValueError("diameters must be finite and not negative (mm)")
    return float(np.prod(dims / 10.0) / 2.0)
