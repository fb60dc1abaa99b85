"""CT brain mask: the intracranial cavity enclosed by bone, posterior fossa included.

The method, in Hounsfield units:

1. bone is ``HU >= bone_hu``; small gaps in the skull ring (sutures, thin bone at the
   skull base, partial volume) are closed in-plane with a disk of ``bone_closing_mm``;
2. the intracranial cavity is what the bone ring encloses in each axial slice (holes
   filled slice by slice, so the foramen magnum and other openings in 3-D do not matter
   and the posterior fossa, enclosed by the occipital and petrous bones, is kept);
3. within the cavity, soft tissue and fluid ``tissue_hu`` (brain, CSF, blood) is kept;
4. an opening of ``opening_mm`` cuts thin bridges (optic canals, skull-base foramina),
   the largest connected component is the brain;
5. holes are filled slice by slice (ventricles, haematoma) and, last, any voxel above
   ``max_hu`` is removed, so the mask never contains bone or calcification.

The mask is an aid for review and normalisation, not a segmentation for diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from imaging_triage.errors import ConfigError
from imaging_triage.preprocess import morphology
from imaging_triage.preprocess.base import Sample


@dataclass(frozen=True)
class CTBrainMask:
    """Brain mask of a head CT in Hounsfield units (see the module docstring)."""

    name: ClassVar[str] = "brain_mask"

    bone_hu: float = 200.0
    bone_closing_mm: float = 3.0
    tissue_hu: tuple[float, float] = (-15.0, 120.0)
    opening_mm: float = 2.0
    max_hu: float = 150.0

    def __post_init__(self) -> None:
        if len(self.tissue_hu) != 2 or self.tissue_hu[0] >= self.tissue_hu[1]:
            raise ConfigError(f"brain_mask: tissue_hu must be [low, high], got {self.tissue_hu}")
        if self.max_hu >= self.bone_hu:
            raise ConfigError(
                f"brain_mask: max_hu ({self.max_hu}) must be below bone_hu ({self.bone_hu})"
            )

    def __call__(self, sample: Sample) -> Sample:
        """Apply the step."""
        hu = np.asarray(sample.image.data)
        spacing = sample.image.spacing
        bone = hu >= self.bone_hu
        bone = morphology.close(bone, self.bone_closing_mm, spacing, in_plane=True)
        cavity = morphology.fill_holes_per_slice(bone) & ~bone
        tissue = (hu >= self.tissue_hu[0]) & (hu <= self.tissue_hu[1])
        mask = morphology.open_(cavity & tissue, self.opening_mm, spacing)
        mask = morphology.largest_component(mask)
        mask = morphology.fill_holes_per_slice(mask) & (hu <= self.max_hu)
        out = sample.replace(mask=mask)
        voxel_ml = float(np.prod(spacing)) / 1000.0
        volume_ml = float(mask.sum()) * voxel_ml
        out.notes.append(f"brain mask {volume_ml:.0f} ml")
        if volume_ml < 200:
            out.notes.append(
                "brain mask under 200 ml: check the field of view and that data are in HU"
            )
        return out
