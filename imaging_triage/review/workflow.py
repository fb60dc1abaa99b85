"""The review rules: who may save what, and what must be confirmed.

The Streamlit page (``app.py``) only collects the reader's choices and shows the errors
raised here; every rule lives in this module, so that it is tested without a browser:

- a reader's name is required for any write (:func:`require_reviewer`);
- an outcome needs an urgency (:func:`check_outcome`);
- opening an unread study marks it in progress (:func:`mark_opened`);
- a finding is drafted from a point with **no** default type or laterality; the
  laterality is only *suggested* from the point's side of the midline
  (:func:`draft_finding`), and :func:`build_finding` refuses a draft the reader has not
  completed;
- free text that looks like patient identifiers is refused (:func:`check_free_text`,
  applied by :func:`flag_finding` and :func:`retract_finding`);
- "no acute intracranial abnormality" while active hemorrhage, infarct or mass findings
  exist needs an explicit confirmation, recorded in the audit trail, and an outcome saved
  by another reader after the page loaded is not replaced silently (:func:`save_outcome`,
  through :meth:`ReviewStore.set_status` ``expected_status_id``).

Every error is a :class:`~imaging_triage.errors.ReviewRuleError` (or the store's
:class:`~imaging_triage.errors.OutcomeConflictError`) whose message tells the reader what
to do; nothing is saved when one is raised.

Examples
--------
>>> draft = draft_finding("study_ab", Location((-52.0, 8.0, 17.0), (160, 100, 14)),
...                       midline_x_mm=0.0)
>>> draft.type is None and draft.laterality is None
True
>>> draft.suggested_laterality
<Laterality.LEFT: 'left'>
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from imaging_triage.errors import (
    ConfirmationRequiredError,
    IdentifierInTextError,
    ReviewerRequiredError,
    ReviewRuleError,
)
from imaging_triage.review.findings import (
    Confidence,
    Finding,
    FindingType,
    Laterality,
    Location,
    Measurement,
    Outcome,
    ReviewStatus,
    StudyReview,
    Urgency,
    laterality_from_x,
)
from imaging_triage.review.identifiers import describe, identifier_kinds
from imaging_triage.review.store import ReviewStore

logger = logging.getLogger(__name__)

#: finding types that contradict "no acute intracranial abnormality": the five
#: hemorrhages, infarct, and tumour / mass (with or without oedema)
ACUTE_FINDING_TYPES = frozenset(
    {
        FindingType.EDH,
        FindingType.SDH,
        FindingType.SAH,
        FindingType.IPH,
        FindingType.IVH,
        FindingType.INFARCT,
        FindingType.MASS,
        FindingType.MASS_WITH_EDEMA,
    }
)
#: key of the audit row's ``after`` that records a confirmed "no acute" outcome
CONFIRMED_KEY = "confirmed_despite_findings"


# -- who and what ------------------------------------------------------------------------


def require_reviewer(name: str | None, action: str = "save") -> str:
    """The reader's name, stripped.

    Parameters
    ----------
    name : str or None
        What the reader typed (None or empty: no name yet).
    action : str
        What the reader was doing, for the message ("flag a finding", ...).

    Raises
    ------
    ReviewerRequiredError
        If the name is missing or blank.
    """
    cleaned = (name or "").strip()
    if not cleaned:
        raise ReviewerRequiredError(
            f"enter your name in the sidebar before you {action}: "
            "it is stamped on every finding and outcome"
        )
    return cleaned


def check_outcome(outcome: Outcome | None, urgency: Urgency | None) -> tuple[Outcome, Urgency]:
    """Both an outcome and an urgency, or a :class:`ReviewRuleError` saying which is missing."""
    missing = [
        name for name, value in (("an outcome", outcome), ("an urgency", urgency)) if not value
    ]
    if outcome is None or urgency is None:
        raise ReviewRuleError(
            f"choose {' and '.join(missing)} before saving: an outcome is recorded "
            "together with how fast the referring team must hear of it",
            code="outcome-incomplete",
        )
    return outcome, urgency


def check_free_text(text: str | None, what: str = "note") -> str:
    """``text`` stripped, or an :class:`IdentifierInTextError` if it looks identifying.

    The message and the error's ``reasons`` name the kinds found (a date, an MRN-like
    number...), never the text, so they may be shown and logged.

    Examples
    --------
    >>> check_free_text("  hyperdense crescent ")
    'hyperdense crescent'
    """
    cleaned = (text or "").strip()
    kinds = identifier_kinds(cleaned)
    if kinds:
        logger.info("%s refused: looks like %s", what, ", ".join(k.value for k in kinds))
        raise IdentifierInTextError(
            f"this {what} looks like it carries patient identifiers ({describe(kinds)}); "
            f"rewrite it to describe the image only: a {what} must not identify the patient",
            reasons=tuple(k.value for k in kinds),
        )
    return cleaned


# -- opening a study -----------------------------------------------------------------------


def mark_opened(
    store: ReviewStore,
    study_key: str,
    *,
    reviewer: str | None,
    study_uid: str = "",
    source: str = "",
    modality: str = "",
) -> StudyReview:
    """Register a study a reader opened; an unread study becomes in progress.

    Without a reader's name the study is only looked at: nothing is written.

    Returns
    -------
    StudyReview
        The review after the change. Keep its ``status_id``: it is what this page saw,
        to pass to :func:`save_outcome`.
    """
    review = store.review(study_key)
    name = (reviewer or "").strip()
    if not name or review.status is not ReviewStatus.UNREAD:
        return review
    store.register_study(study_key, study_uid=study_uid, source=source, modality=modality)
    return store.set_status(study_key, ReviewStatus.IN_PROGRESS, reviewer=name)


# -- findings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingDraft:
    """A finding being flagged at a point, before the reader has chosen everything.

    ``type`` and ``laterality`` start as None: there is no default, the reader must choose.
    ``suggested_laterality`` is only shown as a hint beside the laterality field.
    """

    study_key: str
    location: Location
    suggested_laterality: Laterality
    type: FindingType | None = None
    laterality: Laterality | None = None
    confidence: Confidence = Confidence.PROBABLE
    note: str = ""
    measurements: tuple[Measurement, ...] = ()

    def choose(
        self,
        *,
        type: FindingType | None = None,
        laterality: Laterality | None = None,
        confidence: Confidence | None = None,
        note: str | None = None,
        measurements: tuple[Measurement, ...] | None = None,
    ) -> FindingDraft:
        """A copy with the reader's choices (None leaves a field as it is)."""
        return dataclasses.replace(
            self,
            type=type if type is not None else self.type,
            laterality=laterality if laterality is not None else self.laterality,
            confidence=confidence if confidence is not None else self.confidence,
            note=note if note is not None else self.note,
            measurements=measurements if measurements is not None else self.measurements,
        )


