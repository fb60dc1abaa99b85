"""Sites of a prior study's candidates, measured again on a follow-up CT.

A follow-up CT of a known hemorrhage is read against the prior: the reader looks again
where the prior showed blood. A hematoma loses density as it ages (about 1.5 HU a day)
and becomes isodense to the brain within one to three weeks, so the acute-hyperdensity
check no longer sees a subacute subdural; its site does. This check brings the prior's
hyperdense candidate regions onto the follow-up and measures each site there:

1. **alignment**: the two heads are registered rigidly (same patient: rotation and
   translation only; :func:`imaging_triage.preprocess.registration.register_rigid`, mean
   squared difference of the CT clipped to ``window_hu`` on a 4 mm grid, sampled inside
   the follow-up's head), and the prior's label volume is brought onto the follow-up's
   grid by nearest neighbour;
2. **measurement**: per site, inside the follow-up's intracranial region: volume, mean and
   maximum HU, and the mean difference from the mirror across the midline plane (both
   smoothed by ``smoothing_mm``);
3. every site of at least ``min_volume_ml`` is a candidate *to look at again*; its
   ``delta_hu`` says whether it is still denser than the other side (``persist_delta_hu``
   or more: the reason says so).

A site is where the prior had a candidate, not a finding on the follow-up: the reader
compares the two studies (the viewer shows them side by side). Not validated on patients:
the figures are on the synthetic follow-up of the samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imaging_triage.candidates.anatomy import (
    Head,
    key_slice,
    mirror_at,
    region_side,
    smoothed_on,
)
from imaging_triage.candidates.findings import (
    Check,
    CheckResult,
    CheckStatus,
    Region,
    Side,
    not_applicable,
    not_measured,
)
from imaging_triage.errors import ConfigError, PreprocessError
from imaging_triage.preprocess.morphology import bounding_slices
from imaging_triage.volume import SeriesInfo, Volume


@dataclass(frozen=True)
class PriorConfig:
    """Parameters of the prior-sites check (see the module docstring).

    Raises
    ------
    ConfigError
        If ``window_hu`` is not ``[low, high]`` or a distance or volume is negative.
    """

    #: the prior's checks whose regions are measured again
    checks: tuple[str, ...] = (Check.HYPERDENSITY.value,)
    window_hu: tuple[float, float] = (-100.0, 1500.0)
    smoothing_mm: float = 1.0
    min_volume_ml: float = 0.1
    persist_delta_hu: float = 3.0

    def __post_init__(self) -> None:
        if not self.window_hu[0] < self.window_hu[1]:
            raise ConfigError(f"prior: window_hu must be [low, high], got {list(self.window_hu)}")
        if min(self.smoothing_mm, self.min_volume_ml) < 0:
            raise ConfigError("prior: distances and volumes must be at least 0")
        unknown = sorted(set(self.checks) - {c.value for c in Check})
        if unknown:
            raise ConfigError(f"prior: unknown checks {unknown}")


@dataclass(frozen=True)
class Prior:
    """A prior study's series and its candidates, for the follow-up's checks.

    Attributes
    ----------
    volume : Volume
        The prior's image (CT in HU), 3-D, any grid.
    labels : numpy.ndarray
        Its candidate label volume, on ``volume``'s grid (each region's ``label``).
    regions : sequence of Region
        Its candidate regions.
    name : str
        How the reasons name the prior, e.g. ``"the prior of 2000-01-03"``.
    """

    volume: Volume
    labels: npt.NDArray[np.integer]
    regions: Sequence[Region]
    name: str = "the prior study"


def prior_on_grid(
    head: Head, prior: Prior, config: PriorConfig | None = None
) -> npt.NDArray[np.int32]:
    """The prior's label volume on the head's grid, after rigid registration of the heads.

    Raises
    ------
    PreprocessError
        If the registration fails (:func:`~imaging_triage.preprocess.registration.register_rigid`).
    """
    import SimpleITK as sitk

    from imaging_triage.preprocess.registration import register_rigid
    from imaging_triage.volume import to_sitk

    cfg = config or PriorConfig()
    fixed = to_sitk(Volume(head.values, head.affine, SeriesInfo()))
    moving = to_sitk(
        Volume(np.asarray(prior.volume.data, np.float32), prior.volume.affine, SeriesInfo())
    )
    transform = register_rigid(fixed, moving, cfg.window_hu)
    labels = to_sitk(
        Volume(np.asarray(prior.labels, dtype=np.uint8), prior.volume.affine, SeriesInfo())
    )
    moved = sitk.Resample(labels, fixed, transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return np.transpose(sitk.GetArrayFromImage(moved), (2, 1, 0)).astype(np.int32)


def prior_sites(
    head: Head, prior: Prior, config: PriorConfig | None = None
) -> tuple[CheckResult, npt.NDArray[np.int32]]:
    """Measure the sites of a prior study's candidates on a follow-up CT head.

    Parameters
    ----------
    head : Head
        The prepared follow-up CT head (values in HU, intracranial mask, midline plane).
    prior : Prior
        The prior's image, label volume and regions.
    config : PriorConfig, optional
        Which of the prior's checks, smoothing, volumes.

    Returns
    -------
    result : CheckResult
        One region per site (largest first) with ``delta_hu`` against its mirror;
        ``measures``: ``sites``, ``total_ml``, ``persisting`` (sites at least
        ``persist_delta_hu`` denser than the mirror). Not measured when the heads cannot
        be aligned.
    labels : numpy.ndarray of int32
        0 outside, else the site's position in ``result.regions`` plus one.

    Examples
    --------
    >>> result, labels = prior_sites(head, Prior(prior_ct, prior_labels, regions))  # doctest: +SKIP
    >>> result.regions[0].describe()                                             # doctest: +SKIP
    '1.1 mL, left, +6.0 HU vs mirror'
    """
    cfg = config or PriorConfig()
    out = np.zeros(head.mask.shape, dtype=np.int32)
    if not head.ct:
        return not_applicable(Check.PRIOR_SITES, "prior sites are measured on CT"), out
    wanted = [r for r in prior.regions if r.check.value in cfg.checks]
    if not wanted:
        result = CheckResult(Check.PRIOR_SITES, CheckStatus.MEASURED)
        result.measures.update(sites=0.0, total_ml=0.0, persisting=0.0)
        return result, out
    if not head.mask.any():
        return not_measured(Check.PRIOR_SITES, "empty intracranial mask"), out
    try:
        moved = prior_on_grid(head, prior, cfg)
    except PreprocessError as err:
        return not_measured(Check.PRIOR_SITES, f"{prior.name} cannot be aligned: {err}"), out
    inside = head.inside
    # each site voxel and its mirror lie on the same rows (j, k): smoothed exactly there
    rows = bounding_slices(moved > 0)
    smooth = head.values
    if rows is not None:
        exact = (slice(0, moved.shape[0]), rows[1], rows[2])
        smooth = smoothed_on(head.values, cfg.smoothing_mm, head.spacing, exact)
    found: list[tuple[Region, npt.NDArray[np.bool_]]] = []
    for old in wanted:
        site = (moved == old.label) & inside
        volume = float(site.sum()) * head.voxel_ml
        if volume < cfg.min_volume_ml:
            continue
        where = np.nonzero(site)
        ijk = np.stack(where, axis=1)
        mirrored = mirror_at(smooth, head.plane, where) if head.plane is not None else None
        delta = (
            float(np.nanmean(smooth[where] - mirrored))
            if mirrored is not None and np.isfinite(mirrored).any()
            else None
        )
        values = head.values[where]
        centroid = head.world(ijk.mean(axis=0))
        found.append(
            (
                Region(
                    label=0,
                    check=Check.PRIOR_SITES,
                    volume_ml=volume,
                    mean_hu=float(values.mean()),
                    max_hu=float(values.max()),
                    centroid_ras_mm=(float(centroid[0]), float(centroid[1]), float(centroid[2])),
                    side=Side(region_side(head, ijk)),
                    key_slice=key_slice(ijk),
                    shape_hint=old.shape_hint,
                    delta_hu=delta,
                ),
                site,
            )
        )
    found.sort(key=lambda item: -item[0].volume_ml)
    result = CheckResult(Check.PRIOR_SITES, CheckStatus.MEASURED)
    for index, (region, site) in enumerate(found, start=1):
        result.regions.append(region)
        out[site & (out == 0)] = index
    persisting = [r for r in result.regions if (r.delta_hu or 0.0) >= cfg.persist_delta_hu]
    result.measures.update(
        sites=float(len(result.regions)),
        total_ml=sum(r.volume_ml for r in result.regions),
        persisting=float(len(persisting)),
    )
    if result.regions:
        result.reasons.append(
            f"{len(result.regions)} site(s) of candidates of {prior.name} to compare; "
            f"{len(persisting)} still at least {cfg.persist_delta_hu:g} HU denser than the "
            "other side"
        )
    return result, out
