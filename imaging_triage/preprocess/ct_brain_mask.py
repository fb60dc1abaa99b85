"""CT brain mask: the intracranial region in 3-D, posterior fossa included.

The method, in Hounsfield units, all in 3-D (nothing is decided slice by slice, so the
skull base, a tilted slab edge, a burr hole or a craniectomy do not lose whole slices):

1. **enclosed by bone**: bone is ``HU >= bone_hu``; a voxel is enclosed when a ray
   along at least ``min_enclosing_rays`` of the six axis directions meets bone within
   ``ray_reach_mm``. Scalp, face and neck see air in two or more directions; brain next
   to a burr hole, a craniectomy or the foramen magnum misses bone in one direction only;
2. **candidate**: enclosed voxels of soft tissue and fluid in ``tissue_hu`` (brain, CSF,
   blood; orbital fat and air are outside that range);
3. **core**: candidate voxels deeper than ``core_depth_mm`` inside the candidate (a
   Euclidean distance, so thin bridges through the optic canals, the skull-base foramina
   or a burr hole are cut), largest connected component;
4. **grow back**: the core grows by geodesic dilation inside the candidate for
   ``core_depth_mm + grow_margin_mm``, so it never crosses bone and never spreads far
   along an opening;
5. holes are filled in 3-D (ventricles, calcifications, a dense haematoma) and, last,
   every voxel above ``max_hu`` is removed, so the mask never holds bone or calcium.

The mask is an aid for review and normalisation, not a segmentation for diagnosis;
:mod:`.qc` judges its volume and shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from imaging_triage.errors import ConfigError
from imaging_triage.preprocess import morphology
from imaging_triage.preprocess.base import Sample, mm_to_voxels


def enclosing_rays(
    wall: npt.NDArray[np.bool_], reach_mm: float, spacing: tuple[float, ...]
) -> npt.NDArray[np.uint8]:
    """Count, per voxel, the axis directions (0-6) in which ``wall`` lies within ``reach_mm``.

    A voxel of the wall counts 6. Each direction is a distance along one array axis, so
    the cost is six 1-D passes over the volume.
    """
    count = np.zeros(wall.shape, dtype=np.uint8)
    for axis in range(3):
        steps = max(1, round(reach_mm / spacing[axis]))
        for flip in (False, True):
            w = np.flip(wall, axis) if flip else wall
            # index of the last wall voxel at or before each position along the axis
            n = w.shape[axis]
            pos = np.arange(n, dtype=np.int32).reshape([-1 if a == axis else 1 for a in range(3)])
            last = np.where(w, pos, np.int32(-(10**6)))
            last = np.maximum.accumulate(last, axis=axis)
            seen = (pos - last) <= steps
            count += np.flip(seen, axis) if flip else seen
    return count


def _box(mask: npt.NDArray[np.bool_], margin: list[int]) -> tuple[slice, ...]:
    """Index ranges of the bounding box of ``mask`` widened by ``margin`` voxels per axis."""
    box = []
    for axis, pad in enumerate(margin):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        present = np.nonzero(mask.any(axis=other))[0]
        start = max(0, int(present[0]) - pad)
        box.append(slice(start, min(mask.shape[axis], int(present[-1]) + 1 + pad)))
    return tuple(box)


@dataclass(frozen=True)
class CTBrainMask:
    """Brain (intracranial) mask of a head CT in Hounsfield units (see the module docstring).

    Raises
    ------
    ConfigError
        If ``tissue_hu`` is not ``[low, high]``, ``max_hu >= bone_hu`` or a distance or
        ray count is out of range.
    """

    name: ClassVar[str] = "brain_mask"

    bone_hu: float = 200.0
    tissue_hu: tuple[float, float] = (-15.0, 120.0)
    ray_reach_mm: float = 300.0
    min_enclosing_rays: int = 4
    core_depth_mm: float = 6.0
    grow_margin_mm: float = 3.0
    rim_mm: float = 2.0
    max_hu: float = 150.0

    def __post_init__(self) -> None:
        if len(self.tissue_hu) != 2 or self.tissue_hu[0] >= self.tissue_hu[1]:
            raise ConfigError(f"brain_mask: tissue_hu must be [low, high], got {self.tissue_hu}")
        if self.max_hu >= self.bone_hu:
            raise ConfigError(
                f"brain_mask: max_hu ({self.max_hu}) must be below bone_hu ({self.bone_hu})"
            )
        if not 1 <= self.min_enclosing_rays <= 6:
            raise ConfigError(
                f"brain_mask: min_enclosing_rays must be 1-6, got {self.min_enclosing_rays}"
            )
        if self.core_depth_mm <= 0 or self.grow_margin_mm < 0 or self.ray_reach_mm <= 0:
            raise ConfigError(
                "brain_mask: core_depth_mm and ray_reach_mm must be positive and "
                "grow_margin_mm at least 0"
            )

    def mask(
        self, hu: npt.NDArray[np.floating], spacing: tuple[float, ...]
    ) -> npt.NDArray[np.bool_]:
        """The intracranial mask of an image in HU on a grid of ``spacing`` (mm)."""
        hu = np.asarray(hu)
        bone = hu >= self.bone_hu
        enclosed = enclosing_rays(bone, self.ray_reach_mm, spacing) >= self.min_enclosing_rays
        candidate = enclosed & ~bone & (hu >= self.tissue_hu[0]) & (hu <= self.tissue_hu[1])
        if not candidate.any():
            return np.zeros(hu.shape, dtype=bool)
        depth = morphology.distance_inside(candidate, spacing)
        core = morphology.largest_component(depth > self.core_depth_mm)
        if not core.any():
            return np.zeros(hu.shape, dtype=bool)
        # everything below stays within the growth distances of the core: work on its
        # bounding box (plus those distances), which gives the same mask at a third of the cost
        reach = self.core_depth_mm + self.grow_margin_mm + self.rim_mm
        box = _box(core, [r + 2 for r in mm_to_voxels(reach, spacing)])
        hu_b, candidate_b, enclosed_b = hu[box], candidate[box], enclosed[box]
        grown = morphology.geodesic_dilate(
            core[box], candidate_b, self.core_depth_mm + self.grow_margin_mm, spacing
        )
        filled = np.asarray(ndimage.binary_fill_holes(grown), dtype=bool)
        # the partial-volume rim against the inner table, up to max_hu, belongs inside
        rim = enclosed_b & (hu_b >= self.tissue_hu[0]) & (hu_b <= self.max_hu)
        filled = morphology.geodesic_dilate(filled, rim, self.rim_mm, spacing)
        out = np.zeros(hu.shape, dtype=bool)
        out[box] = filled & (hu_b <= self.max_hu)
        return out

    def __call__(self, sample: Sample) -> Sample:
        """Apply the step."""
        spacing = sample.image.spacing
        mask = self.mask(np.asarray(sample.image.data), spacing)
        out = sample.replace(mask=mask)
        volume_ml = float(mask.sum()) * float(np.prod(spacing)) / 1000.0
        out.notes.append(f"brain mask {volume_ml:.0f} ml")
        return out
