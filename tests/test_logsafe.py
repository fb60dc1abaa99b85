"""Log lines: one line per handled failure, no control characters, records untouched."""

from __future__ import annotations

import io
import logging

from imaging_triage.logsafe import console_handler


def _log(keep_tracebacks: bool) -> tuple[str, list[logging.LogRecord]]:
    stream = io.StringIO()
    handler = console_handler(stream, "%(message)s", keep_tracebacks=keep_tracebacks)
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logger = logging.getLogger(f"test_logsafe.{keep_tracebacks}")
    logger.addHandler(handler)
    logger.addHandler(Keep())
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        raise RuntimeError("Invalid segment offset")
    except RuntimeError as err:
        logger.exception(err)
    logger.warning("series %s", "T1\x1b[2J")
    return stream.getvalue(), seen


def test_traceback_becomes_one_line_and_controls_are_stripped() -> None:
    out, seen = _log(keep_tracebacks=False)
    assert out.splitlines() == [
        "Invalid segment offset (RuntimeError: Invalid segment offset)",
        "series T1?[2J",
    ]
    assert seen[0].exc_info is not None  # other handlers still get the whole record


def test_tracebacks_kept_when_debugging() -> None:
    out, _seen = _log(keep_tracebacks=True)
    assert "Traceback" in out and "RuntimeError: Invalid segment offset" in out
