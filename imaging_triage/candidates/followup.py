"""The follow-up pass of ``preprocess``: a study's CT series measured at the sites of its
patient's prior study's candidates, added to the candidates stored beside each series.

After every series of a run is written, studies of one patient are matched by the keyed
patient hash of the scan (never stored, see :func:`imaging_triage.dicom.series.patient_key`)
and ordered by study date. For each CT series of a study with an earlier study of the same
patient, the prior is that study's CT series with the largest hyperdense candidate volume;
:mod:`.prior` measures its sites on the follow-up, and the result is written into the
follow-up's ``B_candidates.json`` and label NIfTI (:func:`add_prior_sites`) with the series'
score recomputed. Run again, the pass replaces what it wrote before; a series whose prior
is gone loses its prior sites (:func:`clear_prior_sites`). The prior is named by its
interval ("the prior study, 10 days earlier"), not by its date.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from imaging_triage.candidates.findings import Check, CheckResult
from imaging_triage.candidates.prior import Prior
from imaging_triage.candidates.run import (
    MAX_LABELS,
    CandidateConfig,
    SeriesCandidates,
    run_checks,
    save_candidates,
)
from imaging_triage.candidates.score import series_score
from imaging_triage.candidates.stored import StoredCandidates, output_base, read_candidates
from imaging_triage.errors import TriageError
from imaging_triage.volume import Volume, load_nifti

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesOutput:
    """One written series, as the follow-up pass sees it.

    Attributes
    ----------
    image : Path
        The written image (``B.nii.gz``).
    patient_key : str
        Keyed hash of the patient (empty when unknown: never matched).
    study_uid : str
        Study Instance UID.
    study_date : str
        StudyDate, ``YYYYMMDD`` (empty when unknown: never matched).
    modality : str
        DICOM modality.
    """

    image: Path
    patient_key: str
    study_uid: str
    study_date: str
    modality: str


def study_day(value: str) -> datetime.date | None:
    """The day of a DICOM date (``YYYYMMDD``, DA), None when it is not one."""
    try:
        return datetime.datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _hyperdense_ml(stored: StoredCandidates | None) -> float:
    if stored is None:
        return -1.0
    try:
        return sum(r.volume_ml for r in stored.result(Check.HYPERDENSITY).regions)
    except KeyError:
        return 0.0


def prior_pairs(outputs: Sequence[SeriesOutput]) -> list[tuple[SeriesOutput, SeriesOutput, int]]:
    """(follow-up series, prior series, days between) for every CT series with a prior.

    The prior study is the latest study of the same patient dated strictly earlier; its
    series is the CT series with stored candidates whose hyperdense regions are largest.
    """
    ct = [o for o in outputs if o.modality == "CT" and o.patient_key and study_day(o.study_date)]
    stored = {o.image: read_candidates(o.image) for o in ct}
    pairs = []
    for current in ct:
        day = study_day(current.study_date)
        assert day is not None
        earlier = [
            o
            for o in ct
            if o.patient_key == current.patient_key
            and o.study_uid != current.study_uid
            and (study_day(o.study_date) or day) < day
            and stored[o.image] is not None
        ]
        if not earlier or stored[current.image] is None:
            continue
        latest = max(o.study_date[:8] for o in earlier)
        candidates = [o for o in earlier if o.study_date[:8] == latest]
        prior = max(candidates, key=lambda o: (_hyperdense_ml(stored[o.image]), str(o.image)))
        prior_day = study_day(prior.study_date)
        assert prior_day is not None
        pairs.append((current, prior, (day - prior_day).days))
    return pairs


def _labels(stored: StoredCandidates, shape: tuple[int, ...]) -> npt.NDArray[np.uint8]:
    if stored.labels_path is None:
        return np.zeros(shape, dtype=np.uint8)
    return np.asarray(load_nifti(stored.labels_path).data, dtype=np.uint8).copy()


def _store(
    image: Path,
    stored: StoredCandidates,
    extra: CheckResult | None,
    extra_labels: npt.NDArray[np.integer] | None,
    config: CandidateConfig,
    volume: Volume | None = None,
) -> StoredCandidates | None:
    """Write ``stored`` without its prior sites, plus ``extra`` (numbered after the rest);
    ``volume`` is the written image when already loaded."""
    volume = volume if volume is not None else load_nifti(image)
    labels = _labels(stored, volume.shape[:3])
    kept = [r for r in stored.results if r.check is not Check.PRIOR_SITES]
    old = [reg.label for r in stored.results if r.check is Check.PRIOR_SITES for reg in r.regions]
    if old:
        labels[np.isin(labels, old)] = 0
    results = list(kept)
    if extra is not None and extra_labels is not None:
        offset = max((reg.label for r in kept for reg in r.regions), default=0)
        regions = []
        for region in extra.regions:
            label = region.label + offset
            if label > MAX_LABELS:
                break
            labels[(extra_labels == region.label) & (labels == 0)] = label
            regions.append(dataclasses.replace(region, label=label))
        results.append(dataclasses.replace(extra, regions=regions))
    report = SeriesCandidates(
        ct=True,
        results=results,
        labels=labels,
        score=series_score(results, config.score),
        key_slice_axis=stored.key_slice_axis,
    )
    base = output_base(image)
    assert base is not None
    save_candidates(report, volume, base)
    return read_candidates(image)


def add_prior_sites(
    image: Path, prior_image: Path, days: int | None, config: CandidateConfig | None = None
) -> StoredCandidates | None:
    """Measure the sites of the candidates stored beside ``prior_image`` on the series
    written at ``image``, and store them with its candidates (replacing earlier ones).

    Parameters
    ----------
    image, prior_image : Path
        Written images (``B.nii.gz``) of the follow-up and of the prior, each with its
        stored candidates; the follow-up with its brain mask (``B_mask.nii.gz``).
    days : int or None
        Days between the two studies (for the reasons).
    config : CandidateConfig, optional
        The candidate configuration (the prior-sites parameters and the score weights).

    Returns
    -------
    StoredCandidates or None
        The follow-up's candidates as now stored; None (nothing written) when either
        series has no stored candidates or the follow-up has no mask.
    """
    cfg = config or CandidateConfig()
    current, prior = read_candidates(image), read_candidates(prior_image)
    base = output_base(image)
    if current is None or prior is None or prior.labels_path is None or base is None:
        return None
    mask_path = base.with_name(base.name + "_mask.nii.gz")
    if not mask_path.is_file():
        return None
    volume = load_nifti(image)
    mask = np.asarray(load_nifti(mask_path).data) > 0
    name = "the prior study" + (f", {days} days earlier" if days is not None else "")
    found = run_checks(
        volume,
        mask,
        dataclasses.replace(cfg, checks=(Check.PRIOR_SITES.value,)),
        prior=Prior(
            load_nifti(prior_image),
            np.asarray(load_nifti(prior.labels_path).data),
            prior.regions,
            name,
        ),
    )
    return _store(image, current, found.result(Check.PRIOR_SITES), found.labels, cfg, volume)


def clear_prior_sites(
    image: Path, config: CandidateConfig | None = None
) -> StoredCandidates | None:
    """Remove prior sites stored with a series' candidates (its prior is gone); the stored
    candidates, or None when the series has none. Nothing is written when there were none."""
    stored = read_candidates(image)
    if stored is None or all(r.check is not Check.PRIOR_SITES for r in stored.results):
        return stored
    return _store(image, stored, None, None, config or CandidateConfig())


def follow_up_pass(
    outputs: Sequence[SeriesOutput], config: CandidateConfig | None = None
) -> dict[Path, StoredCandidates]:
    """Measure prior sites on every CT series of ``outputs`` that has a prior among them,
    and clear them where there is none; the updated candidates by image.

    A series that fails (an unreadable output) is logged and left as it was.
    """
    cfg = config or CandidateConfig()
    pairs = {current.image: (prior.image, days) for current, prior, days in prior_pairs(outputs)}
    updated: dict[Path, StoredCandidates] = {}
    for output in outputs:
        if output.modality != "CT":
            continue
        try:
            if output.image in pairs:
                prior_image, days = pairs[output.image]
                result = add_prior_sites(output.image, prior_image, days, cfg)
            else:
                result = clear_prior_sites(output.image, cfg)
        except (TriageError, OSError, ValueError, RuntimeError) as err:  # the pass goes on
            logger.warning("prior sites not measured (%s): %s", type(err).__name__, err)
            continue
        if result is not None:
            updated[output.image] = result
    return updated
