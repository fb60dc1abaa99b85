"""Shared fixtures. Real scanner data comes through the one ``realdata`` fixture."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# test helpers (dicomgen, ...) live beside this file; importlib mode does not add it
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgserver import PostgresServer, running_postgres  # noqa: E402

REALDATA = Path(os.environ.get("IMAGING_TRIAGE_REALDATA", ROOT.parent / "shared" / "realdata"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    """Path of ``../shared/realdata``.

    Skips with a reason when the folder is absent (a user's fresh clone); fails instead
    when ``IMAGING_TRIAGE_REQUIRE_REALDATA=1`` (CI).
    """
    if not (REALDATA / "README.md").is_file():
        message = f"real scanner data not found at {REALDATA} (see ../shared/realdata/README.md)"
        if os.environ.get("IMAGING_TRIAGE_REQUIRE_REALDATA") == "1":
            pytest.fail(message + "; IMAGING_TRIAGE_REQUIRE_REALDATA=1 makes this a failure")
        pytest.skip(message)
    return REALDATA


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """The committed ``sample_data/`` folder."""
    return ROOT / "sample_data"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the session (see tests/pgserver.py); skips with a reason
    where PostgreSQL is absent, fails instead when ``IMAGING_TRIAGE_REQUIRE_POSTGRES=1``."""
    yield from running_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh review database location: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "reviews.sqlite")
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.new_database()
