"""MR steps: N4 bias correction, brain mask, and the whole MR pipeline on a phantom."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.base import Sample
from imaging_triage.preprocess.bias_field import N4BiasCorrection
from imaging_triage.preprocess.config import Pipeline, default_config, merge
from imaging_triage.preprocess.mr_brain_mask import MRBrainMask, head_fov, otsu_threshold
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


def _ball(shape: tuple[int, int, int], centre: tuple[float, ...], radius: float) -> np.ndarray:
    grid = np.indices(shape).astype(np.float64)
    dist = np.sqrt(sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)))
    return dist <= radius


def test_refine_follows_the_brain_not_the_misplaced_prior() -> None:
    shape = (64, 64, 64)
    brain = _ball(shape, (32, 32, 32), 20)
    skull = _ball(shape, (32, 32, 32), 26) & ~_ball(shape, (32, 32, 32), 23)
    scalp = _ball(shape, (32, 32, 32), 30) & ~_ball(shape, (32, 32, 32), 27)
    rng = np.random.default_rng(0)
    data = np.where(brain, 700.0, np.where(scalp, 1100.0, np.where(skull, 40.0, 5.0)))
    data = data + rng.normal(0, 10, shape)  # SNR 70, as a 3D T1
    # the registered template: 3 voxels too far right and 2 too large
    icv = _ball(shape, (35, 32, 32), 22).astype(np.float32)
    prior = _ball(shape, (35, 32, 32), 21).astype(np.float32)
    mask = MRBrainMask().refine(data, (1.0, 1.0, 1.0), icv, prior)
    dice = 2 * (mask & brain).sum() / (mask.sum() + brain.sum())
    start = icv > 0.5
    dice_prior = 2 * (start & brain).sum() / (start.sum() + brain.sum())
    assert dice >= 0.94 and dice > dice_prior + 0.05
    assert not (mask & scalp).any() and not (mask & skull).any()


def test_head_fov_keeps_the_top_of_the_head() -> None:
    data = np.zeros((10, 10, 300), dtype=np.float32)
    data[2:8, 2:8, 20:260] = 100.0  # head and neck from k=20 to the vertex at k=259
    affine = np.diag([30.0, 30.0, 1.0, 1.0])  # 9 cm^2 per slice: counted as head
    fov = head_fov(data, affine, 200.0)
    assert fov[2] == slice(59, 300)
    flipped = head_fov(data[:, :, ::-1], np.diag([30.0, 30.0, -1.0, 1.0]), 200.0)
    assert flipped[2] == slice(0, 240)


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
