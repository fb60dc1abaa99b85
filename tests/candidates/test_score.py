"""The candidate score: points with reasons, a study takes its highest series."""

from __future__ import annotations

from imaging_triage.candidates.findings import Check, CheckResult, CheckStatus, Region, Side
from imaging_triage.candidates.score import CandidateScore, series_score, study_score


def _region(volume_ml: float) -> Region:
    return Region(1, Check.HYPERDENSITY, volume_ml, 65.0, 80.0, (1.0, 2.0, 3.0), Side.LEFT, 4)


def test_nothing_measured_scores_zero():
    results = [CheckResult(Check.HYPERDENSITY, CheckStatus.NOT_MEASURED, reasons=["x"])]
    assert series_score(results).score == 0


def test_hyperdensity_and_shift_add_up_with_reasons():
    results = [
        CheckResult(Check.HYPERDENSITY, CheckStatus.MEASURED, regions=[_region(6.0)]),
        CheckResult(
            Check.MIDLINE_SHIFT,
            CheckStatus.MEASURED,
            measures={"shift_mm": -6.0},
            reasons=["midline shift 6.0 mm to the patient's left"],
        ),
    ]
    score = series_score(results)
    assert score.score == 40 + 10 + 15 + 15
    assert score.reasons[0].startswith("1 hyperdense candidate region")
    assert "left" in score.reasons[1]


def test_study_takes_the_highest_series():
    study = study_score([CandidateScore(20, ["a"]), CandidateScore(65, ["b", "a"])])
    assert study.score == 65
    assert study.reasons == ["b", "a"]
    assert study_score([]).score == 0
