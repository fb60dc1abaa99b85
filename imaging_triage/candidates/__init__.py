"""Explainable automated checks on head CT and MR: candidates for a reader, never diagnoses.

One module per check, each returning a :class:`~.findings.CheckResult` (data, like the QC
findings of :mod:`imaging_triage.preprocess.qc`):

* :mod:`.hyperdensity`: CT voxels in the acute-blood range after suppressing bone, partial
  volume, calcification, falx and skull-base beam hardening; regions with volume, density,
  centroid, side, key slice and a shape hint;
* :mod:`.midline`: septum pellucidum against the skull's symmetry plane (:mod:`.anatomy`);
* :mod:`.ventricles`: the lateral ventricles and Evans' index;
* :mod:`.hypodensity`: parenchyma darker than its mirror region across the midline;
* :mod:`.flair`: MR FLAIR brain brighter than its mirror region (and, with the MR
  ventricles, the midline shift of an MR series: mass effect);
* :mod:`.prior`: on a follow-up CT, the sites of a prior study's candidates measured again
  (after rigid registration of the two heads): a hematoma turned isodense keeps its site;
* :mod:`.score`: a per-series and per-study score with its reasons, to order a worklist;
* :mod:`.run`: all checks on one volume and its brain mask, the uint8 label volume and the
  JSON (:func:`run_checks`, :func:`save_candidates`);
* :mod:`.stored`: those outputs read back (worklist, viewer, report);
* :mod:`.followup`: the follow-up pass of ``preprocess`` (prior sites on a patient's later
  CT studies, written into their stored candidates).

These checks are **not validated on patients** (see the README): a study without a
candidate is not normal, it is only ordered later.
"""

from imaging_triage.candidates.findings import (
    DISCLAIMER,
    Check,
    CheckResult,
    CheckStatus,
    Region,
    ShapeHint,
    Side,
    Suppressed,
)
from imaging_triage.candidates.prior import Prior, PriorConfig
from imaging_triage.candidates.run import (
    CandidateConfig,
    SeriesCandidates,
    label_volume,
    run_checks,
    save_candidates,
)
from imaging_triage.candidates.score import CandidateScore, series_score, study_score

__all__ = [
    "DISCLAIMER",
    "CandidateConfig",
    "CandidateScore",
    "Check",
    "CheckResult",
    "CheckStatus",
    "Prior",
    "PriorConfig",
    "Region",
    "SeriesCandidates",
    "ShapeHint",
    "Side",
    "Suppressed",
    "label_volume",
    "run_checks",
    "save_candidates",
    "series_score",
    "study_score",
]
