"""Clip, windows and z-score normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.display import Window, apply_window
from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.base import Sample
from imaging_triage.preprocess.clip import ClipIntensity
from imaging_triage.preprocess.normalize import ZScoreNormalize
from imaging_triage.preprocess.window import DEFAULT_PRESETS, Windows
from imaging_triage.volume import Volume


def test_clip_to_scanner_range() -> None:
    data = np.array([-3024.0, -1000.0, 40.0, 4000.0]).reshape(1, 1, 4)
    out = ClipIntensity()(Sample(Volume(data, np.eye(4))))
    assert out.image.data.ravel().tolist() == [-1024.0, -1000.0, 40.0, 3071.0]
    assert out.notes == ["2 voxels clipped to [-1024, 3071]"]


def test_clip_rejects_inverted_range() -> None:
    with pytest.raises(ConfigError, match="low"):
        ClipIntensity(low=10, high=0)


def test_window_levels() -> None:
    # brain window 80/40: 0 HU -> 0, 40 -> mid grey, 80 -> 255
    assert apply_window(np.array([-10.0, 0.0, 40.0, 80.0, 90.0]), Window(80, 40)).tolist() == [
        0,
        0,
        128,
        255,
        255,
    ]


def test_window_derivatives_for_every_preset() -> None:
    data = np.linspace(-1000, 2000, 27).reshape(3, 3, 3)
    out = Windows()(Sample(Volume(data, np.eye(4))))
    assert sorted(out.derivatives) == sorted(f"win-{k}" for k in DEFAULT_PRESETS)
    bone = out.derivatives["win-bone"]
    width, level = DEFAULT_PRESETS["bone"]
    expected = np.clip(np.round((data - (level - width / 2)) * 255 / width), 0, 255)
    assert np.array_equal(bone, expected.astype(np.uint8))


def test_zscore_within_mask() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(500, 50, size=(20, 20, 20)).astype(np.float32)
    data[:5] = 0.0  # background outside the mask
    mask = np.zeros(data.shape, dtype=bool)
    mask[5:] = True
    out = ZScoreNormalize(percentiles=(1, 99))(Sample(Volume(data, np.eye(4)), mask=mask))
    inside = out.image.data[mask]
    assert abs(float(inside.mean())) < 1e-4
    assert float(inside.std()) == pytest.approx(1.0, abs=1e-4)
    # clipping at the 1st/99th percentile bounds the z-scores
    lo, hi = np.percentile(data[mask], [1, 99])
    assert (
        float(inside.max())
        <= (hi - data[mask].clip(lo, hi).mean()) / data[mask].clip(lo, hi).std() + 1e-3
    )


def test_zscore_bad_percentiles() -> None:
    with pytest.raises(ConfigError, match="percentiles"):
        ZScoreNormalize(percentiles=(50, 10))
