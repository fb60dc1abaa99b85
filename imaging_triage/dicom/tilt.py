"""Gantry tilt correction that keeps every measured pixel in its own slice.

A tilted CT stack is sheared: its slices are parallel planes, but their positions
advance along the table, not along the slice normal. The volume is put on an orthogonal
grid *in the slices' own frame* (row cosine, column cosine, normal): each slice is
shifted within its own plane by where its position lies in that plane, and keeps its
place along the normal. Values are interpolated only between neighbouring pixels of the
same slice, never between slices, so a 7 mm slice is not blurred with its neighbours.
The output grid is oblique in the scanner frame, exactly as the acquired slices were.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from imaging_triage.errors import ResourceLimitError


def deshear(
    data: npt.NDArray[np.generic],
    affine_lps: npt.NDArray[np.float64],
    *,
    fill: float,
    max_bytes: int,
    slice_index: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """Shift each slice of a sheared stack within its plane onto an orthogonal grid.

    Parameters
    ----------
    data : numpy.ndarray
        Acquired grid, (i, j, k) or (i, j, k, t); slice ``k`` at ``affine_lps @ (0, 0, k)``.
    affine_lps : numpy.ndarray
        Voxel-to-LPS affine of the acquired grid: columns ``i`` and ``j`` in the slice
        plane, column ``k`` the (sheared) step from one slice position to the next.
    fill : float
        Value of output pixels that no slice covers (the slices are shifted against
        each other, so the grid is larger than one slice).
    max_bytes : int
        Limit on the size of the output grid (float32).
    slice_index : numpy.ndarray, optional
        Where each slice lies along the affine's third axis, when not at 0, 1, 2, ...
        (uneven spacing, joined segments): slice ``k`` is at
        ``affine_lps @ (0, 0, slice_index[k])``. The output keeps them there.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        float32 data on the orthogonal grid and its voxel-to-LPS affine, whose third
        column is the slice normal times the distance between slice planes.

    Raises
    ------
    ResourceLimitError
        The output grid would exceed ``max_bytes``.

    Examples
    --------
    >>> aff = np.diag([1.0, 1.0, 2.0, 1.0])
    >>> aff[1, 2] = 1.0  # each slice 1 mm further along j
    >>> out, new = deshear(np.ones((3, 3, 3)), aff, fill=0.0, max_bytes=10**6)
    >>> out.shape, float(new[1, 2]), float(out[1, 0, 2]), float(out[1, 2, 2])
    ((3, 5, 3), 0.0, 0.0, 1.0)
    """
    from scipy import ndimage

    m = affine_lps[:3, :3]
    spacing_i, spacing_j = np.linalg.norm(m[:, 0]), np.linalg.norm(m[:, 1])
    row = m[:, 0] / spacing_i
    col = m[:, 1] - (m[:, 1] @ row) * row
    col /= np.linalg.norm(col)
    normal = np.cross(row, col)
    step = m[:, 2]
    n_k = data.shape[2]
    k = np.arange(n_k, dtype=np.float64) if slice_index is None else np.asarray(slice_index)
    # in-plane displacement of slice k (in pixels) and its distance along the normal
    shift_i = k * float(step @ row) / spacing_i
    shift_j = k * float(step @ col) / spacing_j
    shift_i -= shift_i.min()
    shift_j -= shift_j.min()
    # shifts within 1e-3 pixel of a whole number are whole: keep those pixels exact
    shift_i = np.where(np.abs(shift_i - np.round(shift_i)) < 1e-3, np.round(shift_i), shift_i)
    shift_j = np.where(np.abs(shift_j - np.round(shift_j)) < 1e-3, np.round(shift_j), shift_j)
    n_i = data.shape[0] + int(np.ceil(shift_i.max() - 1e-3))
    n_j = data.shape[1] + int(np.ceil(shift_j.max() - 1e-3))
    out_shape = (n_i, n_j, *data.shape[2:])
    if int(np.prod(out_shape)) * 4 > max_bytes:
        raise ResourceLimitError(
            f"tilt-corrected grid {out_shape} would exceed the memory limit; raise "
            "IMAGING_TRIAGE_MAX_BYTES if genuine"
        )
    out = np.full(out_shape, fill, dtype=np.float32)
    for kk in range(n_k):
        planes = data[:, :, kk] if data.ndim == 3 else data[:, :, kk, :]
        stack = planes[..., np.newaxis] if data.ndim == 3 else planes
        for t in range(stack.shape[-1]):
            plane = np.asarray(stack[..., t], dtype=np.float32)
            target = (
                (slice(None), slice(None), kk)
                if data.ndim == 3
                else (
                    slice(None),
                    slice(None),
                    kk,
                    t,
                )
            )
            out[target] = ndimage.affine_transform(
                plane,
                np.ones(2),
                offset=(-shift_i[kk], -shift_j[kk]),
                output_shape=(n_i, n_j),
                order=1,
                mode="constant",
                cval=fill,
            )
    origin = affine_lps[:3, 3] - shift_i[0] * spacing_i * row - shift_j[0] * spacing_j * col
    # slice 0 was shifted by (shift_i[0], shift_j[0]): the output origin moves back by that
    new = np.eye(4)
    new[:3, 0] = row * spacing_i
    new[:3, 1] = col * spacing_j
    new[:3, 2] = normal * float(step @ normal)
    new[:3, 3] = origin
    return out, new
