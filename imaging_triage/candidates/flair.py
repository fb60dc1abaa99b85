"""MR FLAIR hyperintensity asymmetry: brain brighter than its mirror image across the midline.

Oedema, a tumour, an infarct or inflammation raise the FLAIR signal of one side. On the
z-scores of the MR pipeline (mean 0, SD 1 over the brain mask), the check runs the
mirror comparison of :mod:`.hypodensity` on the negated values (brighter becomes darker):
both the voxel and its mirror must be brain (``brain_z``), away from the mask's edge
(``edge_margin_mm``), from CSF (below ``csf_z``, with its neighbourhood: a sulcus or a
ventricle on one side is not a lesion on the other) and from the ventricles; the regional
difference must reach ``delta_z`` over ``min_volume_ml``.

It applies to FLAIR series only (:func:`is_flair`: an inversion time of at least 1.5 s,
or FLAIR in the series description); other MR series and CT get *not applicable*.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imaging_triage.candidates.anatomy import Head
from imaging_triage.candidates.findings import Check, CheckResult, not_applicable
from imaging_triage.candidates.hypodensity import HypodensityConfig, asymmetry
from imaging_triage.volume import SeriesInfo

#: shortest inversion time (s) of a FLAIR (STIR is about 0.15 s, T1-FLAIR about 0.9 s)
FLAIR_MIN_TI_S = 1.5


@dataclass(frozen=True)
class FlairConfig:
    """Parameters of the FLAIR asymmetry check (z-score units; see the module docstring)."""

    brain_z: tuple[float, float] = (-1.5, 6.0)
    csf_z: float = -1.5
    smoothing_mm: float = 2.0
    region_mm: float = 4.0
    edge_margin_mm: float = 6.0
    ventricle_margin_mm: float = 3.0
    delta_z: float = 0.6
    min_volume_ml: float = 2.0
    working_mm: float = 2.0

    def as_mirror(self) -> HypodensityConfig:
        """The same thresholds for :func:`.hypodensity.asymmetry` on negated values."""
        return HypodensityConfig(
            parenchyma_hu=(-self.brain_z[1], -self.brain_z[0]),
            dense_hu=-self.csf_z,
            smoothing_mm=self.smoothing_mm,
            region_mm=self.region_mm,
            table_margin_mm=self.edge_margin_mm,
            ventricle_margin_mm=self.ventricle_margin_mm,
            delta_hu=self.delta_z,
            min_volume_ml=self.min_volume_ml,
            working_mm=self.working_mm,
            dense_unsmoothed=False,
        )


def is_flair(info: SeriesInfo) -> bool:
    """Whether an MR series is a FLAIR: inversion time of at least :data:`FLAIR_MIN_TI_S`,
    or ``FLAIR`` in its description (when the inversion time is not recorded)."""
    try:
        ti = float(info.acquisition.get("InversionTime", 0.0) or 0.0)
    except (TypeError, ValueError):
        ti = 0.0
    if ti > 100.0:  # recorded in ms
        ti /= 1000.0
    return ti >= FLAIR_MIN_TI_S or "FLAIR" in info.series_description.upper()


def flair_asymmetry(
    head: Head,
    ventricles: npt.NDArray[np.bool_],
    flair: bool,
    config: FlairConfig | None = None,
) -> tuple[CheckResult, npt.NDArray[np.int32]]:
    """Find brain brighter than its mirror region on an MR FLAIR.

    Parameters
    ----------
    head : Head
        The prepared MR head (z-scores of the MR pipeline, brain mask, midline plane).
    ventricles : numpy.ndarray of bool
        Ventricle mask, kept out with a margin.
    flair : bool
        Whether the series is a FLAIR (:func:`is_flair`).
    config : FlairConfig, optional
        Thresholds and distances.

    Returns
    -------
    result : CheckResult
        Regions (largest first) with ``delta_hu`` the mean difference from the mirror in SD
        (positive); ``measures``: ``total_ml``, ``regions``.
    labels : numpy.ndarray of int32
        0 outside, else the region's position in ``result.regions`` plus one.
    """
    cfg = config or FlairConfig()
    out = np.zeros(head.mask.shape, dtype=np.int32)
    if head.ct:
        return not_applicable(Check.FLAIR_ASYMMETRY, "an MR FLAIR check"), out
    if not flair:
        return not_applicable(Check.FLAIR_ASYMMETRY, "not a FLAIR series"), out
    negated = np.negative(head.values)
    result, labels = asymmetry(head, negated, ventricles, cfg.as_mirror(), Check.FLAIR_ASYMMETRY)
    # the difference of the negated values, back to the image's sign: brighter is positive
    result.regions = [
        dataclasses.replace(r, delta_hu=-r.delta_hu) if r.delta_hu is not None else r
        for r in result.regions
    ]
    return result, labels
