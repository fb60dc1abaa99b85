"""Reading modes, and the rules of blinded double reading.

A worklist is read in one of two modes (:class:`ReadingMode`), set in the viewer's
config file (:func:`reading_mode`)::

    reading_mode = "double_blind"          # every worklist
    [reading_modes]
    "ED head CT" = "double_blind"          # or per worklist (data root name)

In **blinded double reading** each study is read by two readers independently:

- the first two readers to open a study read it; a third is refused until both have
  saved (:func:`check_may_read`), then may read the consensus;
- until both have saved an outcome, a reader sees only their own findings and outcome
  (:func:`blinded_review`): never the other reader's, not even through an error message;
- once both have saved, everything is visible and the **disagreements** are listed
  (:class:`DoubleReadState`): outcome, urgency, and every finding without a match in the
  other read (type, side, within 20 mm: :class:`~imaging_triage.review.reads.MatchRule`);
- a **consensus read** settles them: its findings and outcome are stored with the
  consensus reader's name and the read role ``"consensus"`` (:func:`flag_consensus_finding`,
  :func:`save_consensus`); the study's outcome is then the consensus outcome.

The worklist shows per study: reads done, agreement, consensus pending
(:func:`worklist_states`). Every rule lives here; the page only calls these functions
and shows the :class:`~imaging_triage.errors.ReviewRuleError` messages they raise.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from imaging_triage.errors import ConfigError, ReviewRuleError
from imaging_triage.review.findings import (
    Finding,
    Outcome,
    ReviewStatus,
    StudyReview,
    Urgency,
)
from imaging_triage.review.reads import (
    DEFAULT_RULE,
    MatchRule,
    Read,
    ReadFinding,
    match_findings,
    reads_from_store,
)
from imaging_triage.review.store import ReviewStore
from imaging_triage.review.workflow import (
    FindingDraft,
    build_finding,
    flag_finding,
    require_reviewer,
    save_outcome,
)

#: the read role of a consensus read (findings and status rows)
CONSENSUS = "consensus"
#: independent reads of a study in blinded double reading
READERS_NEEDED = 2


class ReadingMode(str, enum.Enum):
    """How a worklist's studies are read."""

    #: one reader per study (the default)
    SINGLE = "single"
    #: two independent, blinded readers per study, then a consensus on disagreement
    DOUBLE_BLIND = "double_blind"


def reading_mode(config: Mapping[str, Any], worklist: str = "") -> ReadingMode:
    """The reading mode of ``worklist`` from the viewer's config (see module docstring).

    Raises
    ------
    ConfigError
        For a value that is not a reading mode; the message lists the valid ones.
    """
    per_list = config.get("reading_modes") or {}
    value = per_list.get(worklist) if isinstance(per_list, Mapping) else None
    if value is None:
        value = config.get("reading_mode", ReadingMode.SINGLE.value)
    try:
        return ReadingMode(value)
    except ValueError as err:
        valid = ", ".join(m.value for m in ReadingMode)
        raise ConfigError(f"reading mode {value!r} is not one of: {valid}") from err


@dataclass(frozen=True)
class Disagreement:
    """One thing the two readers disagree on."""

    #: "outcome", "urgency" or "finding"
    about: str
    #: a sentence for the page, e.g. "Subdural hemorrhage (SDH), left: only dr a"
    detail: str
    #: the finding without a match (for "finding")
    finding: ReadFinding | None = None
    #: who flagged it (for "finding")
    reader: str = ""


@dataclass(frozen=True)
class DoubleReadState:
    """Where a study stands in blinded double reading."""

    study_key: str
    #: the independent readers, in the order they started (at most two count)
    readers: tuple[str, ...] = ()
    #: those of them who saved an outcome
    saved: tuple[str, ...] = ()
    #: the consensus read, once saved
    consensus: Read | None = None
    #: empty until both readers saved
    disagreements: tuple[Disagreement, ...] = ()

    @property
    def reads_done(self) -> int:
        """Independent reads saved (0, 1 or 2)."""
        return len(self.saved)

    @property
    def both_saved(self) -> bool:
        """True once both independent reads are saved (everything is visible then)."""
        return self.reads_done >= READERS_NEEDED

    @property
    def agree(self) -> bool | None:
        """Whether the two reads agree (None until both are saved)."""
        return None if not self.both_saved else not self.disagreements

    @property
    def consensus_pending(self) -> bool:
        """Both saved, they disagree, and no consensus is saved yet."""
        return self.both_saved and bool(self.disagreements) and self.consensus is None


