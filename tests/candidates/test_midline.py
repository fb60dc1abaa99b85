"""Midline shift: a known displacement of the septum against the skull's symmetry plane."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.candidates.anatomy import prepare, symmetry_plane
from imaging_triage.candidates.findings import CheckStatus
from imaging_triage.candidates.midline import MidlineConfig, _septum_rows, midline_shift
from imaging_triage.candidates.ventricles import ventricle_mask

from .conftest import build_head


def _shift(head):
    prepared = prepare(head.volume, head.mask, True)
    return midline_shift(prepared, ventricle_mask(prepared))


@pytest.mark.parametrize("shift_mm", [5.0, -4.0])
def test_known_shift_is_measured_within_one_mm(shift_mm):
    result = _shift(build_head(shift_mm=shift_mm))
    assert result.status is CheckStatus.MEASURED
    assert result.measures["shift_mm"] == pytest.approx(shift_mm, abs=1.0)
    side = "right" if shift_mm > 0 else "left"
    assert side in result.reasons[0]


def test_no_shift_gives_no_reason(normal_head):
    result = _shift(normal_head)
    assert abs(result.measures["shift_mm"]) < 1.0
    assert result.reasons == []


def test_symmetry_plane_follows_the_skull_not_the_brain():
    head = build_head(shift_mm=5.0)
    plane = symmetry_plane(head.mask, head.volume.spacing)
    assert plane is not None
    centre_i = (head.mask.shape[0] - 1) / 2.0
    assert plane.i_at(80, 66) == pytest.approx(centre_i, abs=0.5)


def test_no_ventricles_is_not_measured(normal_head):
    prepared = prepare(normal_head.volume, normal_head.mask, True)
    result = midline_shift(prepared, prepared.mask & False)
    assert result.status is CheckStatus.NOT_MEASURED
    assert "septum" in result.reasons[0]


def _septum_rows_by_loop(head, ventricles, cfg):
    """The septum search row by row, as first written: the reference of the vectorised one."""
    sign = 1.0 if head.affine[0, 0] >= 0 else -1.0
    dx = head.spacing[0]
    rows = []
    for k in np.nonzero(ventricles.any(axis=(0, 1)))[0]:
        for j in np.nonzero(ventricles[:, :, k].any(axis=0))[0]:
            padded = np.concatenate([[False], ventricles[:, j, k], [False]])
            edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
            starts, ends = edges[0::2], edges[1::2] - 1
            mid = float(head.plane.i_at(j, k))
            best = None
            for a in range(starts.size - 1):
                gap_lo, gap_hi = ends[a] + 1, starts[a + 1] - 1
                if (gap_hi - gap_lo + 1) * dx > cfg.max_gap_mm or ends[a] - starts[a] < 1:
                    continue
                if ends[a + 1] - starts[a + 1] < 1:
                    continue
                off = ((gap_lo + gap_hi) / 2.0 - mid) * dx * sign
                if abs(off) <= cfg.max_shift_mm and (best is None or abs(off) < abs(best)):
                    best = off
            if best is not None:
                rows.append((int(k), int(j), float(best)))
    return rows


def test_septum_rows_equal_the_row_by_row_search(normal_head):
    head = prepare(normal_head.volume, normal_head.mask, True)
    rng = np.random.default_rng(1)
    cfg = MidlineConfig(max_gap_mm=4.0, max_shift_mm=30.0)
    for density in (0.3, 0.6, 0.85):
        ventricles = np.zeros(head.mask.shape, dtype=bool)
        ventricles[40:90, 60:80, 50:60] = rng.random((50, 20, 10)) < density
        expected = _septum_rows_by_loop(head, ventricles, cfg)
        assert len(expected) > 20
        assert _septum_rows(head, ventricles, cfg) == expected
    assert _septum_rows(head, np.zeros_like(head.mask), cfg) == []
