"""The clinical vocabulary: DESIGN.md section 3 as enums."""

from __future__ import annotations

import pytest

from imaging_triage.review.findings import (
    Confidence,
    FindingType,
    Laterality,
    Outcome,
    ReviewStatus,
    Urgency,
    laterality_from_x,
)

ALL = (FindingType, Laterality, Confidence, Outcome, Urgency, ReviewStatus)


def test_vocabulary_matches_design() -> None:
    hemorrhages = {t.value for t in FindingType if t.is_hemorrhage}
    assert hemorrhages == {"edh", "sdh", "sah", "iph", "ivh"}
    assert [c.value for c in Confidence] == ["definite", "probable", "possible"]
    assert [u.label for u in Urgency] == ["Critical (minutes)", "Urgent (hours)", "Routine"]
    assert [o.label for o in Outcome] == [
        "No acute intracranial abnormality",
        "Non-acute or incidental finding",
        "Secondary cause suspected",
        "Non-diagnostic study",
    ]


@pytest.mark.parametrize("enum_cls", ALL)
def test_every_value_has_a_label_and_round_trips(enum_cls: type) -> None:
    for member in enum_cls:
        assert member.label
        assert enum_cls(member.value) is member
        assert str(member) == member.value


def test_vocabulary_never_names_a_primary_headache_diagnosis() -> None:
    words = " ".join(f"{m.value} {m.label}" for cls in ALL for m in cls).lower()
    assert "migraine" not in words


@pytest.mark.parametrize(
    ("x", "expected"),
    [(-40.0, Laterality.LEFT), (40.0, Laterality.RIGHT), (1.0, Laterality.MIDLINE)],
)
def test_laterality_suggestion_follows_ras(x: float, expected: Laterality) -> None:
    assert laterality_from_x(x) is expected
