"""Windowed 8-bit derivatives of CT, from the one window table and window mapping of
:mod:`imaging_triage.display`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from imaging_triage.display import PRESET_WINDOWS, Window, apply_window
from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.base import Sample

#: name -> (width, level) in HU: the one table, :data:`imaging_triage.display.PRESET_WINDOWS`
DEFAULT_PRESETS: dict[str, tuple[float, float]] = {
    preset.value: (window.width, window.level) for preset, window in PRESET_WINDOWS.items()
}


@dataclass(frozen=True)
class Windows:
    """Add one 8-bit derivative per window preset (written as ``<stem>_win-<name>.nii.gz``)."""

    name: ClassVar[str] = "windows"

    presets: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRESETS))

    def __post_init__(self) -> None:
        for key, value in self.presets.items():
            if len(value) != 2 or value[0] <= 0:
                raise ConfigError(
                    f"windows: preset {key!r} must be [width, level] with width > 0, got {value}"
                )

    def __call__(self, sample: Sample) -> Sample:
        """Apply the step."""
        out = sample.replace()
        for key, (width, level) in self.presets.items():
            out.derivatives[f"win-{key}"] = apply_window(sample.image.data, Window(width, level))
        return out
