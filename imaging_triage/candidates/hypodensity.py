"""CT hypodensity asymmetry: parenchyma darker than its mirror image across the midline.

A suspected acute infarct lowers the density of grey and white matter by a few HU over a
territory. The check compares the parenchyma with itself reflected across the skull's
symmetry plane (:func:`.anatomy.mirror`):

1. both the voxel and its mirror must be parenchyma (``parenchyma_hu`` after a
   ``smoothing_mm`` Gaussian), at least ``table_margin_mm`` inside the intracranial region
   (partial volume of the skull) and ``ventricle_margin_mm`` from the ventricles (CSF),
   and neither near a dense voxel (above ``dense_hu``, after the smoothing or, with
   ``dense_unsmoothed``, in the working grid's block means before it: blood a few
   millimetres thick in a fissure is diluted under ``dense_hu`` by the smoothing) nor near
   the mirror of one: blood on one side would make the other side look darker;
2. the difference ``voxel - mirror`` is averaged over a neighbourhood of ``region_mm``
   (normalised convolution over the parenchyma only);
3. voxels where that regional difference is ``delta_hu`` or more below zero form regions;
   regions of at least ``min_volume_ml`` are candidates, with their mean difference.

Steps 1-3 work on a grid of about ``working_mm`` (block means of the image: a 1 mm volume
is read at 2 mm), eight times fewer voxels for a measurement made at the scale of
millilitres; the regions are brought back to the image grid for their volume and label.

Only the darker side is reported, so a lesion is never flagged twice. A normal head is
never perfectly symmetric (and a head turned in the scanner less so): the benchmark gives
the figures on real heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from imaging_triage.candidates.anatomy import (
    Head,
    MidlinePlane,
    key_slice,
    mirror,
    region_side,
    voxels,
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
    working_mm: float = 2.0
    dense_unsmoothed: bool = True


def _factors(spacing: tuple[float, ...], working_mm: float) -> tuple[int, int, int]:
    """Whole block sizes per axis bringing ``spacing`` closest to ``working_mm``."""
    f = [max(1, round(working_mm / s)) for s in spacing]
    return (f[0], f[1], f[2])


def _blocks(array: npt.NDArray[Any], f: tuple[int, int, int]) -> npt.NDArray[np.float32]:
    """Block means of ``array`` (its shape a multiple of ``f``), in float32.

    The sums run over strided views of the array, in the order of numpy's
    ``reshape(...).mean(axis=(1, 3, 5))`` (for each block offset along the first two axes,
    the sum along the third, then their running sum): the same values, several times
    faster, with no float copy of the whole array.
    """
    fi, fj, fk = f
    out = (array.shape[0] // fi, array.shape[1] // fj, array.shape[2] // fk)
    total = np.zeros(out, dtype=np.float32)
    for a in range(fi):
        for b in range(fj):
            line = np.array(array[a::fi, b::fj, 0::fk], dtype=np.float32)
            for c in range(1, fk):
                line += array[a::fi, b::fj, c::fk]
            total += line
    total /= np.float32(fi * fj * fk)
    return total


def _coarse_plane(plane: MidlinePlane, f: tuple[int, int, int]) -> MidlinePlane:
    """``plane`` in block indices (block ``n`` along an axis centred on fine ``f n + (f-1)/2``)."""
    fi, fj, fk = f
    a = (plane.a + plane.b * (fj - 1) / 2 + plane.c * (fk - 1) / 2 - (fi - 1) / 2) / fi
    return MidlinePlane(a, plane.b * fj / fi, plane.c * fk / fi, plane.residual_mm, plane.rows)


def _darker(
    values: npt.NDArray[np.float32],
    mask: npt.NDArray[np.bool_],
    vent: npt.NDArray[np.bool_],
    plane: MidlinePlane,
    sp: tuple[float, ...],
    cfg: HypodensityConfig,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
    """Steps 1-3 of the module docstring on one grid: the darker voxels and the voxelwise
    difference from the mirror."""
    sigma = [cfg.smoothing_mm / s for s in sp]
    smooth = np.asarray(ndimage.gaussian_filter(values, sigma), dtype=np.float32)
    mirrored = mirror(smooth, plane, fill=np.nan)
    low, high = cfg.parenchyma_hu
    tissue = (smooth >= low) & (smooth <= high)
    both = tissue & (mirrored >= low) & (mirrored <= high)
    both &= morphology.erode(mask, cfg.table_margin_mm, sp)
    # a dense lesion (blood) on one side makes the other look darker: keep its
    # neighbourhood and the mirror of it out
    seeds = smooth > cfg.dense_hu
    if cfg.dense_unsmoothed:
        seeds |= values > cfg.dense_hu
    dense = morphology.dilate(seeds, cfg.region_mm + cfg.smoothing_mm, sp)
    dense_mirror = mirror(dense.astype(np.float32), plane, fill=0.0) > 0.5
    both &= ~dense & ~dense_mirror
    if vent.any():
        both &= ~morphology.dilate(vent, cfg.ventricle_margin_mm, sp)
    weight = both.astype(np.float32)
    diff = np.where(both, smooth - mirrored, 0.0).astype(np.float32)
    sigma_r = [cfg.region_mm / s for s in sp]
    num = ndimage.gaussian_filter(diff, sigma_r)
    den = ndimage.gaussian_filter(weight, sigma_r)
    with np.errstate(invalid="ignore", divide="ignore"):
        regional = np.where(den > 0.2, num / np.maximum(den, 1e-6), 0.0)
    return np.asarray(both & (regional <= -cfg.delta_hu), dtype=bool), diff


def _box_of_blocks(
    box: tuple[slice, slice, slice], f: tuple[int, int, int], shape: tuple[int, ...]
) -> tuple[slice, slice, slice]:
    """``box`` grown at its end, within the grid, towards a whole number of blocks."""
    out = [
        slice(b.start, min(n, b.start + -(-(b.stop - b.start) // k) * k))
        for b, k, n in zip(box, f, shape, strict=True)
    ]
    return (out[0], out[1], out[2])


def _upsample(array: npt.NDArray[Any], f: tuple[int, int, int]) -> npt.NDArray[Any]:
    """Each block value repeated over its ``f`` voxels."""
    for axis, k in enumerate(f):
        if k > 1:
            array = np.repeat(array, k, axis=axis)
    return array


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
    if not head.ct:
        out = np.zeros(head.mask.shape, dtype=np.int32)
        return not_applicable(Check.HYPODENSITY_ASYMMETRY, "a CT density check"), out
    return asymmetry(head, head.values, ventricles, cfg, Check.HYPODENSITY_ASYMMETRY)


def asymmetry(
    head: Head,
    values: npt.NDArray[np.float32],
    ventricles: npt.NDArray[np.bool_],
    cfg: HypodensityConfig,
    check: Check,
) -> tuple[CheckResult, npt.NDArray[np.int32]]:
    """Regions where ``values`` are lower than their mirror (steps 1-3 of the module
    docstring), reported as ``check`` with the image values of ``head``.

    :func:`hypodensity_asymmetry` passes the CT values; a check of brighter regions
    passes them negated (its ``delta_hu`` is then the negated difference).
    """
    out = np.zeros(head.mask.shape, dtype=np.int32)
    if head.plane is None:
        return not_measured(check, "no midline plane to mirror"), out
    sp = head.spacing
    f = _factors(sp, cfg.working_mm)
    box = _box_of_blocks(head.box(2.0), f, head.mask.shape)
    origin = np.array([s.start for s in box])
    shape = tuple(s.stop - s.start for s in box)
    pad = [(0, -n % k) for n, k in zip(shape, f, strict=True)]
    padded = np.pad(values[box], pad, mode="edge")
    mask = np.pad(head.mask[box], pad)
    vent = np.pad(ventricles[box], pad)
    darker_c, diff_c = _darker(
        _blocks(padded, f),
        _blocks(mask, f) > 0.5,
        _blocks(vent, f) > 0,
        _coarse_plane(head.plane.moved(origin), f),
        tuple(s * k for s, k in zip(sp, f, strict=True)),
        cfg,
    )
    result = CheckResult(check, CheckStatus.MEASURED)
    # back on the image grid: the voxels of the blocks around the darker ones only
    blocks = morphology.bounding_slices(darker_c) or (slice(0, 0),) * 3
    near = [
        slice(b.start + s.start * k, min(b.stop, b.start + s.stop * k))
        for b, s, k in zip(box, blocks, f, strict=True)
    ]
    box = (near[0], near[1], near[2])
    origin = np.array([s.start for s in box])
    crop = tuple(slice(0, s.stop - s.start) for s in box)
    darker = _upsample(darker_c[blocks], f)[crop] & head.mask[box]
    diff = _upsample(diff_c[blocks], f)[crop]
    labels, n = ndimage.label(darker)
    found: list[tuple[float, Region, tuple[slice, ...], int]] = []
    for value, piece in enumerate(ndimage.find_objects(labels) if n else [], start=1):
        if piece is None:
            continue
        region = np.asarray(labels[piece] == value)
        volume = float(region.sum()) * head.voxel_ml
        if volume < cfg.min_volume_ml:
            continue
        ijk = voxels(region) + origin + np.array([s.start for s in piece])
        centroid = head.world(ijk.mean(axis=0))
        raw = head.values[box][piece][region]
        found.append(
            (
                volume,
                Region(
                    label=0,
                    check=check,
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
