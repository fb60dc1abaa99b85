"""One exception hierarchy for imaging_triage.

Every error raised on purpose by the package is a :class:`TriageError`. Subclasses
also derive from the built-in exception whose meaning matches (``ValueError`` for bad
content, ``OSError`` for unreadable files, ...), so callers may catch either.

Messages name the file (or series) and the reason, and say what to do about it.
They never contain patient identifiers.
"""

from __future__ import annotations

import enum
import os


class TriageError(Exception):
    """Base class of every error raised on purpose by imaging_triage."""

    #: short machine-readable reason code, e.g. ``"missing-slices"``
    code: str = "error"

    def __init__(
        self, message: str, *, path: str | os.PathLike[str] | None = None, code: str | None = None
    ):
        self.path = os.fspath(path) if path is not None else None
        if code is not None:
            self.code = code
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(TriageError, ValueError):
    """The input cannot be read as DICOM or NIfTI (truncated, not an image, ...)."""

    code = "unreadable"


class NotDicomError(InputError):
    """A file is not DICOM (no preamble and no parseable header)."""

    code = "not-dicom"


class PixelDataError(InputError):
    """Pixel data are missing, truncated or in a transfer syntax no decoder handles."""

    code = "pixel-data"


class UnsupportedError(TriageError, NotImplementedError):
    """The input is valid but uses a feature imaging_triage does not handle."""

    code = "unsupported"


class SeriesError(TriageError, ValueError):
    """A series cannot be assembled into a trustworthy volume."""

    code = "series"


class GeometryError(SeriesError):
    """Slice geometry is inconsistent (missing or duplicate slices, uneven spacing, mixed
    orientation, ...)."""

    code = "geometry"


class NotAVolumeError(SeriesError):
    """The series is not a volume (localizer, secondary capture, single slice, report)."""

    code = "not-a-volume"


class ResourceLimitError(TriageError, MemoryError):
    """The input declares more data than the configured limit allows."""

    code = "too-large"


class ConfigError(TriageError, ValueError):
    """A configuration file or option is invalid."""

    code = "config"


class PreprocessError(TriageError, RuntimeError):
    """A preprocessing step cannot produce a trustworthy result (e.g. registration failed)."""

    code = "preprocess"


class StoreError(TriageError, RuntimeError):
    """The review store cannot be read or written."""

    code = "store"


class OutcomeConflictError(StoreError):
    """Another reader saved an outcome on the study after this page loaded it.

    Raised inside the write transaction, so nothing was saved. The attributes say what the
    other reader saved (codes of :class:`~imaging_triage.review.findings.Outcome` and
    ``Urgency``); save again with ``replace=True`` to replace it on purpose.
    """

    code = "outcome-conflict"

    def __init__(
        self,
        message: str,
        *,
        reviewer: str,
        saved_at: str,
        outcome: str | None,
        urgency: str | None,
        status_id: int,
        path: str | os.PathLike[str] | None = None,
    ):
        super().__init__(message, path=path)
        #: the other reader, when (ISO 8601 UTC) and what they saved
        self.reviewer = reviewer
        self.saved_at = saved_at
        self.outcome = outcome
        self.urgency = urgency
        #: id of their status row (pass it as ``expected_status_id`` after showing it)
        self.status_id = status_id


class ReviewRuleError(TriageError, ValueError):
    """A review action breaks a review rule (``imaging_triage.review.workflow``); the
    message says what the reader must do. Nothing was saved."""

    code = "review-rule"


class ReviewerRequiredError(ReviewRuleError):
    """No reader's name: every finding and outcome is stamped with one."""

    code = "reviewer-required"


class ConfirmationRequiredError(ReviewRuleError):
    """ "No acute intracranial abnormality" while active acute findings exist: the reader
    must confirm explicitly. ``finding_ids`` are the findings in question."""

    code = "confirmation-required"

    def __init__(self, message: str, *, finding_ids: tuple[int, ...]):
        super().__init__(message)
        self.finding_ids = finding_ids


class IdentifierInTextError(ReviewRuleError):
    """Free text looks like it carries patient identifiers; ``reasons`` name the kinds
    found (never the text itself)."""

    code = "identifier-in-text"

    def __init__(self, message: str, *, reasons: tuple[str, ...]):
        super().__init__(message)
        self.reasons = reasons


class StoreTamperedError(StoreError):
    """The review database was altered outside imaging-triage (schema, audit chain, rows)."""

    code = "store-tampered"


class PathOutsideRootError(TriageError, PermissionError):
    """A path resolves outside the configured data roots."""

    code = "outside-root"


class DeidentificationError(TriageError, ValueError):
    """A dataset cannot be de-identified safely (e.g. possible burned-in identity)."""

    code = "deid"


class ExitCode(enum.IntEnum):
    """Exit status of every ``imaging-triage`` command (the one table of them)."""

    #: everything asked for was done
    OK = 0
    #: an unexpected error stopped the command
    ERROR = 1
    #: the command line is wrong (unknown option, missing path, ...)
    USAGE = 2
    #: partial: some series failed, the others were done
    PARTIAL = 3
    #: nothing to do: no DICOM or NIfTI found
    NOTHING = 4
    #: interrupted by the user (Ctrl-C): 128 + SIGINT, as shells report it
    INTERRUPTED = 130


class PacsError(TriageError, RuntimeError):
    """A DICOMweb server (PACS) refused or failed a request; the message names the server
    (never with credentials) and what to do."""

    code = "pacs"


class PacsConnectionError(PacsError, ConnectionError):
    """The server cannot be reached (refused, DNS, TLS, timeout)."""

    code = "pacs-unreachable"


class PacsAuthError(PacsError, PermissionError):
    """The server refused the credentials (HTTP 401 or 403)."""

    code = "pacs-auth"


class PacsNotFoundError(PacsError, LookupError):
    """The study, series or instance asked for is not on the server (HTTP 404 or an empty
    answer)."""

    code = "pacs-not-found"


class PacsResponseError(PacsError):
    """The server answered with an error status or content that is not valid DICOMweb."""

    code = "pacs-response"


class StructuredReportError(TriageError, ValueError):
    """A DICOM Structured Report cannot be built for a study (e.g. its source images are
    not in the data folder)."""

    code = "sr"
