"""The study page under its worklist's reading mode, and the readers' page.

Which review a reader may see, where a flagged finding or a saved outcome goes (a single
read, one of two blinded independent reads, or the consensus read), the double-reading
panel (reads done, disagreements, consensus), the teaching feedback shown after the
reader saved, and the agreement and teaching summaries of the worklist. The rules are in
:mod:`imaging_triage.review.reading` and :mod:`imaging_triage.review.teaching`; this module
chooses which of them applies and lays out their results.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from imaging_triage.errors import ReviewRuleError, TriageError
from imaging_triage.review import agreement, reading, teaching, workflow
from imaging_triage.review.findings import Finding, Outcome, StudyReview, Urgency
from imaging_triage.review.reading import DoubleReadState, ReadingMode
from imaging_triage.review.reads import reads_from_store
from imaging_triage.review.store import ReviewStore
from imaging_triage.viewer.worklist import Study

S = st.session_state


@dataclass(frozen=True)
class TeachingSetup:
    """What a reader's read is compared with once saved (nothing when both are None)."""

    #: a folder of ``<study>/truth.json`` files (the sample studies' ground truth)
    truth: Path | None = None
    #: the name of a reference reader (an attending) in the same database
    reference: str | None = None

    @property
    def enabled(self) -> bool:
        """Whether teaching feedback is shown at all."""
        return self.truth is not None or bool(self.reference)

    @property
    def label(self) -> str:
        """What the reference is, for the page."""
        if self.reference:
            return f"the read of {self.reference}"
        return "the ground truth of the sample studies"


@dataclass(frozen=True)
class ReadSetup:
    """How this page reads this study."""

    mode: ReadingMode
    #: the findings and outcome this reader may see (blinded in double reading)
    review: StudyReview
    #: double reading only
    state: DoubleReadState | None = None
    #: why this reader may not read the study now (a third reader before both saved)
    refusal: str | None = None

    @property
    def consensus(self) -> bool:
        """True when both independent reads are saved: what is flagged now is the consensus."""
        return self.state is not None and self.state.both_saved

    @property
    def blinded(self) -> bool:
        """True while the other independent read is hidden from this reader."""
        return self.mode is ReadingMode.DOUBLE_BLIND and not self.consensus


def study_mode(study: Study, config: dict[str, object]) -> ReadingMode:
    """The reading mode of the worklist (data root) that holds ``study``."""
    return reading.reading_mode(config, study.root.name)


def open_study_read(
    store: ReviewStore, study: Study, reviewer: str, mode: ReadingMode
) -> ReadSetup:
    """Mark the study opened by ``reviewer`` (claiming an independent read in double
    reading) and return how the page reads it, with what the reader may see."""
    if mode is ReadingMode.SINGLE:
        review = workflow.mark_opened(
            store, study.key, reviewer=reviewer, study_uid=study.study_uid, source=study.source
        )
        return ReadSetup(mode, review)
    if not reviewer:
        return ReadSetup(mode, reading.blinded_review(store, study.key, reviewer))
    try:
        review = reading.open_blinded(
            store,
            study.key,
            reviewer=reviewer,
            study_uid=study.study_uid,
            source=study.source,
            modality=study.modality,
        )
    except ReviewRuleError as err:
        review = reading.blinded_review(store, study.key, reviewer)
        return ReadSetup(mode, review, reading.double_read_state(store, study.key), err.reason)
    return ReadSetup(mode, review, reading.double_read_state(store, study.key))


def flag(
    store: ReviewStore, draft: workflow.FindingDraft, study: Study, reviewer: str, setup: ReadSetup
) -> Finding:
    """Store a flagged finding in the read this page is making."""
    if setup.mode is ReadingMode.SINGLE:
        return workflow.flag_finding(
            store, draft, reviewer=reviewer, study_uid=study.study_uid, source=study.source
        )
    if setup.consensus:
        return reading.flag_consensus_finding(store, draft, reviewer=reviewer)
    return reading.flag_blinded_finding(
        store, draft, reviewer=reviewer, study_uid=study.study_uid, source=study.source
    )


def save(
    store: ReviewStore,
    study: Study,
    setup: ReadSetup,
    *,
    reviewer: str,
    outcome: Outcome | None,
    urgency: Urgency | None,
    seen: int | None,
    confirmed: Collection[int],
    replace: bool,
) -> None:
    """Save the outcome of the read this page is making.

    Raises
    ------
    imaging_triage.errors.TriageError
        As :func:`imaging_triage.review.workflow.save_outcome` (confirmation, conflict,
        missing choices) or the double-reading rules.
    """
    if setup.mode is ReadingMode.SINGLE:
        workflow.save_outcome(
            store,
            study.key,
            reviewer=reviewer,
            outcome=outcome,
            urgency=urgency,
            seen_status_id=seen,
            confirmed_finding_ids=confirmed,
            replace=replace,
            study_uid=study.study_uid,
            source=study.source,
        )
        return
    save_read = reading.save_consensus if setup.consensus else reading.save_blinded_outcome
    save_read(
        store,
        study.key,
        reviewer=reviewer,
        outcome=outcome,
        urgency=urgency,
        confirmed_finding_ids=confirmed,
    )


