"""What every check needs to know about the head: its grid, the midline plane, bone, ventricles.

The checks work on a volume whose voxel axes are the closest to R, A and S
(:func:`to_ras_grid`, the pipeline's ``reorient`` already does this) with a brain mask on
the same grid: the CT intracranial mask or the MR brain mask of
:mod:`imaging_triage.preprocess`. :class:`Head` bundles the values, the mask, the voxel
size and the skull's symmetry plane (:func:`symmetry_plane`), so that each check measures
against one midline.

The **ideal midline** is the plane halfway between the left and right inner table: for each
antero-posterior row of each axial slice where the intracranial region is wide, the midpoint
of its left and right edges; a plane ``i = a + b j + c k`` is fitted to those midpoints by
least squares after trimming outliers. It follows the skull, not the brain, so a mass that
pushes the brain aside does not move it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from imaging_triage.preprocess.morphology import bounding_slices, distance_inside, fill_holes
from imaging_triage.volume import Volume


@dataclass(frozen=True)
class MidlinePlane:
    """The skull's symmetry plane in voxel indices: ``i = a + b * j + c * k``.

    Attributes
    ----------
    a, b, c : float
        Plane coefficients (``b`` and ``c`` are the tilt of the plane in voxels per voxel).
    residual_mm : float
        Root-mean-square distance (mm) of the inner-table midpoints from the plane: large
        when the head is asymmetric or the mask is cut.
    rows : int
        Number of antero-posterior rows the plane was fitted to.
    """

    a: float
    b: float
    c: float
    residual_mm: float
    rows: int

    def i_at(self, j: npt.ArrayLike, k: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Index ``i`` of the plane at rows ``j`` of slices ``k``."""
        return np.asarray(self.a + self.b * np.asarray(j) + self.c * np.asarray(k), np.float64)

    def moved(self, origin: npt.ArrayLike) -> MidlinePlane:
        """The same plane in the indices of a box whose first voxel is ``origin`` (i, j, k)."""
        o = np.asarray(origin, dtype=np.float64)
        a = self.a - o[0] + self.b * o[1] + self.c * o[2]
        return MidlinePlane(float(a), self.b, self.c, self.residual_mm, self.rows)