def _state(
    study_key: str,
    independent: Mapping[str, Read],
    consensus: Mapping[str, Read],
    order: list[str],
    rule: MatchRule,
) -> DoubleReadState:
    # a reader claims a read by opening the study (an in-progress row), findings or not
    readers = tuple(order)[:READERS_NEEDED]
    saved = tuple(r for r in readers if r in independent and independent[r].complete)
    done = [c for c in consensus.values() if c.complete]
    state = DoubleReadState(
        study_key, readers, saved, max(done, key=lambda c: c.saved_at, default=None)
    )
    if not state.both_saved:
        return state
    first, second = independent[saved[0]], independent[saved[1]]
    return replace(state, disagreements=tuple(disagreements(first, second, rule)))


def disagreements(a: Read, b: Read, rule: MatchRule = DEFAULT_RULE) -> list[Disagreement]:
    """What two reads disagree on: outcome, urgency, and findings without a match."""
    out = []
    if a.outcome is not b.outcome:
        out.append(Disagreement("outcome", _pair(a, b, "outcome")))
    if a.urgency is not b.urgency:
        out.append(Disagreement("urgency", _pair(a, b, "urgency")))
    matching = match_findings(a.findings, b.findings, rule)
    for reader, unmatched in ((a.reader, matching.only_a), (b.reader, matching.only_b)):
        for f in unmatched:
            side = f", {f.laterality.label.lower()}" if f.laterality else ""
            out.append(Disagreement("finding", f"{f.type.label}{side}: only {reader}", f, reader))
    return out


def _pair(a: Read, b: Read, what: str) -> str:
    def label(read: Read) -> str:
        value = getattr(read, what)
        return value.label if value is not None else "-"

    return f"{what}: {a.reader} {label(a)}; {b.reader} {label(b)}"


def _order(store: ReviewStore, study_key: str | None) -> dict[str, list[str]]:
    """Per study, the readers of independent reads in the order of their first row."""
    first: dict[str, dict[str, str]] = {}
    for f in store.findings(study_key):
        if f.read_role == "":
            first.setdefault(f.study_key, {}).setdefault(f.reviewer, f.created_at)
    for row in store.status_rows(study_key):
        if row.get("read_role", "") == "" and row["status"] != ReviewStatus.UNREAD.value:
            seen = first.setdefault(row["study_key"], {})
            if row["reviewer"] not in seen or row["created_at"] < seen[row["reviewer"]]:
                seen[row["reviewer"]] = row["created_at"]
    return {k: sorted(v, key=lambda r: v[r]) for k, v in first.items()}


def double_read_state(
    store: ReviewStore, study_key: str, rule: MatchRule = DEFAULT_RULE
) -> DoubleReadState:
    """The study's double-reading state (readers, saves, disagreements, consensus)."""
    independent = reads_from_store(store, study_key).get(study_key, {})
    consensus = reads_from_store(store, study_key, role=CONSENSUS).get(study_key, {})
    order = _order(store, study_key).get(study_key, [])
    return _state(study_key, independent, consensus, order, rule)


def worklist_states(
    store: ReviewStore, rule: MatchRule = DEFAULT_RULE
) -> dict[str, DoubleReadState]:
    """Every study's double-reading state, for the worklist's columns (one pass)."""
    independent = reads_from_store(store)
    consensus = reads_from_store(store, role=CONSENSUS)
    order = _order(store, None)
    keys = set(independent) | set(consensus)
    return {
        k: _state(k, independent.get(k, {}), consensus.get(k, {}), order.get(k, []), rule)
        for k in sorted(keys)
    }


def check_may_read(store: ReviewStore, study_key: str, reader: str | None) -> DoubleReadState:
    """Refuse a third reader while two independent reads are open; return the state.

    Raises
    ------
    ReviewerRequiredError
        Without the reader's name.
    ReviewRuleError
        (code ``double-read-full``) if two other readers are reading the study and have
        not both saved yet.
    """
    name = require_reviewer(reader, "read this study")
    state = double_read_state(store, study_key)
    if name not in state.readers and len(state.readers) >= READERS_NEEDED and not state.both_saved:
        raise ReviewRuleError(
            "two readers are already reading this study independently; it opens for the "
            "consensus once both have saved their outcome",
            code="double-read-full",
        )
    return state


