"""A *read*: what one reader concluded about one study, and when two findings match.

Agreement (:mod:`~imaging_triage.review.agreement`), teaching mode
(:mod:`~imaging_triage.review.teaching`) and blinded double reading
(:mod:`~imaging_triage.review.reading`) all compare reads. A read is the reader's active
(not retracted) findings and the last outcome and urgency they saved on the study; the
ground truth of ``sample_data/`` gives reads too (:func:`read_from_truth`).

Two findings **match** when their types agree, their lateralities agree (a reference
without a side, such as a midline shift, matches any side) and their points lie within
:attr:`MatchRule.distance_mm` of each other (default 20 mm; a finding without a point,
such as a modifier of the ground truth, is matched on type and side only).
:func:`match_findings` pairs findings one to one, nearest first (an optimal assignment).

Examples
--------
>>> a = ReadFinding(FindingType.SDH, Laterality.LEFT, (-50.0, 5.0, 15.0))
>>> b = ReadFinding(FindingType.SDH, Laterality.LEFT, (-45.0, 10.0, 20.0))
>>> MatchRule().matches(a, b), MatchRule(distance_mm=5).matches(a, b)
(True, False)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imaging_triage.errors import InputError
from imaging_triage.review.findings import Finding, FindingType, Laterality, Outcome, Urgency
from imaging_triage.review.store import ReviewStore

#: the reader name of reads built from a ``truth.json``
GROUND_TRUTH = "ground truth"


@dataclass(frozen=True)
class ReadFinding:
    """One finding of a read: type, side (None: any side) and point in RAS mm (or None)."""

    type: FindingType
    laterality: Laterality | None
    xyz_mm: tuple[float, float, float] | None = None
    #: the store's finding id (None for ground truth)
    id: int | None = None

    @classmethod
    def of(cls, finding: Finding) -> ReadFinding:
        """The read finding of a stored :class:`Finding`."""
        return cls(finding.type, finding.laterality, finding.location.xyz_mm, finding.id)


@dataclass(frozen=True)
class Read:
    """One reader's read of one study."""

    study_key: str
    reader: str
    findings: tuple[ReadFinding, ...] = ()
    outcome: Outcome | None = None
    urgency: Urgency | None = None
    #: when the outcome was saved ("" if none yet)
    saved_at: str = ""

    @property
    def complete(self) -> bool:
        """True once the reader has saved an outcome."""
        return self.outcome is not None


@dataclass(frozen=True)
class MatchRule:
    """When two findings count as the same: type, side, and at most ``distance_mm`` apart."""

    distance_mm: float = 20.0

    def matches(self, a: ReadFinding, b: ReadFinding) -> bool:
        """Whether ``a`` and ``b`` are the same finding under this rule."""
        if a.type is not b.type:
            return False
        sides = (a.laterality, b.laterality)
        if None not in sides and sides[0] is not sides[1]:
            return False
        if a.xyz_mm is None or b.xyz_mm is None:
            return True
        return math.dist(a.xyz_mm, b.xyz_mm) <= self.distance_mm


#: the default rule: type, side, and at most 20 mm apart
DEFAULT_RULE = MatchRule()


@dataclass(frozen=True)
class Matching:
    """Findings of ``a`` paired with findings of ``b``; the rest of each unmatched."""

    pairs: tuple[tuple[ReadFinding, ReadFinding], ...] = ()
    only_a: tuple[ReadFinding, ...] = ()
    only_b: tuple[ReadFinding, ...] = ()

    @property
    def agree(self) -> bool:
        """True when every finding of each side has its match on the other."""
        return not self.only_a and not self.only_b


def match_findings(
    a: Sequence[ReadFinding], b: Sequence[ReadFinding], rule: MatchRule = DEFAULT_RULE
) -> Matching:
    """Pair findings of ``a`` and ``b`` one to one: as many pairs as possible, and among
    those the smallest total distance (``scipy.optimize.linear_sum_assignment``)."""
    if not a or not b:
        return Matching(only_a=tuple(a), only_b=tuple(b))
    from scipy.optimize import linear_sum_assignment

    big = 1e6
    cost = [
        [
            (math.dist(x.xyz_mm, y.xyz_mm) if x.xyz_mm and y.xyz_mm else 0.0)
            if rule.matches(x, y)
            else big
            for y in b
        ]
        for x in a
    ]
    rows, cols = linear_sum_assignment(cost)
    pairs = [(a[r], b[c]) for r, c in zip(rows, cols, strict=True) if cost[r][c] < big]
    used_a = {id(p[0]) for p in pairs}
    used_b = {id(p[1]) for p in pairs}
    return Matching(
        pairs=tuple(pairs),
        only_a=tuple(x for x in a if id(x) not in used_a),
        only_b=tuple(y for y in b if id(y) not in used_b),
    )


