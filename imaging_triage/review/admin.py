"""Setting up a review database: create, migrate, grant the application's role, copy.

On PostgreSQL the schema belongs to the role that runs ``imaging-triage db init`` (the
owner); the viewer should connect as an *application role* that may only read and
append: ``SELECT`` and ``INSERT`` on the review tables, ``SELECT`` on
``schema_version``, the sequences it needs to number rows, and nothing else: no
``UPDATE``, ``DELETE``, ``TRUNCATE`` or DDL (the triggers refuse changes to rows even
to the owner; the missing grants refuse them before the triggers run).

:func:`copy_database` copies every row, with its id, from one review database to
another of either dialect, in one transaction on the destination, then verifies the
destination's audit chain and compares row counts and head hashes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from imaging_triage.errors import StoreError
from imaging_triage.review.schema import Dialect, database_errors
from imaging_triage.review.store import ReviewStore

logger = logging.getLogger(__name__)

#: the tables copied, parents first, with the column ordering them
COPIED_TABLES: tuple[tuple[str, str], ...] = (
    ("studies", "study_key"),
    ("findings", "id"),
    ("retractions", "id"),
    ("study_status", "id"),
    ("audit", "id"),
    ("audit_chain", "audit_id"),
)
#: tables whose ``id`` is numbered by the database (a sequence on PostgreSQL)
NUMBERED_TABLES = ("findings", "retractions", "study_status", "audit")
#: the application role may append to these (and read them)
APPEND_TABLES = tuple(t for t, _ in COPIED_TABLES)


@dataclass
class CopyReport:
    """What :func:`copy_database` copied and whether the destination verifies."""

    rows: dict[str, int] = field(default_factory=dict)
    head_hash: str = ""
    verified: bool = False


def migrate(location: str | os.PathLike[str]) -> tuple[int, int]:
    """Create or migrate the database at ``location``; return (version before, after).

    On PostgreSQL, roles already granted the application's rights get them on any new
    table too.
    """
    before = _version_without_migrating(location)
    with ReviewStore(location) as store:
        after = store.schema_version
        if store.dialect is Dialect.POSTGRESQL and after != before:
            with store._write() as tx:
                for (role,) in tx.execute(
                    "SELECT DISTINCT grantee FROM information_schema.role_table_grants"
                    " WHERE table_schema = current_schema() AND table_name = 'audit'"
                    " AND privilege_type = 'INSERT' AND grantee <> current_user"
                ).fetchall():
                    _grant(tx, str(role))
    return before, after


def _version_without_migrating(location: str | os.PathLike[str]) -> int:
    from imaging_triage.review.postgres import connect, parse_location
    from imaging_triage.review.schema import read_version

    loc = parse_location(location)
    if loc.dialect is Dialect.SQLITE:
        import sqlite3

        if loc.path is None or not loc.path.is_file():
            return 0
        conn = sqlite3.connect(loc.path)
        try:
            return read_version(conn)
        finally:
            conn.close()
    pg = connect(loc.url)
    try:
        return read_version(pg)
    finally:
        pg.raw.close()


def grant_application_role(
    location: str | os.PathLike[str], role: str, *, password: str | None = None
) -> None:
    """Create ``role`` if missing (a login role) and grant it read-and-append rights.

    Parameters
    ----------
    location : str
        A ``postgresql://`` URL of the database's owner.
    role : str
        The role the viewer connects as.
    password : str, optional
        Set as the role's password (take it from the environment, never from argv).

    Raises
    ------
    StoreError
        On SQLite (a file has no roles: protect it with file permissions), or if the
        owner may not create the role or grant.
    """
    with ReviewStore(location) as store:
        if store.dialect is not Dialect.POSTGRESQL:
            raise StoreError(
                "a SQLite review database has no roles; protect the file with its "
                "permissions instead",
                path=store.where,
            )
        try:
            with store._write() as tx:
                from psycopg import sql

                ident = sql.Identifier(role).as_string(tx.raw)
                exists = tx.execute("SELECT 1 FROM pg_roles WHERE rolname = ?", (role,))
                if exists.fetchone() is None:
                    tx.execute(f"CREATE ROLE {ident} LOGIN")
                if password:
                    literal = sql.Literal(password).as_string(tx.raw)
                    tx.execute(f"ALTER ROLE {ident} PASSWORD {literal}")
                _grant(tx, role)
        except database_errors() as err:
            raise StoreError(
                f"cannot grant the application role ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}); run this as the "
                "database's owner with the right to create roles",
                path=store.where,
            ) from err
    logger.info("application role granted read-and-append rights")


def _grant(tx: Any, role: str) -> None:
    from psycopg import sql

    ident = sql.Identifier(role).as_string(tx.raw)
    database = sql.Identifier(tx.execute("SELECT current_database()").fetchone()[0])
    schema = sql.Identifier(tx.execute("SELECT current_schema()").fetchone()[0])
    db_name, schema_name = database.as_string(tx.raw), schema.as_string(tx.raw)
    for statement in (
        f"REVOKE CREATE ON SCHEMA {schema_name} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {db_name} TO {ident}",
        f"GRANT USAGE ON SCHEMA {schema_name} TO {ident}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema_name} FROM {ident}",
        f"GRANT SELECT, INSERT ON {', '.join(APPEND_TABLES)} TO {ident}",
        f"GRANT SELECT ON schema_version TO {ident}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema_name} TO {ident}",
    ):
        tx.execute(statement)


def copy_database(
    source: str | os.PathLike[str], destination: str | os.PathLike[str]
) -> CopyReport:
    """Copy every row of ``source`` into the new or empty ``destination`` and verify it.

    Both are opened (and verified) as review databases first; ids, times and the audit
    chain are copied unchanged, so the destination's chain verifies to the same head.

    Raises
    ------
    StoreError
        If the destination already holds rows, or the copy does not verify (nothing is
        committed then).
    """
    report = CopyReport()
    with ReviewStore(source) as src, ReviewStore(destination) as dst:
        head = src.verify().head_hash
        with dst._write() as tx:
            if tx.execute("SELECT COUNT(*) FROM audit").fetchone()[0]:
                raise StoreError(
                    "the destination already holds review rows; copy into a new database",
                    path=dst.where,
                )
            with src._connection() as conn:
                _snapshot(conn)
                try:
                    for table, order in COPIED_TABLES:
                        report.rows[table] = _copy_table(conn, tx, table, order)
                finally:
                    conn.execute("ROLLBACK")
            if dst.dialect is Dialect.POSTGRESQL:
                for table in NUMBERED_TABLES:
                    tx.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
                    )
        verified = dst.verify()
        report.head_hash = verified.head_hash
        report.verified = verified.ok and verified.head_hash == head
        copied = {t: int(dst._query(f"SELECT COUNT(*) FROM {t}")[0][0]) for t, _ in COPIED_TABLES}
    if not report.verified or copied != report.rows:
        raise StoreError(
            f"the copy does not verify (head {report.head_hash[:12]}, source head "
            f"{head[:12]}); do not use the destination",
            path=str(destination),
        )
    return report


def _snapshot(conn: Any) -> None:
    if getattr(conn, "dialect", Dialect.SQLITE) is Dialect.POSTGRESQL:
        conn.begin_snapshot()
    else:
        conn.execute("BEGIN")


def _copy_table(src: Any, tx: Any, table: str, order: str) -> int:
    cur = src.execute(f"SELECT * FROM {table} ORDER BY {order}")
    names = [d[0] for d in cur.description]
    insert = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    count = 0
    while rows := cur.fetchmany(500):
        for row in rows:
            tx.execute(insert, tuple(row))
            count += 1
    return count
