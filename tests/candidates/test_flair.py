"""MR FLAIR hyperintensity asymmetry and the MR midline shift (mass effect)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from imaging_triage.candidates import Check, CheckStatus, run_checks
from imaging_triage.candidates.findings import Side
from imaging_triage.candidates.flair import is_flair
from imaging_triage.volume import SeriesInfo, Volume

from .conftest import BRAIN_HU, Blob, build_head


def _mr(head, description: str = "AX FLAIR", ti_s: float | None = 2.5) -> Volume:
    """The CT phantom as MR z-scores (brain about 0, CSF about -3: dark as on FLAIR)."""
    z = (np.asarray(head.volume.data, dtype=np.float32) - BRAIN_HU) / 10.0
    z[~head.mask] = 0.0  # the MR pipeline's output outside the brain mask
    acquisition = {"InversionTime": ti_s} if ti_s is not None else {}
    info = SeriesInfo(modality="MR", series_description=description, acquisition=acquisition)
    return Volume(z, head.volume.affine, info)


def test_brighter_region_found_on_its_side_with_the_shift():
    # +1.5 SD over a 15 mm sphere in the left hemisphere, septum pushed 5 mm to the right
    head = build_head(shift_mm=5.0, blobs=(Blob((-32.0, 10.0, 15.0), 15.0, BRAIN_HU + 15.0),))
    report = run_checks(_mr(head), head.mask)
    flair = report.result(Check.FLAIR_ASYMMETRY)
    assert flair.status is CheckStatus.MEASURED and len(flair.regions) == 1
    region = flair.regions[0]
    assert region.side is Side.LEFT and region.delta_hu == pytest.approx(1.5, abs=0.4)
    assert "SD vs mirror" in region.describe()
    assert report.labels[head.truth["blob0"]].mean() > 0.3
    shift = report.result(Check.MIDLINE_SHIFT)
    assert shift.measures["shift_mm"] == pytest.approx(5.0, abs=1.0)
    assert report.result(Check.HYPERDENSITY).status is CheckStatus.NOT_APPLICABLE
    assert any("FLAIR" in reason for reason in report.score.reasons)


def test_symmetric_flair_and_a_t1_have_no_region(normal_head):
    flair = run_checks(_mr(normal_head), normal_head.mask).result(Check.FLAIR_ASYMMETRY)
    assert flair.status is CheckStatus.MEASURED and flair.regions == []
    head = build_head(blobs=(Blob((-32.0, 10.0, 15.0), 15.0, BRAIN_HU + 15.0),))
    t1 = run_checks(_mr(head, "AX T1 SE", None), head.mask).result(Check.FLAIR_ASYMMETRY)
    assert t1.status is CheckStatus.NOT_APPLICABLE and t1.regions == []


def test_flair_is_recognised_by_inversion_time_or_description():
    base = SeriesInfo(modality="MR")
    assert is_flair(dataclasses.replace(base, acquisition={"InversionTime": 2.5}))
    assert is_flair(dataclasses.replace(base, acquisition={"InversionTime": 2200}))  # ms
    assert not is_flair(dataclasses.replace(base, acquisition={"InversionTime": 0.15}))  # STIR
    assert is_flair(dataclasses.replace(base, series_description="ax t2 flair"))
    assert not is_flair(dataclasses.replace(base, series_description="AX T1"))
