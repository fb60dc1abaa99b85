"""Log lines fit for a terminal: one line per record, no control characters.

Libraries log handled failures with full tracebacks (pydicom logs every decoder failure
with ``LOGGER.exception`` before raising), and messages may quote untrusted header text.
:class:`OneLineFormatter` is the formatter the console script installs: a record's
exception becomes ``(ExceptionType: message)`` on the same line, unless debugging, and the
message goes through :func:`imaging_triage.safetext.printable`. It formats a copy of each
record, so other handlers (a log file, a test's capture) still see the original. The
package itself installs no handler (logging as a library).
"""

from __future__ import annotations

import logging
from typing import TextIO

from imaging_triage.safetext import printable

#: longest logged message (characters)
MAX_MESSAGE = 2000


class OneLineFormatter(logging.Formatter):
    """Format records on one line (tracebacks too, unless ``keep_tracebacks``)."""

    def __init__(self, fmt: str | None = None, *, keep_tracebacks: bool = False) -> None:
        super().__init__(fmt)
        self.keep_tracebacks = keep_tracebacks

    def format(self, record: logging.LogRecord) -> str:
        """The record as one printable line; ``record`` itself is not changed."""
        copy = logging.makeLogRecord(record.__dict__)
        message = record.getMessage()
        if record.exc_info and not self.keep_tracebacks:
            exc = record.exc_info[1]
            if exc is not None:
                message = f"{message} ({type(exc).__name__}: {exc})"
            copy.exc_info = None
            copy.exc_text = None
        copy.msg = printable(message, MAX_MESSAGE)
        copy.args = None
        return super().format(copy)


def console_handler(
    stream: TextIO, fmt: str, *, keep_tracebacks: bool = False
) -> logging.StreamHandler[TextIO]:
    """A stream handler with :class:`OneLineFormatter`."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter(fmt, keep_tracebacks=keep_tracebacks))
    return handler
