"""Candidates written by ``preprocess``, read back for the worklist, the viewer and the report.

A preprocessed CT series with output base ``B`` has ``B_candidates.json`` and
``B_candidates.nii.gz`` (:func:`~.run.candidate_paths`). A study's score is the
:func:`~.score.study_score` of its series; ``preprocess`` also writes it to
``<study folder>/study_candidates.json`` (:func:`write_study_candidates`).

>>> stored = read_candidates("out/study/0002_HEAD.nii.gz")     # doctest: +SKIP
>>> stored.score.score if stored else None                    # doctest: +SKIP
65
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imaging_triage.candidates.findings import DISCLAIMER, CheckResult, ResultSet
from imaging_triage.candidates.run import FORMAT, candidate_paths
from imaging_triage.candidates.score import CandidateScore, study_score
from imaging_triage.volume import atomic_write_json

logger = logging.getLogger(__name__)

#: the per-study file in each study folder of a ``preprocess`` output
STUDY_FILE = "study_candidates.json"

_IMAGE_SUFFIXES = (".nii.gz", ".nii")


@dataclass
class StoredCandidates(ResultSet):
    """The candidates of one series as ``preprocess`` wrote them.

    Attributes
    ----------
    results : list of CheckResult
        Every check's result.
    score : CandidateScore
        The series' score and reasons.
    key_slice_axis : int
        Voxel axis of the written image along which the regions' key slices count.
    labels_path : Path or None
        The label NIfTI (on the written image's grid), when present.
    """

    results: list[CheckResult]
    score: CandidateScore
    key_slice_axis: int
    labels_path: Path | None


def output_base(image_path: str | Path) -> Path | None:
    """The output base of a written image (``B.nii.gz`` -> ``B``); None if not NIfTI."""
    p = Path(image_path)
    for suffix in _IMAGE_SUFFIXES:
        if p.name.endswith(suffix):
            return p.with_name(p.name[: -len(suffix)])
    return None


def read_candidates(image_path: str | Path) -> StoredCandidates | None:
    """The candidates stored beside an output image, or None when there are none.

    None too when the JSON cannot be read or has another format (logged, never raised:
    the viewer then runs the checks itself).
    """
    base = output_base(image_path)
    if base is None:
        return None
    paths = candidate_paths(base)
    if not paths["json"].is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(paths["json"].read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        results = [CheckResult.from_dict(c) for c in data["checks"]]
        score = CandidateScore.from_dict(data["score"])
        axis = int(data.get("key_slice_axis", 2))
    except (OSError, ValueError, KeyError, TypeError) as err:
        logger.warning("candidates JSON not read (%s): %s", type(err).__name__, err)
        return None
    labels = paths["labels"] if paths["labels"].is_file() else None
    return StoredCandidates(results, score, axis, labels)


def study_candidates(image_paths: Iterable[str | Path]) -> CandidateScore | None:
    """The study score of the series whose images are ``image_paths``; None if no series
    has stored candidates (the checks did not run: not a score of 0)."""
    scores = [s.score for s in (read_candidates(p) for p in image_paths) if s is not None]
    return study_score(scores) if scores else None


def write_study_candidates(folder: Path, image_paths: Iterable[str | Path]) -> Path | None:
    """Write ``folder/study_candidates.json`` (score, reasons, disclaimer, series counted)
    from the series images of one study; None (and no file) when none has candidates."""
    stored = {Path(p).name: read_candidates(p) for p in image_paths}
    scores = [s.score for s in stored.values() if s is not None]
    target = folder / STUDY_FILE
    if not scores:
        target.unlink(missing_ok=True)
        return None
    score = study_score(scores)
    atomic_write_json(
        target,
        {
            "format": FORMAT,
            "disclaimer": DISCLAIMER,
            **score.to_dict(),
            "series": sorted(name for name, s in stored.items() if s is not None),
        },
    )
    return target
