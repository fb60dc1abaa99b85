"""Loading a series for display: decode once, reorient, choose the opening window.

The page caches :func:`open_series` results (``st.cache_resource``), so a series is
decoded once per server process and every slice is cut from the cached array.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from imaging_triage.display import Window, default_window
from imaging_triage.display import is_ct as display_is_ct
from imaging_triage.ingest import SeriesRecord
from imaging_triage.viewer.planes import DisplayVolume
from imaging_triage.viewer.transfer import EncodedVolume

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

    @property
    def wire(self) -> EncodedVolume:
        """The canonical voxels cut into slabs for the browser (compressed when streamed)."""
        cached = self.__dict__.get("_wire")
        if cached is None:
            cached = EncodedVolume.from_array(self.volume.data)
            self.__dict__["_wire"] = cached
        return cached


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
    is_ct = display_is_ct(
        record.modality or volume.info.modality,
        hounsfield=bool(volume.info.hounsfield),
        data=display.data,
    )
    window = default_window(display.data, hounsfield=is_ct)
    seconds = time.perf_counter() - start
    logger.info("series %s opened in %.2f s, shape %s", record.key, seconds, display.shape)
    return OpenSeries(record.key, display, window, is_ct, seconds)
