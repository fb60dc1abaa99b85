"""Agreement between readers: Cohen's and Fleiss' kappa, percent agreement, discordances.

For the **outcome**, each reader's saved outcome of a study is a rating; for each
**finding type**, the rating is whether the reader flagged that type on the study at all.
Two readers give Cohen's kappa, more give Fleiss' kappa (both from statsmodels,
``statsmodels.stats.inter_rater``); percent agreement is the share of agreeing pairs of
ratings. For finding types, the *positive agreement* also counts findings matched one to
one (type, side, within :attr:`MatchRule.distance_mm`): 2M / (2M + unmatched), over every
pair of readers. A study is **discordant** when two readers' outcomes differ or their
findings of a type do not all match.

Kappa is undefined (None) when every rating falls in one category: there is nothing
beyond chance to measure; the percent agreement still says how often readers agreed.

Examples
--------
>>> cohen_kappa(["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15,
...             ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15).kappa
0.4
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from imaging_triage.review.findings import FindingType
from imaging_triage.review.reads import (
    DEFAULT_RULE,
    GROUND_TRUTH,
    Matching,
    MatchRule,
    Read,
    match_findings,
)

#: the row name of the outcome in an :class:`AgreementReport`
OUTCOME = "outcome"


@dataclass(frozen=True)
class KappaResult:
    """A kappa (None when undefined), the percent agreement, and what they were over."""

    kappa: float | None
    percent_agreement: float
    subjects: int
    raters: int
    method: str


def _categories(ratings: Iterable[Sequence[Hashable]]) -> list[Hashable]:
    return sorted({r for subject in ratings for r in subject}, key=str)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> KappaResult:
    """Cohen's kappa of two raters who rated the same subjects (``a[i]``, ``b[i]``).

    Raises
    ------
    ValueError
        If the two sequences differ in length or are empty.
    """
    if len(a) != len(b) or not a:
        raise ValueError("Cohen's kappa needs the same non-empty list of subjects for both")
    import numpy as np
    from statsmodels.stats.inter_rater import cohens_kappa

    cats = _categories([a, b])
    index = {c: n for n, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)))
    for x, y in zip(a, b, strict=True):
        table[index[x], index[y]] += 1
    agree = float(np.trace(table) / table.sum())
    value: float | None = None
    if len(cats) > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa = float(cohens_kappa(table, return_results=False))
        value = None if np.isnan(kappa) else round(kappa, 12)
    return KappaResult(value, agree, len(a), 2, "cohen")


def fleiss_kappa(ratings: Sequence[Sequence[Hashable]]) -> KappaResult:
    """Fleiss' kappa: ``ratings[i]`` are the categories the raters gave subject ``i``
    (the same number of ratings for every subject; the raters may differ).

    Raises
    ------
    ValueError
        If there are no subjects, fewer than two ratings per subject, or unequal counts.
    """
    counts = {len(r) for r in ratings}
    if not ratings or len(counts) != 1 or min(counts) < 2:
        raise ValueError("Fleiss' kappa needs subjects with the same number (>= 2) of ratings")
    import numpy as np
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    cats = _categories(ratings)
    index = {c: n for n, c in enumerate(cats)}
    table = np.zeros((len(ratings), len(cats)))
    for i, subject in enumerate(ratings):
        for r in subject:
            table[i, index[r]] += 1
    m = counts.pop()
    per_subject = (np.square(table).sum(axis=1) - m) / (m * (m - 1))
    value: float | None = None
    if len(cats) > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa = float(sm_fleiss(table))
        value = None if np.isnan(kappa) else round(kappa, 12)
    return KappaResult(value, float(per_subject.mean()), len(ratings), m, "fleiss")


def kappa(ratings: Sequence[Sequence[Hashable]]) -> KappaResult:
    """Cohen's kappa for two ratings per subject, Fleiss' kappa for more."""
    if ratings and all(len(r) == 2 for r in ratings):
        return cohen_kappa([r[0] for r in ratings], [r[1] for r in ratings])
    return fleiss_kappa(ratings)


@dataclass(frozen=True)
class AgreementRow:
    """Agreement on the outcome or on one finding type."""

    name: str
    result: KappaResult
    #: finding types only: 2M / (2M + unmatched) over reader pairs (None: no finding)
    positive_agreement: float | None = None


@dataclass(frozen=True)
class Discordance:
    """A study on which readers disagreed, and on what (outcome, finding type codes)."""

    study_key: str
    about: tuple[str, ...]


@dataclass
class AgreementReport:
    """What :func:`agreement` found."""

    readers: tuple[str, ...]
    studies: tuple[str, ...]
    rows: list[AgreementRow] = field(default_factory=list)
    discordant: list[Discordance] = field(default_factory=list)


def agreement(
    reads: Mapping[str, Mapping[str, Read]],
    *,
    readers: Sequence[str] | None = None,
    rule: MatchRule = DEFAULT_RULE,
) -> AgreementReport:
    """Agreement between ``readers`` over the studies all of them have read.

    Parameters
    ----------
    reads : mapping
        Study key -> reader -> read (:func:`~imaging_triage.review.reads.reads_from_store`).
    readers : sequence of str, optional
        Whom to compare (default: every reader with a saved outcome, not the ground truth).
    rule : MatchRule
        When two findings are the same.

    Returns
    -------
    AgreementReport
        Empty rows when fewer than two readers or no study read by all of them.
    """
    if readers is None:
        readers = sorted(
            {r for by in reads.values() for r, read in by.items() if read.complete} - {GROUND_TRUTH}
        )
    chosen = tuple(readers)
    studies = tuple(
        key
        for key in sorted(reads)
        if all(r in reads[key] and reads[key][r].complete for r in chosen)
    )
    report = AgreementReport(chosen, studies)
    if len(chosen) < 2 or not studies:
        return report
    table = [[reads[k][r] for r in chosen] for k in studies]
    report.rows.append(
        AgreementRow(OUTCOME, kappa([[read.outcome for read in row] for row in table]))
    )
    types = [
        t
        for t in FindingType
        if any(f.type is t for row in table for rd in row for f in rd.findings)
    ]
    for ftype in types:
        present = [[any(f.type is ftype for f in read.findings) for read in row] for row in table]
        matchings = [m for row in table for m in _pairwise(row, ftype, rule)]
        matched = sum(len(m.pairs) for m in matchings)
        unmatched = sum(len(m.only_a) + len(m.only_b) for m in matchings)
        positive = 2 * matched / (2 * matched + unmatched) if matched + unmatched else None
        report.rows.append(AgreementRow(ftype.value, kappa(present), positive))
    for key, row in zip(studies, table, strict=True):
        about: list[str] = []
        if len({read.outcome for read in row}) > 1:
            about.append(OUTCOME)
        about.extend(t.value for t in types if not all(m.agree for m in _pairwise(row, t, rule)))
        if about:
            report.discordant.append(Discordance(key, tuple(about)))
    return report


def _pairwise(row: Sequence[Read], ftype: FindingType, rule: MatchRule) -> list[Matching]:
    """The matchings of one finding type between every pair of reads of a study."""
    return [
        match_findings(
            [f for f in x.findings if f.type is ftype],
            [f for f in y.findings if f.type is ftype],
            rule,
        )
        for x, y in itertools.combinations(row, 2)
    ]
