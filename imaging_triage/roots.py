"""Data roots: the folders the viewer may read, and the check that keeps paths inside them.

A path typed by a user (in the viewer, or a record coming back from the browser) is
resolved (``..`` collapsed, symbolic links followed) and accepted only when the result
lies inside one of the configured roots. ``..`` out of a root, an absolute path elsewhere
and a symbolic link pointing out of a root are all refused with
:class:`~imaging_triage.errors.PathOutsideRootError`.

Where the roots come from (first found wins; see ``docs/viewer.md``):

1. the command line: ``streamlit run app.py -- --data DIR [--data DIR2]``;
2. the environment: ``IMAGING_TRIAGE_DATA=DIR1:DIR2`` (``os.pathsep``-separated);
3. a TOML config file: ``--config FILE``, ``IMAGING_TRIAGE_CONFIG``, or
   ``~/.config/imaging-triage/viewer.toml``, with ``data = ["DIR", ...]``;
4. ``sample_data/`` next to ``app.py``.

This module only interprets the values; ``app.py`` reads ``sys.argv`` and the environment.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from imaging_triage.errors import ConfigError, PathOutsideRootError

ENV_DATA = "IMAGING_TRIAGE_DATA"
ENV_CONFIG = "IMAGING_TRIAGE_CONFIG"
ENV_DB = "IMAGING_TRIAGE_DB"
#: DICOMweb base URL of a PACS for the viewer's PACS panel (off when unset)
ENV_PACS = "IMAGING_TRIAGE_PACS_URL"
DEFAULT_CONFIG = Path("~/.config/imaging-triage/viewer.toml")


@dataclass(frozen=True)
class DataRoots:
    """The resolved folders a viewer may read from.

    Parameters
    ----------
    roots : tuple of Path
        Existing folders, already resolved (absolute, no symbolic links).
    """

    roots: tuple[Path, ...]

    @classmethod
    def from_paths(cls, paths: Sequence[str | os.PathLike[str]]) -> DataRoots:
        """Resolve ``paths`` into roots.

        Raises
        ------
        ConfigError
            If no path is given or one is not an existing folder.
        """
        if not paths:
            raise ConfigError("no data folder configured; give --data DIR or set " + ENV_DATA)
        resolved = []
        for p in paths:
            path = Path(p).expanduser().resolve()
            if not path.is_dir():
                raise ConfigError(
                    "data root is not an existing folder; check the --data, "
                    f"{ENV_DATA} or config-file value",
                    path=path,
                )
            resolved.append(path)
        return cls(tuple(dict.fromkeys(resolved)))

    def contains(self, path: Path) -> bool:
        """Whether an already resolved ``path`` is one of the roots or inside one."""
        return any(path == root or path.is_relative_to(root) for root in self.roots)

    def resolve(self, user_path: str | os.PathLike[str], *, base: Path | None = None) -> Path:
        """Resolve a user-given path and return it if it stays inside the roots.

        Relative paths are taken relative to ``base`` (default: the first root).

        Raises
        ------
        PathOutsideRootError
            If the resolved path (after ``..`` and symbolic links) leaves every root.

        Examples
        --------
        >>> roots = DataRoots.from_paths(["/srv/studies"])          # doctest: +SKIP
        >>> roots.resolve("../etc/passwd")                          # doctest: +SKIP
        Traceback (most recent call last):
        PathOutsideRootError: ...: outside the configured data folders...
        """
        if "\x00" in str(user_path):
            raise PathOutsideRootError("path contains a NUL byte; type a plain folder path")
        try:
            raw = Path(user_path).expanduser()
            candidate = raw if raw.is_absolute() else (base or self.roots[0]) / raw
            resolved = candidate.resolve()
        except (OSError, RuntimeError) as err:  # symlink loops, unknown ~user
            raise PathOutsideRootError(
                f"cannot resolve the path ({err}); type a plain folder path under a data folder",
                path=str(user_path),
            ) from err
        if not self.contains(resolved):
            raise PathOutsideRootError(
                "outside the configured data folders (after resolving '..' and symbolic "
                "links); choose a folder under one of them, or add a data root with --data",
                path=str(user_path),
            )
        return resolved

    def relative(self, path: Path) -> str:
        """``path`` relative to the root that holds it, for display."""
        for root in self.roots:
            if path == root or path.is_relative_to(root):
                rel = path.relative_to(root)
                return f"{root.name}/{rel}" if str(rel) != "." else root.name
        return path.name


@dataclass
class ViewerSettings:
    """Where the viewer reads studies from and keeps its review database."""

    data: list[Path] = field(default_factory=list)
    #: a SQLite file, or a database URL kept as written (``postgresql://...``,
    #: ``sqlite:///...``; see :mod:`imaging_triage.review.postgres`)
    db: Path | str | None = None
    #: where each value came from, for the page's "settings" line
    source: str = "default"
    #: DICOMweb base URL of the PACS panel (None: no panel; the viewer stays offline)
    pacs_url: str | None = None
    #: the config file's ``reading_mode`` and ``[reading_modes]``, as written; give it to
    #: :func:`imaging_triage.review.reading.reading_mode` with a worklist's name
    reading: dict[str, object] = field(default_factory=dict)
    #: teaching mode: a folder of ``<study>/truth.json`` (config ``teaching_truth``,
    #: relative to the config file) or a reference reader's name (``teaching_reference``)
    teaching_truth: Path | None = None
    teaching_reference: str | None = None


def parse_viewer_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the arguments after ``--`` in ``streamlit run app.py -- ...``.

    Unknown arguments are ignored (Streamlit may pass its own).
    """
    parser = argparse.ArgumentParser(prog="app.py", add_help=False)
    parser.add_argument("--data", action="append", default=[], help="data root (repeatable)")
    parser.add_argument(
        "--db", default=None, help="review database: a SQLite file or postgresql://user@host/db"
    )
    parser.add_argument("--config", default=None, help="viewer config file (TOML)")
    args, _unknown = parser.parse_known_args(list(argv))
    return args


