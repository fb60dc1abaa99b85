"""Log records fit for a terminal: one line each, no control characters.

Libraries log handled failures with full tracebacks (pydicom logs every decoder failure
with ``LOGGER.exception`` before raising), and messages may quote untrusted header text.
:class:`OneLineRecords` is a handler filter that the console script and the viewer
install: a record's exception becomes ``(ExceptionType: message)`` on the same line,
unless debugging, and the message goes through :func:`imaging_triage.safetext.printable`.
The package itself installs no handler (logging as a library).
"""

from __future__ import annotations

import logging

from imaging_triage.safetext import printable

#: longest logged message (characters)
MAX_MESSAGE = 2000


class OneLineRecords(logging.Filter):
    """Collapse tracebacks into one line (unless ``keep_tracebacks``) and strip controls."""

    def __init__(self, keep_tracebacks: bool = False) -> None:
        super().__init__()
        self.keep_tracebacks = keep_tracebacks

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; never drops it."""
        message = record.getMessage()
        if record.exc_info and not self.keep_tracebacks:
            exc = record.exc_info[1]
            if exc is not None:
                message = f"{message} ({type(exc).__name__}: {exc})"
            record.exc_info = None
            record.exc_text = None
        record.msg = printable(message, MAX_MESSAGE)
        record.args = None
        return True


def install(handler: logging.Handler | None = None, *, keep_tracebacks: bool = False) -> None:
    """Add :class:`OneLineRecords` to ``handler`` (default: every root handler)."""
    handlers = [handler] if handler is not None else logging.getLogger().handlers
    for h in handlers:
        if not any(isinstance(f, OneLineRecords) for f in h.filters):
            h.addFilter(OneLineRecords(keep_tracebacks))