def blinded_review(store: ReviewStore, study_key: str, reader: str | None) -> StudyReview:
    """What ``reader`` may see of the study: until both independent reads are saved, only
    their own findings and outcome; afterwards, everything (both reads and the consensus)."""
    name = (reader or "").strip()
    state = double_read_state(store, study_key)
    full = store.review(study_key)
    if state.both_saved:
        return full
    own = [f for f in full.findings if f.reviewer == name and f.read_role == ""]
    rows = [
        r for r in store.status_rows(study_key) if r["reviewer"] == name and not r.get("read_role")
    ]
    if not rows:
        return StudyReview(study_key=study_key, findings=own)
    last = rows[-1]
    return StudyReview(
        study_key=study_key,
        status=ReviewStatus(last["status"]),
        outcome=Outcome(last["outcome"]) if last["outcome"] else None,
        urgency=Urgency(last["urgency"]) if last["urgency"] else None,
        reviewer=name,
        updated_at=last["created_at"],
        findings=own,
        status_id=int(last["id"]),
    )


def open_blinded(
    store: ReviewStore,
    study_key: str,
    *,
    reviewer: str | None,
    study_uid: str = "",
    source: str = "",
    modality: str = "",
) -> StudyReview:
    """A reader opens a study of a double-read worklist: claim one of the two reads (an
    in-progress status row of theirs) unless both are saved; return what they may see.

    Raises
    ------
    ReviewerRequiredError, ReviewRuleError
        Without a name; or ``double-read-full`` as :func:`check_may_read`.
    """
    state = check_may_read(store, study_key, reviewer)
    name = require_reviewer(reviewer, "read this study")
    if name not in state.readers and not state.both_saved:
        store.register_study(study_key, study_uid=study_uid, source=source, modality=modality)
        store.set_status(study_key, ReviewStatus.IN_PROGRESS, reviewer=name)
    return blinded_review(store, study_key, name)


def flag_blinded_finding(
    store: ReviewStore, draft: FindingDraft, *, reviewer: str | None, study_uid: str = "",
    source: str = "",
) -> Finding:  # fmt: skip
    """Flag a finding of the reader's independent read (a third reader is refused)."""
    check_may_read(store, draft.study_key, reviewer)
    return flag_finding(store, draft, reviewer=reviewer, study_uid=study_uid, source=source)


def save_blinded_outcome(
    store: ReviewStore,
    study_key: str,
    *,
    reviewer: str | None,
    outcome: Outcome | None,
    urgency: Urgency | None,
    confirmed_finding_ids: Collection[int] = (),
) -> DoubleReadState:
    """Save the reader's independent outcome; return the study's state after it.

    The other reader's outcome is no conflict here (reads are independent), and only the
    reader's own findings count for the "no acute abnormality" confirmation.
    """
    check_may_read(store, study_key, reviewer)
    return _save(store, study_key, reviewer, outcome, urgency, confirmed_finding_ids, "")


def _require_both_saved(store: ReviewStore, study_key: str) -> None:
    if not double_read_state(store, study_key).both_saved:
        raise ReviewRuleError(
            "the consensus read starts once both independent readers have saved their outcome",
            code="consensus-too-early",
        )


def flag_consensus_finding(
    store: ReviewStore, draft: FindingDraft, *, reviewer: str | None
) -> Finding:
    """Flag a finding of the consensus read (stored with role ``"consensus"``).

    Raises
    ------
    ReviewRuleError
        (code ``consensus-too-early``) before both independent reads are saved.
    """
    _require_both_saved(store, draft.study_key)
    finding = replace(build_finding(draft, reviewer=reviewer), read_role=CONSENSUS)
    return store.add_finding(finding)


def save_consensus(
    store: ReviewStore,
    study_key: str,
    *,
    reviewer: str | None,
    outcome: Outcome | None,
    urgency: Urgency | None,
    confirmed_finding_ids: Collection[int] = (),
) -> DoubleReadState:
    """Save the consensus outcome (role ``"consensus"``, with the consensus reader's name).

    Raises
    ------
    ReviewRuleError
        (code ``consensus-too-early``) before both independent reads are saved.
    """
    _require_both_saved(store, study_key)
    return _save(store, study_key, reviewer, outcome, urgency, confirmed_finding_ids, CONSENSUS)


def _save(
    store: ReviewStore,
    study_key: str,
    reviewer: str | None,
    outcome: Outcome | None,
    urgency: Urgency | None,
    confirmed_finding_ids: Collection[int],
    role: str,
) -> DoubleReadState:
    """Save an outcome of a read of ``role``: no conflict with the other reads (they are
    independent), and only the reader's own findings of that role count."""
    save_outcome(
        store,
        study_key,
        reviewer=reviewer,
        outcome=outcome,
        urgency=urgency,
        seen_status_id=None,
        confirmed_finding_ids=confirmed_finding_ids,
        read_role=role,
        own_findings_only=True,
    )
    return double_read_state(store, study_key)
