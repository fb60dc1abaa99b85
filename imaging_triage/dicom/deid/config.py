"""Settings of one de-identification run."""

from __future__ import annotations

from dataclasses import dataclass

from imaging_triage.errors import (
    ConfigError,
)


@dataclass(frozen=True)
class DeidConfig:
    """Settings of one de-identification run.

    Attributes
    ----------
    key : bytes
        Secret for the keyed UID mapping (and the keyed date shift). Keep it apart from the
        data: with it and an original UID anyone can recompute the replacement.
    date_shift_days : int or None
        ``None``: dates follow the table (removed or dummy). An integer: every date is moved by
        that many days (times kept), so intervals between studies survive.
    allow_burned_in : bool
        Write images that may carry burned-in identity instead of quarantining them.
    remove_unlisted_text : bool
        Remove attributes that the table does not list, except the allow list
        :data:`~imaging_triage.dicom.deid.allowlist.KEEP_UNLISTED` (see the package docstring).
    keep_safe_private : bool
        Keep the private elements of :data:`SAFE_PRIVATE` (and their creators), which some
        vendors' series need to convert (Siemens mosaics, GE diffusion); off by default:
        then every private attribute is removed.
    """

    key: bytes
    date_shift_days: int | None = None
    allow_burned_in: bool = False
    remove_unlisted_text: bool = True
    keep_safe_private: bool = False

    def __post_init__(self) -> None:
        if len(self.key) < 8:
            raise ConfigError("the de-identification key must be at least 8 bytes long")
