"""Log records: one line per handled failure, no control characters."""

from __future__ import annotations

import io
import logging

from imaging_triage.logsafe import OneLineRecords, install


def _log_with(filter_: OneLineRecords) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    install(handler, keep_tracebacks=filter_.keep_tracebacks)
    logger = logging.getLogger("test_logsafe")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError("Invalid segment offset")
        except RuntimeError as err:
            logger.exception(err)
        logger.warning("series %s", "T1\x1b[2J")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_traceback_becomes_one_line_and_controls_are_stripped() -> None:
    out = _log_with(OneLineRecords())
    assert "Traceback" not in out
    assert out.splitlines() == [
        "Invalid segment offset (RuntimeError: Invalid segment offset)",
        "series T1?[2J",
    ]


def test_tracebacks_kept_when_debugging() -> None:
    assert "Traceback" in _log_with(OneLineRecords(keep_tracebacks=True))
