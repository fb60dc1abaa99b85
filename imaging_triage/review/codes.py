"""The coded concepts of a review in DICOM Structured Reports: the one code table.

Each value of the clinical vocabulary (:mod:`imaging_triage.review.findings`) maps to a
:class:`Concept`: a SNOMED CT concept (scheme ``SCT``) where one means exactly that
finding, otherwise a code of our own private scheme ``99IMGTRIAGE`` (DICOM PS3.16 8.2:
scheme designators starting with ``99`` are private) carrying the label a reader sees.
Nothing is approximated by a broader or narrower SNOMED concept: a receiving system may
act on a code, so a code must mean what the reader flagged.

The table is documented in ``docs/pacs.md`` (kept equal to this module by a test).

Examples
--------
>>> finding_concept(FindingType.SDH)
Concept(value='35486000', scheme='SCT', meaning='Subdural intracranial hemorrhage')
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from imaging_triage.review.findings import Confidence, FindingType, Laterality, Outcome, Urgency

#: our private coding scheme
LOCAL_SCHEME = "99IMGTRIAGE"
LOCAL_SCHEME_NAME = "imaging-triage local codes"


@dataclass(frozen=True)
class Concept:
    """A coded concept: code value, coding scheme designator, code meaning."""

    value: str
    scheme: str
    meaning: str

    def as_highdicom(self) -> object:
        """The same concept as a ``highdicom.sr.CodedConcept``."""
        from highdicom.sr import CodedConcept

        return CodedConcept(value=self.value, scheme_designator=self.scheme, meaning=self.meaning)


def _sct(value: str, meaning: str) -> Concept:
    return Concept(value, "SCT", meaning)


def _local(value: str, meaning: str) -> Concept:
    return Concept(value, LOCAL_SCHEME, meaning)


#: finding type -> concept (the finding itself)
FINDINGS: dict[FindingType, Concept] = {
    FindingType.EDH: _sct("82999001", "Epidural intracranial hemorrhage"),
    FindingType.SDH: _sct("35486000", "Subdural intracranial hemorrhage"),
    FindingType.SAH: _sct("21454007", "Subarachnoid intracranial hemorrhage"),
    FindingType.IPH: _sct("274100004", "Cerebral hemorrhage"),
    FindingType.IVH: _sct("274110009", "Intraventricular hemorrhage"),
    FindingType.INFARCT: _sct("432504007", "Cerebral infarction"),
    FindingType.MASS: _sct("126952004", "Neoplasm of brain"),
    FindingType.MASS_WITH_EDEMA: _sct("126952004", "Neoplasm of brain"),
    FindingType.CVST: _sct("95455008", "Thrombosis of cerebral veins"),
    FindingType.HYDROCEPHALUS: _sct("230745008", "Hydrocephalus"),
    FindingType.VASCULAR: _local("vascular", "Aneurysm or vascular malformation"),
    FindingType.INFECTION: _local("infection", "Abscess / infection"),
    FindingType.CHIARI: _local("chiari", "Chiari malformation"),
    FindingType.PITUITARY: _local("pituitary", "Pituitary lesion"),
    FindingType.MASS_EFFECT: _local("mass_effect", "Mass effect"),
    FindingType.MIDLINE_SHIFT: _local("midline_shift", "Midline shift"),
}

#: extra evaluations a finding type carries (the "with edema" of a mass)
EDEMA = _sct("79654002", "Edema")

#: where every finding is (finding site)
BRAIN = _sct("12738006", "Brain")

#: laterality -> concept (``NOT_APPLICABLE`` has none: no laterality is written)
LATERALITIES: dict[Laterality, Concept] = {
    Laterality.RIGHT: _sct("24028007", "Right"),
    Laterality.LEFT: _sct("7771000", "Left"),
    Laterality.BILATERAL: _sct("51440002", "Bilateral"),
    Laterality.MIDLINE: _sct("261129000", "Midline"),
}

#: concept names of the qualitative evaluations
FINDING_NAME = _sct("404684003", "Clinical finding")
CONFIDENCE_NAME = _local("confidence", "Reader confidence")
OUTCOME_NAME = _local("outcome", "Triage outcome")
URGENCY_NAME = _local("urgency", "Triage urgency")

# local code values fit the 16 characters of a DICOM Code Value (SH)
CONFIDENCES: dict[Confidence, Concept] = {
    Confidence.DEFINITE: _local("conf-definite", Confidence.DEFINITE.label),
    Confidence.PROBABLE: _local("conf-probable", Confidence.PROBABLE.label),
    Confidence.POSSIBLE: _local("conf-possible", Confidence.POSSIBLE.label),
}
OUTCOMES: dict[Outcome, Concept] = {
    Outcome.NO_ACUTE: _local("out-no-acute", Outcome.NO_ACUTE.label),
    Outcome.NON_ACUTE: _local("out-non-acute", Outcome.NON_ACUTE.label),
    Outcome.SECONDARY: _local("out-secondary", Outcome.SECONDARY.label),
    Outcome.NON_DIAGNOSTIC: _local("out-non-diag", Outcome.NON_DIAGNOSTIC.label),
}
URGENCIES: dict[Urgency, Concept] = {
    Urgency.CRITICAL: _local("urg-critical", Urgency.CRITICAL.label),
    Urgency.URGENT: _local("urg-urgent", Urgency.URGENT.label),
    Urgency.ROUTINE: _local("urg-routine", Urgency.ROUTINE.label),
}


class MeasurementKind(str, enum.Enum):
    """What a numeric measurement of a finding measures (the viewer's tools)."""

    #: a distance between two points (ruler), in millimetres
    DISTANCE = "distance"
    #: the area of a region of interest on a slice, in square millimetres
    AREA = "area"
    #: a volume (region grown or ABC/2), in millilitres
    VOLUME = "volume"
    #: the mean CT density of a region of interest, in Hounsfield units
    MEAN_HU = "mean_hu"


#: measurement kind -> (concept name, UCUM unit)
MEASUREMENTS: dict[MeasurementKind, tuple[Concept, Concept]] = {
    MeasurementKind.DISTANCE: (_sct("410668003", "Length"), Concept("mm", "UCUM", "mm")),
    MeasurementKind.AREA: (_sct("42798000", "Area"), Concept("mm2", "UCUM", "square millimeter")),
    MeasurementKind.VOLUME: (_sct("118565006", "Volume"), Concept("ml", "UCUM", "milliliter")),
    MeasurementKind.MEAN_HU: (
        _sct("373098007", "Mean"),
        Concept("[hnsf'U]", "UCUM", "Hounsfield unit"),
    ),
}


def finding_concept(finding_type: FindingType) -> Concept:
    """The concept of a finding type."""
    return FINDINGS[finding_type]


def laterality_concept(laterality: Laterality) -> Concept | None:
    """The concept of a laterality, or None for "not applicable"."""
    return LATERALITIES.get(laterality)


def all_concepts() -> list[tuple[str, Concept]]:
    """Every row of the table as (what it codes, concept), for the documentation."""
    rows: list[tuple[str, Concept]] = [(f"finding: {t.label}", c) for t, c in FINDINGS.items()]
    rows.append(("with edema (added to a mass with edema)", EDEMA))
    rows.append(("finding site", BRAIN))
    rows += [(f"laterality: {lat.label}", c) for lat, c in LATERALITIES.items()]
    rows += [
        ("concept name: finding", FINDING_NAME),
        ("concept name: confidence", CONFIDENCE_NAME),
        ("concept name: outcome", OUTCOME_NAME),
        ("concept name: urgency", URGENCY_NAME),
    ]
    for kind, (name, unit) in MEASUREMENTS.items():
        rows += [(f"measurement: {kind.value}", name), (f"unit of {kind.value}", unit)]
    rows += [(f"confidence: {c.label}", v) for c, v in CONFIDENCES.items()]
    rows += [(f"outcome: {o.label}", v) for o, v in OUTCOMES.items()]
    rows += [(f"urgency: {u.label}", v) for u, v in URGENCIES.items()]
    return rows


def markdown_table() -> str:
    """The code table as a Markdown table (as in ``docs/pacs.md``)."""
    lines = ["| codes | scheme | value | meaning |", "|---|---|---|---|"]
    for what, concept in all_concepts():
        lines.append(f"| {what} | {concept.scheme} | {concept.value} | {concept.meaning} |")
    return "\n".join(lines)
