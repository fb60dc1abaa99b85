"""Agreement between readers: kappa against published worked examples and hand-built
cases, finding matching, and the report over reads in a review database."""

from __future__ import annotations

from pathlib import Path

import pytest

from imaging_triage.review.agreement import (
    OUTCOME,
    agreement,
    cohen_kappa,
    fleiss_kappa,
    kappa,
)
from imaging_triage.review.findings import (
    Finding,
    FindingType,
    Laterality,
    Location,
    Outcome,
    ReviewStatus,
    Urgency,
)
from imaging_triage.review.reads import MatchRule, ReadFinding, match_findings, reads_from_store
from imaging_triage.review.store import ReviewStore


def test_cohen_kappa_equals_the_published_worked_example() -> None:
    """Wikipedia, "Cohen's kappa", section "Simple example" (50 grant proposals read by two
    readers: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no): p_o = 0.7, p_e = 0.5, kappa = 0.4.
    https://en.wikipedia.org/wiki/Cohen%27s_kappa#Simple_example"""
    a = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    result = cohen_kappa(a, b)
    assert result.kappa == pytest.approx(0.4, abs=1e-12)
    assert result.percent_agreement == pytest.approx(0.7)
    assert (result.subjects, result.raters, result.method) == (50, 2, "cohen")


def test_fleiss_kappa_equals_the_published_worked_example() -> None:
    """Fleiss JL (1971) "Measuring nominal scale agreement among many raters",
    Psychological Bulletin 76(5):378-382, as worked in Wikipedia, "Fleiss' kappa",
    section "Worked example": 10 subjects, 14 raters, 5 categories; P-bar = 0.378,
    kappa = 0.210. https://en.wikipedia.org/wiki/Fleiss%27_kappa#Worked_example"""
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    ratings = [[c + 1 for c, n in enumerate(row) for _ in range(n)] for row in table]
    result = fleiss_kappa(ratings)
    assert result.kappa == pytest.approx(0.210, abs=5e-4)
    assert result.percent_agreement == pytest.approx(0.378, abs=5e-4)
    assert (result.subjects, result.raters) == (10, 14)


def test_hand_built_cohen_case() -> None:
    """6 studies, outcomes S/N/I. Agreement 5/6; marginals a (3, 2, 1), b (2, 3, 1):
    p_e = (3*2 + 2*3 + 1*1) / 36 = 13/36, kappa = (30/36 - 13/36) / (23/36) = 17/23."""
    a = ["S", "S", "N", "N", "S", "I"]
    b = ["S", "N", "N", "N", "S", "I"]
    result = kappa(list(zip(a, b, strict=True)))
    assert result.method == "cohen"
    assert result.kappa == pytest.approx(17 / 23, abs=1e-12)
    assert result.percent_agreement == pytest.approx(5 / 6)


def test_kappa_is_undefined_when_every_rating_is_the_same() -> None:
    result = cohen_kappa(["no"] * 4, ["no"] * 4)
    assert result.kappa is None and result.percent_agreement == 1.0
    assert fleiss_kappa([["a", "a", "a"]] * 3).kappa is None
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([["a", "b"], ["a"]])


def test_findings_match_on_type_side_and_distance() -> None:
    sdh_left = ReadFinding(FindingType.SDH, Laterality.LEFT, (-50.0, 5.0, 15.0))
    near = ReadFinding(FindingType.SDH, Laterality.LEFT, (-50.0, 5.0, 34.0))  # 19 mm
    far = ReadFinding(FindingType.SDH, Laterality.LEFT, (-50.0, 5.0, 36.0))  # 21 mm
    right = ReadFinding(FindingType.SDH, Laterality.RIGHT, (-50.0, 5.0, 15.0))
    sah = ReadFinding(FindingType.SAH, Laterality.LEFT, (-50.0, 5.0, 15.0))
    shift = ReadFinding(FindingType.MIDLINE_SHIFT, None)  # ground truth: no side, no point
    rule = MatchRule()
    assert rule.matches(sdh_left, near) and not rule.matches(sdh_left, far)
    assert MatchRule(distance_mm=25).matches(sdh_left, far)
    assert not rule.matches(sdh_left, right) and not rule.matches(sdh_left, sah)
    assert rule.matches(shift, ReadFinding(FindingType.MIDLINE_SHIFT, Laterality.RIGHT, (0, 0, 0)))
    # one to one, nearest first: the near finding pairs with the reference, far is left over
    m = match_findings([sdh_left], [far, near])
    assert m.pairs == ((sdh_left, near),) and m.only_b == (far,) and not m.only_a


