"""The review rules of issue 9, without a browser."""

from __future__ import annotations

import pytest

from imaging_triage.errors import (
    ConfirmationRequiredError,
    IdentifierInTextError,
    OutcomeConflictError,
    ReviewerRequiredError,
    ReviewRuleError,
    StoreError,
)
from imaging_triage.review.findings import (
    Confidence,
    FindingType,
    Laterality,
    Location,
    Outcome,
    ReviewStatus,
    StudyReview,
    Urgency,
)
from imaging_triage.review.store import ReviewStore
from imaging_triage.review.workflow import (
    ACUTE_FINDING_TYPES,
    CONFIRMED_KEY,
    blocking_findings,
    build_finding,
    check_free_text,
    check_outcome,
    draft_finding,
    flag_finding,
    mark_opened,
    require_reviewer,
    retract_finding,
    save_outcome,
    suggest_laterality,
)

STUDY = "study_ab12"
LEFT_POINT = Location((-52.0, 8.0, 17.0), (160, 100, 14), "1.2.3")


@pytest.fixture
def store(db_url: str) -> ReviewStore:
    with ReviewStore(db_url) as opened:
        yield opened  # type: ignore[misc]


def _flag(store: ReviewStore, kind: FindingType, reviewer: str = "dr a") -> int:
    draft = draft_finding(STUDY, LEFT_POINT, midline_x_mm=0.0).choose(
        type=kind, laterality=Laterality.LEFT
    )
    return int(flag_finding(store, draft, reviewer=reviewer).id or 0)


def _save(
    store: ReviewStore,
    outcome: Outcome,
    seen: int | None,
    *,
    reviewer: str = "dr a",
    confirmed: tuple[int, ...] | list[int] = (),
    replace: bool = False,
) -> StudyReview:
    urgency = (
        Urgency.ROUTINE if outcome in (Outcome.NO_ACUTE, Outcome.NON_ACUTE) else Urgency.CRITICAL
    )
    return save_outcome(
        store,
        STUDY,
        reviewer=reviewer,
        outcome=outcome,
        urgency=urgency,
        seen_status_id=seen,
        confirmed_finding_ids=confirmed,
        replace=replace,
    )


# -- reviewer, outcome, free text ---------------------------------------------------------


@pytest.mark.parametrize("name", [None, "", "   "])
def test_reviewer_is_required(name: str | None) -> None:
    with pytest.raises(ReviewerRequiredError, match="enter your name in the sidebar"):
        require_reviewer(name, "save an outcome")
    assert require_reviewer("  dr a ") == "dr a"


def test_outcome_needs_an_urgency() -> None:
    with pytest.raises(ReviewRuleError, match="choose an urgency") as caught:
        check_outcome(Outcome.SECONDARY, None)
    assert caught.value.code == "outcome-incomplete"
    with pytest.raises(ReviewRuleError, match="choose an outcome and an urgency"):
        check_outcome(None, None)
    assert check_outcome(Outcome.NO_ACUTE, Urgency.ROUTINE) == (Outcome.NO_ACUTE, Urgency.ROUTINE)


def test_identifying_note_is_refused_naming_the_kinds_not_the_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    with pytest.raises(IdentifierInTextError) as caught:
        check_free_text("DOE^JOHN, DOB 1960-01-02", "note")
    err = caught.value
    assert set(err.reasons) >= {"person_name", "date", "birth_date_label"}
    assert "a date" in str(err) and "DICOM form" in str(err)
    for secret in ("DOE", "JOHN", "1960"):
        assert secret not in str(err)
        assert secret not in caplog.text
    assert check_free_text("  subacute crescent, 5 mm ") == "subacute crescent, 5 mm"


# -- opening ----------------------------------------------------------------------------------


