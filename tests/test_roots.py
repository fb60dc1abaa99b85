"""Data roots: user paths stay inside the configured folders; settings precedence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imaging_triage.errors import ConfigError, PathOutsideRootError
from imaging_triage.roots import DataRoots, resolve_settings


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "data" / "ct" / "study1").mkdir(parents=True)
    (tmp_path / "data" / "mr").mkdir()
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "notes.txt").write_text("private")
    os.symlink(tmp_path / "secret", tmp_path / "data" / "escape")
    os.symlink(tmp_path / "data" / "ct", tmp_path / "data" / "ct_alias")
    return tmp_path


def test_paths_inside_the_roots_are_accepted(tree: Path) -> None:
    roots = DataRoots.from_paths([tree / "data"])
    assert roots.resolve("ct/study1") == (tree / "data" / "ct" / "study1").resolve()
    assert roots.resolve(str(tree / "data" / "mr")) == (tree / "data" / "mr").resolve()
    assert roots.resolve("ct/../mr") == (tree / "data" / "mr").resolve()
    assert roots.resolve("ct_alias/study1") == (tree / "data" / "ct" / "study1").resolve()
    assert roots.resolve(".") == (tree / "data").resolve()


@pytest.mark.parametrize(
    "user_path",
    ["..", "../secret", "ct/../../secret", "escape", "escape/notes.txt", "/etc", "/"],
)
def test_paths_leaving_the_roots_are_refused(tree: Path, user_path: str) -> None:
    roots = DataRoots.from_paths([tree / "data"])
    with pytest.raises(PathOutsideRootError, match="outside the configured data folders") as info:
        roots.resolve(user_path)
    assert isinstance(info.value, PermissionError)
    assert info.value.code == "outside-root"


def test_absolute_path_to_another_folder_is_refused(tree: Path) -> None:
    roots = DataRoots.from_paths([tree / "data"])
    with pytest.raises(PathOutsideRootError):
        roots.resolve(str(tree / "secret"))
    with pytest.raises(PathOutsideRootError):
        roots.resolve(str(tree / "data") + "/../secret")
    with pytest.raises(PathOutsideRootError, match="NUL"):
        roots.resolve("ct\x00")


def test_prefix_of_a_root_is_not_inside_it(tree: Path) -> None:
    (tree / "data2").mkdir()
    roots = DataRoots.from_paths([tree / "data"])
    with pytest.raises(PathOutsideRootError):
        roots.resolve(str(tree / "data2"))


def test_missing_root_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an existing folder"):
        DataRoots.from_paths([tmp_path / "absent"])
    with pytest.raises(ConfigError, match="no data folder"):
        DataRoots.from_paths([])


def test_settings_precedence_argv_env_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no user config file
    cfg = tmp_path / "viewer.toml"
    cfg.write_text('data = ["from_config"]\ndb = "cfg.sqlite"\n')
    default = tmp_path / "sample_data"

    s = resolve_settings(
        ["--data", "A", "--data", "B", "--db", "x.sqlite"], {}, default_data=default
    )
    assert s.data == [Path("A"), Path("B")] and s.db == Path("x.sqlite")
    assert s.source == "command line"

    env = {"IMAGING_TRIAGE_DATA": f"E1{os.pathsep}E2", "IMAGING_TRIAGE_CONFIG": str(cfg)}
    s = resolve_settings([], env, default_data=default)
    assert s.data == [Path("E1"), Path("E2")] and s.source == "IMAGING_TRIAGE_DATA"
    assert s.db == Path("cfg.sqlite")

    s = resolve_settings(["--config", str(cfg)], {}, default_data=default)
    assert s.data == [tmp_path / "from_config"]
    assert s.source.startswith("config file")

    s = resolve_settings(["unrelated", "--flag"], {}, default_data=default)
    assert s.data == [default] and s.db == Path(".imaging_triage") / "reviews.sqlite"


def test_bad_config_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("data = [1, 2]\n")
    with pytest.raises(ConfigError, match="'data' must be"):
        resolve_settings(["--config", str(bad)], {}, default_data=tmp_path)
    broken = tmp_path / "broken.toml"
    broken.write_text("data = [\n")
    with pytest.raises(ConfigError, match="cannot read viewer config"):
        resolve_settings(["--config", str(broken)], {}, default_data=tmp_path)


def test_a_database_url_is_kept_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    url = "postgresql://reader@db.example:5433/reviews"
    s = resolve_settings([], {"IMAGING_TRIAGE_DB": url}, default_data=tmp_path)
    assert s.db == url
    s = resolve_settings(["--db", "sqlite:///x/r.sqlite"], {}, default_data=tmp_path)
    assert s.db == "sqlite:///x/r.sqlite"


def test_reading_modes_come_from_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging_triage.review.reading import ReadingMode, reading_mode

    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = tmp_path / "viewer.toml"
    cfg.write_text('reading_mode = "double_blind"\n[reading_modes]\n"clinic" = "single"\n')
    s = resolve_settings(["--config", str(cfg)], {}, default_data=tmp_path)
    assert reading_mode(s.reading, "ED") is ReadingMode.DOUBLE_BLIND
    assert reading_mode(s.reading, "clinic") is ReadingMode.SINGLE
