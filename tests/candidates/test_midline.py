"""Midline shift: a known displacement of the septum against the skull's symmetry plane."""

from __future__ import annotations

import pytest

from imaging_triage.candidates.anatomy import prepare, symmetry_plane
from imaging_triage.candidates.findings import CheckStatus
from imaging_triage.candidates.midline import midline_shift
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
