"""A real PostgreSQL server for tests: Debian's ``postgresql`` package.

:func:`start_postgres` creates a cluster in a temporary folder (``initdb``), listening on
127.0.0.1 only on a free port with its Unix socket inside the folder, password
authentication for an admin role whose password lives in a ``.pgpass`` file of the
folder (``PGPASSFILE``), and starts it with ``pg_ctl``. :meth:`PostgresServer.new_database`
gives each test a fresh database. initdb refuses to run as root: as root (CI), the cluster
belongs to the ``postgres`` system user and the server programs run through ``runuser``.

Nothing here mocks a server: the tests talk to the real thing.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from imaging_triage.viewer.launch import free_port

ENV_REQUIRE = "IMAGING_TRIAGE_REQUIRE_POSTGRES"
ADMIN = "triage_admin"
BIN_CANDIDATES = tuple(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))


def find_bin() -> Path | None:
    """The folder of initdb / pg_ctl / postgres (Debian's newest), or None."""
    for folder in BIN_CANDIDATES:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def postgres_missing_reason() -> str | None:
    """Why PostgreSQL cannot be started here, or None when it can."""
    if find_bin() is None:
        return "PostgreSQL server programs not found (Debian: apt-get install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    return None


@dataclass
class PostgresServer:
    """A running cluster: its port, folder and the admin role's password file."""

    port: int
    folder: Path
    bin: Path
    run_as: list[str]
    passfile: Path
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres", user: str = ADMIN) -> str:
        """A URL without password (libpq reads it from ``PGPASSFILE``)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def admin_execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement as the admin role (autocommit)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql.encode())

    def new_database(self) -> str:
        """A fresh, empty database owned by the admin role; return its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.admin_execute(f"CREATE DATABASE {name} OWNER {ADMIN}")
        return self.url(name)

    def add_password(self, user: str, password: str) -> None:
        """Let libpq find ``user``'s password in the ``.pgpass`` file."""
        with self.passfile.open("a") as fh:
            fh.write(f"127.0.0.1:{self.port}:*:{user}:{password}\n")

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        subprocess.run(
            [
                *self.run_as,
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.folder / "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(timeout_s: float = 60.0) -> PostgresServer:
    """Create and start a cluster in a new temporary folder; return when it accepts logins.

    Raises
    ------
    RuntimeError
        If initdb or the server fails (its log is attached).
    """
    binary = find_bin()
    assert binary is not None
    # not under pytest's tmp_path: its parents are private to root, the server user must
    # reach its folder
    folder = Path(tempfile.mkdtemp(prefix="imaging-triage-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    password = secrets.token_urlsafe(16)
    pwfile = folder / "pw"
    pwfile.write_text(password + "\n")
    if run_as:
        shutil.chown(pwfile, "postgres")
    env = {**os.environ, "LANG": "C", "LC_ALL": "C"}
    data = folder / "data"
    port = free_port()
    socket_dir = folder / "socket"
    socket_dir.mkdir()
    if run_as:
        shutil.chown(socket_dir, "postgres")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*run_as, *args], capture_output=True, text=True, env=env, timeout=timeout_s
        )

    init = run(
        str(binary / "initdb"),
        "-D",
        str(data),
        "-U",
        ADMIN,
        "--pwfile",
        str(pwfile),
        "--auth=scram-sha-256",
        "-E",
        "UTF8",
        "--no-instructions",
    )
    pwfile.unlink()
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{init.stdout[-2000:]}{init.stderr[-2000:]}")
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={socket_dir}"
        " -c max_connections=300 -c fsync=off -c full_page_writes=off"
        " -c shared_buffers=16MB -c log_min_messages=warning"
    )
    log = folder / "server.log"
    start = run(
        str(binary / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(log),
        "-w",
        "-t",
        str(int(timeout_s)),
        "start",
    )
    server = PostgresServer(port, folder, binary, run_as, folder / "pgpass")
    if start.returncode != 0:
        text = log.read_text(errors="replace")[-3000:] if log.exists() else start.stderr
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start on port {port}:\n{text}")
    server.passfile.touch(mode=0o600)
    server.add_password(ADMIN, password)
    deadline = time.monotonic() + timeout_s
    os.environ["PGPASSFILE"] = str(server.passfile)
    while True:
        try:
            server.admin_execute("SELECT 1")
            return server
        except Exception:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.1)


def running_postgres() -> Iterator[PostgresServer]:
    """A session's server (skip, or fail under ``IMAGING_TRIAGE_REQUIRE_POSTGRES=1``, when
    PostgreSQL is absent); stopped when the generator is closed."""
    reason = postgres_missing_reason()
    if reason is not None:
        if os.environ.get(ENV_REQUIRE) == "1":
            pytest.fail(reason + f"; {ENV_REQUIRE}=1 makes this a failure")
        pytest.skip(reason)
    previous = os.environ.get("PGPASSFILE")
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("PGPASSFILE", None)
        else:
            os.environ["PGPASSFILE"] = previous