@dataclass
class Head:
    """A volume prepared for the checks (RAS-ordered grid, mask, midline plane).

    Attributes
    ----------
    values : numpy.ndarray of float32
        Image values (HU on CT) on the RAS-ordered grid.
    mask : numpy.ndarray of bool
        Brain mask on the same grid.
    affine : numpy.ndarray
        Voxel-to-RAS+ affine of that grid.
    spacing : tuple of float
        Voxel size (mm) along i, j, k.
    plane : MidlinePlane or None
        The skull's symmetry plane, None when it cannot be found.
    ct : bool
        Whether ``values`` are Hounsfield units.
    slice_thickness_mm : float
        Acquired slice thickness (0 when unknown): partial volume reaches that far along
        the slice direction, whatever the grid the volume was resampled to.
    """

    values: npt.NDArray[np.float32]
    mask: npt.NDArray[np.bool_]
    affine: npt.NDArray[np.float64]
    spacing: tuple[float, float, float]
    plane: MidlinePlane | None
    ct: bool
    slice_thickness_mm: float = 0.0

    @cached_property
    def inside(self) -> npt.NDArray[np.bool_]:
        """The mask with its holes filled (:func:`~imaging_triage.preprocess.morphology.
        fill_holes`): the whole intracranial region, computed once per head."""
        return fill_holes(self.mask)

    @cached_property
    def edges(self) -> tuple[npt.NDArray[Any], ...]:
        """:func:`row_edges` of the mask (present, first ``i``, last ``i`` per row)."""
        return row_edges(self.mask)

    @cached_property
    def extent(self) -> tuple[slice, ...] | None:
        """The bounding box of the mask (None when it is empty)."""
        return bounding_slices(self.mask)

    def box(self, margin_mm: float) -> tuple[slice, slice, slice]:
        """The mask's bounding box grown by ``margin_mm`` (:func:`bounding_box`)."""
        return grown_box(self.extent, margin_mm, self.spacing, self.mask.shape)

    @property
    def voxel_ml(self) -> float:
        """Volume of one voxel in millilitres."""
        return float(np.prod(self.spacing)) / 1000.0

    def world(self, ijk: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map voxel indices (..., 3) to RAS+ mm (..., 3)."""
        pts = np.asarray(ijk, dtype=np.float64)
        return pts @ self.affine[:3, :3].T + self.affine[:3, 3]

    def signed_offset_mm(self, ijk: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """Distance (mm) of voxels (N, 3) from the midline plane, positive on the patient's right.

        Uses the head's centre column when no plane was found.
        """
        pts = np.asarray(ijk, dtype=np.float64).reshape(-1, 3)
        if self.plane is not None:
            mid = self.plane.i_at(pts[:, 1], pts[:, 2])
        else:
            mid = np.full(pts.shape[0], (self.values.shape[0] - 1) / 2.0)
        # +i points to the patient's right or left depending on the affine's sign
        sign = 1.0 if self.affine[0, 0] >= 0 else -1.0
        return np.asarray((pts[:, 0] - mid) * self.spacing[0] * sign, np.float64)


def to_ras_grid(volume: Volume) -> tuple[Volume, Any, Any]:
    """The volume with voxel axes in the closest RAS+ order, and the two reorderings.

    Axis swaps and flips only (nibabel orientations): no interpolation. A volume already in
    RAS order comes back unchanged.

    Returns
    -------
    volume : Volume
        The reordered volume.
    forward, backward : numpy.ndarray
        nibabel orientation transforms to and from the RAS order; apply them to a mask or a
        label volume with :func:`reorder`.
    """
    from nibabel.orientations import (
        apply_orientation,
        axcodes2ornt,
        inv_ornt_aff,
        io_orientation,
        ornt_transform,
    )

    start = io_orientation(volume.affine)
    ras = axcodes2ornt(("R", "A", "S"))
    forward = ornt_transform(start, ras)
    backward = ornt_transform(ras, start)
    data = np.asarray(volume.data)
    # a view: :func:`prepare` makes the one contiguous copy the checks need
    out = Volume(
        apply_orientation(data, forward),
        volume.affine @ inv_ornt_aff(forward, data.shape),
        volume.info,
    )
    return out, forward, backward


def reorder(array: npt.NDArray[Any], ornt: Any) -> npt.NDArray[Any]:
    """``array`` with its axes swapped and flipped by a nibabel orientation transform."""
    from nibabel.orientations import apply_orientation

    return np.ascontiguousarray(apply_orientation(np.asarray(array), ornt))


def row_edges(
    mask: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """For each left-right row ``(j, k)`` of ``mask``: whether it holds a voxel, and the
    first and last ``i`` of its voxels (meaningless in an empty row).

    Computed on the mask's bounding box: the inner table's edges, for the symmetry plane
    and the inner skull width.
    """
    n_i, n_j, n_k = mask.shape
    present = np.zeros((n_j, n_k), dtype=bool)
    first = np.zeros((n_j, n_k), dtype=np.intp)
    last = np.full((n_j, n_k), n_i - 1, dtype=np.intp)
    box = bounding_slices(mask)
    if box is None:
        return present, first, last
    crop = mask[box]
    rows = box[1:]
    present[rows] = crop.any(axis=0)
    first[rows] = box[0].start + np.argmax(crop, axis=0)
    last[rows] = box[0].stop - 1 - np.argmax(crop[::-1], axis=0)
    return present, first, last


def symmetry_plane(
    mask: npt.NDArray[np.bool_],
    spacing: tuple[float, ...],
    min_width_fraction: float = 0.6,
    edges: tuple[npt.NDArray[Any], ...] | None = None,
) -> MidlinePlane | None:
    """Fit the skull's symmetry plane to the midpoints of the mask's left and right edges.

    Parameters
    ----------
    mask : numpy.ndarray of bool
        Intracranial (or brain) mask on a RAS-ordered grid.
    spacing : tuple of float
        Voxel size (mm).
    min_width_fraction : float
        Rows narrower than this fraction of the widest row are left out (poles of the
        head, where the edges are oblique).
    edges : tuple of numpy.ndarray, optional
        :func:`row_edges` of ``mask``, when already computed.

    Returns
    -------
    MidlinePlane or None
        None when fewer than 20 rows qualify (no head, or a mask of a few slices).
    """
    any_i, first_i, last_i = row_edges(mask) if edges is None else edges
    if any_i.sum() < 20:
        return None
    first = first_i.astype(np.float64)
    last = last_i.astype(np.float64)
    width = np.where(any_i, last - first + 1, 0.0)
    keep = width >= min_width_fraction * width.max()
    j, k = np.nonzero(keep)
    if j.size < 20:
        return None
    mid = (first[keep] + last[keep]) / 2.0
    design = np.stack([np.ones_like(mid), j.astype(np.float64), k.astype(np.float64)], axis=1)
    use = np.ones(mid.size, dtype=bool)
    coef = np.zeros(3)
    for _ in range(3):
        coef, *_ = np.linalg.lstsq(design[use], mid[use], rcond=None)
        resid = mid - design @ coef
        scale = max(1.4826 * float(np.median(np.abs(resid[use]))), 1.0)
        use = np.abs(resid) <= 3.0 * scale
        if use.sum() < 20:
            return None
    rms = float(np.sqrt(np.mean(resid[use] ** 2))) * spacing[0]
    return MidlinePlane(float(coef[0]), float(coef[1]), float(coef[2]), rms, int(use.sum()))


def mirror(values: npt.NDArray[Any], plane: MidlinePlane, fill: float) -> npt.NDArray[np.float32]:
    """``values`` reflected across the midline plane (linear interpolation along ``i``).

    The mirror of voxel ``i`` of row ``(j, k)`` is ``2 m(j, k) - i`` with ``m`` the plane:
    a gather along the first axis, interpolated between its two neighbours. Voxels whose
    mirror falls outside the grid get ``fill``.
    """
    n_i, n_j, n_k = values.shape
    jj, kk = np.meshgrid(np.arange(n_j), np.arange(n_k), indexing="ij")
    twice = 2.0 * plane.i_at(jj, kk)
    base = np.floor(twice).astype(np.int64)
    frac = (twice - base).astype(np.float32)[None]
    src = base[None] - np.arange(n_i, dtype=np.int64)[:, None, None]
    valid = (src >= 0) & (src + 1 < n_i)
    data = np.asarray(values, dtype=np.float32)
    low = np.take_along_axis(data, np.clip(src, 0, n_i - 1), axis=0)
    high = np.take_along_axis(data, np.clip(src + 1, 0, n_i - 1), axis=0)
    out = (1.0 - frac) * low + frac * high
    out[~valid] = fill
    return np.asarray(out, dtype=np.float32)


def mirror_at(
    values: npt.NDArray[Any], plane: MidlinePlane, ijk: tuple[npt.NDArray[np.intp], ...]
) -> npt.NDArray[np.float32]:
    """The values of :func:`mirror` at the voxels ``ijk`` only (NaN where the mirror falls
    outside the grid): the same gather and interpolation, for a few voxels of a large grid."""
    i, j, k = (np.asarray(a, dtype=np.int64) for a in ijk)
    twice = 2.0 * plane.i_at(j, k)
    base = np.floor(twice).astype(np.int64)
    frac = (twice - base).astype(np.float32)
    src = base - i
    valid = (src >= 0) & (src + 1 < values.shape[0])
    low = np.asarray(values[np.clip(src, 0, values.shape[0] - 1), j, k], dtype=np.float32)
    high = np.asarray(values[np.clip(src + 1, 0, values.shape[0] - 1), j, k], dtype=np.float32)
    out = (1.0 - frac) * low + frac * high
    out[~valid] = np.nan
    return np.asarray(out, dtype=np.float32)


def prepare(volume: Volume, mask: npt.NDArray[np.bool_], ct: bool) -> Head:
    """A :class:`Head` from a RAS-ordered volume and its mask (see :func:`to_ras_grid`).

    Raises
    ------
    ValueError
        If the mask is not on the volume's grid.
    """
    data = np.asarray(volume.data)
    mask = np.ascontiguousarray(mask, dtype=bool)
    if mask.shape != data.shape[:3]:
        raise ValueError(
            f"brain mask of shape {mask.shape} is not on the image grid {data.shape[:3]}; "
            "pass the mask made on this image"
        )
    values = np.ascontiguousarray(data, dtype=np.float32)  # one pass: order and type
    spacing = volume.spacing
    head = Head(values, mask, volume.affine, spacing, None, ct, slice_thickness(volume))
    head.plane = symmetry_plane(mask, spacing, edges=head.edges)
    return head


def slice_thickness(volume: Volume) -> float:
    """The acquired slice thickness (mm) recorded at ingest, 0 when unknown."""
    try:
        value = float(volume.info.acquisition.get("SliceThickness", 0.0))
    except (TypeError, ValueError):
        return 0.0
    return value if np.isfinite(value) and value > 0 else 0.0


def region_side(head: Head, ijk: npt.NDArray[Any], midline_mm: float = 5.0) -> str:
    """``left``, ``right``, ``midline`` or ``bilateral`` for the voxels ``ijk`` (N, 3).

    Midline when the centroid lies within ``midline_mm`` of the plane and neither side
    holds 80%; otherwise the side holding at least 80%, else bilateral.
    """
    offset = head.signed_offset_mm(ijk)
    right = float(np.mean(offset > 0))
    if right >= 0.8:
        return "right"
    if right <= 0.2:
        return "left"
    if abs(float(offset.mean())) <= midline_mm:
        return "midline"
    return "bilateral"


def key_slice(ijk: npt.NDArray[Any]) -> int:
    """The axial slice (k) holding most of the voxels ``ijk`` (N, 3)."""
    return int(np.argmax(np.bincount(np.asarray(ijk[:, 2], dtype=np.int64))))


def voxels(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    """Indices (N, 3) of the voxels of ``mask`` in C order: ``np.argwhere(mask)`` through
    the flat indices, several times faster on a large, mostly empty volume."""
    mask = np.asarray(mask, dtype=bool)
    return np.stack(np.unravel_index(np.flatnonzero(mask), mask.shape), axis=-1)


def bounding_box(
    mask: npt.NDArray[np.bool_], margin_mm: float, spacing: tuple[float, ...]
) -> tuple[slice, slice, slice]:
    """Slices of the bounding box of ``mask`` grown by ``margin_mm`` (whole grid if empty).

    The checks work inside this box: the head, not the air around it, sets their cost.
    """
    return grown_box(bounding_slices(mask), margin_mm, spacing, mask.shape)


def grown_box(
    box: tuple[slice, ...] | None,
    margin_mm: float,
    spacing: tuple[float, ...],
    shape: tuple[int, ...],
) -> tuple[slice, slice, slice]:
    """``box`` grown by ``margin_mm`` on each side, within a grid of ``shape`` (the whole
    grid when ``box`` is None)."""
    if box is None:
        return (slice(0, shape[0]), slice(0, shape[1]), slice(0, shape[2]))
    out = []
    for axis in range(3):
        pad = int(np.ceil(margin_mm / spacing[axis]))
        b = box[axis]
        out.append(slice(max(0, b.start - pad), min(shape[axis], b.stop + pad)))
    return (out[0], out[1], out[2])


def depth_mm(
    mask: npt.NDArray[np.bool_], spacing: tuple[float, ...], cap_mm: float
) -> npt.NDArray[np.float64]:
    """Euclidean distance (mm) inside ``mask`` to its edge, exact up to ``cap_mm``.

    The mask is padded by one voxel so the grid's edge counts as outside (the nearest
    voxel outside a box is always in the layer around it). Beyond ``cap_mm`` the value is
    at least ``cap_mm`` (callers compare with thresholds below the cap).
    """
    padded = np.pad(np.asarray(mask, dtype=bool), 1)
    dist = distance_inside(padded, tuple(float(s) for s in spacing))  # exact, linear time
    inner = tuple(slice(1, 1 + n) for n in mask.shape)
    return np.asarray(np.minimum(dist[inner], cap_mm + 1.0), dtype=np.float64)


def smoothed_on(
    values: npt.NDArray[np.float32],
    sigma_mm: float,
    spacing: tuple[float, ...],
    exact: tuple[slice, ...],
) -> npt.NDArray[np.float32]:
    """``scipy.ndimage.gaussian_filter`` of ``values`` (reflected at their edges) on the
    box ``exact``, NaN elsewhere.

    Computed on ``exact`` grown by the kernel's reach (scipy's ``truncate=4``): each pass
    is right wherever the axes it has run along are inside ``exact``, so the result there
    is the whole volume's, at the cost of the box.
    """
    if sigma_mm <= 0:
        return values
    sigma = [sigma_mm / s for s in spacing]
    reach = [int(4.0 * sd + 0.5) for sd in sigma]
    crop = tuple(
        slice(max(0, e.start - r), min(n, e.stop + r))
        for e, r, n in zip(exact, reach, values.shape, strict=True)
    )
    part = ndimage.gaussian_filter(values[crop], sigma)
    out = np.full(values.shape, np.nan, dtype=np.float32)
    out[exact] = part[
        tuple(slice(e.start - c.start, e.stop - c.start) for e, c in zip(exact, crop, strict=True))
    ]
    return out
