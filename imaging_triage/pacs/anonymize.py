"""De-identification on the way in (``pull --deidentify``), with our profile.

Each retrieved instance goes through
:func:`imaging_triage.dicom.deid.deidentify_dataset` (PS3.15 Annex E Basic Profile, keyed
UID replacement) before it is written: no identified byte reaches the output folder.

The UID key is kept in a file beside (never inside) the output folder,
``OUT.deid-key`` by default, created on the first pull. The same key gives the same
replacement UIDs, so a rerun finds the instances it already wrote and a later pull of a
follow-up study keeps the patient's studies apart from others' only by the keyed UIDs.
Keep the key file away from the shared data: with it and an original UID anyone can
recompute the replacement.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from imaging_triage.errors import ConfigError


def default_key_path(out: str | os.PathLike[str]) -> Path:
    """The key file next to the output folder: ``OUT.deid-key``."""
    target = Path(out).resolve()
    return target.parent / f"{target.name}.deid-key"


def load_or_create_key(path: str | os.PathLike[str]) -> bytes:
    """Read the hex key in ``path``, or create one there (mode 0600) if absent.

    Raises
    ------
    ConfigError
        If the file exists but does not hold a hex key of at least 16 bytes.
    """
    from imaging_triage.dicom.deid import random_key

    file = Path(path)
    if file.exists():
        try:
            key = bytes.fromhex(file.read_text(encoding="ascii").strip())
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise ConfigError(
                "not a de-identification key file (hex); restore it or give another path",
                path=file,
            ) from err
        if len(key) < 16:
            raise ConfigError("the de-identification key is shorter than 16 bytes", path=file)
        return key
    key = random_key()
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex() + "\n")
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return key


class Deidentifier:
    """De-identifies retrieved datasets with one key.

    Parameters
    ----------
    key : bytes
        The UID key (see :func:`load_or_create_key`).
    """

    def __init__(self, key: bytes) -> None:
        from imaging_triage.dicom.deid import DeidConfig, UidMapper

        self.config = DeidConfig(key=key)
        self._uids = UidMapper(key)

    def uid(self, original: str) -> str:
        """The replacement of ``original`` (what the written files will carry)."""
        return self._uids(original)

    def apply(self, ds: Any) -> Any:
        """De-identify ``ds`` in place and return it.

        Raises
        ------
        DeidentificationError
            If the pixels may show identity (quarantined: the instance is not written).
        """
        from imaging_triage.dicom.deid import deidentify_dataset

        return deidentify_dataset(ds, self.config, self._uids)
