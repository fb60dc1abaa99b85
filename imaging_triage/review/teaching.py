"""Teaching mode: a reader's read scored against a reference read.

The reference is another reader's read of the same study (an attending's), or the ground
truth of a sample study (``sample_data/ground_truth/<study>/truth.json``). Per study:
which reference findings the reader **found** (matched one to one under
:class:`~imaging_triage.review.reads.MatchRule`: type, side, within 20 mm by default),
which they **missed**, which of theirs are **extra**, and whether the outcome and the
urgency match. :func:`summarize` adds the results up per reader, oldest first, so a
resident sees their reads over time.

Feedback comes only after the reader has saved their outcome: :func:`score_read` refuses
an incomplete read (:class:`~imaging_triage.errors.ReviewRuleError`, code
``read-not-saved``), so a page cannot show the answer before the reader commits.
Everything is computed from the review database and the sample ground truth on this
machine; nothing is sent anywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from imaging_triage.errors import ReviewRuleError
from imaging_triage.review.reads import (
    DEFAULT_RULE,
    MatchRule,
    Read,
    ReadFinding,
    match_findings,
    read_from_truth,
    reads_from_store,
    truth_study_uid,
)
from imaging_triage.review.store import ReviewStore


@dataclass(frozen=True)
class TeachingResult:
    """One read scored against its reference."""

    study_key: str
    reader: str
    reference: str
    #: (reference finding, the reader's matching finding)
    found: tuple[tuple[ReadFinding, ReadFinding], ...] = ()
    missed: tuple[ReadFinding, ...] = ()
    extra: tuple[ReadFinding, ...] = ()
    #: None when the reference has no outcome (or urgency)
    outcome_match: bool | None = None
    urgency_match: bool | None = None
    saved_at: str = ""


def score_read(read: Read, reference: Read, rule: MatchRule = DEFAULT_RULE) -> TeachingResult:
    """Score ``read`` against ``reference`` (see the module docstring).

    Raises
    ------
    ReviewRuleError
        (code ``read-not-saved``) if the reader has not saved an outcome yet.
    """
    if not read.complete:
        raise ReviewRuleError(
            "save your outcome first: teaching feedback is shown only after your read is "
            "saved, never before",
            code="read-not-saved",
        )
    matching = match_findings(reference.findings, read.findings, rule)
    return TeachingResult(
        study_key=read.study_key,
        reader=read.reader,
        reference=reference.reader,
        found=matching.pairs,
        missed=matching.only_a,
        extra=matching.only_b,
        outcome_match=None if reference.outcome is None else read.outcome is reference.outcome,
        urgency_match=None if reference.urgency is None else read.urgency is reference.urgency,
        saved_at=read.saved_at,
    )


@dataclass
class ReaderSummary:
    """One reader's teaching results added up (``results`` oldest first)."""

    reader: str
    results: list[TeachingResult] = field(default_factory=list)

    @property
    def found(self) -> int:
        """The reference findings found, over all studies."""
        return sum(len(r.found) for r in self.results)

    @property
    def missed(self) -> int:
        """The reference findings missed."""
        return sum(len(r.missed) for r in self.results)

    @property
    def extra(self) -> int:
        """Findings flagged that the reference does not have."""
        return sum(len(r.extra) for r in self.results)

    @property
    def outcome_matches(self) -> int:
        """Studies whose outcome matched the reference."""
        return sum(1 for r in self.results if r.outcome_match)

    @property
    def urgency_matches(self) -> int:
        """Studies whose urgency matched the reference."""
        return sum(1 for r in self.results if r.urgency_match)


def summarize(results: Iterable[TeachingResult]) -> dict[str, ReaderSummary]:
    """Results grouped per reader, each reader's oldest first."""
    out: dict[str, ReaderSummary] = {}
    for result in sorted(results, key=lambda r: (r.reader, r.saved_at, r.study_key)):
        out.setdefault(result.reader, ReaderSummary(result.reader)).results.append(result)
    return out


def against_reader(
    store: ReviewStore,
    reference: str,
    *,
    readers: Sequence[str] | None = None,
    rule: MatchRule = DEFAULT_RULE,
) -> list[TeachingResult]:
    """Every saved read (of ``readers``, default all others) scored against the reads of
    ``reference`` on the same studies."""
    results = []
    for by_reader in reads_from_store(store).values():
        ref = by_reader.get(reference)
        if ref is None or not ref.complete:
            continue
        for name, read in by_reader.items():
            if name == reference or not read.complete:
                continue
            if readers is None or name in readers:
                results.append(score_read(read, ref, rule))
    return results


def truth_index(ground_truth: str | Path) -> dict[str, Path]:
    """Study Instance UID -> ``truth.json`` for every ``<study>/truth.json`` under
    ``ground_truth``.

    Each file is read once per version (its path, size and modification time): the
    viewer asks on every rerun of a page, and a changed file is read again.

    Raises
    ------
    InputError
        If a ``truth.json`` cannot be read or parsed.
    """
    index: dict[str, Path] = {}
    for path in sorted(Path(ground_truth).glob("*/truth.json")):
        stat = path.stat()
        uid = _truth_uid(str(path), stat.st_size, stat.st_mtime_ns)
        if uid:
            index.setdefault(uid, path)
    return index


@functools.lru_cache(maxsize=4096)
def _truth_uid(path: str, size: int, mtime_ns: int) -> str:
    """:func:`truth_study_uid` of one version of a file (the cache key)."""
    return truth_study_uid(path)


def against_truth(
    store: ReviewStore,
    ground_truth: str | Path,
    *,
    readers: Sequence[str] | None = None,
    rule: MatchRule = DEFAULT_RULE,
) -> list[TeachingResult]:
    """Every saved read of a sample study scored against its ``truth.json``.

    Studies are paired with their ground truth by Study Instance UID (as registered when
    the study was opened in the viewer).
    """
    truths = truth_index(ground_truth)
    uid_of = {s["study_key"]: s["study_uid"] for s in store.studies()}
    results = []
    for key, by_reader in reads_from_store(store).items():
        path = truths.get(uid_of.get(key, ""))
        if path is None:
            continue
        ref = read_from_truth(path, key)
        for name, read in by_reader.items():
            if read.complete and (readers is None or name in readers):
                results.append(score_read(read, ref, rule))
    return results


def feedback(
    store: ReviewStore,
    study_key: str,
    reader: str,
    *,
    reference: str | None = None,
    ground_truth: str | Path | None = None,
    rule: MatchRule = DEFAULT_RULE,
) -> TeachingResult | None:
    """The teaching result the page shows a reader on one study after they saved.

    The reference is ``reference``'s read when given (None if they have not saved one),
    else the ``truth.json`` under ``ground_truth`` with the study's UID (None if none).

    Raises
    ------
    ReviewRuleError
        (code ``read-not-saved``) if ``reader`` has not saved an outcome on the study.
    """
    by_reader = reads_from_store(store, study_key).get(study_key, {})
    read = by_reader.get(reader, Read(study_key, reader))
    if reference is not None:
        ref = by_reader.get(reference)
        return score_read(read, ref, rule) if ref is not None and ref.complete else None
    if ground_truth is None:
        return None
    uid = next((s["study_uid"] for s in store.studies() if s["study_key"] == study_key), "")
    path = truth_index(ground_truth).get(uid) if uid else None
    if path is not None:
        return score_read(read, read_from_truth(path, study_key), rule)
    if not read.complete:
        score_read(read, read, rule)  # raises: never reveal whether a truth exists first
    return None
