"""The SR code table: complete, well-formed, and documented as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from imaging_triage.review import codes
from imaging_triage.review.findings import Confidence, FindingType, Laterality, Outcome, Urgency

DOC = Path(__file__).resolve().parents[2] / "docs" / "pacs.md"


def test_every_value_of_the_vocabulary_has_a_code() -> None:
    assert set(codes.FINDINGS) == set(FindingType)
    assert set(codes.CONFIDENCES) == set(Confidence)
    assert set(codes.OUTCOMES) == set(Outcome)
    assert set(codes.URGENCIES) == set(Urgency)
    assert set(codes.LATERALITIES) | {Laterality.NOT_APPLICABLE} == set(Laterality)
    assert codes.laterality_concept(Laterality.NOT_APPLICABLE) is None


@pytest.mark.parametrize(
    ("finding", "value"),
    [
        (FindingType.EDH, "82999001"),
        (FindingType.SDH, "35486000"),
        (FindingType.SAH, "21454007"),
        (FindingType.IPH, "274100004"),
        (FindingType.IVH, "274110009"),
        (FindingType.INFARCT, "432504007"),
        (FindingType.MASS, "126952004"),
    ],
)
def test_hemorrhages_infarct_and_mass_are_snomed(finding: FindingType, value: str) -> None:
    concept = codes.finding_concept(finding)
    assert (concept.scheme, concept.value) == ("SCT", value)


def test_codes_fit_dicom_and_distinct_findings_have_distinct_codes() -> None:
    for _, concept in codes.all_concepts():
        assert 0 < len(concept.value) <= 16  # Code Value is SH
        assert 0 < len(concept.meaning) <= 64  # Code Meaning is LO
        assert concept.scheme in ("SCT", "DCM", "UCUM", codes.LOCAL_SCHEME)
    kinds = {c.value for t, c in codes.FINDINGS.items() if t is not FindingType.MASS_WITH_EDEMA}
    assert len(kinds) == len(FindingType) - 1  # only "mass with edema" shares the mass code


def test_the_documented_table_is_the_code_table() -> None:
    assert codes.markdown_table() in DOC.read_text(encoding="utf-8")
