"""The review database schema: tables, append-only triggers and forward migrations.

``MIGRATIONS[n]`` takes a database from schema version ``n`` to ``n + 1``; each step is an
SQL script or a function of an open transaction. Append new migrations; never edit a
released one. :func:`expected_objects` builds the schema of a version in memory, so that
an opened file can be compared with it object by object (see
:mod:`imaging_triage.review.integrity`).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator

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


def _no_replace_trigger(table: str, key: str = "id") -> str:
    """INSERT OR REPLACE deletes the old row without firing DELETE triggers (unless
    recursive triggers are on): refuse any insert that would replace a row."""
    message = f"{table} rows are append-only; record a correction as a new row"
    return f"""
CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
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
""" + "".join(_append_only_triggers(t) for t in APPEND_ONLY_TABLES)

#: version 2: append-only tables also refuse INSERT OR REPLACE
_SCHEMA_V2 = "".join(_no_replace_trigger(t) for t in APPEND_ONLY_TABLES) + _no_replace_trigger(
    "retractions", "finding_id"
).replace("retractions_no_replace", "retractions_no_replace_finding")

#: version 3: a hash chain over the audit rows; studies append-only and audited
_SCHEMA_V3 = (
    """
CREATE TABLE audit_chain (
    audit_id    INTEGER PRIMARY KEY REFERENCES audit(id),
    hash        TEXT NOT NULL
);
"""
    + _append_only_triggers("studies")
    + _no_replace_trigger("studies", "study_key")
    + _append_only_triggers("audit_chain")
    + _no_replace_trigger("audit_chain", "audit_id")
)


def _migrate_v3(tx: sqlite3.Connection) -> None:
    """Create the chain, audit the studies registered so far, chain every audit row."""
    from imaging_triage.review.integrity import append_chain, study_register_after

    for statement in statements(_SCHEMA_V3):
        tx.execute(statement)
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

Migration = str | Callable[[sqlite3.Connection], None]

#: ``MIGRATIONS[n]`` takes a database from schema version ``n`` to ``n + 1``.
#: Append new migrations; never edit a released one.
MIGRATIONS: tuple[Migration, ...] = (_SCHEMA_V1, _SCHEMA_V2, _migrate_v3, _SCHEMA_V4)
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


def apply_migration(tx: sqlite3.Connection, step: int) -> None:
    """Run ``MIGRATIONS[step]`` inside the open transaction ``tx``."""
    migration = MIGRATIONS[step]
    if callable(migration):
        migration(tx)
    else:
        for statement in statements(migration):
            tx.execute(statement)


SchemaObjects = frozenset[tuple[str, str, str, str | None]]


def schema_objects(conn: sqlite3.Connection) -> SchemaObjects:
    """Every table, index, trigger and view of ``conn`` as (type, name, table, sql)."""
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return frozenset((str(t), str(n), str(tb), s) for t, n, tb, s in rows)


@functools.cache
def expected_objects(version: int = SCHEMA_VERSION) -> SchemaObjects:
    """The schema objects a database of ``version`` has, built in memory."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for step in range(version):
            apply_migration(conn, step)
        return schema_objects(conn)
    finally:
        conn.close()
