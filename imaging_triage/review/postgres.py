"""The review database on a PostgreSQL server: locations, one pool per process, an adapter.

A review database is named by a *location*: a path or ``sqlite:///path`` is a SQLite
file; ``postgresql://[user@]host[:port]/dbname`` is a server. Passwords never travel in
the location shown to anyone: libpq reads them from ``PGPASSWORD`` or a ``.pgpass``-style
file (``PGPASSFILE``, default ``~/.pgpass``), and :meth:`DatabaseLocation.display` drops
any password written in the URL before it is logged or shown.

:class:`PgConnection` gives a psycopg 3 connection the small surface the store, the
migrations and the integrity check use of ``sqlite3``: ``execute`` with ``?``
placeholders, rows readable by index and by name, and explicit ``BEGIN``/``COMMIT``
(connections are in autocommit mode; the store opens its transactions itself). Writers
are serialised with a transaction-level advisory lock, as ``BEGIN IMMEDIATE`` does on
SQLite, so that the audit hash chain is appended in commit order.

Examples
--------
>>> loc = parse_location("postgresql://reader:secret@db.example/reviews")
>>> loc.dialect.value, loc.display
('postgresql', 'postgresql://reader@db.example/reviews')
>>> parse_location("sqlite:///var/reviews.sqlite").path
PosixPath('/var/reviews.sqlite')
>>> parse_location("mysql://db/reviews")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
imaging_triage.errors.StoreError: unsupported database URL scheme in 'mysql://db/reviews'...
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from imaging_triage.errors import StoreError
from imaging_triage.review.schema import Dialect

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

logger = logging.getLogger(__name__)

#: advisory lock key that serialises writers (the ASCII of "imgtriag")
WRITE_LOCK_KEY = 0x696D677472696167

_SCHEMES = ("postgresql://", "postgres://")
_OTHER_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class DatabaseLocation:
    """Where a review database lives: a SQLite ``path`` or a PostgreSQL ``url``."""

    dialect: Dialect
    path: Path | None = None
    url: str = ""

    @property
    def display(self) -> str:
        """The location as it may be shown and logged (no password)."""
        if self.dialect is Dialect.SQLITE:
            return str(self.path)
        return redact(self.url)

    def __str__(self) -> str:
        return self.display


def parse_location(value: str | os.PathLike[str]) -> DatabaseLocation:
    """The location named by a path, ``sqlite:///path`` or ``postgresql://...`` URL.

    Raises
    ------
    StoreError
        For a URL of another scheme (``mysql://...``): only SQLite and PostgreSQL are
        supported.
    """
    if isinstance(value, os.PathLike):
        return DatabaseLocation(Dialect.SQLITE, path=Path(value))
    text = str(value).strip()
    if text.startswith(_SCHEMES):
        return DatabaseLocation(Dialect.POSTGRESQL, url=text)
    if text.startswith("sqlite://"):
        rest = text[len("sqlite://") :]
        return DatabaseLocation(Dialect.SQLITE, path=Path(rest or ".").expanduser())
    if _OTHER_URL.match(text) and not Path(text).exists():
        raise StoreError(
            f"unsupported database URL scheme in {redact(text)!r}: give a file path, "
            "sqlite:///path or postgresql://user@host/dbname"
        )
    return DatabaseLocation(Dialect.SQLITE, path=Path(text).expanduser())


def redact(url: str) -> str:
    """``url`` without a password (``user:secret@`` becomes ``user@``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


class Row(tuple[Any, ...]):
    """A result row readable by index and by column name, like ``sqlite3.Row``."""

    _names: tuple[str, ...] = ()

    def __new__(cls, values: Sequence[Any], names: tuple[str, ...]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._names)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names.index(key))
            except ValueError:
                raise IndexError(f"no column named {key}") from None
        return tuple.__getitem__(self, key)


def _row_factory(cursor: Any) -> Any:
    names = tuple(d.name for d in cursor.description or ())

    def make(values: Sequence[Any]) -> Row:
        return Row(values, names)

    return make


class PgConnection:
    """A psycopg connection that speaks the store's ``sqlite3`` subset (see module doc)."""

    dialect = Dialect.POSTGRESQL

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        """Run one statement; ``?`` placeholders become psycopg's ``%s``."""
        if parameters:
            sql = sql.replace("%", "%%").replace("?", "%s")
        cur = self.raw.cursor(row_factory=_row_factory)
        return cur.execute(sql.encode(), tuple(parameters) if parameters else None)

    @property
    def in_transaction(self) -> bool:
        """True inside a ``BEGIN`` ... ``COMMIT``."""
        return self.raw.info.transaction_status.name != "IDLE"

    def rollback_quietly(self) -> None:
        """Roll back an open transaction; nothing if there is none or the link is gone
        (the server rolls back a broken connection's transaction itself)."""
        if self.raw.closed or self.raw.broken or not self.in_transaction:
            return
        try:
            self.execute("ROLLBACK")
        except Exception:  # the connection is discarded by the pool
            logger.debug("rollback failed on a broken connection")

    def begin_write(self) -> None:
        """Open a write transaction that waits for other writers (advisory lock)."""
        self.execute("BEGIN")
        self.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    def begin_snapshot(self) -> None:
        """Open a read transaction that sees one snapshot throughout."""
        self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")


# -- one pool per process -----------------------------------------------------------------

_pools: dict[tuple[int, str], tuple[psycopg_pool.ConnectionPool[Any], int]] = {}
_pools_lock = threading.Lock()


def _configure(lock_timeout_ms: int) -> Any:
    def configure(conn: psycopg.Connection[Any]) -> None:
        conn.autocommit = True
        conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")

    return configure


def acquire_pool(url: str, *, lock_timeout_s: float = 30.0) -> psycopg_pool.ConnectionPool[Any]:
    """The process's pool for ``url`` (created on first use; release it when done).

    Raises
    ------
    StoreError
        If psycopg is not installed or the server does not answer (the message names the
        location without its password).
    """
    try:
        import psycopg
        import psycopg_pool
    except ImportError as err:  # pragma: no cover - a dependency of the package
        raise StoreError(
            "PostgreSQL needs psycopg 3 and psycopg-pool: pip install 'psycopg[binary]' "
            "psycopg-pool"
        ) from err
    key = (os.getpid(), url)
    with _pools_lock:
        found = _pools.get(key)
        if found is not None:
            _pools[key] = (found[0], found[1] + 1)
            return found[0]
        connect(url).raw.close()  # fail fast, with libpq's reason, on a wrong URL or password
        pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=int(os.environ.get("IMAGING_TRIAGE_PG_POOL_SIZE", "8")),
            open=False,
            configure=_configure(int(lock_timeout_s * 1000)),
            name="imaging-triage",
            timeout=lock_timeout_s,
        )
        try:
            pool.open(wait=True, timeout=min(lock_timeout_s, 15.0))
        except (psycopg.Error, psycopg_pool.PoolTimeout) as err:
            pool.close()
            raise _unreachable(url, err) from None
        _pools[key] = (pool, 1)
        return pool


