"""The clinical vocabulary of a review, as enums and small value types.

Values follow DESIGN.md section 3. Each enum's ``value`` is the stable code stored in the
review database and written in exports; ``label`` is the wording shown to a reader.
Nothing here is a diagnosis: a finding is a reader's flag on a study, and the outcome is
the reader's triage decision.

Examples
--------
>>> FindingType.SDH.label
'Subdural hemorrhage (SDH)'
>>> Outcome("secondary_cause_suspected").label
'Secondary cause suspected'
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class _Coded(str, enum.Enum):
    """A coded value: ``value`` is stored and exported, ``label`` is shown to readers."""

    @property
    def label(self) -> str:
        """The wording shown to a reader."""
        return _LABELS[self]

    def __str__(self) -> str:
        return str(self.value)


class FindingType(_Coded):
    """What a reader flags: the findings that make a headache secondary.

    The five hemorrhage types are the RSNA 2019 intracranial hemorrhage categories.
    ``MASS_EFFECT`` and ``MIDLINE_SHIFT`` are modifiers, flagged as findings of their own.
    """

    EDH = "edh"
    SDH = "sdh"
    SAH = "sah"
    IPH = "iph"
    IVH = "ivh"
    INFARCT = "infarct"
    MASS = "mass"
    MASS_WITH_EDEMA = "mass_edema"
    CVST = "cvst"
    HYDROCEPHALUS = "hydrocephalus"
    VASCULAR = "vascular"
    INFECTION = "infection"
    CHIARI = "chiari"
    PITUITARY = "pituitary"
    MASS_EFFECT = "mass_effect"
    MIDLINE_SHIFT = "midline_shift"

    @property
    def is_hemorrhage(self) -> bool:
        """Whether this is one of the five RSNA hemorrhage categories."""
        return self in _HEMORRHAGES


_HEMORRHAGES = frozenset(
    {FindingType.EDH, FindingType.SDH, FindingType.SAH, FindingType.IPH, FindingType.IVH}
)


class Laterality(_Coded):
    """Side of the patient (patient's own right and left, not the screen's)."""

    RIGHT = "right"
    LEFT = "left"
    BILATERAL = "bilateral"
    MIDLINE = "midline"
    NOT_APPLICABLE = "na"


class Confidence(_Coded):
    """How sure the reader is of a finding."""

    DEFINITE = "definite"
    PROBABLE = "probable"
    POSSIBLE = "possible"


class Outcome(_Coded):
    """The reader's triage outcome for a whole study."""

    NO_ACUTE = "no_acute_abnormality"
    NON_ACUTE = "non_acute_or_incidental"
    SECONDARY = "secondary_cause_suspected"
    NON_DIAGNOSTIC = "non_diagnostic"


class Urgency(_Coded):
    """How fast the referring team must hear of the outcome."""

    CRITICAL = "critical"
    URGENT = "urgent"
    ROUTINE = "routine"


class ReviewStatus(_Coded):
    """Where a study stands in the worklist."""

    UNREAD = "unread"
    IN_PROGRESS = "in_progress"
    REVIEWED = "reviewed"


_LABELS: dict[_Coded, str] = {
    FindingType.EDH: "Epidural hemorrhage (EDH)",
    FindingType.SDH: "Subdural hemorrhage (SDH)",
    FindingType.SAH: "Subarachnoid hemorrhage (SAH)",
    FindingType.IPH: "Intraparenchymal hemorrhage (IPH)",
    FindingType.IVH: "Intraventricular hemorrhage (IVH)",
    FindingType.INFARCT: "Ischemic stroke / infarct (acute or subacute)",
    FindingType.MASS: "Tumor / mass lesion without edema",
    FindingType.MASS_WITH_EDEMA: "Tumor / mass lesion with edema",
    FindingType.CVST: "Cerebral venous sinus thrombosis",
    FindingType.HYDROCEPHALUS: "Hydrocephalus",
    FindingType.VASCULAR: "Aneurysm or vascular malformation",
    FindingType.INFECTION: "Abscess / infection",
    FindingType.CHIARI: "Chiari malformation",
    FindingType.PITUITARY: "Pituitary lesion",
    FindingType.MASS_EFFECT: "Mass effect (modifier)",
    FindingType.MIDLINE_SHIFT: "Midline shift (modifier)",
    Laterality.RIGHT: "Right",
    Laterality.LEFT: "Left",
    Laterality.BILATERAL: "Bilateral",
    Laterality.MIDLINE: "Midline",
    Laterality.NOT_APPLICABLE: "Not applicable",
    Confidence.DEFINITE: "Definite",
    Confidence.PROBABLE: "Probable",
    Confidence.POSSIBLE: "Possible",
    Outcome.NO_ACUTE: "No acute intracranial abnormality",
    Outcome.NON_ACUTE: "Non-acute or incidental finding",
    Outcome.SECONDARY: "Secondary cause suspected",
    Outcome.NON_DIAGNOSTIC: "Non-diagnostic study",
    Urgency.CRITICAL: "Critical (minutes)",
    Urgency.URGENT: "Urgent (hours)",
    Urgency.ROUTINE: "Routine",
    ReviewStatus.UNREAD: "Unread",
    ReviewStatus.IN_PROGRESS: "In progress",
    ReviewStatus.REVIEWED: "Reviewed",
}


