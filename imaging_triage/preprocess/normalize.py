"""Intensity normalisation: z-score on the statistics of the whole brain mask.

What a downstream model gets: inside the brain mask, mean 0 and SD 1 (statistics of the
whole mask: grey and white matter, CSF, lesions); outside it, the same linear scale, so
air, CSF, fat and bone keep their order and their differences. Only extreme outliers are
clipped (by default none below the brain's minimum, above its 99.9th percentile): CSF
is never flattened onto the floor with air and bone, as a 0.5th-percentile clip over the
whole image did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.base import Sample
from imaging_triage.volume import Volume


@dataclass(frozen=True)
class ZScoreNormalize:
    """Clip to the ``percentiles`` of the brain voxels, then z-score with their mean and SD.

    A low percentile of 0 clips nothing below (the default); the high one (99.9) tames
    vessel, fat or artefact spikes only.

    Uses the brain mask when a previous step made one, otherwise every voxel above the
    image minimum. The output is float32; inside the mask it has mean 0 and SD 1 (up to
    the effect of clipping, which is applied first).

    Raises
    ------
    ConfigError
        If the percentiles are not ``0 <= low < high <= 100``.
    """

    name: ClassVar[str] = "normalize"

    percentiles: tuple[float, float] = (0.0, 99.9)

    def __post_init__(self) -> None:
        lo, hi = self.percentiles
        if not 0 <= lo < hi <= 100:
            raise ConfigError(
                f"normalize: percentiles must be 0 <= low < high <= 100, got {lo}, {hi}"
            )

    def __call__(self, sample: Sample) -> Sample:
        """Apply the step."""
        data = np.asarray(sample.image.data, dtype=np.float32)
        region = sample.mask if sample.mask is not None and sample.mask.any() else data > data.min()
        values = data[region]
        if values.size == 0:
            out = sample.replace()
            out.notes.append("normalize: no voxels to normalise, image left unchanged")
            return out
        lo, hi = np.percentile(values, self.percentiles)
        clipped = np.minimum(data, hi) if self.percentiles[0] == 0 else np.clip(data, lo, hi)
        inside = clipped[region]
        mean = float(inside.mean())
        std = float(inside.std())
        if std <= 0:
            std = 1.0
        z = ((clipped - mean) / std).astype(np.float32)
        out = sample.replace(image=Volume(z, sample.image.affine, sample.image.info))
        out.notes.append(f"z-score: clip [{lo:.4g}, {hi:.4g}], mean {mean:.4g}, sd {std:.4g}")
        return out
