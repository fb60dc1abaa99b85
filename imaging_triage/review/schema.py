"""The review database schema: tables, append-only triggers and forward migrations.

``MIGRATIONS[n]`` takes a database from schema version ``n`` to ``n + 1``. One list serves
both dialects (:class:`Dialect`): each :class:`Migration` holds portable DDL, the tables
it makes append-only and an optional data step, and renders the guard triggers for SQLite
or PostgreSQL. Append new migrations; never edit a released one. :func:`expected_objects`
gives the schema of a version, so that an opened database can be compared with it object
by object (see :mod:`imaging_triage.review.integrity`).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

#: tables whose rows may never change once written
APPEND_ONLY_TABLES = ("findings", "retractions", "study_status", "audit")

#: version 3 puts these under the same treatment
APPEND_ONLY_TABLES_V3 = ("studies", "audit_chain")

#: the first hash of the audit chain (the "previous hash" of audit row 1)
GENESIS_HASH = "0" * 64

#: the reviewer name of rows written by a migration rather than a person
MIGRATION_REVIEWER = "imaging-triage migration"


def _append_only_triggers(table: str) -> str:
    message = f"{table} rows are append-only; record a correction as a new row"
    return f"""
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, '{message}'); END;
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, '{message}'); END;
"""


def _no_replace_trigger(table: str, key: str = "id", name: str = "") -> str:
    """INSERT OR REPLACE deletes the old row without firing DELETE triggers (unless
    recursive triggers are on): refuse any insert that would replace a row."""
    message = f"{table} rows are append-only; record a correction as a new row"
    return f"""
