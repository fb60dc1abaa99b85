"""CT acute hyperdensity: voxels in the acute-blood range, after suppressing what mimics blood.

The rules, all in Hounsfield units on the intracranial mask, each one visible in the result:

1. **range**: after a Gaussian smoothing of ``smoothing_mm`` (noise), voxels of the
   (hole-filled) intracranial region in ``acute_hu`` (about 50-90 HU: acute blood; grey
   matter is 37-45, white matter 20-30);
2. **bone and partial volume**: a region must hold a *seed*, a voxel at least
   ``bone_margin_mm`` from bone (``>= bone_hu``). The margin is ``skull_base_margin_mm``
   in the lowest ``skull_base_mm`` of the intracranial region (beam hardening next to the
   petrous bones and the clivus, the Hounsfield bar between them; on a scan that starts
   above the skull base, simply its lowest slices) and in the highest ``vertex_mm`` (the
   inner table of the vertex runs nearly in the slice plane). Along the slice direction
   every margin grows by half the acquired slice thickness: a thick slice averages bone
   into the brain over its whole thickness. From its seeds a region grows back towards
   the bone by about twice ``bone_margin_mm`` at most (geodesically, inside the range), so
   a subdural against the inner table keeps most of its thickness while the
   partial-volume shell of the skull never joins it;
3. **calcification**: voxels within ``calcification_margin_mm`` of a voxel at or above
   ``calcification_hu`` (about 100 HU: calcium, never acute blood) are left out, which
   removes the partial-volume halo of a calcified pineal gland, choroid plexus, falx or
   basal ganglia; a small region (``<= physiological_ml``) that is dense (peak at least
   ``physiological_peak_hu``) and lies on the midline (pineal, falx) or against a ventricle
   (choroid plexus) is suppressed as a possible physiological calcification;
4. **falx**: a region lying entirely within ``falx_mm`` of the midline plane is the dense
   dura of the falx (an interhemispheric subdural that thin is set aside with it);
5. **size**: connected regions (26-connectivity) of at least ``min_volume_ml``;
6. **faint focus** (the left-right comparison of Chan 2007): a voxel just below the acute
   range, at least ``faint_hu`` (above grey matter), counts as in range when it is at least
   ``faint_delta_hu`` denser than its mirror across the midline plane (both smoothed): a
   small clot whose density partial volume with a thick slice has pulled under the range,
   or a resolving one, still stands out from the other hemisphere; rules 2-5 then apply.

Before any of this, the median density of the mask must lie in ``brain_hu``: a phantom
filled with dense inserts, or a mask that missed the brain, is *not measured* (with the
reason) rather than read as blood.

Each region reports volume, mean/max HU (of the unsmoothed image), centroid (RAS mm), side,
key slice and a shape hint (:class:`~.findings.ShapeHint`): *ventricular* when mostly in
the ventricles, *crescent along the convexity* when it lies against the inner table, thin
and extended, *parenchymal* when it is at least 8 mm thick somewhere (a compact clot),
otherwise *sulcal/cisternal* (thin, in sulci, fissures or cisterns).

The design follows the rule-based CAD of Chan (2007): threshold in the blood range,
suppression of bone and calcification by position and density, regions by size, and
(rule 6) the left-right comparison; Chan's top-hat is not used, so every rule stays a
threshold a reader can check on the image and its mirror. A region is a candidate for a
reader, never a hemorrhage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from imaging_triage.candidates.anatomy import (
    Head,
    MidlinePlane,
    depth_mm,
    key_slice,
    mirror_at,
    region_side,
    smoothed_on,
    voxels,
)
from imaging_triage.candidates.findings import (
    Check,
    CheckResult,
    CheckStatus,
    Region,
    ShapeHint,
    Side,
    Suppressed,
    not_applicable,
    not_measured,
)
from imaging_triage.errors import ConfigError
from imaging_triage.preprocess import morphology


@dataclass(frozen=True)
class HyperdensityConfig:
    """Parameters of the acute-hyperdensity check (see the module docstring).

    Raises
    ------
    ConfigError
        If ``acute_hu`` is not ``[low, high]`` below ``calcification_hu``, or a distance or
        volume is negative.
    """

    acute_hu: tuple[float, float] = (50.0, 90.0)
    smoothing_mm: float = 1.0
    bone_hu: float = 200.0
    bone_margin_mm: float = 3.0
    skull_base_mm: float = 35.0
    vertex_mm: float = 25.0
    skull_base_margin_mm: float = 10.0
    calcification_hu: float = 100.0
    calcification_margin_mm: float = 2.0
    physiological_ml: float = 0.3
    physiological_peak_hu: float = 75.0
    falx_mm: float = 3.0
    min_volume_ml: float = 0.1
    brain_hu: tuple[float, float] = (15.0, 50.0)
    faint_hu: float = 45.0
    faint_delta_hu: float = 12.0

    def __post_init__(self) -> None:
        low, high = self.acute_hu
        if not low < high < self.calcification_hu:
            raise ConfigError(
                f"hyperdensity: acute_hu must be [low, high] below calcification_hu "
                f"({self.calcification_hu}), got {list(self.acute_hu)}"
            )
        distances = (self.smoothing_mm, self.bone_margin_mm, self.skull_base_margin_mm)
        if min(*distances, self.calcification_margin_mm, self.min_volume_ml) < 0:
            raise ConfigError("hyperdensity: distances and volumes must be at least 0")


def _smooth_box(inside: npt.NDArray[np.bool_], plane: MidlinePlane | None) -> tuple[slice, ...]:
    """The box of ``inside`` along ``j`` and ``k``, along ``i`` grown to hold the voxels
    :func:`~.anatomy.mirror_at` reads for its voxels (their mirror and the next one)."""
    box = morphology.bounding_slices(inside)
    if box is None:
        return tuple(slice(0, 0) for _ in inside.shape)
    i, j, k = box
    if plane is None:
        return box
    corners = [(jj, kk) for jj in (j.start, j.stop - 1) for kk in (k.start, k.stop - 1)]
    twice = [2.0 * float(plane.i_at(jj, kk)) for jj, kk in corners]
    low = int(np.floor(min(twice))) - (i.stop - 1)
    high = int(np.floor(max(twice))) - i.start + 2
    n = inside.shape[0]
    return (slice(max(0, min(i.start, low)), min(n, max(i.stop, high))), j, k)


def median_within(values: npt.NDArray[np.float32], low: float, high: float) -> bool:
    """Whether ``low <= np.median(values) <= high``, mostly from two counts.

    The median is at least ``low`` when fewer than half the values lie below it (both
    middle values, for an even count); the sort is needed only when the two middle
    values fall on either side of a bound, or when a value is NaN.
    """
    n = values.size
    if n == 0 or bool(np.isnan(values).any()):
        return bool(low <= float(np.median(values)) <= high)
    half = n // 2
    below = int(np.count_nonzero(values < low))
    above = int(np.count_nonzero(values > high))
    if n % 2:  # the middle value: index half of the sorted values
        return below <= half and above <= half
    # the mean of the sorted values half - 1 and half: decided unless they straddle a bound
    if below == half or above == half:
        return bool(low <= float(np.median(values)) <= high)
    return below < half and above < half


def wide_margin_slabs(
    inside: npt.NDArray[np.bool_], base_mm: float, vertex_mm: float, dz: float
) -> list[slice]:
    """The slices (along ``k``) within ``base_mm`` above the lowest or ``vertex_mm`` below
    the highest slice of the intracranial region (the skull base and the vertex)."""
    present = np.flatnonzero(inside.any(axis=(0, 1)))
    if not present.size:
        return []
    low = max(0, int(present[0] + round(base_mm / dz)))
    high = max(0, int(present[-1] - round(vertex_mm / dz)) + 1)
    slabs = [slice(0, low), slice(high, inside.shape[2])]
    return [s for s in slabs if s.stop > s.start]


def near_bone(
    bone: npt.NDArray[np.bool_],
    where: npt.NDArray[np.bool_],
    radii_mm: tuple[float, float, float],
    spacing: tuple[float, ...],
    box: tuple[slice, ...],
) -> npt.NDArray[np.bool_]:
    """The voxels of ``where`` inside ``box`` with bone in the box of half-widths
    ``radii_mm`` around them."""
    radii = tuple(max(0, round(r / s)) for r, s in zip(radii_mm, spacing, strict=True))
    return morphology.box_dilate_at(bone, radii, where, box)


def extent_mm(region: npt.NDArray[np.bool_], spacing: tuple[float, ...]) -> float:
    """Largest extent (mm) of a non-empty boolean region along the three voxel axes."""
    extents = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        present = np.nonzero(region.any(axis=other))[0]
        extents.append(float(present[-1] - present[0] + 1) * spacing[axis])
    return max(extents)


def shape_hint(
    region: npt.NDArray[np.bool_],
    depth_mm: Callable[[], npt.NDArray[np.float64]],
    near_ventricles: npt.NDArray[np.bool_],
    spacing: tuple[float, ...],
) -> ShapeHint:
    """Shape hint of one region (arrays cropped to the region's bounding box).

    ``depth_mm`` gives the distance inside the intracranial region (0 at the inner table)
    over the box; it is called only for a region long enough to be a crescent.
    """
    n = float(region.sum())
    if float(near_ventricles[region].sum()) / n >= 0.5:
        return ShapeHint.VENTRICULAR
    if extent_mm(region, spacing) >= 30.0:
        d = depth_mm()[region]
        if float(np.median(d)) <= 6.0 and float(np.percentile(d, 90)) <= 12.0:
            return ShapeHint.CRESCENT_CONVEXITY
    inner = ndimage.distance_transform_edt(np.pad(region, 1), sampling=spacing)
    if 2.0 * float(inner.max()) >= 8.0:
        return ShapeHint.PARENCHYMAL
    return ShapeHint.SULCAL_CISTERNAL


def _grow(
    seeds: npt.NDArray[np.bool_], within: npt.NDArray[np.bool_], radius_mm: float, step_mm: float
) -> npt.NDArray[np.bool_]:
    """Geodesic growth of ``seeds`` inside ``within`` by ``radius_mm`` (6-connected steps)."""
    steps = max(1, round(radius_mm / step_mm))
    seed_box = morphology.bounding_slices(seeds)
    if seed_box is None:
        return seeds
    # a step moves one voxel along one axis: the growth stays in the seeds' box + steps
    box = tuple(
        slice(max(0, s.start - steps), min(n, s.stop + steps))
        for s, n in zip(seed_box, seeds.shape, strict=True)
    )
    out = np.zeros_like(seeds)
    out[box] = ndimage.binary_dilation(seeds[box], iterations=steps, mask=within[box])
    return out


def hyperdensity(
    head: Head,
    ventricles: npt.NDArray[np.bool_],
    config: HyperdensityConfig | None = None,
) -> tuple[CheckResult, npt.NDArray[np.int32]]:
    """Find acute-hyperdensity candidate regions on a CT head.

    Parameters
    ----------
    head : Head
        The prepared CT head (values in HU, intracranial mask, midline plane).
    ventricles : numpy.ndarray of bool
        Ventricle mask (:func:`.ventricles.ventricle_mask`), for the shape hint and the
        choroid-plexus rule.
    config : HyperdensityConfig, optional
        Thresholds and distances.

    Returns
    -------
    result : CheckResult
        Regions (largest first; ``label`` 0 until :func:`~.run.run_checks` numbers them),
        suppressed regions with their rule, and ``measures``: ``total_ml``, ``regions``,
        ``suppressed_ml``.
    labels : numpy.ndarray of int32
        0 outside, else the region's position in ``result.regions`` plus one.

    Examples
    --------
    >>> result, labels = hyperdensity(head, ventricle_mask(head))     # doctest: +SKIP
    >>> [r.describe() for r in result.regions]                        # doctest: +SKIP
    ['14.6 mL, left, crescent convexity, mean 65 HU']
    """
    cfg = config or HyperdensityConfig()
    out = np.zeros(head.mask.shape, dtype=np.int32)
    if not head.ct:
        return not_applicable(Check.HYPERDENSITY, "acute hyperdensity is a CT check"), out
    result = CheckResult(Check.HYPERDENSITY, CheckStatus.MEASURED)
    result.measures.update(total_ml=0.0, regions=0.0, suppressed_ml=0.0)
    if not head.mask.any():
        return not_measured(Check.HYPERDENSITY, "empty intracranial mask"), out
    content = head.values[head.mask]
    if not median_within(content, *cfg.brain_hu):
        median = float(np.median(content))
        return (
            not_measured(
                Check.HYPERDENSITY,
                f"intracranial content is not brain-like (median {median:.0f} HU, expected "
                f"{cfg.brain_hu[0]:g}-{cfg.brain_hu[1]:g}): densities cannot be read as blood",
            ),
            out,
        )
    sp = head.spacing
    box = head.box(cfg.skull_base_margin_mm + 2.0)
    origin = np.array([s.start for s in box])
    values = head.values[box]
    inside = head.inside[box]
    plane = head.plane.moved(origin) if head.plane is not None else None
    smooth = smoothed_on(values, cfg.smoothing_mm, sp, _smooth_box(inside, plane))
    low, high = cfg.acute_hu
    in_range = inside & (smooth >= low) & (smooth <= high)
    faint = np.zeros_like(in_range)
    if plane is not None and cfg.faint_hu < low:
        faint = inside & (smooth >= cfg.faint_hu) & (smooth < low)
        flat = np.flatnonzero(faint)
        ijk = np.unravel_index(flat, faint.shape)
        mirrored = mirror_at(smooth, plane, ijk)
        faint.flat[flat] = smooth[ijk] - mirrored >= cfg.faint_delta_hu
    # the rules below are read on the voxels that may join a region only
    maybe = in_range | faint
    where = morphology.bounding_slices(maybe)
    if where is None:
        return result, out

    calc = inside & (values >= cfg.calcification_hu)
    radii = morphology.box_radii(cfg.calcification_margin_mm, sp)
    calc_halo = morphology.box_dilate_at(calc, radii, maybe, where)
    in_range &= ~calc_halo

    bone = values >= cfg.bone_hu
    # along the slice direction the partial volume of a thick slice reaches half a slice more
    along = head.slice_thickness_mm / 2.0
    margin = cfg.bone_margin_mm
    bony = near_bone(bone, maybe, (margin, margin, margin + along), sp, where)
    margin = cfg.skull_base_margin_mm
    for slab in wide_margin_slabs(inside, cfg.skull_base_mm, cfg.vertex_mm, sp[2]):
        k = slice(max(slab.start, where[2].start), min(slab.stop, where[2].stop))
        part = (where[0], where[1], k)
        bony |= near_bone(bone, maybe, (margin, margin, margin + along), sp, part)
    seeds = in_range & ~bony
    # the box dilation of bone reaches sqrt(3) * margin at its corners: grow back as far
    grown = _grow(seeds, in_range, cfg.bone_margin_mm * 1.75 + 1.0, min(sp))
    # rule 6: faint voxels join as they are (no growth towards the bone)
    faint &= ~calc_halo & ~bony

    joined = grown | faint
    found_box = morphology.bounding_slices(joined)
    if found_box is None:
        return result, out
    labels, _ = ndimage.label(joined[found_box], structure=np.ones((3, 3, 3), dtype=bool))
    vent = ventricles[box]
    radii = morphology.box_radii(2.0, sp)
    near_vent = morphology.box_dilate_at(vent, radii, joined, found_box) if vent.any() else vent
    found: list[tuple[float, Region, tuple[slice, ...], npt.NDArray[np.bool_]]] = []
    for value, found_piece in enumerate(ndimage.find_objects(labels), start=1):
        if found_piece is None:
            continue
        region = np.asarray(labels[found_piece] == value)
        piece = tuple(
            slice(f.start + p.start, f.start + p.stop)
            for f, p in zip(found_box, found_piece, strict=True)
        )
        acute = region & grown[piece]
        if float(acute.sum()) * head.voxel_ml >= cfg.min_volume_ml:
            region = acute  # an acute region: its faint rim is partial volume, left out
        volume = float(region.sum()) * head.voxel_ml
        if volume < cfg.min_volume_ml:
            continue
        ijk = voxels(region) + origin + np.array([s.start for s in piece])
        centroid = head.world(ijk.mean(axis=0))
        centre = (float(centroid[0]), float(centroid[1]), float(centroid[2]))
        region_values = values[piece][region]
        peak = float(region_values.max())
        offset = np.abs(head.signed_offset_mm(ijk))
        small_dense = volume <= cfg.physiological_ml and (
            peak >= cfg.physiological_peak_hu
            or _near(
                calc, region, piece, morphology.box_radii(cfg.calcification_margin_mm + 1.5, sp)
            )
        )
        reason = ""
        if small_dense and float(np.median(offset)) <= 2.0 * cfg.falx_mm:
            reason = "possible physiological calcification (midline: pineal or falx)"
        elif small_dense and float(near_vent[piece][region].mean()) >= 0.5:
            reason = "possible physiological calcification (choroid plexus)"
        elif float(offset.max()) <= cfg.falx_mm:
            reason = "falx (thin dense dura on the midline)"
        if reason:
            result.suppressed.append(Suppressed(volume, centre, reason))
            continue
        hint = shape_hint(region, partial(_region_depth, inside, piece, sp), near_vent[piece], sp)
        found.append(
            (
                volume,
                Region(
                    label=0,
                    check=Check.HYPERDENSITY,
                    volume_ml=volume,
                    mean_hu=float(region_values.mean()),
                    max_hu=peak,
                    centroid_ras_mm=centre,
                    side=Side(region_side(head, ijk)),
                    key_slice=key_slice(ijk),
                    shape_hint=hint,
                ),
                piece,
                region,
            )
        )
    found.sort(key=lambda item: -item[0])
    sub = out[box]
    for index, (_, region_obj, piece, region) in enumerate(found, start=1):
        result.regions.append(region_obj)
        sub[piece][region] = index
    result.measures.update(
        total_ml=sum(r.volume_ml for r in result.regions),
        regions=float(len(result.regions)),
        suppressed_ml=sum(s.volume_ml for s in result.suppressed),
    )
    return result, out


def _near(
    mask: npt.NDArray[np.bool_],
    region: npt.NDArray[np.bool_],
    piece: tuple[slice, ...],
    radii: tuple[int, ...],
) -> bool:
    """Whether ``mask`` has a voxel in the box of half-widths ``radii`` (voxels) around a
    voxel of ``region`` (the region's voxels over the box ``piece`` of ``mask``'s grid)."""
    outer = tuple(
        slice(max(0, p.start - r), min(n, p.stop + r))
        for p, r, n in zip(piece, radii, mask.shape, strict=True)
    )
    placed = np.zeros(tuple(o.stop - o.start for o in outer), dtype=bool)
    placed[
        tuple(slice(p.start - o.start, p.stop - o.start) for p, o in zip(piece, outer, strict=True))
    ] = region
    return bool((morphology.box_dilate(placed, radii) & mask[outer]).any())


def _region_depth(
    inside: npt.NDArray[np.bool_], piece: tuple[slice, ...], spacing: tuple[float, ...]
) -> npt.NDArray[np.float64]:
    """Depth (mm) inside the intracranial region over the box ``piece``, exact up to 14 mm."""
    cap = 14.0
    grown = []
    for s, n, sp in zip(piece, inside.shape, spacing, strict=True):
        pad = int(np.ceil(cap / sp))
        grown.append(slice(max(0, s.start - pad), min(n, s.stop + pad)))
    depth = depth_mm(inside[tuple(grown)], spacing, cap)
    inner = tuple(
        slice(s.start - g.start, s.stop - g.start) for s, g in zip(piece, grown, strict=True)
    )
    return depth[inner]