def double_read_panel(setup: ReadSetup) -> None:
    """Reads done, and once both are saved the disagreements and the consensus."""
    state = setup.state
    if setup.mode is not ReadingMode.DOUBLE_BLIND or state is None:
        return
    st.markdown("**Blinded double reading**")
    if not state.both_saved:
        st.info(
            f"Reads saved: {state.reads_done} of {reading.READERS_NEEDED}. Your read is "
            "independent: the other reader's findings and outcome stay hidden until both "
            "reads are saved."
        )
        return
    if state.consensus is not None:
        outcome = state.consensus.outcome.label if state.consensus.outcome else "-"
        st.success(f"Consensus saved by {state.consensus.reader}: {outcome}.")
    if not state.disagreements:
        st.success("Both reads are saved and agree (outcome, urgency and every finding).")
        return
    st.warning(
        f"Both reads are saved; they disagree on {len(state.disagreements)} point(s). "
        + (
            ""
            if state.consensus
            else "A consensus read is pending: findings flagged and the "
            "outcome saved now are the consensus read, stored with your name."
        )
    )
    for item in state.disagreements:  # outcome and urgency details name themselves
        st.text(f"finding: {item.detail}" if item.about == "finding" else item.detail)


def teaching_panel(store: ReviewStore, study: Study, reviewer: str, setup: TeachingSetup) -> None:
    """After the reader saved, their read against the reference; before, only a note."""
    if not setup.enabled or not reviewer:
        return
    st.markdown("**Teaching**")
    try:
        result = teaching.feedback(
            store, study.key, reviewer, reference=setup.reference, ground_truth=setup.truth
        )
    except ReviewRuleError:
        st.caption(f"After you save your outcome, your read is compared with {setup.label}.")
        return
    except TriageError as err:  # an unreadable reference: said, never a crash
        st.caption(f"The reference read cannot be used: {err.reason}")
        return
    if result is None:
        st.caption(f"No reference read for this study ({setup.label}).")
        return
    lines = [f"Compared with {setup.label}:"]
    lines += [f"found: {_finding(ref)}" for ref, _ in result.found]
    lines += [f"missed: {_finding(ref)}" for ref in result.missed]
    lines += [f"extra: {_finding(f)}" for f in result.extra]
    for what, match in (("outcome", result.outcome_match), ("urgency", result.urgency_match)):
        if match is not None:
            lines.append(f"{what}: {'matches' if match else 'differs'}")
    st.text("\n".join(lines))


def _finding(f: Any) -> str:
    side = f", {f.laterality.label.lower()}" if f.laterality else ""
    return f"{f.type.label}{side}"


def worklist_reading(
    store: ReviewStore,
    reviews: dict[str, StudyReview],
    studies: list[Study],
    reviewer: str,
    config: dict[str, object],
) -> tuple[dict[str, StudyReview], dict[str, str]]:
    """What the worklist shows of double-read studies: ``reviews`` with every study not yet
    read twice as ``reviewer`` sees it (the worklist must not reveal the other reader's
    outcome either), and per study the "reads" cell: done, agreement, consensus."""
    double = [s for s in studies if study_mode(s, config) is ReadingMode.DOUBLE_BLIND]
    if not double:
        return reviews, {}
    states = reading.worklist_states(store)
    shown, cells = dict(reviews), {}
    for s in double:
        state = states.get(s.key)
        if state is None or not state.both_saved:
            cells[s.key] = f"{state.reads_done if state else 0}/{reading.READERS_NEEDED}"
            if s.key in shown:
                shown[s.key] = reading.blinded_review(store, s.key, reviewer)
        elif state.consensus is not None:
            cells[s.key] = "2/2 · consensus saved"
        else:
            cells[s.key] = "2/2 · agree" if state.agree else "2/2 · consensus pending"
    return shown, cells


def readers_page(store: ReviewStore, setup: TeachingSetup) -> None:
    """Agreement between readers and, in teaching mode, each reader's results."""
    report = agreement.agreement(reads_from_store(store))
    if len(report.readers) < 2 or not report.studies:
        st.caption("Agreement needs two readers who saved outcomes on the same studies.")
    else:
        st.caption(
            f"{len(report.studies)} studies read by {', '.join(report.readers)}; a finding "
            "matches another of the same type and side within 20 mm."
        )
        rows = []
        for row in report.rows:
            k = row.result.kappa
            rows.append(
                {
                    "item": row.name,
                    "kappa": "undefined" if k is None else f"{k:.2f}",
                    "method": row.result.method,
                    "percent agreement": f"{100 * row.result.percent_agreement:.0f}%",
                    "positive agreement": "-"
                    if row.positive_agreement is None
                    else f"{100 * row.positive_agreement:.0f}%",
                }
            )
        st.table(rows)
        for d in report.discordant:
            st.text(f"discordant: {d.study_key} ({', '.join(d.about)})")
    if not setup.enabled:
        return
    if setup.reference:
        results = teaching.against_reader(store, setup.reference)
    else:
        assert setup.truth is not None
        results = teaching.against_truth(store, setup.truth)
    st.markdown(f"**Teaching: reads compared with {setup.label}**")
    summary = teaching.summarize(results)
    if not summary:
        st.caption("No saved read to compare yet.")
    for name, s in summary.items():
        st.text(
            f"{name}: {len(s.results)} studies · found {s.found}, missed {s.missed}, "
            f"extra {s.extra} · outcome matched {s.outcome_matches}/{len(s.results)}, "
            f"urgency {s.urgency_matches}/{len(s.results)}"
        )