def load_config_file(path: Path) -> dict[str, object]:
    """Read a viewer TOML config file.

    Raises
    ------
    ConfigError
        If the file cannot be read or is not valid TOML.
    """
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(
            f"cannot read viewer config ({err}); fix or remove it", path=path
        ) from err


def resolve_settings(
    argv: Sequence[str], env: Mapping[str, str], *, default_data: Path
) -> ViewerSettings:
    """Combine command line, environment and config file into :class:`ViewerSettings`.

    Precedence for the data roots: ``--data``, then ``IMAGING_TRIAGE_DATA``, then the
    config file's ``data``, then ``default_data``. The database: ``--db``, then
    ``IMAGING_TRIAGE_DB``, then the config file's ``db``, then
    ``.imaging_triage/reviews.sqlite`` in the current folder. The PACS panel's URL:
    ``IMAGING_TRIAGE_PACS_URL``, then the config file's ``pacs_url`` (credentials: see
    :mod:`imaging_triage.pacs.config`).
    Relative ``data`` entries of a config file are taken relative to that file.

    Raises
    ------
    ConfigError
        If the config file is unreadable or its values have the wrong type.
    """
    args = parse_viewer_args(argv)
    config_path = args.config or env.get(ENV_CONFIG)
    config: dict[str, object] = {}
    if config_path:
        config = load_config_file(Path(config_path).expanduser())
    elif DEFAULT_CONFIG.expanduser().is_file():
        config_path = str(DEFAULT_CONFIG.expanduser())
        config = load_config_file(DEFAULT_CONFIG.expanduser())

    settings = ViewerSettings()
    if args.data:
        settings.data, settings.source = [Path(p) for p in args.data], "command line"
    elif env.get(ENV_DATA):
        parts = [p for p in env[ENV_DATA].split(os.pathsep) if p]
        settings.data, settings.source = [Path(p) for p in parts], ENV_DATA
    elif config.get("data"):
        value = config["data"]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
            raise ConfigError("'data' must be a folder or a list of folders", path=config_path)
        base = Path(str(config_path)).expanduser().parent
        settings.data = [(base / Path(p).expanduser()) for p in items]
        settings.source = f"config file {config_path}"
    else:
        settings.data = [default_data]

    db = args.db or env.get(ENV_DB) or config.get("db")
    if db is not None and not isinstance(db, str):
        raise ConfigError("'db' must be a file path or a database URL", path=config_path)
    if db and "://" in db:
        settings.db = db
    else:
        settings.db = Path(db).expanduser() if db else Path(".imaging_triage") / "reviews.sqlite"
    pacs = env.get(ENV_PACS) or config.get("pacs_url")
    if pacs is not None and not isinstance(pacs, str):
        raise ConfigError("'pacs_url' must be a DICOMweb URL", path=config_path)
    settings.pacs_url = pacs or None
    settings.reading = {k: config[k] for k in ("reading_mode", "reading_modes") if k in config}
    truth, reference = config.get("teaching_truth"), config.get("teaching_reference")
    if truth is not None and not isinstance(truth, str):
        raise ConfigError("'teaching_truth' must be a folder of truth.json files", path=config_path)
    if reference is not None and not isinstance(reference, str):
        raise ConfigError("'teaching_reference' must be a reader's name", path=config_path)
    if truth:
        settings.teaching_truth = (
            Path(str(config_path)).expanduser().parent / Path(truth).expanduser()
        )
    settings.teaching_reference = reference or None
    return settings
