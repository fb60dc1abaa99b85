"""Results of the candidate checks as data: regions, measurements, suppressions, never diagnoses.

Every check returns a :class:`CheckResult`, in the spirit of the QC findings of
:mod:`imaging_triage.preprocess.qc` and nibabel's ``batteryrunners.Report``: what was
measured, the candidate regions found, what was suppressed as a known mimic (and why), and
why a check could not run. A reader sees each number and judges it; a study without a
candidate is never "normal", it is only ordered later.

>>> result = CheckResult(Check.MIDLINE_SHIFT, CheckStatus.MEASURED, measures={"shift_mm": 4.1})
>>> result.to_dict()["status"]
'measured'
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

#: shown beside every automated output (worklist column, viewer, report)
DISCLAIMER = (
    "automated candidates, not a diagnosis: explainable checks for a reader to judge, "
    "not validated on patients"
)


class Check(str, enum.Enum):
    """The candidate checks, by the name used in JSON and configuration."""

    #: CT voxels in the acute-blood range after suppression of known mimics
    HYPERDENSITY = "hyperdensity"
    #: septum pellucidum against the skull's symmetry plane
    MIDLINE_SHIFT = "midline_shift"
    #: Evans' index of the lateral ventricles
    VENTRICLES = "ventricles"
    #: CT parenchyma darker than its mirror image across the midline plane
    HYPODENSITY_ASYMMETRY = "hypodensity_asymmetry"
    #: MR FLAIR brain brighter than its mirror image across the midline plane
    FLAIR_ASYMMETRY = "flair_asymmetry"
    #: CT sites of a prior study's candidates, measured again on the follow-up (runs only
    #: when a prior is given)
    PRIOR_SITES = "prior_sites"

    @property
    def unit(self) -> str:
        """Unit of the image values the check reads: HU on CT, SD of the brain (the
        z-scores of the MR pipeline) on MR."""
        return "SD" if self is Check.FLAIR_ASYMMETRY else "HU"


class CheckStatus(str, enum.Enum):
    """Whether a check produced its measurement."""

    #: the check ran and its measures and regions are in the result
    MEASURED = "measured"
    #: the check ran but could not measure (``reasons`` says why): nothing is implied
    NOT_MEASURED = "not_measured"
    #: the check does not apply to this series (e.g. a CT check on MR)
    NOT_APPLICABLE = "not_applicable"


class Side(str, enum.Enum):
    """Side of a region relative to the midline plane (patient's left and right)."""

    #: at least 80% of the region on the patient's left
    LEFT = "left"
    #: at least 80% of the region on the patient's right
    RIGHT = "right"
    #: centroid within a few mm of the midline plane
    MIDLINE = "midline"
    #: on both sides
    BILATERAL = "bilateral"


class ShapeHint(str, enum.Enum):
    """Where and how a hyperdense region lies: a hint for the reader, not a hemorrhage type."""

    #: thin and extended along the inner table of the convexity
    CRESCENT_CONVEXITY = "crescent_convexity"
    #: thin and branching, in sulci, fissures or basal cisterns
    SULCAL_CISTERNAL = "sulcal_cisternal"
    #: compact, inside the parenchyma
    PARENCHYMAL = "parenchymal"
    #: mostly inside the ventricles
    VENTRICULAR = "ventricular"


@dataclass(frozen=True)
class Region:
    """One candidate region: where it is, how large and how dense.

    Attributes
    ----------
    label : int
        Value of the region in the candidate label volume (1-based).
    check : Check
        The check that found it.
    volume_ml : float
        Volume in millilitres.
    mean_hu, max_hu : float
        Mean and maximum of the image values in the region (HU on CT, the z-scores of the
        MR pipeline on MR: see :attr:`Check.unit`).
    centroid_ras_mm : tuple of float
        Centre of mass in RAS+ millimetres.
    side : Side
        Side relative to the midline plane.
    key_slice : int
        Index of the axial slice holding most of the region, along the voxel axis of the
        input volume closest to superior.
    shape_hint : ShapeHint or None
        Hyperdense regions only.
    delta_hu : float or None
        Asymmetry checks only: mean difference from the mirrored region (negative for
        hypodensity, positive for FLAIR hyperintensity).
    """

    label: int
    check: Check
    volume_ml: float
    mean_hu: float
    max_hu: float
    centroid_ras_mm: tuple[float, float, float]
    side: Side
    key_slice: int
    shape_hint: ShapeHint | None = None
    delta_hu: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        out = asdict(self)
        out["check"] = self.check.value
        out["side"] = self.side.value
        out["shape_hint"] = self.shape_hint.value if self.shape_hint else None
        out["centroid_ras_mm"] = [round(v, 1) for v in self.centroid_ras_mm]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Region:
        """The region of :meth:`to_dict` (as read back from a candidates JSON)."""
        hint = data.get("shape_hint")
        delta = data.get("delta_hu")
        x, y, z = (float(v) for v in data["centroid_ras_mm"])
        return cls(
            label=int(data["label"]),
            check=Check(data["check"]),
            volume_ml=float(data["volume_ml"]),
            mean_hu=float(data["mean_hu"]),
            max_hu=float(data["max_hu"]),
            centroid_ras_mm=(x, y, z),
            side=Side(data["side"]),
            key_slice=int(data["key_slice"]),
            shape_hint=ShapeHint(hint) if hint else None,
            delta_hu=float(delta) if delta is not None else None,
        )

    def describe(self) -> str:
        """One line for a reader, e.g. ``"12.3 mL, left, crescent along the convexity"``."""
        parts = [f"{self.volume_ml:.1f} mL", self.side.value]
        if self.shape_hint is not None:
            parts.append(self.shape_hint.value.replace("_", " "))
        unit = self.check.unit
        if self.delta_hu is not None:
            parts.append(f"{self.delta_hu:+.1f} {unit} vs mirror")
        else:
            parts.append(f"mean {self.mean_hu:.0f} {unit}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Suppressed:
    """A region a check set aside as a known mimic, kept so a reader can see why.

    Attributes
    ----------
    volume_ml : float
        Volume in millilitres.
    centroid_ras_mm : tuple of float
        Centre of mass in RAS+ millimetres.
    reason : str
        The rule that suppressed it (e.g. ``"physiological calcification (midline)"``).
    """

    volume_ml: float
    centroid_ras_mm: tuple[float, float, float]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return {
            "volume_ml": round(self.volume_ml, 3),
            "centroid_ras_mm": [round(v, 1) for v in self.centroid_ras_mm],
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Suppressed:
        """The suppressed region of :meth:`to_dict`."""
        x, y, z = (float(v) for v in data["centroid_ras_mm"])
        return cls(float(data["volume_ml"]), (x, y, z), str(data["reason"]))


@dataclass
class CheckResult:
    """What one check found on one series.

    Attributes
    ----------
    check : Check
        Which check.
    status : CheckStatus
        Measured, not measured (see ``reasons``) or not applicable.
    regions : list of Region
        Candidate regions (labels assigned by :func:`~.run.run_checks`).
    measures : dict of str to float
        Named measurements (mm, mL, HU, ratios), e.g. ``shift_mm``, ``evans_index``.
    reasons : list of str
        Why the check was not measured, or what limits the measurement.
    suppressed : list of Suppressed
        Regions set aside as mimics, with the rule that did it.
    """

    check: Check
    status: CheckStatus
    regions: list[Region] = field(default_factory=list)
    measures: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return {
            "check": self.check.value,
            "status": self.status.value,
            "measures": {k: round(float(v), 3) for k, v in self.measures.items()},
            "reasons": list(self.reasons),
            "regions": [r.to_dict() for r in self.regions],
            "suppressed": [s.to_dict() for s in self.suppressed],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        """The result of :meth:`to_dict`."""
        return cls(
            check=Check(data["check"]),
            status=CheckStatus(data["status"]),
            regions=[Region.from_dict(r) for r in data.get("regions", [])],
            measures={str(k): float(v) for k, v in data.get("measures", {}).items()},
            reasons=[str(r) for r in data.get("reasons", [])],
            suppressed=[Suppressed.from_dict(r) for r in data.get("suppressed", [])],
        )


def not_applicable(check: Check, reason: str) -> CheckResult:
    """A result saying ``check`` does not apply to this series, and why."""
    return CheckResult(check, CheckStatus.NOT_APPLICABLE, reasons=[reason])


def not_measured(check: Check, reason: str) -> CheckResult:
    """A result saying ``check`` could not measure this series, and why."""
    return CheckResult(check, CheckStatus.NOT_MEASURED, reasons=[reason])


class ResultSet:
    """The regions of a list of check results and the lookup of one check's result, for
    any class holding ``results`` (a fresh run, or one read back from its JSON)."""

    results: list[CheckResult]

    @property
    def regions(self) -> list[Region]:
        """Every candidate region of every check, in label order."""
        return sorted((r for res in self.results for r in res.regions), key=lambda r: r.label)

    def result(self, check: Check) -> CheckResult:
        """The result of one check.

        Raises
        ------
        KeyError
            If the check did not run (left out of the configured checks).
        """
        for res in self.results:
            if res.check is check:
                return res
        raise KeyError(f"check {check.value!r} did not run on this series")
