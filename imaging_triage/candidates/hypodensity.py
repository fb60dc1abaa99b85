"""CT hypodensity asymmetry: parenchyma darker than its mirror image across the midline.

A suspected acute infarct lowers the density of grey and white matter by a few HU over a
territory. The check compares the parenchyma with itself reflected across the skull's
symmetry plane (:func:`.anatomy.mirror`):

1. both the voxel and its mirror must be parenchyma (``parenchyma_hu`` after a
   ``smoothing_mm`` Gaussian), at least ``table_margin_mm`` inside the intracranial region
   (partial volume of the skull) and ``ventricle_margin_mm`` from the ventricles (CSF),
   and neither near a dense voxel (above ``dense_hu``) nor near the mirror of one: blood
   on one side would make the other side look darker;
2. the difference ``voxel - mirror`` is averaged over a neighbourhood of ``region_mm``
   (normalised convolution over the parenchyma only);
3. voxels where that regional difference is ``delta_hu`` or more below zero form regions;
   regions of at least ``min_volume_ml`` are candidates, with their mean difference.

Only the darker side is reported, so a lesion is never flagged twice. A normal head is
never perfectly symmetric (and a head turned in the scanner less so): the benchmark gives
the figures on real heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from imaging_triage.candidates.anatomy import (
    Head,
    bounding_box,
    key_slice,
    mirror,
    region_side,
)
from imaging_triage.candidates.findings import (
    Check,
    CheckResult,
    CheckStatus,
    Region,
    Side,
    not_applicable,
    not_measured,
)
from imaging_triage.preprocess import morphology


@dataclass(frozen=True)
class HypodensityConfig:
    """Parameters of the hypodensity-asymmetry check (see the module docstring)."""

    parenchyma_hu: tuple[float, float] = (15.0, 55.0)
    dense_hu: float = 47.0
    smoothing_mm: float = 2.0
    region_mm: float = 4.0
    table_margin_mm: float = 10.0
    ventricle_margin_mm: float = 3.0
    delta_hu: float = 4.0
    min_volume_ml: float = 5.0


def hypodensity_asymmetry(
    head: Head,
    ventricles: npt.NDArray[np.bool_],
    config: HypodensityConfig | None = None,
) -> tuple[CheckResult, npt.NDArray[np.int32]]:
    """Find parenchyma darker than its mirror region on a CT head.

    Parameters
    ----------
    head : Head
        The prepared CT head (its ``plane`` is the mirror).
    ventricles : numpy.ndarray of bool
        Ventricle mask, kept out with a margin.
    config : HypodensityConfig, optional
        Thresholds and distances.

    Returns
    -------
    result : CheckResult
        Regions (largest first) with ``delta_hu``; ``measures``: ``total_ml``, ``regions``.
    labels : numpy.ndarray of int32
        0 outside, else the region's position in ``result.regions`` plus one.
    """
    cfg = config or HypodensityConfig()
    out = np.zeros(head.mask.shape, dtype=np.int32)
    if not head.ct:
        return not_applicable(Check.HYPODENSITY_ASYMMETRY, "a CT density check"), out
    if head.plane is None:
        return not_measured(Check.HYPODENSITY_ASYMMETRY, "no midline plane to mirror"), out
    sp = head.spacing
    box = bounding_box(head.mask, 2.0, sp)
    origin = np.array([s.start for s in box])
    sigma = [cfg.smoothing_mm / s for s in sp]
    smooth = np.asarray(ndimage.gaussian_filter(head.values[box], sigma), dtype=np.float32)
    mirrored = mirror(smooth, head.plane.moved(origin), fill=np.nan)
    low, high = cfg.parenchyma_hu
    tissue = (smooth >= low) & (smooth <= high)
    both = tissue & (mirrored >= low) & (mirrored <= high)
    both &= morphology.erode(head.mask[box], cfg.table_margin_mm, sp)
    # a dense lesion (blood) on one side makes the other look darker: keep its
    # neighbourhood and the mirror of it out
    dense = morphology.dilate(smooth > cfg.dense_hu, cfg.region_mm + cfg.smoothing_mm, sp)
    dense_mirror = mirror(dense.astype(np.float32), head.plane.moved(origin), fill=0.0) > 0.5
    both &= ~dense & ~dense_mirror
    vent = ventricles[box]
    if vent.any():
        both &= ~morphology.dilate(vent, cfg.ventricle_margin_mm, sp)
    weight = both.astype(np.float32)
    diff = np.where(both, smooth - mirrored, 0.0).astype(np.float32)
    sigma_r = [cfg.region_mm / s for s in sp]
    num = ndimage.gaussian_filter(diff, sigma_r)
    den = ndimage.gaussian_filter(weight, sigma_r)
    with np.errstate(invalid="ignore", divide="ignore"):
        regional = np.where(den > 0.2, num / np.maximum(den, 1e-6), 0.0)
    darker = both & (regional <= -cfg.delta_hu)
    labels, _ = ndimage.label(darker)
    result = CheckResult(Check.HYPODENSITY_ASYMMETRY, CheckStatus.MEASURED)
    found: list[tuple[float, Region, tuple[slice, ...], int]] = []
    for value, piece in enumerate(ndimage.find_objects(labels), start=1):
        if piece is None:
            continue
        region = np.asarray(labels[piece] == value)
        volume = float(region.sum()) * head.voxel_ml
        if volume < cfg.min_volume_ml:
            continue
        ijk = np.argwhere(region) + origin + np.array([s.start for s in piece])
        centroid = head.world(ijk.mean(axis=0))
        raw = head.values[box][piece][region]
        found.append(
            (
                volume,
                Region(
                    label=0,
                    check=Check.HYPODENSITY_ASYMMETRY,
                    volume_ml=volume,
                    mean_hu=float(raw.mean()),
                    max_hu=float(raw.max()),
                    centroid_ras_mm=(float(centroid[0]), float(centroid[1]), float(centroid[2])),
                    side=Side(region_side(head, ijk)),
                    key_slice=key_slice(ijk),
                    delta_hu=float(diff[piece][region].mean()),
                ),
                piece,
                value,
            )
        )
    found.sort(key=lambda item: -item[0])
    sub = out[box]
    for index, (_, region_obj, piece, value) in enumerate(found, start=1):
        result.regions.append(region_obj)
        sub[piece][labels[piece] == value] = index
    result.measures.update(
        total_ml=sum(r.volume_ml for r in result.regions), regions=float(len(result.regions))
    )
    return result, out
