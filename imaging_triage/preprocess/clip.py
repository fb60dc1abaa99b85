"""Clip intensities to a fixed range (CT: the scanner's Hounsfield range)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.base import Sample
from imaging_triage.volume import Volume


@dataclass(frozen=True)
class ClipIntensity:
    """Clip voxel values to ``[low, high]``.

    For CT the default range is the 12-bit scanner range in HU, -1024 to 3071: values
    outside it are padding (often -2000 or -3024 outside the reconstruction circle) or
    metal streaks, and would distort interpolation and statistics.

    Raises
    ------
    ConfigError
        If ``low >= high``.
    """

    name: ClassVar[str] = "clip"

    low: float = -1024.0
    high: float = 3071.0

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ConfigError(f"clip: low ({self.low}) must be below high ({self.high})")

    def __call__(self, sample: Sample) -> Sample:
        """Apply the step."""
        data = sample.image.data
        n_out = int(np.count_nonzero((data < self.low) | (data > self.high)))
        clipped = np.clip(data, self.low, self.high).astype(data.dtype, copy=False)
        out = sample.replace(image=Volume(clipped, sample.image.affine, sample.image.info))
        if n_out:
            out.notes.append(f"{n_out} voxels clipped to [{self.low:g}, {self.high:g}]")
        return out
