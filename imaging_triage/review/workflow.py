"""Review rules used by the page (minimal: reader, type, laterality, point, outcome, urgency).

The full rules (confirmations, outcome conflicts, identifier checks) replace this module.
"""

from __future__ import annotations

from typing import Any

from imaging_triage.errors import TriageError
from imaging_triage.review.findings import (
    Confidence,
    Finding,
    Laterality,
    Location,
    ReviewStatus,
    laterality_from_x,
)


class NeedsConfirmation(TriageError):
    pass


class OutcomeConflict(TriageError):
    pass


def suggest_laterality(x: float, *, midline_x: float) -> Laterality:
    return laterality_from_x(x - midline_x)


def draft_finding(
    *,
    study_key: str,
    reviewer: str,
    finding_type: Any,
    laterality: Any,
    confidence: Any,
    note: str,
    measurement: str,
    point: Any,
    volume: Any,
    series_uid: str,
) -> Finding:
    if not reviewer:
        raise TriageError("enter your name")
    if finding_type is None or laterality is None or point is None:
        raise TriageError("choose type, laterality and click a point")
    return Finding(
        study_key=study_key,
        type=finding_type,
        location=Location(
            xyz_mm=volume.world(point), ijk=volume.source_index(point), series_uid=series_uid
        ),
        laterality=laterality,
        confidence=confidence or Confidence.PROBABLE,
        note=(note + " " + measurement).strip(),
        reviewer=reviewer,
    )


def save_outcome(
    store: Any,
    *,
    study_key: str,
    study_uid: str,
    source: str,
    reviewer: str,
    outcome: Any,
    urgency: Any,
    expected_status_id: Any,
    confirmed: bool,
    replace: bool,
) -> Any:
    if not reviewer or outcome is None or urgency is None:
        raise TriageError("reviewer, outcome and urgency needed")
    store.register_study(study_key, study_uid=study_uid, source=source)
    return store.set_status(
        study_key, ReviewStatus.REVIEWED, reviewer=reviewer, outcome=outcome, urgency=urgency
    )
