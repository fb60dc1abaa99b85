"""CT window presets (DESIGN.md section 3) and windowed 8-bit derivatives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from imaging_triage.display import PRESET_WINDOWS
from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.base import Sample

#: name -> (width, level) in HU: the one table, :data:`imaging_triage.display.PRESET_WINDOWS`
DEFAULT_PRESETS: dict[str, tuple[float, float]] = {
    preset.value: (window.width, window.level) for preset, window in PRESET_WINDOWS.items()
}


def apply_window(data: npt.NDArray[Any], width: float, level: float) -> npt.NDArray[np.uint8]:
    """Map ``[level - width/2, level + width/2]`` linearly onto 0..255 (clipped), rounded.

    Examples
    --------
    >>> apply_window(np.array([0.0, 40.0, 80.0, 1000.0]), 80, 40).tolist()
    [0, 128, 255, 255]
    """
    if width <= 0:
        raise ConfigError(f"window width must be positive, got {width}")
    low = level - width / 2.0
    scaled = (np.asarray(data, dtype=np.float32) - low) * (255.0 / width)
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


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
            out.derivatives[f"win-{key}"] = apply_window(sample.image.data, width, level)
        return out
