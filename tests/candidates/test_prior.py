"""Sites of a prior study's candidates measured on a follow-up: a subdural that turned
isodense keeps its site; a resolved one shows no density left; no prior, no check."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.candidates import Check, CheckStatus, Prior, PriorConfig, run_checks
from imaging_triage.candidates.findings import Region
from imaging_triage.candidates.run import SeriesCandidates
from imaging_triage.errors import ConfigError
from imaging_triage.volume import SeriesInfo, Volume

from .conftest import Head, build_head

#: the follow-up lies 4 mm right, 3 mm back and 2 mm up of the prior in the scanner
MOVE_MM = np.array([4.0, -3.0, 2.0])


def _moved(head: Head) -> Head:
    """The same head, placed elsewhere in the scanner (a pure translation of its grid)."""
    affine = head.volume.affine.copy()
    affine[:3, 3] += MOVE_MM
    volume = Volume(head.volume.data, affine, head.volume.info)
    return Head(volume, head.mask, head.truth)


@pytest.fixture(scope="module")
def prior() -> tuple[Head, SeriesCandidates]:
    head = build_head(crescent_hu=70.0, seed=1)
    report = run_checks(head.volume, head.mask)
    assert report.result(Check.HYPERDENSITY).regions  # the acute crescent is found
    return head, report


def _prior(prior: tuple[Head, SeriesCandidates]) -> Prior:
    head, report = prior
    return Prior(head.volume, report.labels, report.regions, "the prior of 2000-01-03")


def test_an_isodense_subdural_is_missed_alone_and_found_at_the_prior_site(prior) -> None:
    follow = _moved(build_head(crescent_hu=44.0, seed=2))  # subacute: nearly isodense
    alone = run_checks(follow.volume, follow.mask)
    assert alone.result(Check.HYPERDENSITY).regions == []
    with pytest.raises(KeyError):  # no prior, no prior check
        alone.result(Check.PRIOR_SITES)

    report = run_checks(follow.volume, follow.mask, prior=_prior(prior))
    result = report.result(Check.PRIOR_SITES)
    assert result.status is CheckStatus.MEASURED
    assert len(result.regions) == 1
    site = result.regions[0]
    crescent = follow.truth["crescent"]
    labels = report.labels == site.label
    # the site lands on the crescent of the follow-up, moved with the head
    assert labels[crescent].sum() / labels.sum() > 0.8
    assert site.side.value == "left"
    assert site.delta_hu is not None and site.delta_hu > 3.0  # still denser than the mirror
    assert result.measures["persisting"] == 1.0
    assert "the prior of 2000-01-03" in result.reasons[0]
    assert any("site(s) of candidates" in r for r in report.score.reasons)


def test_a_resolved_site_is_listed_with_no_density_left(prior) -> None:
    follow = _moved(build_head(seed=3))
    report = run_checks(follow.volume, follow.mask, prior=_prior(prior))
    result = report.result(Check.PRIOR_SITES)
    assert len(result.regions) == 1
    assert abs(result.regions[0].delta_hu or 0.0) < 2.0
    assert result.measures["persisting"] == 0.0
    persisting = run_checks(
        _moved(build_head(crescent_hu=44.0, seed=2)).volume,
        follow.mask,
        prior=_prior(prior),
    ).score.score
    assert report.score.score < persisting  # a persisting site weighs more


def test_the_site_json_round_trips(prior) -> None:
    follow = _moved(build_head(crescent_hu=44.0, seed=2))
    report = run_checks(follow.volume, follow.mask, prior=_prior(prior))
    data = report.to_dict()
    checks = {c["check"]: c for c in data["checks"]}
    region = Region.from_dict(checks["prior_sites"]["regions"][0])
    site = report.result(Check.PRIOR_SITES).regions[0]
    assert region.check is Check.PRIOR_SITES
    assert (region.label, region.side) == (site.label, site.side)
    assert region.volume_ml == pytest.approx(site.volume_ml)
    assert region.delta_hu == pytest.approx(site.delta_hu)


def test_on_mr_the_check_does_not_apply(prior) -> None:
    head = build_head(seed=4)
    mr = Volume(head.volume.data, head.volume.affine, SeriesInfo(modality="MR"))
    result = run_checks(mr, head.mask, prior=_prior(prior)).result(Check.PRIOR_SITES)
    assert result.status is CheckStatus.NOT_APPLICABLE


def test_a_prior_that_cannot_be_aligned_is_not_measured(prior) -> None:
    head, report = prior
    far = head.volume.affine.copy()
    far[:3, 3] += (200.0, 0.0, 0.0)
    follow = build_head(seed=5)
    result = run_checks(
        follow.volume,
        follow.mask,
        prior=Prior(Volume(head.volume.data, far, head.volume.info), report.labels, report.regions),
    ).result(Check.PRIOR_SITES)
    assert result.status is CheckStatus.NOT_MEASURED
    assert "cannot be aligned" in result.reasons[0]


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError):
        PriorConfig(window_hu=(100.0, -100.0))
    with pytest.raises(ConfigError):
        PriorConfig(checks=("no_such_check",))