CREATE TRIGGER {name or table + "_no_replace"} BEFORE INSERT ON {table}
WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key})
BEGIN SELECT RAISE(ABORT, '{message}'); END;
"""


_SCHEMA_V1 = """
CREATE TABLE studies (
    study_key   TEXT PRIMARY KEY,
    study_uid   TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT '',
    modality    TEXT NOT NULL DEFAULT '',
    first_seen  TEXT NOT NULL
);
CREATE TABLE findings (
    id          INTEGER PRIMARY KEY,
    study_key   TEXT NOT NULL REFERENCES studies(study_key),
    type        TEXT NOT NULL,
    laterality  TEXT NOT NULL,
    confidence  TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    x_mm        REAL NOT NULL,
    y_mm        REAL NOT NULL,
    z_mm        REAL NOT NULL,
    i           INTEGER NOT NULL,
    j           INTEGER NOT NULL,
    k           INTEGER NOT NULL,
    series_uid  TEXT NOT NULL DEFAULT '',
    reviewer    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX findings_study ON findings(study_key);
CREATE TABLE retractions (
    id          INTEGER PRIMARY KEY,
    finding_id  INTEGER NOT NULL UNIQUE REFERENCES findings(id),
    reason      TEXT NOT NULL DEFAULT '',
    reviewer    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE study_status (
    id          INTEGER PRIMARY KEY,
    study_key   TEXT NOT NULL REFERENCES studies(study_key),
    status      TEXT NOT NULL,
    outcome     TEXT,
    urgency     TEXT,
    reviewer    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX study_status_study ON study_status(study_key, id);
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    reviewer    TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   INTEGER,
    study_key   TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
"""

#: version 2: append-only tables also refuse INSERT OR REPLACE (triggers only, SQLite)

#: version 3: a hash chain over the audit rows; studies append-only and audited
_SCHEMA_V3 = """
CREATE TABLE audit_chain (
    audit_id    INTEGER PRIMARY KEY REFERENCES audit(id),
    hash        TEXT NOT NULL
);
"""


def _migrate_v3(tx: Connection) -> None:
    """Audit the studies registered so far and chain every audit row (after the DDL)."""
    from imaging_triage.review.integrity import append_chain, study_register_after

    at = max(
        [row[0] for row in tx.execute("SELECT MAX(at) FROM audit") if row[0]]
        + [row[0] for row in tx.execute("SELECT MAX(first_seen) FROM studies") if row[0]]
        + [""]
    )
    for row in tx.execute("SELECT * FROM studies ORDER BY study_key").fetchall():
        tx.execute(
            "INSERT INTO audit (at, reviewer, action, entity, entity_id, study_key, before,"
            " after) VALUES (?, ?, 'study.register', 'study', NULL, ?, NULL, ?)",
            (at, MIGRATION_REVIEWER, row[0], study_register_after(row)),
        )
    for (audit_id,) in tx.execute("SELECT id FROM audit ORDER BY id").fetchall():
        append_chain(tx, int(audit_id))


#: version 4: measurements attached to findings (JSON list), written with the finding
_SCHEMA_V4 = """
ALTER TABLE findings ADD COLUMN measurements TEXT NOT NULL DEFAULT '[]';
"""


#: version 5: the role of a read (blinded double reading): "" for an ordinary read,
#: "consensus" for the consensus read that settles two readers' disagreements
_SCHEMA_V5 = """
ALTER TABLE findings ADD COLUMN read_role TEXT NOT NULL DEFAULT '';
ALTER TABLE study_status ADD COLUMN read_role TEXT NOT NULL DEFAULT '';
"""


class Dialect(enum.Enum):
    """The SQL spoken by a review database's server."""

    #: a SQLite file (the default)
    SQLITE = "sqlite"
    #: a PostgreSQL server (shared by several workstations)
    POSTGRESQL = "postgresql"


class Connection(Protocol):
    """What migrations and the integrity check need of a connection: ``execute`` with
    ``?`` placeholders returning a cursor (``sqlite3.Connection`` and the PostgreSQL
    adapter of :mod:`imaging_triage.review.postgres` both qualify)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any:
        """Run one statement."""
        ...


@dataclass(frozen=True)
class Migration:
    """One step of the schema, written once for both dialects.

    ``ddl`` is portable SQL in SQLite's spelling (``INTEGER PRIMARY KEY`` for an
    auto-numbered key, ``REAL`` for a double); :func:`to_postgres` translates it.
    The guards are generated per dialect: ``append_only`` tables refuse UPDATE and
    DELETE (and TRUNCATE on PostgreSQL); ``no_replace`` guards (table, key, trigger name)
    refuse SQLite's INSERT OR REPLACE, which PostgreSQL does not have. ``data`` runs last,
    in the same transaction.
    """

    ddl: str = ""
    append_only: tuple[str, ...] = ()
    no_replace: tuple[tuple[str, str, str], ...] = ()
    data: Callable[[Connection], None] | None = None

    def statements(self, dialect: Dialect) -> list[str]:
        """The DDL statements of this step in ``dialect``."""
        if dialect is Dialect.SQLITE:
            script = self.ddl + "".join(_append_only_triggers(t) for t in self.append_only)
            script += "".join(_no_replace_trigger(t, k, n) for t, k, n in self.no_replace)
            return list(statements(script))
        out = [to_postgres(s) for s in statements(self.ddl)]
        for table in self.append_only:
            out.extend(_pg_append_only_triggers(table))
        return out


def _no_replace(table: str, key: str = "id", name: str = "") -> tuple[str, str, str]:
    return (table, key, name or f"{table}_no_replace")


#: ``MIGRATIONS[n]`` takes a database from schema version ``n`` to ``n + 1``.
#: Append new migrations; never edit a released one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(_SCHEMA_V1, append_only=APPEND_ONLY_TABLES),
    Migration(
        no_replace=(
            *(_no_replace(t) for t in APPEND_ONLY_TABLES),
            _no_replace("retractions", "finding_id", "retractions_no_replace_finding"),
        )
    ),
    Migration(
        _SCHEMA_V3,
        append_only=APPEND_ONLY_TABLES_V3,
        no_replace=(_no_replace("studies", "study_key"), _no_replace("audit_chain", "audit_id")),
        data=_migrate_v3,
    ),
    Migration(_SCHEMA_V4),
    Migration(_SCHEMA_V5),
)
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> Iterator[str]:
    """Split an SQL script into complete statements (trigger bodies kept whole)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:60]}")


