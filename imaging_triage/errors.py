"""One exception hierarchy for imaging_triage.

Every error raised on purpose by the package is a :class:`TriageError`. Subclasses
also derive from the built-in exception whose meaning matches (``ValueError`` for bad
content, ``OSError`` for unreadable files, ...), so callers may catch either.

Messages name the file (or series) and the reason, and say what to do about it.
They never contain patient identifiers.
"""

from __future__ import annotations

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


class PathOutsideRootError(TriageError, PermissionError):
    """A path resolves outside the configured data roots."""

    code = "outside-root"


class DeidentificationError(TriageError, ValueError):
    """A dataset cannot be de-identified safely (e.g. possible burned-in identity)."""

    code = "deid"
