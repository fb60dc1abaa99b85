"""Hypodensity asymmetry: a region 8 HU darker than its mirror is found on its side."""

from __future__ import annotations

import pytest

from imaging_triage.candidates.anatomy import prepare
from imaging_triage.candidates.findings import Side
from imaging_triage.candidates.hypodensity import hypodensity_asymmetry
from imaging_triage.candidates.ventricles import ventricle_mask

from .conftest import BRAIN_HU, Blob, build_head


def _run(head):
    prepared = prepare(head.volume, head.mask, True)
    return hypodensity_asymmetry(prepared, ventricle_mask(prepared))


def test_darker_region_found_on_its_side():
    head = build_head(blobs=(Blob((-32.0, 10.0, 15.0), 15.0, BRAIN_HU - 8.0),))
    result, labels = _run(head)
    assert len(result.regions) == 1
    region = result.regions[0]
    assert region.side is Side.LEFT
    assert region.delta_hu == pytest.approx(-8.0, abs=2.0)
    assert labels[head.truth["blob0"]].mean() > 0.3


def test_symmetric_head_has_no_region(normal_head):
    result, labels = _run(normal_head)
    assert result.regions == []
    assert not labels.any()


def test_blood_does_not_make_the_other_side_a_candidate():
    result, _ = _run(build_head(blobs=(Blob((25.0, 20.0, 10.0), 10.0, 70.0),)))
    assert result.regions == []
