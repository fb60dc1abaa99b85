"""Midline shift: the septum pellucidum against the skull's symmetry plane.

The ideal midline is the skull's symmetry plane (:func:`.anatomy.symmetry_plane`). The
septum pellucidum is the thin wall between the two lateral ventricles: on each
antero-posterior row of an axial slice crossing both ventricles, it is the centre of the
gap between two runs of ventricle voxels that lies nearest the plane (at most
``max_gap_mm`` wide). The shift is the median signed distance (mm) of the septum from the
plane over the rows of the slices within ``level_mm`` of the slice where the septum is
longest, which is close to the level of the foramen of Monro. Positive shift: towards
the patient's right. (Xiao 2010 measured the same septum-to-ideal-midline distance.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imaging_triage.candidates.anatomy import Head
from imaging_triage.candidates.findings import Check, CheckResult, CheckStatus, not_measured
from imaging_triage.preprocess.morphology import bounding_slices


@dataclass(frozen=True)
class MidlineConfig:
    """Parameters of the midline-shift measurement.

    Attributes
    ----------
    max_gap_mm : float
        Widest septum (gap between the two ventricles on one row).
    max_shift_mm : float
        Farthest the septum may lie from the plane (a larger gap is another structure).
    level_mm : float
        Half-height of the slab of slices measured around the longest septum.
    flag_mm : float
        Shift from which the result carries a reason for the score.
    min_rows : int
        Fewest septum rows for a measurement.
    """

    max_gap_mm: float = 12.0
    max_shift_mm: float = 20.0
    level_mm: float = 6.0
    flag_mm: float = 3.0
    min_rows: int = 5


def _septum_rows(
    head: Head, ventricles: npt.NDArray[np.bool_], cfg: MidlineConfig
) -> list[tuple[int, int, float]]:
    """(k, j, signed septum offset mm) of every row crossing both lateral ventricles.

    On each row the runs of ventricle voxels along ``i`` are found at once for the whole
    volume (the edges of the rows padded with a voxel of background); each gap between
    two consecutive runs of a row is a septum candidate, the one nearest the plane wins
    (the first of equals).
    """
    assert head.plane is not None
    sign = 1.0 if head.affine[0, 0] >= 0 else -1.0
    dx = head.spacing[0]
    box = bounding_slices(ventricles)
    if box is None:
        return []
    lines = np.ascontiguousarray(ventricles[box].transpose(2, 1, 0))  # rows (k, j) along i
    padded = np.zeros((*lines.shape[:2], lines.shape[2] + 2), dtype=np.int8)
    padded[:, :, 1:-1] = lines
    changes = np.diff(padded, axis=2) != 0
    k, j, edge = np.unravel_index(np.flatnonzero(changes), changes.shape)  # row by row
    # runs alternate start, end on each row: inclusive bounds, grid indices
    starts, ends = edge[0::2] + box[0].start, edge[1::2] - 1 + box[0].start
    rk, rj = k[0::2] + box[2].start, j[0::2] + box[1].start
    a = np.flatnonzero((rk[:-1] == rk[1:]) & (rj[:-1] == rj[1:]))  # run a, a + 1: one row
    gap_lo, gap_hi = ends[a] + 1, starts[a + 1] - 1
    ok = (gap_hi - gap_lo + 1) * dx <= cfg.max_gap_mm
    ok &= (ends[a] - starts[a] >= 1) & (ends[a + 1] - starts[a + 1] >= 1)
    centre = (gap_lo + gap_hi) / 2.0
    off = (centre - head.plane.i_at(rj[a], rk[a])) * dx * sign
    ok &= np.abs(off) <= cfg.max_shift_mm
    a, off = a[ok], off[ok]
    row = rk[a].astype(np.int64) * ventricles.shape[1] + rj[a]
    order = np.lexsort((a, np.abs(off), row))  # by row, nearest the plane, first
    first = order[np.r_[True, row[order][1:] != row[order][:-1]]] if order.size else order
    return [(int(rk[a[n]]), int(rj[a[n]]), float(off[n])) for n in first]


def midline_shift(
    head: Head, ventricles: npt.NDArray[np.bool_], config: MidlineConfig | None = None
) -> CheckResult:
    """Measure the midline shift of a head from its ventricle mask.

    Parameters
    ----------
    head : Head
        The prepared head (its ``plane`` is the ideal midline).
    ventricles : numpy.ndarray of bool
        Lateral ventricles (:func:`.ventricles.ventricle_mask`).
    config : MidlineConfig, optional
        Parameters.

    Returns
    -------
    CheckResult
        ``measures``: ``shift_mm`` (signed, + towards the patient's right),
        ``abs_shift_mm``, ``level_z_mm``, ``septum_rows``, ``plane_residual_mm``. Not
        measured without a plane or a septum.
    """
    cfg = config or MidlineConfig()
    if head.plane is None:
        return not_measured(Check.MIDLINE_SHIFT, "no symmetry plane: the mask is too small")
    rows = _septum_rows(head, ventricles, cfg)
    if len(rows) < cfg.min_rows:
        return not_measured(
            Check.MIDLINE_SHIFT, "septum pellucidum not found between two lateral ventricles"
        )
    ks = np.array([r[0] for r in rows])
    offs = np.array([r[2] for r in rows])
    counts = np.bincount(ks)
    k_level = int(np.argmax(counts))
    slab = max(0, round(cfg.level_mm / head.spacing[2]))
    near = np.abs(ks - k_level) <= slab
    shift = float(np.median(offs[near]))
    result = CheckResult(
        Check.MIDLINE_SHIFT,
        CheckStatus.MEASURED,
        measures={
            "shift_mm": shift,
            "abs_shift_mm": abs(shift),
            "level_z_mm": float(head.world([0.0, 0.0, k_level])[2]),
            "septum_rows": float(near.sum()),
            "plane_residual_mm": head.plane.residual_mm,
        },
    )
    if abs(shift) >= cfg.flag_mm:
        side = "right" if shift > 0 else "left"
        result.reasons.append(f"midline shift {abs(shift):.1f} mm to the patient's {side}")
    return result
