"""Windowing to 8 bits and the presets of DESIGN.md section 3."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.viewer.loader import looks_like_hounsfield
from imaging_triage.viewer.window import (
    Preset,
    Window,
    apply_window,
    default_window,
    percentile_window,
)


def test_presets_match_design() -> None:
    expected = {
        Preset.BRAIN: (80, 40),
        Preset.SUBDURAL: (200, 75),
        Preset.STROKE: (40, 40),
        Preset.BONE: (2800, 600),
        Preset.SOFT_TISSUE: (400, 40),
    }
    assert {p: (p.window.width, p.window.level) for p in Preset} == expected
    assert Preset.SUBDURAL.label == "Subdural (W 200 / L 75)"


def test_apply_window_maps_linearly_and_clips() -> None:
    hu = np.array([-1000.0, 0.0, 40.0, 60.0, 80.0, 3000.0, np.nan])
    out = apply_window(hu, Preset.BRAIN.window)
    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 128, 191, 255, 255, 0]


def test_window_refuses_non_positive_width() -> None:
    with pytest.raises(ValueError, match="positive"):
        Window(0.0, 40.0)


def test_mr_percentile_window_ignores_background() -> None:
    rng = np.random.default_rng(1)
    data = np.zeros((40, 40, 40), np.float32)  # air
    data[10:30, 10:30, 10:30] = rng.uniform(200.0, 600.0, size=(20, 20, 20))
    win = percentile_window(data)
    assert win.low == pytest.approx(204.0, abs=3.0)
    assert win.high == pytest.approx(596.0, abs=3.0)
    assert default_window(data, hounsfield=False) == win
    assert default_window(data, hounsfield=True) == Preset.BRAIN.window


def test_hounsfield_detection_for_nifti() -> None:
    ct = np.full((20, 20, 20), -1000.0, np.float32)
    ct[5:15, 5:15, 5:15] = 40.0
    ct[5:15, 5:15, 5] = 1200.0
    assert looks_like_hounsfield(ct)
    assert not looks_like_hounsfield(np.abs(ct))
