"""The worklist: every study under the data roots, with its review state.

Studies are found with :func:`imaging_triage.ingest.scan` (headers only) and grouped by
Study Instance UID (NIfTI files: by folder). A study's key is
:attr:`~imaging_triage.ingest.SeriesRecord.study_folder`, a hash of its UID, so the key
is stable across scans and carries no identifier; the review store and exports use it.

A study viewed from a ``preprocess`` output folder carries the automated candidate score
its series were given (:mod:`imaging_triage.candidates.stored`): the worklist shows it in a
column labelled :data:`CANDIDATES_LABEL` and can sort by it, never by default.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from imaging_triage.candidates.score import CandidateScore
from imaging_triage.ingest import ScanResult, SeriesRecord, SourceKind, Status
from imaging_triage.review.findings import ReviewStatus, StudyReview, Urgency
from imaging_triage.roots import DataRoots

logger = logging.getLogger(__name__)

#: the header of the candidates column: what the number is, and what it is not
CANDIDATES_LABEL = "automated candidates, not a diagnosis"


@dataclass
class Study:
    """One study found under a data root."""

    key: str
    study_uid: str
    #: folder of the study relative to its data root (shown to the reader)
    source: str
    root: Path
    series: list[SeriesRecord] = field(default_factory=list)

    @property
    def modality(self) -> str:
        """Modalities of the study's usable series, e.g. ``"CT"`` or ``"MR"``."""
        mods = sorted({r.modality for r in self.usable if r.modality})
        return "/".join(mods) if mods else ("NIfTI" if self.usable else "-")

    @property
    def usable(self) -> list[SeriesRecord]:
        """Series that are volumes (status ok)."""
        return [r for r in self.series if r.status in (Status.OK, Status.SKIPPED)]

    @property
    def patient_key(self) -> str:
        """Keyed hash of the patient (never shown), or empty when unknown."""
        return next((r.patient_key for r in self.series if r.patient_key), "")

    @property
    def study_date(self) -> str:
        """StudyDate as ``YYYY-MM-DD`` (empty when unknown)."""
        raw = next((r.study_date for r in self.series if r.study_date), "")
        return f"{raw[:4]}-{raw[4:6]}-{raw[6:8]}" if len(raw) >= 8 and raw.isdigit() else raw

    @cached_property
    def candidates(self) -> CandidateScore | None:
        """The automated candidate score ``preprocess`` gave the study's series (read once),
        or None when none has candidates (not checked: not a score of 0)."""
        from imaging_triage.candidates.stored import study_candidates

        images = [r.files[0] for r in self.usable if r.kind is SourceKind.NIFTI and r.files]
        return study_candidates(images) if images else None


def same_patient(studies: Sequence[Study], study: Study) -> list[Study]:
    """Other studies of ``study``'s patient (matched by keyed hash), oldest first."""
    if not study.patient_key:
        return []
    others = [s for s in studies if s.key != study.key and s.patient_key == study.patient_key]
    return sorted(others, key=lambda s: (s.study_date, s.source))


class SortKey(str, enum.Enum):
    """Orders of the worklist."""

    #: critical first, then urgent, routine, then not yet triaged
    URGENCY = "urgency"
    #: unread first, then in progress, then reviewed
    STATUS = "status"
    #: by folder name
    SOURCE = "source"
    #: highest automated candidate score first, studies without candidates last
    CANDIDATES = "candidates"


@dataclass(frozen=True)
class WorklistRow:
    """One line of the worklist table."""

    key: str
    source: str
    modality: str
    series: int
    status: ReviewStatus
    outcome: str
    urgency: str
    reviewer: str
    #: automated candidate score (0-100), None when the checks did not run on the study
    candidates: int | None = None
    #: the reasons behind the score, highest contribution first
    candidate_reasons: tuple[str, ...] = ()

    @property
    def candidates_text(self) -> str:
        """The candidates cell: the score, or a dash when the checks did not run."""
        return "–" if self.candidates is None else str(self.candidates)

    def as_dict(self) -> dict[str, object]:
        """Display dict (labels, not codes)."""
        return {
            "study": self.source,
            "modality": self.modality,
            "series": self.series,
            "status": self.status.label,
            "outcome": self.outcome,
            "urgency": self.urgency,
            "reviewer": self.reviewer,
            CANDIDATES_LABEL: self.candidates,
            "key": self.key,
        }


def group_studies(result: ScanResult, root: Path) -> list[Study]:
    """Group the series of one scan into studies."""
    studies: dict[str, Study] = {}
    for record in result.series:
        key = record.study_folder
        study = studies.get(key)
        if study is None:
            folder = Path(record.input)
            if record.kind == "nifti" or (Path(record.files[0]).is_file() and record.input != "."):
                folder = folder.parent if record.kind == "nifti" else folder
            study = Study(key=key, study_uid=record.study_uid, source="", root=root)
            studies[key] = study
        study.series.append(record)
    for study in studies.values():
        study.source = _study_source(study, root)
    return list(studies.values())


