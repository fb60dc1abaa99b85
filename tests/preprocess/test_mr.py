"""MR steps: N4 bias correction, brain mask, and the whole MR pipeline on a phantom."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.base import Sample
from imaging_triage.preprocess.bias_field import N4BiasCorrection
from imaging_triage.preprocess.config import Pipeline, default_config, merge
from imaging_triage.preprocess.mr_brain_mask import MRBrainMask, otsu_threshold
from imaging_triage.preprocess.phantom import mr_head_phantom
from imaging_triage.preprocess.pipeline import run_pipeline


def _white_matter(spacing: tuple[float, float, float]) -> np.ndarray:
    flat = mr_head_phantom(spacing, bias=0.0).volume.data
    return (flat > 105) & (flat < 118)


def test_n4_flattens_a_bias_field() -> None:
    spacing = (2.0, 2.0, 2.0)
    ph = mr_head_phantom(spacing, bias=0.4)
    wm = _white_matter(spacing)
    out = N4BiasCorrection(shrink_factor=2, iterations=(20, 20))(Sample(image=ph.volume))
    before = ph.volume.data[wm]
    after = out.image.data[wm]
    cv_before = float(before.std() / before.mean())
    cv_after = float(after.std() / after.mean())
    # a uniform tissue's coefficient of variation drops by more than half
    assert cv_after < 0.5 * cv_before
    assert out.image.shape == ph.volume.shape


def test_n4_rejects_bad_parameters() -> None:
    with pytest.raises(ConfigError, match="shrink_factor"):
        N4BiasCorrection(shrink_factor=0)


def test_otsu_threshold_separates_two_modes() -> None:
    values = np.concatenate([np.full(1000, 10.0), np.full(1000, 100.0)])
    assert 10.0 < otsu_threshold(values) < 100.0


def test_mr_mask_covers_the_brain() -> None:
    ph = mr_head_phantom((2.0, 2.0, 2.0), bias=0.0)
    out = MRBrainMask()(Sample(image=ph.volume))
    mask = out.mask
    assert mask is not None
    covered = (mask & ph.intracranial).sum() / ph.intracranial.sum()
    dice = 2 * (mask & ph.intracranial).sum() / (mask.sum() + ph.intracranial.sum())
    assert covered >= 0.95
    assert dice >= 0.85  # coarse by design: no skull stripping model


def test_mr_pipeline_zscore_inside_mask() -> None:
    config = merge(default_config(), {"mr": {"resample": {"spacing_mm": [2.0, 2.0, 2.0]}}})
    ph = mr_head_phantom((1.5, 1.5, 3.0), bias=0.3)
    result = run_pipeline(ph.volume, config)
    assert result.pipeline is Pipeline.MR
    assert [s.name for s in result.steps] == [
        "reorient",
        "n4",
        "resample",
        "brain_mask",
        "normalize",
    ]
    mask = result.sample.mask
    assert mask is not None
    inside = result.sample.image.data[mask]
    assert abs(float(inside.mean())) < 1e-3
    assert float(inside.std()) == pytest.approx(1.0, abs=1e-3)
    assert all(s.seconds >= 0 for s in result.steps)