@dataclass
class _Building:
    findings: list[ReadFinding] = field(default_factory=list)
    outcome: Outcome | None = None
    urgency: Urgency | None = None
    saved_at: str = ""


def reads_from_store(
    store: ReviewStore,
    study_key: str | None = None,
    *,
    readers: Iterable[str] | None = None,
    role: str = "",
) -> dict[str, dict[str, Read]]:
    """Every read in the database: study key -> reader -> :class:`Read`.

    A reader has a read of a study once they flagged a finding or saved an outcome on it;
    the read holds their active findings and their last saved outcome and urgency. Only
    reads of ``role`` are included: independent reads by default, ``"consensus"`` for the
    consensus reads of blinded double reading.
    """
    wanted = set(readers) if readers is not None else None
    building: dict[tuple[str, str], _Building] = {}
    for finding in store.findings(study_key):
        if finding.retracted or finding.read_role != role:
            continue
        if wanted is not None and finding.reviewer not in wanted:
            continue
        entry = building.setdefault((finding.study_key, finding.reviewer), _Building())
        entry.findings.append(ReadFinding.of(finding))
    for row in store.status_rows(study_key):
        if row["outcome"] is None or row.get("read_role", "") != role:
            continue
        if wanted is not None and row["reviewer"] not in wanted:
            continue
        entry = building.setdefault((row["study_key"], row["reviewer"]), _Building())
        entry.outcome = Outcome(row["outcome"])
        entry.urgency = Urgency(row["urgency"]) if row["urgency"] else None
        entry.saved_at = row["created_at"]
    out: dict[str, dict[str, Read]] = {}
    for (key, reader), entry in sorted(building.items()):
        out.setdefault(key, {})[reader] = Read(
            key, reader, tuple(entry.findings), entry.outcome, entry.urgency, entry.saved_at
        )
    return out


def read_from_truth(path: str | Path, study_key: str) -> Read:
    """The ground truth of a sample study (``ground_truth/<study>/truth.json``) as a read.

    Lesions keep their centre point; modifiers (mass effect, midline shift) have none and
    match on type and side; a midline shift has no side (it matches any).

    Raises
    ------
    InputError
        If the file is missing or is not a ground-truth record; the message names it.
    """
    path = Path(path)
    try:
        truth: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        items = list(truth.get("findings", []))
        # the generator labels a mass's vasogenic oedema separately ("edema"): with its
        # mass it is one finding, a mass with edema, as a reader flags it
        edema_sides = {i["laterality"] for i in items if i["type"] == "edema"}
        findings = [
            ReadFinding(
                FindingType.MASS_WITH_EDEMA
                if item["type"] == "mass" and item["laterality"] in edema_sides
                else FindingType(item["type"]),
                Laterality(item["laterality"]),
                tuple(float(v) for v in item["centre_ras_mm"]),  # type: ignore[arg-type]
            )
            for item in items
            if item["type"] != "edema"
        ]
        for item in truth.get("modifiers", []):
            side = item.get("laterality")
            findings.append(
                ReadFinding(FindingType(item["type"]), Laterality(side) if side else None)
            )
        outcome = Outcome(truth["outcome"]) if truth.get("outcome") else None
        urgency = Urgency(truth["urgency"]) if truth.get("urgency") else None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(
            f"not a ground-truth record ({type(err).__name__}: {err}); give a truth.json "
            "written by `imaging-triage samples`",
            path=path,
        ) from err
    return Read(study_key, GROUND_TRUTH, tuple(findings), outcome, urgency)


def truth_study_uid(path: str | Path) -> str:
    """The Study Instance UID a ``truth.json`` describes ("" if it has none)."""
    try:
        return str(json.loads(Path(path).read_text(encoding="utf-8")).get("study_instance_uid", ""))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read the ground truth ({err})", path=Path(path)) from err
