"""Blinded double reading without a browser: two readers on one study, then consensus."""

from __future__ import annotations

import pytest

from imaging_triage.errors import ConfigError, ReviewRuleError
from imaging_triage.review.agreement import agreement
from imaging_triage.review.findings import (
    FindingType,
    Laterality,
    Location,
    Outcome,
    Urgency,
)
from imaging_triage.review.reading import (
    CONSENSUS,
    ReadingMode,
    blinded_review,
    check_may_read,
    double_read_state,
    flag_blinded_finding,
    flag_consensus_finding,
    open_blinded,
    reading_mode,
    save_blinded_outcome,
    save_consensus,
    worklist_states,
)
from imaging_triage.review.reads import reads_from_store
from imaging_triage.review.store import ReviewStore
from imaging_triage.review.workflow import draft_finding

STUDY = "study_dbl"
LEFT = Location((-50.0, 5.0, 15.0), (10, 20, 3), "1.2.3")
RIGHT = Location((50.0, 5.0, 15.0), (200, 20, 3), "1.2.3")


def _flag(store: ReviewStore, reader: str, where: Location, side: Laterality,
          ftype: FindingType = FindingType.SDH) -> None:  # fmt: skip
    draft = draft_finding(STUDY, where, midline_x_mm=0.0).choose(type=ftype, laterality=side)
    flag_blinded_finding(store, draft, reviewer=reader)


def test_reading_mode_from_the_config() -> None:
    assert reading_mode({}) is ReadingMode.SINGLE
    config = {"reading_mode": "double_blind", "reading_modes": {"clinic": "single"}}
    assert reading_mode(config, "ED") is ReadingMode.DOUBLE_BLIND
    assert reading_mode(config, "clinic") is ReadingMode.SINGLE
    with pytest.raises(ConfigError, match="double_blind"):
        reading_mode({"reading_mode": "triple"})


def test_two_blinded_readers_then_disagreements_then_consensus(db_url: str) -> None:
    with ReviewStore(db_url) as store:
        open_blinded(store, STUDY, reviewer="dr a", study_uid="2.25.9")
        open_blinded(store, STUDY, reviewer="dr b")
        _flag(store, "dr a", LEFT, Laterality.LEFT)
        _flag(store, "dr b", RIGHT, Laterality.RIGHT)
        # each sees only their own finding
        view_a = blinded_review(store, STUDY, "dr a")
        view_b = blinded_review(store, STUDY, "dr b")
        assert [f.reviewer for f in view_a.findings] == ["dr a"]
        assert [f.reviewer for f in view_b.findings] == ["dr b"]
        state = save_blinded_outcome(
            store, STUDY, reviewer="dr a", outcome=Outcome.SECONDARY, urgency=Urgency.CRITICAL
        )
        assert state.reads_done == 1 and state.agree is None and not state.disagreements
        # dr b still sees neither dr a's outcome nor their finding
        view_b = blinded_review(store, STUDY, "dr b")
        assert view_b.outcome is None and [f.reviewer for f in view_b.findings] == ["dr b"]
        # a third reader waits; the consensus waits
        with pytest.raises(ReviewRuleError, match="already reading") as full:
            check_may_read(store, STUDY, "dr c")
        assert full.value.code == "double-read-full"
        draft = draft_finding(STUDY, LEFT, midline_x_mm=0.0).choose(
            type=FindingType.SDH, laterality=Laterality.LEFT
        )
        with pytest.raises(ReviewRuleError, match="once both"):
            flag_consensus_finding(store, draft, reviewer="dr c")
        state = save_blinded_outcome(
            store, STUDY, reviewer="dr b", outcome=Outcome.SECONDARY, urgency=Urgency.URGENT
        )
        assert state.both_saved and state.agree is False and state.consensus_pending
        assert sorted(d.about for d in state.disagreements) == ["finding", "finding", "urgency"]
        details = {d.detail for d in state.disagreements}
        assert "Subdural hemorrhage (SDH), left: only dr a" in details
        assert f"urgency: dr a {Urgency.CRITICAL.label}; dr b {Urgency.URGENT.label}" in details
        # now everything is visible to both, and a third reader may read the consensus
        assert {f.reviewer for f in blinded_review(store, STUDY, "dr b").findings} == {
            "dr a",
            "dr b",
        }
        check_may_read(store, STUDY, "dr c")
        flag_consensus_finding(store, draft, reviewer="dr c")
        state = save_consensus(
            store, STUDY, reviewer="dr c", outcome=Outcome.SECONDARY, urgency=Urgency.CRITICAL
        )
        assert not state.consensus_pending and state.consensus is not None
        assert state.consensus.reader == "dr c" and len(state.consensus.findings) == 1
        review = store.review(STUDY)
        assert (review.outcome, review.urgency, review.reviewer, review.read_role) == (
            Outcome.SECONDARY,
            Urgency.CRITICAL,
            "dr c",
            CONSENSUS,
        )
        assert store.audit(STUDY)[-1]["after"]["read_role"] == CONSENSUS
        assert store.verify().ok
        # agreement compares the two independent reads, not the consensus
        report = agreement(reads_from_store(store))
        assert report.readers == ("dr a", "dr b")
        (row,) = [s for s in worklist_states(store).values()]
        assert (row.reads_done, row.agree, row.consensus_pending) == (2, False, False)


def test_no_acute_confirmation_counts_only_the_readers_own_findings(db_url: str) -> None:
    with ReviewStore(db_url) as store:
        open_blinded(store, STUDY, reviewer="dr a")
        open_blinded(store, STUDY, reviewer="dr b")
        _flag(store, "dr a", LEFT, Laterality.LEFT)
        # dr a's acute finding neither blocks nor shows in dr b's "no acute" save
        state = save_blinded_outcome(
            store, STUDY, reviewer="dr b", outcome=Outcome.NO_ACUTE, urgency=Urgency.ROUTINE
        )
        assert state.reads_done == 1
        state = save_blinded_outcome(
            store, STUDY, reviewer="dr a", outcome=Outcome.SECONDARY, urgency=Urgency.CRITICAL
        )
        assert {d.about for d in state.disagreements} == {"outcome", "urgency", "finding"}


def test_agreeing_reads_need_no_consensus(db_url: str) -> None:
    with ReviewStore(db_url) as store:
        for reader, where in (("dr a", LEFT), ("dr b", Location((-45.0, 9.0, 20.0), (0, 0, 0)))):
            open_blinded(store, STUDY, reviewer=reader)
            _flag(store, reader, where, Laterality.LEFT)
            save_blinded_outcome(
                store, STUDY, reviewer=reader, outcome=Outcome.SECONDARY, urgency=Urgency.CRITICAL
            )
        state = double_read_state(store, STUDY)
    assert state.agree is True and not state.consensus_pending


def test_opening_the_study_claims_a_read_without_any_finding(db_url: str) -> None:
    with ReviewStore(db_url) as store:
        open_blinded(store, "k", reviewer="dr a", study_uid="1.2.3")
        open_blinded(store, "k", reviewer="dr b", study_uid="1.2.3")
        state = double_read_state(store, "k")
        assert state.readers == ("dr a", "dr b") and state.reads_done == 0
        with pytest.raises(ReviewRuleError) as err:
            open_blinded(store, "k", reviewer="dr c")
        assert err.value.code == "double-read-full"
        # the two who opened it may go on
        assert open_blinded(store, "k", reviewer="dr b").findings == []