def _study_source(study: Study, root: Path) -> str:
    """The deepest folder shared by the study's series, relative to the root's parent."""
    folders = []
    for r in study.series:
        p = Path(r.input)
        folders.append(str(p.parent if r.kind == "nifti" or p.suffix else p))
    common = os.path.commonpath(folders) if folders else "."
    return str(Path(root.name) / common) if common not in ("", ".") else root.name


def find_studies(
    roots: DataRoots, *, scan: Callable[[Path], ScanResult] | None = None
) -> list[Study]:
    """Scan every root and return its studies, sorted by source folder.

    Parameters
    ----------
    roots : DataRoots
        The folders to scan.
    scan : callable, optional
        ``scan(root) -> ScanResult``; default :func:`imaging_triage.ingest.scan`.
    """
    if scan is None:
        from imaging_triage.ingest import scan as ingest_scan

        scan = ingest_scan
    studies: list[Study] = []
    for root in roots.roots:
        result = scan(root)
        # a file linked from outside the roots is not shown (the roots bound what is read)
        result.series = [
            r for r in result.series if all(roots.contains(Path(f).resolve()) for f in r.files)
        ]
        found = group_studies(result, root)
        logger.info("%d studies, %d series under a data root", len(found), len(result.series))
        studies.extend(found)
    studies.sort(key=lambda s: s.source)
    return studies


_URGENCY_RANK = {Urgency.CRITICAL: 0, Urgency.URGENT: 1, Urgency.ROUTINE: 2, None: 3}
_STATUS_RANK = {ReviewStatus.UNREAD: 0, ReviewStatus.IN_PROGRESS: 1, ReviewStatus.REVIEWED: 2}


def worklist_rows(
    studies: Iterable[Study],
    reviews: dict[str, StudyReview],
    *,
    sort: SortKey = SortKey.SOURCE,
    statuses: Sequence[ReviewStatus] | None = None,
    modality: str | None = None,
    text: str = "",
) -> list[WorklistRow]:
    """Join studies with their review state, filter and sort.

    Parameters
    ----------
    studies : iterable of Study
        From :func:`find_studies`.
    reviews : dict
        ``ReviewStore.reviews()``: study key -> current review.
    sort : SortKey
        Order of the rows (ties by source folder).
    statuses : sequence of ReviewStatus, optional
        Keep only these review states.
    modality : str, optional
        Keep only studies whose modality contains this text (``"CT"``, ``"MR"``).
    text : str
        Keep only studies whose folder contains this text (case-insensitive).
    """
    rows = []
    for s in studies:
        review = reviews.get(s.key, StudyReview(study_key=s.key))
        found = s.candidates
        rows.append(
            WorklistRow(
                key=s.key,
                source=s.source,
                modality=s.modality,
                series=len(s.usable),
                status=review.status,
                outcome=review.outcome.label if review.outcome else "",
                urgency=review.urgency.label if review.urgency else "",
                reviewer=review.reviewer,
                candidates=found.score if found is not None else None,
                candidate_reasons=tuple(found.reasons) if found is not None else (),
            )
        )
    if statuses is not None:
        rows = [r for r in rows if r.status in statuses]
    if modality:
        rows = [r for r in rows if modality.upper() in r.modality.upper()]
    if text:
        rows = [r for r in rows if text.lower() in r.source.lower()]
    if sort is SortKey.URGENCY:
        urg = {s.key: reviews[s.key].urgency if s.key in reviews else None for s in studies}
        rows.sort(key=lambda r: (_URGENCY_RANK[urg.get(r.key)], r.source))
    elif sort is SortKey.STATUS:
        rows.sort(key=lambda r: (_STATUS_RANK[r.status], r.source))
    elif sort is SortKey.CANDIDATES:
        rows.sort(key=lambda r: (r.candidates is None, -(r.candidates or 0), r.source))
    else:
        rows.sort(key=lambda r: r.source)
    return rows


def next_unread(
    studies: Sequence[Study], reviews: dict[str, StudyReview], after: str | None = None
) -> Study | None:
    """The first unread study after the one keyed ``after`` (wrapping), or None."""
    unread = [
        s
        for s in studies
        if reviews.get(s.key, StudyReview(study_key=s.key)).status is ReviewStatus.UNREAD
        and s.usable
    ]
    if not unread:
        return None
    keys = [s.key for s in studies]
    if after in keys:
        pos = keys.index(after)
        for s in unread:
            if keys.index(s.key) > pos:
                return s
    return unread[0]


def neighbour(studies: Sequence[Study], key: str | None, step: int) -> Study | None:
    """The study ``step`` places after (negative: before) ``key`` in ``studies``."""
    if not studies:
        return None
    keys = [s.key for s in studies]
    pos = keys.index(key) if key in keys else -1
    return studies[(pos + step) % len(studies)]