def apply_migration(tx: Connection, step: int, dialect: Dialect = Dialect.SQLITE) -> None:
    """Run ``MIGRATIONS[step]`` inside the open transaction ``tx``."""
    migration = MIGRATIONS[step]
    if dialect is Dialect.POSTGRESQL and step == 0:
        for statement in PG_PREAMBLE:
            tx.execute(statement)
    for statement in migration.statements(dialect):
        tx.execute(statement)
    if migration.data is not None:
        migration.data(tx)


# -- PostgreSQL -----------------------------------------------------------------------------

#: the trigger function behind every append-only guard on PostgreSQL
PG_GUARD_FUNCTION = "imaging_triage_append_only"
_PG_GUARD_BODY = """
BEGIN
    RAISE EXCEPTION '% rows are append-only; record a correction as a new row', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
"""
#: created before the first migration on PostgreSQL: the guard function and the table
#: that records the schema version (SQLite keeps it in ``PRAGMA user_version``)
PG_PREAMBLE: tuple[str, ...] = (
    f"CREATE FUNCTION {PG_GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql"
    f" AS $guard${_PG_GUARD_BODY}$guard$",
    "CREATE TABLE schema_version (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
    *(
        f"CREATE TRIGGER schema_version_{name} BEFORE {event} ON schema_version"
        f" FOR EACH {each} EXECUTE FUNCTION {PG_GUARD_FUNCTION}()"
        for name, event, each in (
            ("no_update", "UPDATE", "ROW"),
            ("no_delete", "DELETE", "ROW"),
            ("no_truncate", "TRUNCATE", "STATEMENT"),
        )
    ),
)
_PG_TYPES = (
    (re.compile(r"(\w+)\s+INTEGER PRIMARY KEY REFERENCES"), r"\1 BIGINT PRIMARY KEY REFERENCES"),
    (
        re.compile(r"(\w+)\s+INTEGER PRIMARY KEY"),
        r"\1 BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
)


def to_postgres(statement: str) -> str:
    """Translate one portable DDL statement to PostgreSQL (keys, integer and real types).

    Examples
    --------
    >>> to_postgres("CREATE TABLE t (n INTEGER, x REAL)")
    'CREATE TABLE t (n BIGINT, x DOUBLE PRECISION)'
    >>> to_postgres("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    'CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)'
    """
    for pattern, replacement in _PG_TYPES:
        statement = pattern.sub(replacement, statement)
    return statement.rstrip().rstrip(";")


def _pg_append_only_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_{name} BEFORE {event} ON {table}"
        f" FOR EACH {each} EXECUTE FUNCTION {PG_GUARD_FUNCTION}()"
        for name, event, each in (
            ("no_update", "UPDATE", "ROW"),
            ("no_delete", "DELETE", "ROW"),
            ("no_truncate", "TRUNCATE", "STATEMENT"),
        )
    ]


def database_errors() -> tuple[type[Exception], ...]:
    """The exceptions a database driver raises (sqlite3's and psycopg's)."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - a dependency of the package
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


def dialect_of(conn: object) -> Dialect:
    """The dialect of an open connection (anything but the PostgreSQL adapter is SQLite)."""
    return getattr(conn, "dialect", Dialect.SQLITE)


def read_version(conn: Connection) -> int:
    """The schema version of the database behind ``conn`` (0: empty)."""
    if dialect_of(conn) is Dialect.SQLITE:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    if conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
        return 0
    return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])


def write_version(conn: Connection, version: int, at: str) -> None:
    """Record that the database now has schema ``version`` (inside the migration)."""
    if dialect_of(conn) is Dialect.SQLITE:
        conn.execute(f"PRAGMA user_version = {int(version)}")
    else:
        conn.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (int(version), at)
        )


SchemaObjects = frozenset[tuple[str, str, str, str | None]]

_PG_OBJECTS = """
SELECT 'table', c.relname::text, c.relname::text, NULL FROM pg_class c
 WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v')
UNION ALL
SELECT 'column', c.table_name || '.' || c.column_name, c.table_name,
       c.data_type || CASE WHEN c.is_nullable = 'NO' THEN ' not null' ELSE '' END
  FROM information_schema.columns c WHERE c.table_schema = current_schema()
