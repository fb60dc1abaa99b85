"""CSV and JSON exports of review results: one row per finding, plus study outcomes.

De-identified by default: a study is named only by its key (a hash of the Study Instance
UID, the same ``study_<hash>`` folder name that ``convert`` writes), and series UIDs are
replaced by a short hash. ``identified=True`` adds the study and series UIDs and the
study's source folder, which may name the patient: share such a file only where patient
identity may go.

Free text (finding notes and retraction reasons) is left out unless asked for
(``include_notes``; by default it follows ``identified``): notes are the reader's words,
screened but not guaranteed free of identifiers (``imaging_triage.review.identifiers``).
Reviewer names are exported as typed.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imaging_triage.csvsafe import spreadsheet_safe
from imaging_triage.review.store import ReviewStore, utc_now
from imaging_triage.volume import atomic_write_bytes

#: stated in every export: what these rows are and are not
DISCLAIMER = (
    "Reader flags and triage outcomes recorded in imaging-triage. Automated or derived "
    "output is a candidate for human review, never a diagnosis."
)

#: CSV columns, in order; ``identified`` exports add :data:`IDENTIFIED_COLUMNS`
COLUMNS = (
    "record",
    "study_key",
    "finding_id",
    "type",
    "type_label",
    "laterality",
    "confidence",
    "x_mm",
    "y_mm",
    "z_mm",
    "i",
    "j",
    "k",
    "series",
    "note",
    "retracted",
    "retraction_reason",
    "status",
    "outcome",
    "outcome_label",
    "urgency",
    "reviewer",
    "recorded_at",
)
IDENTIFIED_COLUMNS = ("study_uid", "series_uid", "source")
#: free-text columns, left out unless notes are asked for
NOTE_COLUMNS = ("note", "retraction_reason")


class ExportFormat(str, enum.Enum):
    """File format of an export."""

    #: one table; the ``record`` column says ``finding`` or ``study``
    CSV = "csv"
    #: an object with ``studies`` and ``findings`` lists
    JSON = "json"


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    path: Path
    studies: int
    findings: int
    identified: bool
    notes_included: bool = False


def _pseudonym(value: str) -> str:
    return "series_" + hashlib.sha256(value.encode()).hexdigest()[:12] if value else ""


def columns(*, identified: bool = False, include_notes: bool = False) -> tuple[str, ...]:
    """The CSV columns of an export, in order."""
    kept = COLUMNS if include_notes else tuple(c for c in COLUMNS if c not in NOTE_COLUMNS)
    return kept + (IDENTIFIED_COLUMNS if identified else ())


def collect_rows(
    store: ReviewStore, *, identified: bool = False, include_notes: bool | None = None
) -> list[dict[str, Any]]:
    """Return export rows: every study with a status, then every finding (retracted too).

    Parameters
    ----------
    store : ReviewStore
        The review database.
    identified : bool
        Add study/series UIDs and the source folder (may identify the patient).
    include_notes : bool, optional
        Add the free text (notes, retraction reasons). Default: as ``identified``.
    """
    notes = identified if include_notes is None else include_notes
    studies = {s["study_key"]: s for s in store.studies()}
    rows: list[dict[str, Any]] = []
    for key, review in sorted(store.reviews().items()):
        row: dict[str, Any] = {
            "record": "study",
            "study_key": key,
            "status": review.status.value,
            "outcome": review.outcome.value if review.outcome else "",
            "outcome_label": review.outcome.label if review.outcome else "",
            "urgency": review.urgency.value if review.urgency else "",
            "reviewer": review.reviewer,
            "recorded_at": review.updated_at,
        }
        if identified:
            info = studies.get(key, {})
            row.update(study_uid=info.get("study_uid", ""), source=info.get("source", ""))
        rows.append(row)
    for f in store.findings():
        x, y, z = f.location.xyz_mm
        i, j, k = f.location.ijk
        row = {
            "record": "finding",
            "study_key": f.study_key,
            "finding_id": f.id,
            "type": f.type.value,
            "type_label": f.type.label,
            "laterality": f.laterality.value,
            "confidence": f.confidence.value,
            "x_mm": round(x, 2),
            "y_mm": round(y, 2),
            "z_mm": round(z, 2),
            "i": i,
            "j": j,
            "k": k,
            "series": _pseudonym(f.location.series_uid),
            "retracted": f.retracted,
            "reviewer": f.reviewer,
            "recorded_at": f.created_at,
        }
        if notes:
            row.update(note=f.note, retraction_reason=f.retraction_reason)
        if identified:
            info = studies.get(f.study_key, {})
            row.update(
                study_uid=info.get("study_uid", ""),
                series_uid=f.location.series_uid,
                source=info.get("source", ""),
            )
        rows.append(row)
    return rows


def render(
    rows: list[dict[str, Any]],
    fmt: ExportFormat,
    *,
    identified: bool = False,
    include_notes: bool | None = None,
) -> bytes:
    """Serialise export rows as CSV or JSON bytes (UTF-8).

    ``identified`` and ``include_notes`` must be those the rows were collected with.
    """
    notes = identified if include_notes is None else include_notes
    if fmt is ExportFormat.JSON:
        doc = {
            "disclaimer": DISCLAIMER,
            "generated_at": utc_now(),
            "identified": identified,
            "notes_included": notes,
            "studies": [r for r in rows if r["record"] == "study"],
            "findings": [r for r in rows if r["record"] == "finding"],
        }
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")
    names = columns(identified=identified, include_notes=notes)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: spreadsheet_safe(row.get(c, "")) for c in names})
    return buffer.getvalue().encode("utf-8")


def export(
    store: ReviewStore,
    path: str | os.PathLike[str],
    fmt: ExportFormat = ExportFormat.CSV,
    *,
    identified: bool = False,
    include_notes: bool | None = None,
) -> ExportSummary:
    """Write the review results of ``store`` to ``path`` atomically.

    ``include_notes`` adds the readers' free text (default: only in identified exports).

    Returns
    -------
    ExportSummary
        The path written and the numbers of study and finding rows.
    """
    notes = identified if include_notes is None else include_notes
    rows = collect_rows(store, identified=identified, include_notes=notes)
    atomic_write_bytes(path, render(rows, fmt, identified=identified, include_notes=notes))
    return ExportSummary(
        path=Path(path),
        studies=sum(r["record"] == "study" for r in rows),
        findings=sum(r["record"] == "finding" for r in rows),
        identified=identified,
        notes_included=notes,
    )
