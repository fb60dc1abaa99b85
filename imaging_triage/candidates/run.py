"""Run every candidate check on one series: the results, one label volume, one score.

>>> report = run_checks(volume, mask)                        # doctest: +SKIP
>>> report.score.score, report.score.reasons                 # doctest: +SKIP
(65, ['1 hyperdense candidate region(s), 7.9 mL in all; largest 7.9 mL, left, ...', ...])
>>> save_candidates(report, volume, Path("out/study/0002_HEAD"))   # doctest: +SKIP

The label volume is on the grid of the input volume (uint8, 0 = nothing; each region's
``label``); :meth:`SeriesCandidates.to_dict` is the JSON with every region and measurement.
Nothing here is a diagnosis: see :data:`~.findings.DISCLAIMER`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.candidates.anatomy import Head, prepare, reorder, to_ras_grid
from imaging_triage.candidates.findings import (
    DISCLAIMER,
    Check,
    CheckResult,
    Region,
    ResultSet,
    not_measured,
)
from imaging_triage.candidates.flair import FlairConfig, flair_asymmetry, is_flair
from imaging_triage.candidates.hyperdensity import HyperdensityConfig, hyperdensity
from imaging_triage.candidates.hypodensity import HypodensityConfig, hypodensity_asymmetry
from imaging_triage.candidates.midline import MidlineConfig, midline_shift
from imaging_triage.candidates.prior import Prior, PriorConfig, prior_sites
from imaging_triage.candidates.score import CandidateScore, ScoreWeights, series_score
from imaging_triage.candidates.ventricles import VentricleConfig, evans_index, ventricle_mask
from imaging_triage.display import is_ct
from imaging_triage.volume import Volume, atomic_write_json, save_nifti

logger = logging.getLogger(__name__)

#: version of the JSON layout written by :func:`save_candidates`
FORMAT = 1
#: most regions a uint8 label volume can number
MAX_LABELS = 255


@dataclass(frozen=True)
class CandidateConfig:
    """Which checks run and their parameters (one field per check)."""

    hyperdensity: HyperdensityConfig = field(default_factory=HyperdensityConfig)
    ventricles: VentricleConfig = field(default_factory=VentricleConfig)
    midline: MidlineConfig = field(default_factory=MidlineConfig)
    hypodensity: HypodensityConfig = field(default_factory=HypodensityConfig)
    flair: FlairConfig = field(default_factory=FlairConfig)
    #: the ventricles on MR, in the z-scores of the MR pipeline (CSF is dark on T1 and
    #: FLAIR): for the midline shift (mass effect) of an MR series
    mr_ventricles: VentricleConfig = field(
        default_factory=lambda: VentricleConfig(csf_hu=(-10.0, -1.5), edge_hu=-1.0)
    )
    #: the sites of a prior study's candidates (only when :func:`run_checks` gets a prior)
    prior: PriorConfig = field(default_factory=PriorConfig)
    score: ScoreWeights = field(default_factory=ScoreWeights)
    #: checks to run, by :class:`~.findings.Check` value (default: all)
    checks: tuple[str, ...] = tuple(c.value for c in Check)


@dataclass
class SeriesCandidates(ResultSet):
    """Every check's result on one series, its label volume and its score.

    Attributes
    ----------
    ct : bool
        Whether the series was read as CT (:func:`imaging_triage.display.is_ct`).
    results : list of CheckResult
        One per check, in the order of :class:`~.findings.Check`.
    labels : numpy.ndarray of uint8
        Candidate label volume on the input grid (each region's ``label``).
    score : CandidateScore
        The series' score with its reasons.
    key_slice_axis : int
        The voxel axis of the input closest to superior: each region's ``key_slice`` is an
        index along it (2 for a volume in RAS order, as the pipeline writes it).
    """

    ct: bool
    results: list[CheckResult]
    labels: npt.NDArray[np.uint8]
    score: CandidateScore
    key_slice_axis: int = 2

    def to_dict(self) -> dict[str, Any]:
        """The JSON of the series: disclaimer, score, every check with regions and measures."""
        return {
            "format": FORMAT,
            "disclaimer": DISCLAIMER,
            "modality": "CT" if self.ct else "MR",
            "score": self.score.to_dict(),
            "regions": len(self.regions),
            "key_slice_axis": self.key_slice_axis,
            "checks": [res.to_dict() for res in self.results],
        }


def _number(
    results: list[CheckResult], labels: dict[Check, npt.NDArray[np.int32]], shape: tuple[int, ...]
) -> npt.NDArray[np.uint8]:
    """Number every region 1..n across checks; merge the label volumes (first check wins)."""
    out = np.zeros(shape, dtype=np.uint8)
    flat = out.reshape(-1)
    next_label = 1
    for res in results:
        volume = labels.get(res.check)
        kept: list[Region] = []
        for region in res.regions:
            if next_label > MAX_LABELS:
                res.reasons.append(
                    f"more than {MAX_LABELS} candidate regions: the smallest are left out"
                )
                break
            kept.append(dataclasses.replace(region, label=next_label))
            next_label += 1
        res.regions = kept
        if volume is None or not kept:
            continue
        # the check's region n (its label volume's value n) becomes kept[n - 1].label
        where = np.flatnonzero(volume != 0)
        values = volume.reshape(-1)[where]
        table = np.zeros(max(int(values.max(initial=0)), len(kept)) + 1, dtype=np.uint8)
        table[1 : len(kept) + 1] = [r.label for r in kept]
        new = table[values]
        free = (new > 0) & (flat[where] == 0)
        flat[where[free]] = new[free]
    return out


def _key_slices(
    results: list[CheckResult], labels: npt.NDArray[np.uint8], affine: npt.NDArray[np.float64]
) -> int:
    """Set each region's key slice to an index along the input's superior axis; that axis."""
    direction = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    axis = int(np.argmax(np.abs(direction[2])))
    if not any(res.regions for res in results):
        return axis
    where = np.flatnonzero(labels != 0)
    values = labels.reshape(-1)[where]
    along = np.unravel_index(where, labels.shape)[axis]
    for res in results:
        updated = []
        for region in res.regions:
            at = along[values == region.label]
            k = int(np.argmax(np.bincount(at))) if at.size else region.key_slice
            updated.append(dataclasses.replace(region, key_slice=k))
        res.regions = updated
    return axis


def run_checks(
    volume: Volume,
    mask: npt.NDArray[np.bool_],
    config: CandidateConfig | None = None,
    prior: Prior | None = None,
) -> SeriesCandidates:
    """Run the candidate checks on one series.

    Parameters
    ----------
    volume : Volume
        The image (CT in HU), 3-D; any voxel order (it is brought to RAS order, axis swaps
        and flips only, and the labels are brought back).
    mask : numpy.ndarray of bool
        Brain mask on the volume's grid: the CT intracranial mask or the MR brain mask of
        :mod:`imaging_triage.preprocess`.
    config : CandidateConfig, optional
        Checks and parameters.
    prior : Prior, optional
        A prior study of the same patient (its CT series and candidates): the sites of its
        candidates are measured on this series (:mod:`.prior`). Without it that check
        does not run.

    Returns
    -------
    SeriesCandidates
        Results, label volume (input grid) and score.

    Raises
    ------
    ValueError
        If the volume is not 3-D or the mask is not on its grid.

    Examples
    --------
    >>> report = run_checks(volume, mask)                          # doctest: +SKIP
    >>> [r.describe() for r in report.regions]                     # doctest: +SKIP
    ['7.9 mL, left, crescent convexity, mean 64 HU']
    """
    cfg = config or CandidateConfig()
    if np.asarray(volume.data).ndim != 3:
        raise ValueError(f"candidate checks need a 3-D volume, got shape {volume.shape}")
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != volume.shape:
        raise ValueError(
            f"brain mask of shape {mask.shape} is not on the image grid {volume.shape}; "
            "pass the mask made on this image"
        )
    ct = is_ct(volume.info.modality, hounsfield=volume.info.hounsfield, data=volume.data)
    ras, forward, backward = to_ras_grid(volume)
    head = prepare(ras, reorder(mask, forward), ct)
    wanted = {Check(c) for c in cfg.checks}
    if prior is None:
        wanted.discard(Check.PRIOR_SITES)
    results, label_maps = _checks(
        head, cfg, wanted, flair=not ct and is_flair(volume.info), prior=prior
    )
    labels_ras = _number(results, label_maps, head.mask.shape)
    labels = reorder(labels_ras, backward).astype(np.uint8)
    axis = _key_slices(results, labels, volume.affine)
    score = series_score(results, cfg.score)
    return SeriesCandidates(ct, results, labels, score, axis)


def _checks(
    head: Head,
    cfg: CandidateConfig,
    wanted: set[Check],
    flair: bool = False,
    prior: Prior | None = None,
) -> tuple[list[CheckResult], dict[Check, npt.NDArray[np.int32]]]:
    results: list[CheckResult] = []
    maps: dict[Check, npt.NDArray[np.int32]] = {}
    if not head.mask.any():
        return [not_measured(c, "empty brain mask") for c in Check if c in wanted], maps
    # every check but the prior sites reads the ventricles
    ventricles = (
        ventricle_mask(head, cfg.ventricles if head.ct else cfg.mr_ventricles)
        if wanted - {Check.PRIOR_SITES}
        else np.zeros(head.mask.shape, dtype=bool)
    )
    for check in Check:
        if check not in wanted:
            continue
        if check is Check.HYPERDENSITY:
            result, maps[check] = hyperdensity(head, ventricles, cfg.hyperdensity)
        elif check is Check.MIDLINE_SHIFT:
            result = midline_shift(head, ventricles, cfg.midline)
        elif check is Check.VENTRICLES:
            result = evans_index(head, ventricles, cfg.ventricles)
        elif check is Check.HYPODENSITY_ASYMMETRY:
            result, maps[check] = hypodensity_asymmetry(head, ventricles, cfg.hypodensity)
        elif check is Check.PRIOR_SITES:
            assert prior is not None  # run_checks leaves the check out without a prior
            result, maps[check] = prior_sites(head, prior, cfg.prior)
        else:
            result, maps[check] = flair_asymmetry(head, ventricles, flair, cfg.flair)
        results.append(result)
    return results, maps


def label_volume(report: SeriesCandidates, volume: Volume) -> Volume:
    """The candidate label volume as a :class:`Volume` on the input's grid (for NIfTI)."""
    info = dataclasses.replace(
        volume.info,
        series_description=f"{volume.info.series_description} candidates".strip(),
        hounsfield=False,
    )
    return Volume(report.labels, volume.affine, info)


def candidate_paths(base: Path) -> dict[str, Path]:
    """The files :func:`save_candidates` writes for output base ``base``, by kind:
    ``labels`` (``<base>_candidates.nii.gz``) and ``json`` (``<base>_candidates.json``)."""
    return {
        "labels": base.with_name(base.name + "_candidates.nii.gz"),
        "json": base.with_name(base.name + "_candidates.json"),
    }


def save_candidates(report: SeriesCandidates, volume: Volume, base: Path) -> dict[str, Path]:
    """Write ``<base>_candidates.nii.gz`` (uint8 labels) and ``<base>_candidates.json``.

    Both written atomically; returns their paths by kind (``labels``, ``json``).
    """
    paths = candidate_paths(base)
    save_nifti(label_volume(report, volume), paths["labels"], np.uint8)
    atomic_write_json(paths["json"], report.to_dict())
    logger.info("candidates: %d region(s), score %d", len(report.regions), report.score.score)
    return paths
