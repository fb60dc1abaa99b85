"""MR brain mask: the ICBM152 template registered to the head, refined by intensity.

Works on whole-head T1, T2 and FLAIR, neck included, with no learned model:

1. **field of view**: only the top ``fov_mm`` of the head (from the vertex down) is used
   for the registration, so the neck and shoulders do not pull the fit;
2. **registration**: the skull-stripped ICBM152 2009 template (:mod:`.template`) is
   registered to the head at ``working_mm`` resolution (similarity, then affine;
   mutual information, so any contrast; :mod:`.registration`), and its intracranial
   region and brain-tissue prior are carried onto the image grid;
3. **refinement by intensity**: the brain's own intensity range is measured where the
   prior is confidently brain (``brain_prior`` and deeper than ``band_mm``); near the
   template's boundary (``band_mm`` inside and outside it) a voxel is brain when its
   intensity is in that range and it is connected to the interior, so the mask follows
   this brain's surface rather than the template's; dark or bright extra-cerebral
   tissue (CSF, bone, fat, marrow) stops it, and an opening of ``opening_mm`` cuts the
   thin partial-volume bridges across a thin CSF layer and skull;
4. a closing of ``closing_mm`` takes in the sulcal CSF and holes are filled in 3-D
   (ventricles).

Tested against an independent reference (BET as reimplemented by ``brainextractor``)
on a real whole-head T1; see the README for the comparison of methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from imaging_triage.errors import ConfigError
from imaging_triage.preprocess import morphology
from imaging_triage.preprocess.base import Sample
from imaging_triage.volume import Volume, from_sitk, to_sitk


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


def superior_axis(affine: npt.NDArray[np.float64]) -> tuple[int, int]:
    """The array axis closest to superior, and +1 if the index grows upward else -1."""
    direction = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    axis = int(np.argmax(np.abs(direction[2])))
    return axis, 1 if direction[2, axis] > 0 else -1


def head_fov(
    data: npt.NDArray[Any], affine: npt.NDArray[np.float64], fov_mm: float
) -> tuple[slice, slice, slice]:
    """Index ranges of the top ``fov_mm`` of the head (vertex down), all of the other axes.

    The vertex is the highest plane holding a sizeable patch of head (Otsu foreground).
    """
    axis, sign = superior_axis(affine)
    spacing = float(np.linalg.norm(affine[:3, axis]))
    sub = data[:: max(1, data.shape[0] // 64), :: max(1, data.shape[1] // 64)]
    fg = data > otsu_threshold(sub.ravel())
    other = tuple(a for a in range(3) if a != axis)
    area = fg.sum(axis=other) * float(np.prod([np.linalg.norm(affine[:3, a]) for a in other]))
    rows = np.nonzero(area > 400.0)[0]  # 4 cm^2 of head
    full = [slice(None)] * 3
    if rows.size == 0:
        return (full[0], full[1], full[2])
    n = data.shape[axis]
    keep = max(1, round(fov_mm / spacing))
    if sign > 0:
        top = int(rows.max())
        full[axis] = slice(max(0, top - keep), n)
    else:
        top = int(rows.min())
        full[axis] = slice(0, min(n, top + keep))
    return (full[0], full[1], full[2])


@dataclass(frozen=True)
class MRBrainMask:
    """Brain mask of a head MR (see the module docstring).

    Raises
    ------
    ConfigError
        If a distance is not positive or ``brain_prior`` is not between 0 and 1.
    """

    name: ClassVar[str] = "brain_mask"

    fov_mm: float = 200.0
    working_mm: float = 2.0
    brain_prior: float = 0.9
    band_mm: float = 5.0
    intensity_percentiles: tuple[float, float] = (5.0, 99.5)
    min_fraction_of_median: float = 0.4
    opening_mm: float = 2.0
    closing_mm: float = 3.0
    skull_scalp_mm: float = 12.0
    head_edge_mm: float = 2.0
    iterations: int = 100
    sampling: float = 0.1

    def __post_init__(self) -> None:
        if min(self.fov_mm, self.working_mm, self.band_mm, self.closing_mm) <= 0:
            raise ConfigError("brain_mask: fov_mm, working_mm, band_mm and closing_mm must be > 0")
        if not 0 < self.brain_prior < 1:
            raise ConfigError(f"brain_mask: brain_prior must be in (0, 1), got {self.brain_prior}")
        lo, hi = self.intensity_percentiles
        if not 0 <= lo < hi <= 100:
            raise ConfigError(
                f"brain_mask: intensity_percentiles must be 0 <= low < high <= 100, got {lo}, {hi}"
            )

    def priors(self, image: Volume) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Template intracranial region and brain prior (0-1) on the image grid."""
        import SimpleITK as sitk

        from imaging_triage.preprocess.registration import head_similarity, register_affine
        from imaging_triage.preprocess.template import load_template

        tpl = load_template(self.working_mm)
        data = np.asarray(image.data, dtype=np.float32)
        fov = head_fov(data, image.affine, self.fov_mm)
        start = np.array([s.start or 0 for s in fov] + [1.0])
        crop_affine = image.affine.copy()
        crop_affine[:3, 3] = (image.affine @ start)[:3]
        crop = to_sitk(Volume(np.ascontiguousarray(data[fov]), crop_affine))
        factors = [max(1, round(self.working_mm / s)) for s in crop.GetSpacing()]
        moving = sitk.Shrink(sitk.SmoothingRecursiveGaussian(crop, self.working_mm / 2.0), factors)
        fixed_mask = sitk.Cast(sitk.BinaryDilate(tpl.intracranial > 0.5, [3, 3, 3]), sitk.sitkUInt8)
        # start from the shape of the cranium: template brain plus a typical skull and
        # scalp, against the head's foreground
        margin = max(1, round(self.skull_scalp_mm / self.working_mm))
        tpl_head = sitk.BinaryDilate(tpl.intracranial > 0.5, [margin] * 3, sitk.sitkBall)
        head = sitk.BinaryFillhole(sitk.OtsuThreshold(moving, 0, 1, 128))
        initial = head_similarity(tpl_head, head)
        edge = max(1, round(self.head_edge_mm / self.working_mm))
        inside = sitk.Cast(sitk.BinaryErode(head, [edge] * 3, sitk.sitkBall), sitk.sitkUInt8)
        transform = register_affine(
            tpl.t1,
            moving,
            fixed_mask,
            initial,
            moving_mask=inside,
            iterations=self.iterations,
            sampling=self.sampling,
        )
        inverse = transform.GetInverse()
        grid = to_sitk(Volume(np.zeros(data.shape, np.float32), image.affine))
        icv = sitk.Resample(tpl.intracranial, grid, inverse, sitk.sitkLinear, 0.0)
        brain = sitk.Resample(tpl.brain, grid, inverse, sitk.sitkLinear, 0.0)
        return (
            from_sitk(icv).data.astype(np.float32),
            from_sitk(brain).data.astype(np.float32),
        )

    def refine(
        self,
        data: npt.NDArray[Any],
        spacing: tuple[float, ...],
        icv: npt.NDArray[np.float32],
        brain: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.bool_]:
        """The brain mask from the registered priors and the image intensities."""
        initial = icv > 0.5
        if not initial.any():
            return initial
        depth_in = morphology.distance_inside(initial, spacing)
        interior = depth_in > self.band_mm
        confident = interior & (brain >= self.brain_prior)
        if confident.sum() < 100:
            confident = interior
        values = np.asarray(data)[confident]
        lo, hi = np.percentile(values, self.intensity_percentiles)
        # CSF (ventricles, sulci) may fill more than the low percentile of the confident
        # region when this brain's anatomy differs from the template's: keep lo above it
        lo = max(float(lo), self.min_fraction_of_median * float(np.median(values)))
        tissue = data >= lo
        if self.intensity_percentiles[1] < 100:
            tissue &= data <= hi
        depth_out = morphology.distance_inside(~initial, spacing)
        band = (initial & (depth_in <= self.band_mm)) | (~initial & (depth_out <= self.band_mm))
        core = morphology.largest_component(interior)
        candidate = (band | core) & tissue
        if self.opening_mm > 0:
            # an opening cuts thin bridges of tissue-like voxels (partial volume through a
            # thin CSF layer and skull, vessels) before connectivity to the core is taken
            deep = morphology.distance_inside(candidate, spacing) > self.opening_mm
            near_deep = morphology.distance_inside(~deep, spacing)
            candidate &= near_deep <= self.opening_mm
        candidate |= core
        labels, _ = ndimage.label(candidate)
        keep = np.unique(labels[core])
        mask = np.isin(labels, keep[keep > 0])
        mask = morphology.close(mask, self.closing_mm, spacing)
        return np.asarray(ndimage.binary_fill_holes(mask), dtype=bool)

    def __call__(self, sample: Sample) -> Sample:
        """Apply the step."""
        icv, brain = self.priors(sample.image)
        mask = self.refine(
            np.asarray(sample.image.data, dtype=np.float32), sample.image.spacing, icv, brain
        )
        out = sample.replace(mask=mask)
        volume_ml = float(mask.sum()) * float(np.prod(sample.image.spacing)) / 1000.0
        out.notes.append(f"brain mask {volume_ml:.0f} ml (template registration)")
        return out
