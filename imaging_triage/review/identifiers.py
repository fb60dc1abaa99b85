"""Does free text look like it carries patient identifiers?

Reader notes and retraction reasons are free text that ends up in the review database and,
when asked, in exports. They must describe the image, never the patient. This module
finds the shapes identifiers usually take: a name in DICOM PN form (``FAMILY^GIVEN``), a
date (of birth or of anything else: the study date is in the header, not in notes), an
MRN-like number or code, a phone number, an e-mail address, a DICOM UID, or a label such
as "MRN" or "DOB".

It is a screen, not a guarantee: a plain name ("John Doe") cannot be told from words, and
the reader is told so beside the note field. It prefers refusing a harmless note (the
reader rewords it) to letting an identifier through. Callers report the *kinds* found,
never the matching text, so that refusals can be logged without leaking what was typed.

Examples
--------
>>> [k.value for k in identifier_kinds("crescent along the left convexity, 9 mm")]
[]
>>> [k.value for k in identifier_kinds("DOE^JOHN born 01/02/1960, MRN 12345678")]
['person_name', 'date', 'birth_date_label', 'mrn_number', 'id_label']
"""

from __future__ import annotations

import enum
import re


class IdentifierKind(str, enum.Enum):
    """A kind of identifier-like text; ``label`` says it in words for the reader."""

    #: a name in DICOM PN form, ``FAMILY^GIVEN`` (how the header writes PatientName)
    PERSON_NAME = "person_name"
    #: a calendar date in a common format (2024-03-01, 01/03/2024, 1 Mar 2024, ...)
    DATE = "date"
    #: a word announcing a date of birth (DOB, born, date of birth)
    BIRTH_DATE_LABEL = "birth_date_label"
    #: a run of six or more digits, like a medical record or accession number
    MRN_NUMBER = "mrn_number"
    #: letters then five or more digits (``A1234567``, ``MRN-004711``)
    ID_CODE = "id_code"
    #: a word announcing an identifier (MRN, patient ID, hospital / NHS number, accession)
    ID_LABEL = "id_label"
    #: a phone number
    PHONE = "phone"
    #: an e-mail address
    EMAIL = "email"
    #: a DICOM UID (digits and dots), which links back to the patient's study
    UID = "uid"

    @property
    def label(self) -> str:
        """What was found, in words (never the text itself)."""
        return _LABELS[self]


_LABELS = {
    IdentifierKind.PERSON_NAME: "a name in DICOM form (FAMILY^GIVEN)",
    IdentifierKind.DATE: "a date",
    IdentifierKind.BIRTH_DATE_LABEL: "a date-of-birth label (DOB, born)",
    IdentifierKind.MRN_NUMBER: "a number of 6 or more digits (like a record number)",
    IdentifierKind.ID_CODE: "an ID of letters and digits",
    IdentifierKind.ID_LABEL: "an identifier label (MRN, patient ID, accession)",
    IdentifierKind.PHONE: "a phone number",
    IdentifierKind.EMAIL: "an e-mail address",
    IdentifierKind.UID: "a DICOM UID",
}

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_I = re.IGNORECASE

#: patterns in the order they are applied; text matched by one is blanked before the next,
#: so that a date is not also reported as a phone number or an MRN
_PATTERNS: tuple[tuple[IdentifierKind, re.Pattern[str]], ...] = (
    (IdentifierKind.EMAIL, re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    (IdentifierKind.UID, re.compile(r"(?<![\w.])\d+(?:\.\d+){4,}(?![\w.])")),
    (IdentifierKind.PERSON_NAME, re.compile(r"[^\W\d_][^\W\d_'-]*\^+[^\W\d_]")),
    (
        IdentifierKind.DATE,
        re.compile(
            "|".join(
                (
                    r"(?<!\d)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)",  # 2024-03-01
                    r"(?<![\d.])\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})(?![\d.])",  # 01/03/24
                    r"(?<!\d)(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)",
                    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{2,4}}\b",  # 1 Mar 1960
                    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{2,4}}\b",  # March 1, 1960
                )
            ),
            _I,
        ),
    ),
    (
        IdentifierKind.BIRTH_DATE_LABEL,
        re.compile(r"\b(?:d\.?o\.?b\b\.?|date\s+of\s+birth|birth\s*date|born)\b", _I),
    ),
    (
        IdentifierKind.PHONE,
        re.compile(
            "|".join(
                (
                    r"\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}(?!\d)",
                    r"(?<!\d)\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\d)",
                    r"(?<![\d.])0\d{2,4}[\s-]\d{3,4}[\s-]?\d{3,4}(?!\d)",
                )
            )
        ),
    ),
    (IdentifierKind.ID_CODE, re.compile(r"\b[A-Za-z]{1,4}[-#]?\d{5,}\b")),
    (IdentifierKind.MRN_NUMBER, re.compile(r"(?<![\d.,])\d{6,}(?![\d]|[.,]\d)")),
    (
        IdentifierKind.ID_LABEL,
        re.compile(
            r"\b(?:mrn|pid|patient\s*id|hospital\s*(?:no|number|id)|nhs\s*(?:no|number)"
            r"|medical\s*record|record\s*(?:no|number)|accession)\b",
            _I,
        ),
    ),
)
#: the order kinds are reported in
_ORDER = {kind: n for n, kind in enumerate(IdentifierKind)}


def identifier_kinds(text: str) -> tuple[IdentifierKind, ...]:
    """The kinds of identifier-like text found in ``text`` (empty when none).

    Parameters
    ----------
    text : str
        A reader's free text (a note, a retraction reason).

    Returns
    -------
    tuple of IdentifierKind
        Each kind once, in the order of :class:`IdentifierKind`. Never the matched text:
        report these (``kind.label``) to the reader and in logs.

    Examples
    --------
    >>> identifier_kinds("call 555-123-4567")
    (<IdentifierKind.PHONE: 'phone'>,)
    """
    found: set[IdentifierKind] = set()
    rest = text
    for kind, pattern in _PATTERNS:
        if pattern.search(rest):
            found.add(kind)
            rest = pattern.sub(" ", rest)
    return tuple(sorted(found, key=_ORDER.__getitem__))


def looks_identifying(text: str) -> bool:
    """Whether ``text`` looks like it carries a patient identifier."""
    return bool(identifier_kinds(text))


def describe(kinds: tuple[IdentifierKind, ...]) -> str:
    """The kinds found, in words: ``"a date and a phone number"``."""
    labels = [k.label for k in kinds]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]