def release_pool(url: str) -> None:
    """Give back one use of the process's pool for ``url``; the last use closes it."""
    key = (os.getpid(), url)
    with _pools_lock:
        found = _pools.get(key)
        if found is None:
            return
        pool, users = found
        if users > 1:
            _pools[key] = (pool, users - 1)
            return
        del _pools[key]
    pool.close()


@contextmanager
def pooled(pool: psycopg_pool.ConnectionPool[Any]) -> Iterator[PgConnection]:
    """A connection from ``pool`` for the ``with`` block (rolled back if left open)."""
    with pool.connection() as raw:
        conn = PgConnection(raw)
        try:
            yield conn
        finally:
            conn.rollback_quietly()


def connect(url: str) -> PgConnection:
    """One connection outside any pool (for the command line), in autocommit mode.

    Raises
    ------
    StoreError
        If the server cannot be reached or refuses the credentials.
    """
    import psycopg

    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as err:
        raise _unreachable(url, err) from None
    return PgConnection(raw)


def _unreachable(url: str, err: BaseException) -> StoreError:
    # libpq's messages name host, port and user, never the password
    reason = " ".join(str(err).split())[:300] or type(err).__name__
    return StoreError(
        f"cannot connect to the review database ({reason}); check the server runs, the "
        "URL, and the password in PGPASSWORD or the .pgpass file (PGPASSFILE)",
        path=redact(url),
    )
