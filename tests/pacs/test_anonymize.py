"""The de-identification key of a pull: beside the output, private, stable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from imaging_triage.errors import ConfigError
from imaging_triage.pacs.anonymize import Deidentifier, default_key_path, load_or_create_key


def test_key_file_is_created_once_beside_the_output_and_private(tmp_path: Path) -> None:
    path = default_key_path(tmp_path / "out")
    assert path == tmp_path / "out.deid-key"
    key = load_or_create_key(path)
    assert len(key) >= 16 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key


def test_same_key_same_uids(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k")
    assert Deidentifier(key).uid("1.2.3") == Deidentifier(key).uid("1.2.3") != "1.2.3"


def test_a_damaged_key_file_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("not hex")
    with pytest.raises(ConfigError, match="not a de-identification key"):
        load_or_create_key(path)
