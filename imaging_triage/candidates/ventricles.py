"""Ventricular size: the lateral ventricles and Evans' index.

The **lateral ventricles** are found as deep CSF: connected pieces of CSF density (CT:
``csf_hu`` after a 1 mm smoothing, opened by one voxel so that thin fissures break off)
at least ``min_extent_depth_mm`` inside the intracranial mask that reach
``min_depth_mm`` deep (the sulci, the Sylvian fissures and the convexity are shallower;
both depths in the axial plane, so a scan whose field of view or segment cuts the head
still has its ventricles), hold at least ``min_component_ml`` and are centred within
``max_offset_mm`` of the midline plane.

**Evans' index** is the largest width of the frontal horns (the ventricles in front of
their own centre of mass, on one axial slice, from the lateral wall of one horn to the
lateral wall of the other) divided by the largest inner width of the skull (the
intracranial mask's widest left-right extent). Above 0.3 is the usual mark of
ventriculomegaly; it is a measure for a reader, not a diagnosis of hydrocephalus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from imaging_triage.candidates.anatomy import Head, grown_box, voxels
from imaging_triage.candidates.findings import (
    Check,
    CheckResult,
    CheckStatus,
    not_applicable,
    not_measured,
)
from imaging_triage.preprocess import morphology


@dataclass(frozen=True)
class VentricleConfig:
    """Parameters of the ventricle segmentation and of Evans' index.

    Attributes
    ----------
    csf_hu : tuple of float
        CT density range of CSF after smoothing.
    min_depth_mm : float
        A ventricle reaches at least this far inside the mask (a box erosion: sulci,
        fissures and the convexity are shallower).
    min_extent_depth_mm : float
        A ventricle extends no closer than this to the edge of the mask.
    max_offset_mm : float
        Largest distance of a ventricle piece's centre from the midline plane.
    min_component_ml : float
        Smallest connected piece kept.
    edge_hu : float
        The ventricles grow by one voxel into neighbours up to this density (their
        partial-volume edge, halfway between CSF and white matter).
    evans_flag : float
        Evans' index from which the result carries a reason for the score.
    """

    csf_hu: tuple[float, float] = (-10.0, 15.0)
    min_depth_mm: float = 25.0
    min_extent_depth_mm: float = 10.0
    max_offset_mm: float = 30.0
    min_component_ml: float = 0.3
    edge_hu: float = 20.0
    evans_flag: float = 0.3


def ventricle_mask(head: Head, config: VentricleConfig | None = None) -> npt.NDArray[np.bool_]:
    """The lateral (and third) ventricles of a CT head, as a boolean volume (may be empty)."""
    cfg = config or VentricleConfig()
    out = np.zeros(head.mask.shape, dtype=bool)
    sp = head.spacing
    head_box = head.box(1.0)
    extent = morphology.box_radii(cfg.min_extent_depth_mm, sp, in_plane=True)
    depth = morphology.box_radii(cfg.min_depth_mm, sp, in_plane=True)
    within = np.zeros_like(out)
    within[head_box] = morphology.box_erode(head.mask[head_box], extent)
    found = morphology.bounding_slices(within[head_box])
    if found is None:
        return out
    box = grown_box(
        tuple(
            slice(h.start + f.start, h.start + f.stop) for h, f in zip(head_box, found, strict=True)
        ),
        2.0,
        sp,
        out.shape,
    )
    if all(d >= e for d, e in zip(depth, extent, strict=True)):
        # boxes add up: the deeper erosion is the shallower one eroded by the difference
        rest = tuple(d - e for d, e in zip(depth, extent, strict=True))
        deep = morphology.box_erode(within[box], rest)
    else:
        deep = morphology.box_erode(head.mask, depth)[box]
    sigma = [1.0 / s for s in sp]
    smooth = ndimage.gaussian_filter(head.values[box], sigma)
    csf = within[box] & (smooth >= cfg.csf_hu[0]) & (smooth <= cfg.csf_hu[1])
    csf = morphology.cross_dilate(morphology.cross_erode(csf))  # opening by one voxel
    labels = morphology.components(csf)
    offset = np.array([s.start for s in box])
    for value, piece in enumerate(ndimage.find_objects(labels), start=1):
        if piece is None:
            continue
        region = labels[piece] == value
        if float(region.sum()) * head.voxel_ml < cfg.min_component_ml:
            continue
        if not deep[piece][region].any():
            continue
        centre = voxels(region).mean(axis=0) + offset + [s.start for s in piece]
        if abs(float(head.signed_offset_mm(centre)[0])) > cfg.max_offset_mm:
            continue
        target = tuple(
            slice(b.start + p.start, b.start + p.stop) for b, p in zip(box, piece, strict=True)
        )
        out[target] |= region
    # one voxel back into the partial-volume edge (the opening and the blur took it)
    edge = within[box] & (smooth <= cfg.edge_hu)
    out[box] |= morphology.cross_dilate(out[box]) & edge
    return out


def evans_index(
    head: Head, ventricles: npt.NDArray[np.bool_], config: VentricleConfig | None = None
) -> CheckResult:
    """Evans' index of a CT head from its ventricle mask (see the module docstring).

    Returns
    -------
    CheckResult
        ``measures``: ``evans_index``, ``frontal_horn_width_mm``, ``inner_skull_width_mm``,
        ``frontal_horn_z_mm`` (level of the widest horns), ``ventricle_volume_ml``.
        Not measured when no ventricle is found on both sides of the midline.
    """
    cfg = config or VentricleConfig()
    if not head.ct:
        return not_applicable(Check.VENTRICLES, "Evans' index is measured on CT only")
    if not ventricles.any():
        return not_measured(Check.VENTRICLES, "no lateral ventricles found")
    ijk = voxels(ventricles)
    front = ijk[ijk[:, 1] > ijk[:, 1].mean()]
    offset = head.signed_offset_mm(front)
    best_width, best_k = 0.0, -1
    for k in np.unique(front[:, 2]):
        on = front[:, 2] == k
        right, left = offset[on] > 0, offset[on] < 0
        if right.sum() < 3 or left.sum() < 3:
            continue
        i = front[on, 0]
        width = float(i.max() - i.min() + 1) * head.spacing[0]
        if width > best_width:
            best_width, best_k = width, int(k)
    if best_k < 0:
        return not_measured(
            Check.VENTRICLES, "frontal horns not found on both sides of the midline"
        )
    any_i, first, last = head.edges
    skull = float(np.max(np.where(any_i, last - first + 1, 0))) * head.spacing[0]
    evans = best_width / skull
    z_mm = float(head.world([0.0, 0.0, best_k])[2])
    result = CheckResult(
        Check.VENTRICLES,
        CheckStatus.MEASURED,
        measures={
            "evans_index": evans,
            "frontal_horn_width_mm": best_width,
            "inner_skull_width_mm": skull,
            "frontal_horn_z_mm": z_mm,
            "ventricle_volume_ml": float(ventricles.sum()) * head.voxel_ml,
        },
    )
    if evans > cfg.evans_flag:
        result.reasons.append(f"Evans' index {evans:.2f} above {cfg.evans_flag:.2f}")
    return result