def test_unread_becomes_in_progress_on_open_once(store: ReviewStore) -> None:
    review = mark_opened(store, STUDY, reviewer="dr a", study_uid="1.2.9", source="ct/a")
    assert review.status is ReviewStatus.IN_PROGRESS and review.reviewer == "dr a"
    assert review.status_id > 0
    assert store.studies()[0]["study_uid"] == "1.2.9"
    again = mark_opened(store, STUDY, reviewer="dr b")
    assert again.status_id == review.status_id and again.reviewer == "dr a"


def test_opening_without_a_name_writes_nothing(store: ReviewStore) -> None:
    review = mark_opened(store, STUDY, reviewer=" ")
    assert review.status is ReviewStatus.UNREAD and review.status_id == 0
    assert store.audit() == [] and store.studies() == []


def test_opening_a_reviewed_study_keeps_its_status(store: ReviewStore) -> None:
    _save(store, Outcome.NON_ACUTE, 0)
    assert mark_opened(store, STUDY, reviewer="dr b").status is ReviewStatus.REVIEWED


# -- findings ----------------------------------------------------------------------------------


def test_draft_has_no_default_type_or_laterality_only_a_suggestion() -> None:
    draft = draft_finding(STUDY, LEFT_POINT, midline_x_mm=0.0)
    assert draft.type is None and draft.laterality is None
    assert draft.suggested_laterality is Laterality.LEFT
    with pytest.raises(ReviewRuleError, match="choose a finding type and a laterality") as caught:
        build_finding(draft, reviewer="dr a")
    assert caught.value.code == "finding-incomplete"
    assert "suggested from the point: Left" in str(caught.value)
    with pytest.raises(ReviewRuleError, match="choose a laterality"):
        build_finding(draft.choose(type=FindingType.SDH), reviewer="dr a")
    with pytest.raises(ReviewRuleError, match="choose a finding type"):
        build_finding(draft.choose(laterality=Laterality.LEFT), reviewer="dr a")


def test_suggestion_is_relative_to_the_given_midline() -> None:
    # a head centred at x = +40 mm: a point at x = +30 mm is on the patient's left
    assert suggest_laterality(30.0, midline_x_mm=40.0) is Laterality.LEFT
    assert suggest_laterality(50.0, midline_x_mm=40.0) is Laterality.RIGHT
    assert suggest_laterality(41.5, midline_x_mm=40.0) is Laterality.MIDLINE
    draft = draft_finding(STUDY, LEFT_POINT, midline_x_mm=-60.0)
    assert draft.suggested_laterality is Laterality.RIGHT


def test_the_reader_may_choose_against_the_suggestion(store: ReviewStore) -> None:
    draft = draft_finding(STUDY, LEFT_POINT, midline_x_mm=0.0).choose(
        type=FindingType.SAH,
        laterality=Laterality.BILATERAL,
        confidence=Confidence.POSSIBLE,
        note=" basal cisterns ",
    )
    stored = flag_finding(store, draft, reviewer=" dr a ", study_uid="1.2.9", source="ct/a")
    assert stored.id is not None
    assert (stored.type, stored.laterality, stored.confidence) == (
        FindingType.SAH,
        Laterality.BILATERAL,
        Confidence.POSSIBLE,
    )
    assert (stored.note, stored.reviewer) == ("basal cisterns", "dr a")
    assert stored.location == LEFT_POINT


def test_finding_with_identifying_note_or_no_reviewer_is_not_stored(store: ReviewStore) -> None:
    draft = draft_finding(STUDY, LEFT_POINT, midline_x_mm=0.0).choose(
        type=FindingType.SDH, laterality=Laterality.LEFT
    )
    with pytest.raises(IdentifierInTextError):
        flag_finding(store, draft.choose(note="MRN 00123456"), reviewer="dr a")
    with pytest.raises(ReviewerRequiredError):
        flag_finding(store, draft, reviewer="")
    assert store.findings() == [] and store.audit() == []