@dataclass(frozen=True)
class Location:
    """A point in a volume: RAS+ millimetres and the voxel index it came from.

    Attributes
    ----------
    xyz_mm : tuple of float
        Patient coordinates, RAS+ (x > 0 is the patient's right).
    ijk : tuple of int
        Voxel index in the series' own array (as loaded by ``imaging_triage.ingest.load``).
    series_uid : str
        The series the point was taken on (or the record key for NIfTI inputs).
    """

    xyz_mm: tuple[float, float, float]
    ijk: tuple[int, int, int]
    series_uid: str = ""


@dataclass(frozen=True)
class Measurement:
    """A measurement the reader made in the viewer and attached to a finding.

    Attributes
    ----------
    tool : str
        The viewer tool: ``distance``, ``ellipse``, ``freehand``, ``region`` or ``abc2``.
    text : str
        The result as the reader saw it, e.g. ``"mean 68.2 SD 4.1 ... HU, 310.5 mm²"``.
    quantities : tuple of (str, float)
        The numbers, named by :class:`imaging_triage.review.codes.MeasurementKind`
        values (``distance`` in mm, ``area`` in mm², ``volume`` in mL, ``mean_hu``), as
        the DICOM SR export writes them with their units.
    """

    tool: str
    text: str
    quantities: tuple[tuple[str, float], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with the finding and in its audit row)."""
        return {"tool": self.tool, "text": self.text,
                "quantities": [[k, float(v)] for k, v in self.quantities]}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """The inverse of :meth:`as_dict`."""
        quantities = tuple((str(k), float(v)) for k, v in data.get("quantities", ()))
        return cls(str(data.get("tool", "")), str(data.get("text", "")), quantities)


@dataclass(frozen=True)
class Finding:
    """A finding flagged by a reader on a study.

    ``id`` is assigned by the store; ``retracted`` is true once a retraction row exists.
    """

    study_key: str
    type: FindingType
    location: Location
    laterality: Laterality = Laterality.NOT_APPLICABLE
    confidence: Confidence = Confidence.PROBABLE
    note: str = ""
    reviewer: str = ""
    created_at: str = ""
    id: int | None = None
    retracted: bool = False
    retraction_reason: str = ""
    #: measurements attached when the finding was flagged
    measurements: tuple[Measurement, ...] = ()
    #: "" for an ordinary read; "consensus" for a consensus read (blinded double reading)
    read_role: str = ""


@dataclass(frozen=True)
class StudyReview:
    """The current review state of one study (the latest outcome row plus its findings).

    ``status_id`` is the id of that latest status row (0 when the study has none): a page
    keeps it from when it loaded and passes it back as ``expected_status_id`` when it
    saves, so that the store can refuse to replace another reader's newer outcome.
    """

    study_key: str
    status: ReviewStatus = ReviewStatus.UNREAD
    outcome: Outcome | None = None
    urgency: Urgency | None = None
    reviewer: str = ""
    updated_at: str = ""
    findings: list[Finding] = field(default_factory=list)
    status_id: int = 0
    #: the role of the read the status row belongs to ("" or "consensus")
    read_role: str = ""


def laterality_from_x(x_mm: float, midline_tolerance_mm: float = 3.0) -> Laterality:
    """Suggest a laterality from a RAS x coordinate (x > 0 is the patient's right).

    Only a suggestion for the form: the reader confirms it. Assumes the head is roughly
    centred on x = 0, which holds for most scanners' coordinates but not all.
    """
    if abs(x_mm) <= midline_tolerance_mm:
        return Laterality.MIDLINE
    return Laterality.RIGHT if x_mm > 0 else Laterality.LEFT