def suggest_laterality(
    x_mm: float, midline_x_mm: float, midline_tolerance_mm: float = 3.0
) -> Laterality:
    """The side of the patient a point lies on, relative to the head's midline.

    Parameters
    ----------
    x_mm : float
        RAS x of the point (x grows towards the patient's right).
    midline_x_mm : float
        RAS x of the head's midline, as the caller knows it (e.g. the volume's centre).
    midline_tolerance_mm : float
        Within this distance of the midline the suggestion is ``MIDLINE``.
    """
    return laterality_from_x(x_mm - midline_x_mm, midline_tolerance_mm)


def draft_finding(
    study_key: str,
    location: Location,
    *,
    midline_x_mm: float,
    midline_tolerance_mm: float = 3.0,
) -> FindingDraft:
    """A finding draft at ``location``, with no type or laterality chosen yet.

    Parameters
    ----------
    study_key : str
        The study.
    location : Location
        The point (RAS mm, voxel index, series), e.g. the crosshair or a click.
    midline_x_mm : float
        RAS x of the head's midline, for the laterality suggestion.
    """
    return FindingDraft(
        study_key=study_key,
        location=location,
        suggested_laterality=suggest_laterality(
            location.xyz_mm[0], midline_x_mm, midline_tolerance_mm
        ),
    )


def build_finding(draft: FindingDraft, *, reviewer: str | None) -> Finding:
    """The :class:`Finding` to store, once the reader has chosen type and laterality.

    Raises
    ------
    ReviewerRequiredError
        Without the reader's name.
    ReviewRuleError
        (code ``finding-incomplete``) if the type or the laterality was not chosen.
    IdentifierInTextError
        If the note looks like it carries patient identifiers.
    """
    name = require_reviewer(reviewer, "flag a finding")
    missing = [
        what
        for what, value in (("a finding type", draft.type), ("a laterality", draft.laterality))
        if value is None
    ]
    if draft.type is None or draft.laterality is None:
        hint = (
            f" (suggested from the point: {draft.suggested_laterality.label})"
            if draft.laterality is None
            else ""
        )
        raise ReviewRuleError(
            f"choose {' and '.join(missing)}{hint} before flagging: nothing is chosen for you",
            code="finding-incomplete",
        )
    return Finding(
        study_key=draft.study_key,
        type=draft.type,
        location=draft.location,
        laterality=draft.laterality,
        confidence=draft.confidence,
        note=check_free_text(draft.note),
        reviewer=name,
        measurements=draft.measurements,
    )


