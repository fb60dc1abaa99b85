"""MR brain mask by thresholding and morphology (no atlas, no learned model).

1. Otsu threshold of the (bias-corrected) image: head tissue versus air and bone;
2. an erosion of ``erosion_mm`` cuts the thin bridges between brain and scalp, the
   largest component is kept and dilated back (within the thresholded voxels);
3. holes (ventricles, dark CSF) are filled, slice by slice and in 3-D.

On T1- and T2-weighted head MR this gives the intracranial region plus, where the gap is
thinner than the erosion, some extracranial tissue: a coarse mask for normalisation and
review, not a skull stripping for volumetry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import ndimage

from imaging_triage.preprocess import morphology
from imaging_triage.preprocess.base import Sample


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a 1-D sample of values."""
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = hist.astype(np.float64)
    w0 = np.cumsum(weight)
    w1 = w0[-1] - w0
    m0 = np.cumsum(weight * centres)
    mean0 = np.divide(m0, w0, out=np.zeros_like(m0), where=w0 > 0)
    mean1 = np.divide(m0[-1] - m0, w1, out=np.zeros_like(m0), where=w1 > 0)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(centres[int(np.argmax(between))])


@dataclass(frozen=True)
class MRBrainMask:
    """Brain mask of a head MR (see the module docstring)."""

    name: ClassVar[str] = "brain_mask"

    erosion_mm: float = 6.0
    threshold_scale: float = 1.0

    def __call__(self, sample: Sample) -> Sample:
        """Apply the step."""
        data = np.asarray(sample.image.data, dtype=np.float32)
        spacing = sample.image.spacing
        finite = data[np.isfinite(data)]
        if finite.size == 0:
            return sample.replace(mask=np.zeros(data.shape, dtype=bool))
        sub = finite[:: max(1, finite.size // 2_000_000)]
        threshold = otsu_threshold(sub) * self.threshold_scale
        mask = data > threshold
        core = morphology.largest_component(morphology.erode(mask, self.erosion_mm, spacing))
        if core.any():
            mask = morphology.dilate(core, self.erosion_mm, spacing) & mask
        mask = morphology.fill_holes_per_slice(mask)
        mask = np.asarray(ndimage.binary_fill_holes(mask), dtype=bool)
        out = sample.replace(mask=mask)
        out.notes.append(f"brain mask {mask.sum() * float(np.prod(spacing)) / 1000:.0f} ml")
        return out
