"""Loading a series for display: decode once, reorient, choose the opening window.

The page caches :func:`open_series` results (``st.cache_resource``), so a series is
decoded once per server process and every slice is cut from the cached array.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.ingest import SeriesRecord
from imaging_triage.viewer.render import DisplayVolume
from imaging_triage.viewer.window import Window, default_window

logger = logging.getLogger(__name__)


@dataclass
class OpenSeries:
    """A series ready to show."""

    record_key: str
    volume: DisplayVolume
    #: window the series opens with (brain preset for CT, percentile window for MR)
    window: Window
    is_ct: bool
    #: wall-clock seconds spent decoding and preparing
    seconds: float


def looks_like_hounsfield(data: npt.NDArray[Any]) -> bool:
    """Whether a volume of unknown modality (NIfTI) looks like CT in HU.

    True when air sits near -1000 (the 1st percentile between -1100 and -900) and the
    volume spans at least 1000 units: MR intensities are not negative.
    """
    flat = np.asarray(data).reshape(-1)
    sample = flat[:: max(1, flat.size // 500_000)].astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return False
    p1, p99 = np.percentile(sample, [1, 99])
    return bool(-1100.0 <= p1 <= -900.0 and p99 - p1 >= 1000.0)


def open_series(record: SeriesRecord) -> OpenSeries:
    """Decode ``record`` (through :func:`imaging_triage.ingest.load`) for the viewer.

    The first volume of a series that yields several (echoes, stacks) is shown.

    Raises
    ------
    imaging_triage.errors.TriageError
        When the series cannot be loaded; the message names the file and reason.
    """
    from imaging_triage.ingest import load

    start = time.perf_counter()
    volumes = load(record)
    volume = volumes[0]
    display = DisplayVolume.from_volume(volume)
    if len(volumes) > 1:
        display.notes.append(f"series holds {len(volumes)} volumes: showing the first")
    is_ct = (
        bool(volume.info.hounsfield)
        or record.modality.upper() == "CT"
        or (record.kind == "nifti" and looks_like_hounsfield(display.data))
    )
    window = default_window(display.data, hounsfield=is_ct)
    seconds = time.perf_counter() - start
    logger.info("series %s opened in %.2f s, shape %s", record.key, seconds, display.shape)
    return OpenSeries(record.key, display, window, is_ct, seconds)
