"""Windowing to 8 bits and the presets of DESIGN.md section 3."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.display import (
    Preset,
    Window,
    apply_window,
    default_window,
    is_ct,
    looks_like_hounsfield,
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


def test_nifti_ct_padded_with_minus_3024_is_ct_for_viewer_and_pipeline() -> None:
    """One rule: a CT outside its reconstruction circle padded with -3024 is still CT."""
    ct = np.full((40, 40, 10), -3024.0, np.float32)
    yy, xx = np.mgrid[0:40, 0:40]
    inside = (yy - 20) ** 2 + (xx - 20) ** 2 < 18**2
    ct[inside] = -1000.0
    ct[(yy - 20) ** 2 + (xx - 20) ** 2 < 14**2] = 35.0
    assert np.percentile(ct, 1) < -1100  # the old viewer rule saw this as MR
    assert looks_like_hounsfield(ct)
    assert is_ct("", data=ct)
    assert not is_ct("MR", data=ct)
    assert is_ct("MR", hounsfield=True)


def test_mr_magnitude_is_not_ct() -> None:
    rng = np.random.default_rng(0)
    mr = rng.uniform(0, 1200, (30, 30, 10))
    mr[:5] = 0
    assert not is_ct("", data=mr)
    assert not looks_like_hounsfield(mr - 500)  # shifted but without air at -1000