UNION ALL
SELECT 'index', i.relname::text, t.relname::text, NULL FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
 WHERE t.relnamespace = current_schema()::regnamespace
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
UNION ALL
SELECT 'trigger', g.tgname::text, t.relname::text, g.tgenabled::text || ' ' || p.proname
  FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid JOIN pg_proc p ON p.oid = g.tgfoid
 WHERE NOT g.tgisinternal AND t.relnamespace = current_schema()::regnamespace
UNION ALL
SELECT 'function', p.proname::text, '', md5(p.prosrc) FROM pg_proc p
 WHERE p.pronamespace = current_schema()::regnamespace
"""


def schema_objects(conn: Connection) -> SchemaObjects:
    """Every table, index, trigger and view of ``conn`` as (type, name, table, sql).

    On PostgreSQL: tables, columns (with type and nullability), indexes, triggers (with
    their enabled state and function) and functions (with the MD5 of their body).
    """
    if dialect_of(conn) is Dialect.POSTGRESQL:
        rows = conn.execute(_PG_OBJECTS).fetchall()
    else:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return frozenset((str(t), str(n), str(tb), s) for t, n, tb, s in rows)


def expected_objects(
    version: int = SCHEMA_VERSION, dialect: Dialect = Dialect.SQLITE
) -> SchemaObjects:
    """The schema objects a database of ``version`` has in ``dialect``."""
    if dialect is Dialect.POSTGRESQL:
        return _expected_postgres(version)
    return _expected_sqlite(version)


@functools.cache
def _expected_sqlite(version: int) -> SchemaObjects:
    """Built in memory by running the migrations."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for step in range(version):
            apply_migration(conn, step)
        return schema_objects(conn)
    finally:
        conn.close()


_PG_TYPE_NAMES = {"TEXT": "text", "BIGINT": "bigint", "DOUBLE PRECISION": "double precision"}
_COLUMN = re.compile(r"^\s*(\w+)\s+(TEXT|BIGINT|DOUBLE PRECISION)\b(.*)$")


@functools.cache
def _expected_postgres(version: int) -> SchemaObjects:
    """Read off the statements the migrations run on PostgreSQL (no server needed)."""
    if version == 0:
        return frozenset()
    out: set[tuple[str, str, str, str | None]] = set()
    ddl = list(PG_PREAMBLE)
    for step in range(version):
        ddl.extend(MIGRATIONS[step].statements(Dialect.POSTGRESQL))
    for statement in ddl:
        if m := re.match(r"CREATE TABLE (\w+) \((.*)\)\s*$", statement, re.S):
            table = m.group(1)
            out.add(("table", table, table, None))
            for line in re.split(r",\s*(?![^()]*\))", m.group(2)):
                if c := _COLUMN.match(line.strip()):
                    out.add(_pg_column(table, c.group(1), c.group(2), c.group(3)))
        elif m := re.match(r"ALTER TABLE (\w+) ADD COLUMN (\w+) (\w+)(.*)$", statement, re.S):
            out.add(_pg_column(m.group(1), m.group(2), m.group(3), m.group(4)))
        elif m := re.match(r"CREATE INDEX (\w+) ON (\w+)", statement):
            out.add(("index", m.group(1), m.group(2), None))
        elif m := re.match(r"CREATE TRIGGER (\w+) .* ON (\w+) .*FUNCTION (\w+)", statement):
            out.add(("trigger", m.group(1), m.group(2), f"O {m.group(3)}"))
        elif m := re.match(r"CREATE FUNCTION (\w+)", statement):
            out.add(("function", m.group(1), "", hashlib.md5(_PG_GUARD_BODY.encode()).hexdigest()))
    return frozenset(out)


def _pg_column(table: str, name: str, sql_type: str, rest: str) -> tuple[str, str, str, str]:
    not_null = "NOT NULL" in rest or "PRIMARY KEY" in rest
    kind = _PG_TYPE_NAMES[sql_type] + (" not null" if not_null else "")
    return ("column", f"{table}.{name}", table, kind)
