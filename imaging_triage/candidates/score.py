"""The candidate score: a number that orders a worklist, with the reasons behind it.

Points add up from what the checks found (the table is :class:`ScoreWeights`, one place
to change it) and are capped at 100. The score only says *look at this study sooner*: a
study scoring 0 is not normal, it has no automated candidate.

>>> weights = ScoreWeights()
>>> weights.hyperdensity, weights.cap
(40, 100)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from imaging_triage.candidates.findings import Check, CheckResult, CheckStatus, ShapeHint


@dataclass(frozen=True)
class ScoreWeights:
    """Points per kind of candidate (configurable).

    Attributes
    ----------
    hyperdensity : int
        Any acute-hyperdensity region.
    hyperdensity_large : int
        Extra when the hyperdense regions add up to ``large_ml`` or more.
    large_ml : float
        See ``hyperdensity_large``.
    extra_axial : int
        Extra for a crescent along the convexity or a ventricular region.
    midline_shift : int
        A midline shift of at least the midline check's ``flag_mm``.
    midline_shift_large : int
        Extra from ``large_shift_mm``.
    large_shift_mm : float
        See ``midline_shift_large``.
    ventricles : int
        Evans' index above its flag.
    hypodensity : int
        Any hypodensity-asymmetry region.
    flair_asymmetry : int
        Any FLAIR hyperintensity-asymmetry region (MR).
    prior_site : int
        Any site of a prior study's candidate measured on a follow-up.
    prior_site_persisting : int
        Extra when a site is still denser than the other side.
    cap : int
        Highest score.
    """

    hyperdensity: int = 40
    hyperdensity_large: int = 10
    large_ml: float = 5.0
    extra_axial: int = 10
    midline_shift: int = 15
    midline_shift_large: int = 15
    large_shift_mm: float = 5.0
    ventricles: int = 10
    hypodensity: int = 20
    flair_asymmetry: int = 20
    prior_site: int = 20
    prior_site_persisting: int = 10
    cap: int = 100


@dataclass
class CandidateScore:
    """Score (0-100) of a series or study and the reasons, highest contribution first."""

    score: int = 0
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return {"score": self.score, "reasons": list(self.reasons)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CandidateScore:
        """The score of :meth:`to_dict`."""
        return cls(int(data["score"]), [str(r) for r in data.get("reasons", [])])


#: the asymmetry checks: the field of ScoreWeights giving their points, and their adjective
_ASYMMETRY = {
    Check.HYPODENSITY_ASYMMETRY: ("hypodensity", "hypodense"),
    Check.FLAIR_ASYMMETRY: ("flair_asymmetry", "FLAIR-hyperintense"),
}


def series_score(
    results: Iterable[CheckResult], weights: ScoreWeights | None = None
) -> CandidateScore:
    """Score the check results of one series.

    Parameters
    ----------
    results : iterable of CheckResult
        The results of :func:`~.run.run_checks` for one series.
    weights : ScoreWeights, optional
        Points per kind of candidate.

    Returns
    -------
    CandidateScore
    """
    w = weights or ScoreWeights()
    parts: list[tuple[int, str]] = []
    for result in results:
        if result.status is not CheckStatus.MEASURED:
            continue
        if result.check is Check.HYPERDENSITY and result.regions:
            total = sum(r.volume_ml for r in result.regions)
            points = w.hyperdensity + (w.hyperdensity_large if total >= w.large_ml else 0)
            top = result.regions[0]
            extra = {ShapeHint.CRESCENT_CONVEXITY, ShapeHint.VENTRICULAR}
            if any(r.shape_hint in extra for r in result.regions):
                points += w.extra_axial
            parts.append(
                (
                    points,
                    f"{len(result.regions)} hyperdense candidate region(s), {total:.1f} mL in "
                    f"all; largest {top.describe()}",
                )
            )
        elif result.check is Check.MIDLINE_SHIFT and result.reasons:
            shift = abs(result.measures.get("shift_mm", 0.0))
            points = w.midline_shift + (w.midline_shift_large if shift >= w.large_shift_mm else 0)
            parts.append((points, result.reasons[0]))
        elif result.check is Check.VENTRICLES and result.reasons:
            parts.append((w.ventricles, result.reasons[0]))
        elif result.check is Check.PRIOR_SITES and result.regions:
            persisting = result.measures.get("persisting", 0.0) > 0
            points = w.prior_site + (w.prior_site_persisting if persisting else 0)
            parts.append((points, result.reasons[0] if result.reasons else "prior sites"))
        elif result.check in _ASYMMETRY and result.regions:
            top = result.regions[0]
            weight, kind = _ASYMMETRY[result.check]
            parts.append(
                (
                    getattr(w, weight),
                    f"{len(result.regions)} {kind} asymmetric region(s); largest {top.describe()}",
                )
            )
    parts.sort(key=lambda p: -p[0])
    score = min(w.cap, sum(p[0] for p in parts))
    return CandidateScore(score, [p[1] for p in parts])


def study_score(series: Iterable[CandidateScore]) -> CandidateScore:
    """A study's score: the highest of its series, with that series' reasons first.

    Reasons of the other series follow, without repeats.
    """
    scores = sorted(series, key=lambda s: -s.score)
    if not scores:
        return CandidateScore()
    reasons: list[str] = []
    for s in scores:
        reasons.extend(r for r in s.reasons if r not in reasons)
    return CandidateScore(scores[0].score, reasons)