def _read(
    store: ReviewStore,
    study: str,
    reader: str,
    outcome: Outcome,
    findings: list[tuple[FindingType, Laterality, tuple[float, float, float]]],
) -> None:
    for ftype, side, xyz in findings:
        store.add_finding(
            Finding(study, ftype, Location(xyz, (0, 0, 0)), laterality=side, reviewer=reader)
        )
    store.set_status(
        study, ReviewStatus.REVIEWED, reviewer=reader, outcome=outcome, urgency=Urgency.ROUTINE
    )


L, R = Laterality.LEFT, Laterality.RIGHT
SEC, NO = Outcome.SECONDARY, Outcome.NO_ACUTE


def test_agreement_report_over_two_readers(db_url: str) -> None:
    with ReviewStore(db_url) as store:
        sdh = (FindingType.SDH, L, (-50.0, 5.0, 15.0))
        _read(store, "s1", "dr a", SEC, [sdh])
        _read(store, "s1", "dr b", SEC, [(FindingType.SDH, L, (-48.0, 8.0, 20.0))])  # matches
        _read(store, "s2", "dr a", SEC, [sdh])
        _read(store, "s2", "dr b", SEC, [(FindingType.SDH, R, (50.0, 5.0, 15.0))])  # wrong side
        _read(store, "s3", "dr a", NO, [])
        _read(store, "s3", "dr b", SEC, [(FindingType.SAH, L, (1.0, 2.0, 3.0))])
        _read(store, "s4", "dr a", NO, [])
        _read(store, "s4", "dr b", NO, [])
        _read(store, "s5", "dr a", NO, [])  # read by one reader only: left out
        report = agreement(reads_from_store(store))
    assert report.readers == ("dr a", "dr b") and report.studies == ("s1", "s2", "s3", "s4")
    rows = {row.name: row for row in report.rows}
    # outcome: a = S S N N, b = S S S N: p_o = 3/4, p_e = (2*3 + 2*1)/16 = 1/2, kappa = 1/2
    assert rows[OUTCOME].result.kappa == pytest.approx(0.5)
    # SDH present: a = 1 1 0 0, b = 1 1 0 0: kappa 1; findings: 1 pair, 2 unmatched
    assert rows["sdh"].result.kappa == pytest.approx(1.0)
    assert rows["sdh"].positive_agreement == pytest.approx(2 / 4)
    assert rows["sah"].result.percent_agreement == pytest.approx(3 / 4)
    assert rows["sah"].positive_agreement == 0.0
    assert [(d.study_key, d.about) for d in report.discordant] == [
        ("s2", ("sdh",)),
        ("s3", ("outcome", "sah")),
    ]


def test_three_readers_give_fleiss_kappa(db_url: str) -> None:
    with ReviewStore(db_url) as store:
        for study, outcomes in {
            "s1": (SEC, SEC, SEC),
            "s2": (NO, NO, SEC),
            "s3": (NO, NO, NO),
        }.items():
            for reader, outcome in zip(("a", "b", "c"), outcomes, strict=True):
                _read(store, study, reader, outcome, [])
        report = agreement(reads_from_store(store))
    (row,) = report.rows
    assert row.result.method == "fleiss" and row.result.raters == 3
    # by hand: P_i = 1, 1/3, 1 -> P-bar 7/9; p_S = 4/9, p_N = 5/9 -> P_e = 41/81
    assert row.result.kappa == pytest.approx((7 / 9 - 41 / 81) / (1 - 41 / 81))


def test_agreement_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from imaging_triage.cli import main as cli_main

    db = str(tmp_path / "r.sqlite")
    with ReviewStore(db) as store:
        _read(store, "s1", "dr a", SEC, [(FindingType.SDH, L, (-50.0, 5.0, 15.0))])
        _read(store, "s1", "dr b", SEC, [(FindingType.SDH, L, (-50.0, 5.0, 40.0))])  # 25 mm
        _read(store, "s2", "dr a", NO, [])
        _read(store, "s2", "dr b", NO, [])
    assert cli_main(["agreement", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "readers: dr a, dr b; studies read by all: 2" in out
    assert "discordant: s1: sdh" in out
    assert cli_main(["agreement", "--db", db, "--distance-mm", "30", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["discordant"] == [] and doc["rows"][0]["kappa"] == 1.0
    assert cli_main(["agreement", "--db", db, "--reference", "dr a", "--json"]) == 0
    (teaching,) = json.loads(capsys.readouterr().out)["teaching"]
    assert (teaching["reader"], teaching["found"], teaching["missed"]) == ("dr b", 0, 1)
