"""Evans' index of a known geometry."""

from __future__ import annotations

import pytest

from imaging_triage.candidates.anatomy import prepare
from imaging_triage.candidates.findings import CheckStatus
from imaging_triage.candidates.ventricles import evans_index, ventricle_mask

from .conftest import FRONTAL_HORN_WIDTH_MM, INNER


def test_evans_index_of_known_geometry(normal_head):
    prepared = prepare(normal_head.volume, normal_head.mask, True)
    ventricles = ventricle_mask(prepared)
    truth = normal_head.truth["ventricles"]
    assert (ventricles & truth).sum() / truth.sum() > 0.8
    result = evans_index(prepared, ventricles)
    assert result.status is CheckStatus.MEASURED
    expected = FRONTAL_HORN_WIDTH_MM / (2 * INNER[0])
    assert result.measures["evans_index"] == pytest.approx(expected, abs=0.02)
    assert result.measures["inner_skull_width_mm"] == pytest.approx(2 * INNER[0], abs=2.0)
    assert result.reasons == []  # 0.275 is below the 0.3 flag


def test_evans_index_on_mr_is_not_applicable(normal_head):
    prepared = prepare(normal_head.volume, normal_head.mask, False)
    result = evans_index(prepared, prepared.mask)
    assert result.status is CheckStatus.NOT_APPLICABLE
