"""Binary morphology helpers shared by the brain-mask steps and the candidate checks.

Structuring elements are boxes of half-width ``radius_mm`` (rounded to voxels per axis):
box filters are separable, and each 1-D pass is a few whole-array logical operations of
shifted views (:func:`box_dilate`, :func:`box_erode`: a window of ``2 r + 1`` voxels in
about ``2 log2(r + 1)`` operations), the same result as ``scipy.ndimage.maximum_filter``
or ``minimum_filter`` several times faster, whatever the radius.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from imaging_triage.preprocess.base import mm_to_voxels


def distance_inside(
    mask: npt.NDArray[np.bool_], spacing: tuple[float, ...]
) -> npt.NDArray[np.float32]:
    """Euclidean distance (mm) from each voxel of ``mask`` to the nearest voxel outside it.

    0 outside the mask; the same values as ``scipy.ndimage.distance_transform_edt(mask,
    sampling=spacing)`` (to float32 precision), computed with SimpleITK's exact Maurer
    transform, which is linear in the voxels whatever the shape (scipy's feature transform
    took 1-2 s per head volume, 80% of the CT mask). A mask with no voxel outside it
    falls back to scipy (the transform then has nothing to measure to).
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.zeros(mask.shape, dtype=np.float32)
    if mask.all():
        return np.asarray(ndimage.distance_transform_edt(mask, sampling=spacing), np.float32)
    import SimpleITK as sitk

    # the outside of the mask is the object: its positive (outside) distances are ours.
    # numpy axis order (i, j, k) maps to SimpleITK's (k, j, i) the other way round
    outside = sitk.GetImageFromArray((~mask).view(np.uint8))
    outside.SetSpacing([float(s) for s in reversed(spacing)])
    dist = sitk.SignedMaurerDistanceMap(
        outside, insideIsPositive=False, squaredDistance=False, useImageSpacing=True
    )
    out = sitk.GetArrayFromImage(dist)
    np.maximum(out, 0.0, out=out)
    return out.astype(np.float32, copy=False)


