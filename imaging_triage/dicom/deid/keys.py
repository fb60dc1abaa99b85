"""Keyed replacements: UIDs (``2.25.`` + HMAC-SHA-256 under a secret key), the keyed date
shift, and the check that a ``...ClassUID`` value names a registered class, not an instance."""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: UID root of UUID-derived UIDs (PS3.5 B.2); the suffix is a 128-bit integer
UID_ROOT = "2.25."


def random_key() -> bytes:
    """A fresh 32-byte key (UIDs then differ from every other run)."""
    return secrets.token_bytes(32)


def keyed_date_shift(key: bytes) -> int:
    """A shift between -3650 and -1 days derived from ``key`` (same key, same shift)."""
    digest = hmac.new(key, b"imaging_triage date shift", hashlib.sha256).digest()
    return -(1 + int.from_bytes(digest[:4], "big") % 3650)


def keyed_uid(key: bytes, uid: str) -> str:
    """Return the replacement of ``uid``: ``2.25.`` and 128 bits of HMAC-SHA-256(key, uid).

    Examples
    --------
    >>> keyed_uid(b"0123456789", "1.2.3") == keyed_uid(b"0123456789", "1.2.3")
    True
    >>> keyed_uid(b"0123456789", "1.2.3").startswith("2.25.")
    True
    """
    digest = hmac.new(key, uid.strip().encode("ascii", "replace"), hashlib.sha256).digest()
    return UID_ROOT + str(int.from_bytes(digest[:16], "big"))


class UidMapper:
    """Keyed, consistent UID replacement, remembering every pair for the map file."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.mapping: dict[str, str] = {}

    def __call__(self, uid: str) -> str:
        """Return the replacement of ``uid`` (empty stays empty)."""
        original = str(uid).strip().rstrip("\x00")
        if not original:
            return ""
        new = self.mapping.get(original)
        if new is None:
            new = keyed_uid(self._key, original)
            self.mapping[original] = new
        return new


def is_well_known_uid(uid: str) -> bool:
    from pydicom.uid import UID_dictionary

    return uid.strip() in UID_dictionary
