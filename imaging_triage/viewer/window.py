"""Windows and presets for the viewer: re-exported from :mod:`imaging_triage.display`.

The one window table and the one "is this CT" rule live in :mod:`imaging_triage.display`.
"""

from imaging_triage.display import (
    PRESET_WINDOWS,
    Preset,
    Window,
    apply_window,
    default_window,
    is_ct,
    looks_like_hounsfield,
    percentile_window,
)

__all__ = [
    "PRESET_WINDOWS",
    "Preset",
    "Window",
    "apply_window",
    "default_window",
    "is_ct",
    "looks_like_hounsfield",
    "percentile_window",
]
