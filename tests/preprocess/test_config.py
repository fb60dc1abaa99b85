"""Pipeline configuration: the [candidates] section (issue 14)."""

from __future__ import annotations

import pytest
import tomllib

from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.config import (
    Pipeline,
    default_config,
    merge,
    param_hash,
    to_toml,
)


def test_candidates_on_by_default_for_ct_and_mr() -> None:
    config = default_config()
    assert config.candidates.enabled
    assert config.candidates.applies_to(Pipeline.CT) and config.candidates.applies_to(Pipeline.MR)
    assert not config.candidates.applies_to(Pipeline.OTHER)


def test_candidates_section_overrides_and_round_trips() -> None:
    doc = {
        "candidates": {
            "enabled": False,
            "checks": ["hyperdensity", "midline_shift"],
            "hyperdensity": {"acute_hu": [55, 90]},
            "score": {"hyperdensity": 50},
        }
    }
    config = merge(default_config(), doc)
    settings = config.candidates
    assert not settings.enabled and not settings.applies_to(Pipeline.CT)
    assert settings.checks.checks == ("hyperdensity", "midline_shift")
    assert settings.checks.hyperdensity.acute_hu == (55.0, 90.0)
    assert settings.checks.hyperdensity.bone_hu == 200.0  # the rest stays default
    assert settings.checks.score.hyperdensity == 50
    again = merge(default_config(), tomllib.loads(to_toml(config)))
    assert again.candidates == settings


def test_candidate_parameters_change_the_hash_of_the_pipelines_they_run_in() -> None:
    base = default_config()
    changed = merge(base, {"candidates": {"midline": {"flag_mm": 4.0}}})
    off = merge(base, {"candidates": {"enabled": False}})
    for pipe in (Pipeline.CT, Pipeline.MR):
        assert param_hash(base, pipe) != param_hash(changed, pipe)
        assert param_hash(base, pipe) != param_hash(off, pipe)
    assert param_hash(base, Pipeline.OTHER) == param_hash(changed, Pipeline.OTHER)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"enabled": "yes"}, "enabled must be true or false"),
        ({"checks": ["hyperdensity", "tumour"]}, "known: hyperdensity"),
        ({"colour": 1}, "unknown key or table 'colour'"),
        ({"hyperdensity": {"acute_hu": [90, 50]}}, "acute_hu must be [low, high]"),
        ({"midline": {"flag": 3}}, "[candidates.midline] unknown key(s) flag"),
    ],
)
def test_bad_candidates_section_names_the_key(section: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        merge(default_config(), {"candidates": section})
    assert message in str(info.value)