def flag_finding(
    store: ReviewStore,
    draft: FindingDraft,
    *,
    reviewer: str | None,
    study_uid: str = "",
    source: str = "",
) -> Finding:
    """Build the finding from the completed draft (:func:`build_finding`) and store it.

    Returns the stored finding (with its ``id``). Raises as :func:`build_finding` does;
    nothing is stored then.
    """
    finding = build_finding(draft, reviewer=reviewer)
    store.register_study(draft.study_key, study_uid=study_uid, source=source)
    return store.add_finding(finding)


def retract_finding(
    store: ReviewStore, finding_id: int, *, reviewer: str | None, reason: str | None = ""
) -> Finding:
    """Retract a finding (kept in the audit trail) with a reason checked like a note.

    Raises
    ------
    ReviewerRequiredError, IdentifierInTextError
        Without a name, or with an identifying reason.
    StoreError
        If the finding does not exist or is already retracted.
    """
    name = require_reviewer(reviewer, "retract a finding")
    return store.retract_finding(
        finding_id, reviewer=name, reason=check_free_text(reason, "retraction reason")
    )


def blocking_findings(findings: Iterable[Finding]) -> list[Finding]:
    """The active (not retracted) findings that contradict "no acute abnormality"."""
    return [f for f in findings if not f.retracted and f.type in ACUTE_FINDING_TYPES]


# -- the outcome -------------------------------------------------------------------------------


def save_outcome(
    store: ReviewStore,
    study_key: str,
    *,
    reviewer: str | None,
    outcome: Outcome | None,
    urgency: Urgency | None,
    seen_status_id: int | None,
    confirmed_finding_ids: Collection[int] = (),
    replace: bool = False,
    study_uid: str = "",
    source: str = "",
    read_role: str = "",
    own_findings_only: bool = False,
) -> StudyReview:
    """Save a study's outcome, applying every outcome rule.

    Parameters
    ----------
    store : ReviewStore
        The review database.
    study_key : str
        The study.
    reviewer : str or None
        The reader's name.
    outcome, urgency : Outcome and Urgency, or None
        The reader's choice (None: not chosen; refused).
    seen_status_id : int or None
        ``StudyReview.status_id`` as the page showed it (0: no status yet). An outcome
        saved by another reader after it makes the save fail with
        :class:`~imaging_triage.errors.OutcomeConflictError`. None skips the check (scripts).
    confirmed_finding_ids : collection of int
        Ids of the active acute findings the reader confirmed an outcome of "no acute
        intracranial abnormality" despite (see :class:`ConfirmationRequiredError`). Recorded
        in the audit row's ``after`` as ``confirmed_despite_findings``.
    replace : bool
        The reader chose to replace the other reader's outcome (recorded in the audit row).
    study_uid, source : str
        Registered with the study if it is new.
    read_role : str
        "" for an ordinary read, "consensus" for a consensus read (stored with the row).
    own_findings_only : bool
        Blinded reading: only this reader's findings of this ``read_role`` count for the
        confirmation rule (another reader's findings stay unseen, even in the message).

    Returns
    -------
    StudyReview
        The study's review after the save.

    Raises
    ------
    ReviewerRequiredError, ReviewRuleError
        Without a name, an outcome or an urgency.
    ConfirmationRequiredError
        "No acute" with active acute findings not all in ``confirmed_finding_ids``; its
        ``finding_ids`` are the findings to confirm.
    OutcomeConflictError
        Another reader saved an outcome after ``seen_status_id`` and ``replace`` is false.
    """
    name = require_reviewer(reviewer, "save an outcome")
    chosen_outcome, chosen_urgency = check_outcome(outcome, urgency)
    extra: dict[str, list[int]] = {}
    if chosen_outcome is Outcome.NO_ACUTE:
        findings = store.findings(study_key)
        if own_findings_only:
            findings = [f for f in findings if f.reviewer == name and f.read_role == read_role]
        blocking = sorted(int(f.id or 0) for f in blocking_findings(findings))
        unconfirmed = [i for i in blocking if i not in set(confirmed_finding_ids)]
        if unconfirmed:
            raise ConfirmationRequiredError(
                f"{len(blocking)} active finding(s) of hemorrhage, infarct or mass "
                f"(#{', #'.join(map(str, blocking))}) contradict "
                f"'{Outcome.NO_ACUTE.label}': retract them, choose another outcome, or "
                "confirm this outcome despite them",
                finding_ids=tuple(blocking),
            )
        if blocking:
            extra[CONFIRMED_KEY] = blocking
    if study_uid or source:
        store.register_study(study_key, study_uid=study_uid, source=source)
    return store.set_status(
        study_key,
        ReviewStatus.REVIEWED,
        reviewer=name,
        outcome=chosen_outcome,
        urgency=chosen_urgency,
        expected_status_id=seen_status_id,
        replace=replace,
        audit_extra=extra,
        read_role=read_role,
    )