def test_retraction_reason_is_checked_like_a_note(store: ReviewStore) -> None:
    finding_id = _flag(store, FindingType.SDH)
    with pytest.raises(IdentifierInTextError):
        retract_finding(
            store, finding_id, reviewer="dr b", reason="wrong patient, call 555-123-4567"
        )
    assert not store.findings()[0].retracted
    retracted = retract_finding(store, finding_id, reviewer="dr b", reason="artefact")
    assert retracted.retracted and retracted.retraction_reason == "artefact"


# -- "no acute" with active findings -----------------------------------------------------------


def test_acute_types_are_hemorrhage_infarct_and_mass() -> None:
    hemorrhages = {t for t in FindingType if t.is_hemorrhage}
    assert hemorrhages | {FindingType.INFARCT, FindingType.MASS, FindingType.MASS_WITH_EDEMA} == (
        ACUTE_FINDING_TYPES
    )


def test_no_acute_with_active_hemorrhages_needs_confirmation(store: ReviewStore) -> None:
    ids = [
        _flag(store, FindingType.SDH),
        _flag(store, FindingType.IPH),
        _flag(store, FindingType.SAH),
    ]
    _flag(store, FindingType.CHIARI)  # not acute: does not block
    seen = store.review(STUDY).status_id
    with pytest.raises(ConfirmationRequiredError) as caught:
        _save(store, Outcome.NO_ACUTE, seen)
    assert caught.value.finding_ids == tuple(ids)
    assert "3 active finding(s)" in str(caught.value)
    assert store.review(STUDY).outcome is None  # nothing saved
    # confirming only some of them is not enough
    with pytest.raises(ConfirmationRequiredError):
        _save(store, Outcome.NO_ACUTE, seen, confirmed=ids[:2])
    review = _save(store, Outcome.NO_ACUTE, seen, confirmed=caught.value.finding_ids)
    assert review.outcome is Outcome.NO_ACUTE
    audit = store.audit(STUDY)[-1]
    assert audit["action"] == "study.status"
    assert audit["after"][CONFIRMED_KEY] == ids
    assert audit["after"]["outcome"] == "no_acute_abnormality"


def test_retracted_findings_and_other_outcomes_need_no_confirmation(store: ReviewStore) -> None:
    sdh = _flag(store, FindingType.SDH)
    _save(store, Outcome.SECONDARY, None)
    retract_finding(store, sdh, reviewer="dr a", reason="artefact")
    assert blocking_findings(store.findings(STUDY)) == []
    _save(store, Outcome.NO_ACUTE, None)
    assert all(CONFIRMED_KEY not in (a["after"] or {}) for a in store.audit(STUDY))


# -- two readers -------------------------------------------------------------------------------


def test_later_save_by_another_reader_is_refused_then_replaced_on_purpose(db_url: str) -> None:
    page_a, page_b = ReviewStore(db_url), ReviewStore(db_url)
    seen_a = mark_opened(page_a, STUDY, reviewer="dr a").status_id
    seen_b = mark_opened(page_b, STUDY, reviewer="dr b").status_id
    _save(page_a, Outcome.SECONDARY, seen_a)
    with pytest.raises(OutcomeConflictError) as caught:
        _save(page_b, Outcome.NO_ACUTE, seen_b, reviewer="dr b")
    assert caught.value.reviewer == "dr a" and caught.value.outcome == "secondary_cause_suspected"
    assert page_b.review(STUDY).outcome is Outcome.SECONDARY
    _save(page_b, Outcome.NO_ACUTE, seen_b, reviewer="dr b", replace=True)
    assert page_a.review(STUDY).outcome is Outcome.NO_ACUTE
    assert page_a.audit(STUDY)[-1]["after"]["replaced"]["reviewer"] == "dr a"


def test_rule_errors_are_typed_for_the_page() -> None:
    assert issubclass(OutcomeConflictError, StoreError)
    for error in (ReviewerRequiredError, ConfirmationRequiredError, IdentifierInTextError):
        assert issubclass(error, ReviewRuleError) and issubclass(error, ValueError)