def components(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint32]:
    """6-connected components of ``mask`` numbered 1..n (0 outside), by SimpleITK: twice
    as fast as ``scipy.ndimage.label`` on a head, the same pieces (numbered in another
    order)."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(mask, dtype=bool).view(np.uint8))
    return np.asarray(sitk.GetArrayFromImage(sitk.ConnectedComponent(image, False)))


def largest_component(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Keep the largest 6-connected component (empty stays empty)."""
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros_like(mask, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray(labels == int(np.argmax(sizes)), dtype=bool)


def fill_holes(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """``mask`` with its holes filled: the same as ``scipy.ndimage.binary_fill_holes(mask)``.

    A hole is a 6-connected piece of the background that does not reach the edge of the
    array. The pieces are labelled by SimpleITK's connected components on the mask's
    bounding box grown by one voxel only (outside it the background is one piece that
    reaches the edge), three times faster than scipy's iterated dilation on a head.
    """
    mask = np.asarray(mask, dtype=bool)
    tight = bounding_slices(mask)
    if tight is None:
        return mask.copy()
    import SimpleITK as sitk

    box = tuple(
        slice(max(0, s.start - 1), min(n, s.stop + 1))
        for s, n in zip(tight, mask.shape, strict=True)
    )
    crop = mask[box]
    background = sitk.GetImageFromArray(np.ascontiguousarray(~crop).view(np.uint8))
    labels = sitk.GetArrayFromImage(sitk.ConnectedComponent(background, False))
    edge = np.zeros(int(labels.max()) + 1, dtype=bool)
    for axis in range(labels.ndim):
        edge[np.take(labels, [0, labels.shape[axis] - 1], axis=axis)] = True
    edge[0] = True  # label 0 is the mask itself
    out = mask.copy()
    out[box] |= ~edge[labels]
    return out


def _along(ndim: int, axis: int, start: int, stop: int) -> tuple[slice, ...]:
    """Index of the slab ``start:stop`` along ``axis`` of an ``ndim``-D array."""
    index = [slice(None)] * ndim
    index[axis] = slice(start, stop)
    return tuple(index)


def _box_pass(
    mask: npt.NDArray[np.bool_], radii: tuple[int, ...], dilation: bool
) -> npt.NDArray[np.bool_]:
    """A copy of ``mask`` with each voxel replaced by the OR (``dilation``) or the AND of
    the box of half-widths ``radii`` (voxels) around it, outside the array counting as 0.

    Along each axis the window grows by doubling: after a pass of step ``s`` each voxel
    holds the window of ``w + s`` voxels ending at it (then, forwards, starting at it).
    """
    out = np.array(mask, dtype=bool, copy=True)
    op = np.logical_or if dilation else np.logical_and
    nd = out.ndim
    for axis, r in enumerate(radii):
        n = out.shape[axis]
        if r <= 0 or n == 0:
            continue
        for forward in (False, True):
            width = 1
            while width < r + 1:
                step = min(width, r + 1 - width)
                if step < n:
                    late, early = _along(nd, axis, step, n), _along(nd, axis, 0, n - step)
                    dst, src = (out[early], out[late]) if forward else (out[late], out[early])
                    op(dst, src, out=dst)
                width += step
        if not dilation:  # the window reaches outside the array within r of its ends
            out[_along(nd, axis, 0, min(r, n))] = False
            out[_along(nd, axis, max(n - r, 0), n)] = False
    return out


def box_dilate(mask: npt.NDArray[np.bool_], radii: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """Binary dilation with a box of half-widths ``radii`` (voxels, one per axis).

    Equals ``scipy.ndimage.maximum_filter(mask, size=[2 r + 1 ...], mode="constant")``.
    """
    return _box_pass(np.asarray(mask, dtype=bool), tuple(radii), dilation=True)


def box_erode(mask: npt.NDArray[np.bool_], radii: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """Binary erosion with a box of half-widths ``radii`` (voxels, one per axis); outside
    the array counts as 0.

    Equals ``scipy.ndimage.minimum_filter(mask, size=[2 r + 1 ...], mode="constant")``.
    """
    return _box_pass(np.asarray(mask, dtype=bool), tuple(radii), dilation=False)


def box_dilate_at(
    mask: npt.NDArray[np.bool_],
    radii: tuple[int, ...],
    where: npt.NDArray[np.bool_],
    box: tuple[slice, ...] | None = None,
) -> npt.NDArray[np.bool_]:
    """:func:`box_dilate` of ``mask`` on the voxels of ``where`` only (False elsewhere).

    Computed on the bounding box of ``where`` grown by ``radii``: the cost of a dilation
    that is only read at a few places (the voxels a rule applies to). ``box``, when
    given, is that bounding box (:func:`bounding_slices` of ``where``, computed once for
    several calls) or a part of it: only the voxels of ``where`` inside it are set.
    """
    out = np.zeros(mask.shape, dtype=bool)
    inner = bounding_slices(where) if box is None else box
    if inner is None or any(s.stop <= s.start for s in inner):
        return out
    outer = tuple(
        slice(max(0, s.start - r), min(n, s.stop + r))
        for s, r, n in zip(inner, radii, mask.shape, strict=True)
    )
    grown = box_dilate(mask[outer], radii)
    back = tuple(
        slice(s.start - o.start, s.stop - o.start) for s, o in zip(inner, outer, strict=True)
    )
    out[inner] = grown[back] & where[inner]
    return out


def bounding_slices(mask: npt.NDArray[np.bool_]) -> tuple[slice, ...] | None:
    """Slices of the bounding box of ``mask`` (None when it is empty)."""
    out = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        present = np.flatnonzero(np.any(mask, axis=other))
        if present.size == 0:
            return None
        out.append(slice(int(present[0]), int(present[-1]) + 1))
    return tuple(out)


def cross_dilate(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Dilation by one voxel along each axis (6-connected in 3-D): each voxel or one of its
    face neighbours. Equals ``scipy.ndimage.binary_dilation(mask)``."""
    mask = np.asarray(mask, dtype=bool)
    out = mask.copy()
    nd = mask.ndim
    for axis, n in enumerate(mask.shape):
        if n > 1:
            out[_along(nd, axis, 1, n)] |= mask[_along(nd, axis, 0, n - 1)]
            out[_along(nd, axis, 0, n - 1)] |= mask[_along(nd, axis, 1, n)]
    return out


def cross_erode(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Erosion by one voxel along each axis (6-connected in 3-D), outside the array
    counting as 0. Equals ``scipy.ndimage.binary_erosion(mask)``."""
    mask = np.asarray(mask, dtype=bool)
    out = mask.copy()
    nd = mask.ndim
    for axis, n in enumerate(mask.shape):
        out[_along(nd, axis, 1, n)] &= mask[_along(nd, axis, 0, n - 1)]
        out[_along(nd, axis, 0, n - 1)] &= mask[_along(nd, axis, 1, n)]
        out[_along(nd, axis, 0, 1)] = False
        out[_along(nd, axis, n - 1, n)] = False
    return out


def box_radii(
    radius_mm: float, spacing: tuple[float, ...], in_plane: bool = False
) -> tuple[int, ...]:
    """Half-widths (voxels) of the box of half-width ``radius_mm``; 0 along the third axis
    when ``in_plane``."""
    radii = list(mm_to_voxels(radius_mm, spacing))
    if in_plane:
        radii[2] = 0
    return tuple(radii)


def dilate(
    mask: npt.NDArray[np.bool_],
    radius_mm: float,
    spacing: tuple[float, ...],
    in_plane: bool = False,
) -> npt.NDArray[np.bool_]:
    """Binary dilation with a box of half-width ``radius_mm``."""
    return box_dilate(mask, box_radii(radius_mm, spacing, in_plane))


def erode(
    mask: npt.NDArray[np.bool_],
    radius_mm: float,
    spacing: tuple[float, ...],
    in_plane: bool = False,
) -> npt.NDArray[np.bool_]:
    """Binary erosion with a box of half-width ``radius_mm`` (outside the array counts as 0)."""
    return box_erode(mask, box_radii(radius_mm, spacing, in_plane))


def close(
    mask: npt.NDArray[np.bool_],
    radius_mm: float,
    spacing: tuple[float, ...],
    in_plane: bool = False,
) -> npt.NDArray[np.bool_]:
    """Binary closing (dilation then erosion); border-safe: the array is padded first."""
    pad = [(r, r) for r in box_radii(radius_mm, spacing, in_plane)]
    padded = np.pad(np.asarray(mask, dtype=bool), pad)
    closed = erode(dilate(padded, radius_mm, spacing, in_plane), radius_mm, spacing, in_plane)
    return np.asarray(
        closed[tuple(slice(p, p + n) for (p, _), n in zip(pad, mask.shape, strict=True))]
    )


def geodesic_dilate(
    seed: npt.NDArray[np.bool_],
    within: npt.NDArray[np.bool_],
    radius_mm: float,
    spacing: tuple[float, ...],
) -> npt.NDArray[np.bool_]:
    """Grow ``seed`` by up to ``radius_mm`` (Euclidean) inside ``within``, staying connected.

    The result is the part of ``within`` closer than ``radius_mm`` to the seed that is
    connected (6-connectivity, inside that band) to the seed itself: it never jumps a
    gap of ``within`` (bone, air), however thin.
    """
    seed = np.asarray(seed, dtype=bool)
    if not seed.any():
        return seed.copy()
    near = distance_inside(~seed, spacing) <= radius_mm
    band = (near & within) | seed
    labels, _ = ndimage.label(band)
    keep = np.unique(labels[seed])
    return np.asarray(np.isin(labels, keep[keep > 0]), dtype=bool)
