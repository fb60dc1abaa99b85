"""Display rules shared by the viewer, the pipeline and the report: one place each.

* **Windows**: width/level mapping to 8-bit grey levels; the CT presets of DESIGN.md
  section 3 (width / level in HU) in one table, :data:`PRESET_WINDOWS`. MR has no units,
  so its default window spans the 1st to 99th percentile of the head's voxels.
* **"Is this CT"**: :func:`is_ct`, from the modality, the Hounsfield flag set at ingest,
  or, for a volume of unknown modality (NIfTI), from its values (:func:`looks_like_hounsfield`).

Examples
--------
>>> Preset.SUBDURAL.window
Window(width=200.0, level=75.0)
>>> apply_window(np.array([[-25.0, 75.0, 175.0]]), Preset.SUBDURAL.window).tolist()
[[0, 128, 255]]
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Window:
    """A display window: values below ``level - width/2`` are black, above ``+`` white."""

    width: float
    level: float

    def __post_init__(self) -> None:
        if not np.isfinite(self.width) or self.width <= 0:
            raise ValueError(f"window width must be positive, got {self.width}")

    @property
    def low(self) -> float:
        """Value shown black."""
        return self.level - self.width / 2.0

    @property
    def high(self) -> float:
        """Value shown white."""
        return self.level + self.width / 2.0


class Preset(str, enum.Enum):
    """CT window presets (width / level in HU)."""

    #: brain parenchyma, 80 / 40
    BRAIN = "brain"
    #: subdural: widens the window to separate thin blood from bone, 200 / 75
    SUBDURAL = "subdural"
    #: stroke: narrow, for early grey-white loss, 40 / 40
    STROKE = "stroke"
    #: bone, 2800 / 600
    BONE = "bone"
    #: soft tissue, 400 / 40
    SOFT_TISSUE = "soft_tissue"

    @property
    def window(self) -> Window:
        """The preset's width and level."""
        return PRESET_WINDOWS[self]

    @property
    def label(self) -> str:
        """Name shown to a reader, e.g. ``"Subdural (W 200 / L 75)"``."""
        w = self.window
        return f"{self.value.replace('_', ' ').capitalize()} (W {w.width:g} / L {w.level:g})"


#: width / level of each preset; change here to reconfigure (DESIGN.md section 3)
PRESET_WINDOWS: dict[Preset, Window] = {
    Preset.BRAIN: Window(80.0, 40.0),
    Preset.SUBDURAL: Window(200.0, 75.0),
    Preset.STROKE: Window(40.0, 40.0),
    Preset.BONE: Window(2800.0, 600.0),
    Preset.SOFT_TISSUE: Window(400.0, 40.0),
}


def apply_window(values: npt.ArrayLike, window: Window) -> npt.NDArray[np.uint8]:
    """Map ``values`` to 0..255 linearly between ``window.low`` and ``window.high``.

    NaN maps to 0. The result has the shape of ``values``.
    """
    arr = np.asarray(values, dtype=np.float32)
    scale = np.float32(255.0 / window.width)
    out = (arr - np.float32(window.low)) * scale
    np.clip(out, 0.0, 255.0, out=out)
    out = np.nan_to_num(out, nan=0.0)
    return np.rint(out).astype(np.uint8)


def percentile_window(
    data: npt.NDArray[Any],
    low_pct: float = 1.0,
    high_pct: float = 99.0,
    *,
    max_samples: int = 2_000_000,
) -> Window:
    """Window spanning the ``low_pct``-``high_pct`` percentiles of the head's voxels.

    The head is approximated as the voxels above 10% of the 99.5th percentile (air and
    background excluded), sampled with a regular stride for speed on large volumes.

    Raises
    ------
    ValueError
        If the volume holds no finite values.
    """
    flat = np.asarray(data).reshape(-1)
    step = max(1, flat.size // max_samples)
    sample = flat[::step].astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        raise ValueError("volume holds no finite values; cannot choose a window")
    top = float(np.percentile(sample, 99.5))
    head = sample[sample > 0.1 * top] if top > 0 else sample
    if head.size < 100:
        head = sample
    lo, hi = (float(v) for v in np.percentile(head, [low_pct, high_pct]))
    if hi <= lo:
        hi = lo + 1.0
    return Window(width=hi - lo, level=(hi + lo) / 2.0)


#: values at or below this are air or padding outside the field of view (HU)
AIR_HU = -900.0


def looks_like_hounsfield(data: npt.ArrayLike, *, max_samples: int = 500_000) -> bool:
    """Whether a volume of unknown modality holds Hounsfield units.

    True when at least 5% of the voxels are air or padding (at or below -900: air is
    about -1000 HU, and scanners pad outside the reconstruction circle with -1024,
    -2000 or -3024) and the 99th percentile lies between 0 and 4000 (soft tissue and
    bone). MR magnitude images are not negative.

    >>> ct = np.full((10, 10, 10), -1000.0); ct[3:7, 3:7, 3:7] = 40.0; ct[0, 0, :] = -3024
    >>> looks_like_hounsfield(ct), looks_like_hounsfield(np.abs(ct))
    (True, False)
    """
    flat = np.asarray(data).reshape(-1)
    sample = flat[:: max(1, flat.size // max_samples)].astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return False
    air = float(np.mean(sample <= AIR_HU))
    p99 = float(np.percentile(sample, 99))
    return air >= 0.05 and 0.0 <= p99 <= 4000.0


def is_ct(modality: str, *, hounsfield: bool = False, data: npt.ArrayLike | None = None) -> bool:
    """The one rule for "is this CT" (viewer, pipeline and report).

    CT when the modality says so or ingest applied a CT rescale (``hounsfield``); a
    volume without a modality (NIfTI) is CT when :func:`looks_like_hounsfield`.

    >>> is_ct("CT"), is_ct("MR"), is_ct("", data=np.zeros(10))
    (True, False, False)
    """
    mod = (modality or "").strip().upper()
    if mod == "CT" or hounsfield:
        return True
    if mod:
        return False
    return data is not None and looks_like_hounsfield(data)


def default_window(data: npt.NDArray[Any], *, hounsfield: bool) -> Window:
    """The window a series opens with: brain preset for CT, percentile window for MR."""
    return Preset.BRAIN.window if hounsfield else percentile_window(data)
