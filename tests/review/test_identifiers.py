"""Free text that looks like patient identifiers (issue 9)."""

from __future__ import annotations

import pytest

from imaging_triage.review.identifiers import (
    IdentifierKind,
    describe,
    identifier_kinds,
    looks_identifying,
)

K = IdentifierKind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("DOE^JOHN", K.PERSON_NAME),
        ("prior of Müller^Anna^^Dr reviewed", K.PERSON_NAME),
        ("seen 2024-03-01", K.DATE),
        ("01/02/1960", K.DATE),
        ("3.4.21", K.DATE),
        ("19600102", K.DATE),
        ("12 March 1960", K.DATE),
        ("Mar 12th, 1960", K.DATE),
        ("DOB unknown", K.BIRTH_DATE_LABEL),
        ("date of birth withheld", K.BIRTH_DATE_LABEL),
        ("ref 1234567", K.MRN_NUMBER),
        ("A1234567", K.ID_CODE),
        ("MRN-004711", K.ID_CODE),
        ("hospital number follows", K.ID_LABEL),
        ("patient id?", K.ID_LABEL),
        ("call 555-123-4567", K.PHONE),
        ("(555) 123 4567", K.PHONE),
        ("+44 20 7946 0958", K.PHONE),
        ("020 7946 0958", K.PHONE),
        ("mail dr.who@example.org", K.EMAIL),
        ("1.2.840.113619.2.55.3.604688", K.UID),
    ],
)
def test_identifier_shapes_are_found(text: str, kind: IdentifierKind) -> None:
    assert kind in identifier_kinds(text), identifier_kinds(text)
    assert looks_identifying(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hyperdense crescent along the left convexity, up to 9 mm, 70 HU",
        "RAS (-55.5, 10.25, 8.0) mm, voxel (76, 43, 21)",
        "volume 26.2 ml by ABC/2 (4.1 x 3.0 x 4.3 cm^3 / 2)",
        "W/L 80/40; compare with 2/3 of the width",
        "slices 12-14 of 28, series 2, T2-FLAIR bright, C1-C2 normal",
        "midline shift 4 mm to the right; may represent artefact",
        "density 0.1234567 after calibration",
        "grade 3/4 small vessel disease",
    ],
)
def test_ordinary_radiology_notes_pass(text: str) -> None:
    assert identifier_kinds(text) == ()


def test_a_date_is_not_also_a_phone_or_mrn_and_kinds_come_once_in_order() -> None:
    assert identifier_kinds("2024-03-01 and 2024-03-02") == (K.DATE,)
    kinds = identifier_kinds("DOE^JOHN born 01/02/1960, MRN 12345678, a@b.org")
    assert kinds == (K.PERSON_NAME, K.DATE, K.BIRTH_DATE_LABEL, K.MRN_NUMBER, K.ID_LABEL, K.EMAIL)


def test_describe_names_kinds_in_words_without_the_text() -> None:
    text = "DOE^JOHN 555-123-4567"
    words = describe(identifier_kinds(text))
    assert words == "a name in DICOM form (FAMILY^GIVEN) and a phone number"
    assert "DOE" not in words and "555" not in words
    assert describe(()) == ""
