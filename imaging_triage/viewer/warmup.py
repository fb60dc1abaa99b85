"""Import, once per server process and off the page's path, what opening a study needs.

The first study opened in a fresh viewer process would otherwise pay for importing
pandas (Streamlit's components serialise their arguments through a data-frame check
that imports it, about 0.4-0.7 s), nibabel and the DICOM decoders on the reader's
click. :func:`start` imports them in a background thread while the worklist is shown.
"""

from __future__ import annotations

import importlib
import logging
import threading

logger = logging.getLogger(__name__)

#: modules the study page imports lazily, in the order a study open needs them
MODULES = (
    "imaging_triage.ingest",
    "imaging_triage.dicom.assemble",
    "nibabel",
    "pandas",
    "imaging_triage.viewer.measure",
)


def _import_all(names: tuple[str, ...]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as err:  # a failed warm-up only costs the later import its time
            logger.warning("warm-up import of %s failed: %s", name, type(err).__name__)


def start(names: tuple[str, ...] = MODULES) -> threading.Thread:
    """Begin importing ``names`` in a daemon thread; returns the thread.

    >>> start(("json",)).join(timeout=10)
    """
    thread = threading.Thread(
        target=_import_all, args=(names,), name="imaging-triage-warm-up", daemon=True
    )
    thread.start()
    return thread
