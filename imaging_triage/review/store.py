"""The review database: findings, study outcomes and an append-only audit trail.

SQLite by default (DESIGN.md section 2): write-ahead logging, foreign keys on, every write
in a ``BEGIN IMMEDIATE`` transaction, a busy timeout so that concurrent writers wait
rather than fail, one connection per thread, and a schema versioned with
``PRAGMA user_version`` and migrated forward on open.

Nothing is ever updated or deleted. Findings, retractions, study status rows and audit
rows are append-only, and triggers in the schema itself abort any ``UPDATE`` or
``DELETE`` on them. A correction is a new row: retracting a finding adds a retraction
row; changing an outcome adds a status row (the latest one wins).

Examples
--------
>>> store = ReviewStore("reviews.sqlite")                       # doctest: +SKIP
>>> store.set_status("study_ab12", ReviewStatus.REVIEWED, reviewer="dr a",
...                  outcome=Outcome.NO_ACUTE, urgency=Urgency.ROUTINE)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from imaging_triage.errors import OutcomeConflictError, StoreError
from imaging_triage.review.findings import (
    Confidence,
    Finding,
    FindingType,
    Laterality,
    Location,
    Outcome,
    ReviewStatus,
    StudyReview,
    Urgency,
)

logger = logging.getLogger(__name__)

#: tables whose rows may never change once written
APPEND_ONLY_TABLES = ("findings", "retractions", "study_status", "audit")


def _append_only_triggers(table: str) -> str:
    message = f"{table} rows are append-only; record a correction as a new row"
    return f"""
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, '{message}'); END;
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
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


def _no_replace_trigger(table: str, key: str = "id") -> str:
    """INSERT OR REPLACE deletes the old row without firing DELETE triggers (unless
    recursive triggers are on): refuse any insert that would replace a row."""
    message = f"{table} rows are append-only; record a correction as a new row"
    return f"""
CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key})
BEGIN SELECT RAISE(ABORT, '{message}'); END;
"""


#: version 2: append-only tables also refuse INSERT OR REPLACE
_SCHEMA_V2 = "".join(_no_replace_trigger(t) for t in APPEND_ONLY_TABLES) + _no_replace_trigger(
    "retractions", "finding_id"
).replace("retractions_no_replace", "retractions_no_replace_finding")

#: ``MIGRATIONS[n]`` takes a database from schema version ``n`` to ``n + 1``.
#: Append new migrations; never edit a released one.
MIGRATIONS: tuple[str, ...] = (_SCHEMA_V1, _SCHEMA_V2)
SCHEMA_VERSION = len(MIGRATIONS)


def _statements(script: str) -> Iterator[str]:
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


def utc_now() -> str:
    """Current UTC time as ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class ReviewStore:
    """The review database at ``path``, created and migrated on first use.

    Parameters
    ----------
    path : str or Path
        The SQLite file. Its folder is created if missing.
    busy_timeout_s : float
        How long a writer waits for another writer's lock before giving up.

    Raises
    ------
    StoreError
        If the file is not a review database, was written by a newer version, or
        cannot be opened; the message names the file and what to do.

    Notes
    -----
    Safe to share between threads: each thread gets its own connection. Safe to share
    between processes: SQLite's locking serialises writers.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = float(busy_timeout_s)
        self._local = threading.local()
        self._lock = threading.Lock()
        #: every open connection with the thread that owns it (pruned when threads end)
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate(self._conn())

    # -- connections ------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_s,
                isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
                check_same_thread=False,  # used by its own thread only; closed by close()
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA recursive_triggers = ON")  # REPLACE fires DELETE triggers
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"cannot open the review database ({err}); check the file is a SQLite "
                "database written by imaging-triage, or choose another --db path",
                path=self.path,
            ) from err
        if str(mode).lower() != "wal":
            logger.warning("review database is in %s mode, not WAL", mode)
        self._local.conn = conn
        with self._lock:
            # threads come and go (a web server runs each request in its own): close the
            # connections of threads that have ended, so that files are not leaked
            alive = []
            for thread, other in self._connections:
                if thread.is_alive():
                    alive.append((thread, other))
                else:
                    other.close()
            alive.append((threading.current_thread(), conn))
            self._connections = alive
        return conn

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        with self._lock:
            conns, self._connections = [c for _, c in self._connections], []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction, committed on success, rolled back otherwise."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise StoreError(
                f"the review database stayed locked for {self.busy_timeout_s:g} s ({err}); "
                "another program is writing to it: retry, or raise the busy timeout",
                path=self.path,
            ) from err
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"not a review database ({err}); choose another --db path",
                path=self.path,
            ) from err
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"review database has schema version {version}, newer than this program's "
                f"{SCHEMA_VERSION}; upgrade imaging-triage to open it",
                path=self.path,
            )
        if version == SCHEMA_VERSION:
            return
        with self._write() as tx:
            # re-read under the write lock: another process may have migrated meanwhile
            version = int(tx.execute("PRAGMA user_version").fetchone()[0])
            for step in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[step]):
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {step + 1}")
                logger.info("review database migrated to schema version %d", step + 1)

    @property
    def schema_version(self) -> int:
        """The database's ``PRAGMA user_version``."""
        return int(self._conn().execute("PRAGMA user_version").fetchone()[0])

    # -- writes -----------------------------------------------------------------------

    @staticmethod
    def _audit(
        tx: sqlite3.Connection,
        *,
        reviewer: str,
        action: str,
        entity: str,
        entity_id: int | None,
        study_key: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        at: str,
    ) -> None:
        tx.execute(
            "INSERT INTO audit (at, reviewer, action, entity, entity_id, study_key, before, after)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                at,
                reviewer,
                action,
                entity,
                entity_id,
                study_key,
                json.dumps(before, sort_keys=True) if before is not None else None,
                json.dumps(after, sort_keys=True) if after is not None else None,
            ),
        )

    @staticmethod
    def _check_reviewer(reviewer: str) -> str:
        name = reviewer.strip()
        if not name:
            raise StoreError("every review row needs the reviewer's name; enter it first")
        return name

    def register_study(
        self, study_key: str, *, study_uid: str = "", source: str = "", modality: str = ""
    ) -> None:
        """Record that a study exists (idempotent; the first registration is kept)."""
        with self._write() as tx:
            self._ensure_study(tx, study_key, study_uid, source, modality)

    @staticmethod
    def _ensure_study(
        tx: sqlite3.Connection, study_key: str, study_uid: str, source: str, modality: str
    ) -> None:
        tx.execute(
            "INSERT OR IGNORE INTO studies (study_key, study_uid, source, modality, first_seen)"
            " VALUES (?, ?, ?, ?, ?)",
            (study_key, study_uid, source, modality, utc_now()),
        )

    def add_finding(self, finding: Finding) -> Finding:
        """Store a new finding (and its audit row); return it with ``id`` and timestamp.

        Raises
        ------
        StoreError
            If the reviewer's name is empty or the database stays locked.
        """
        reviewer = self._check_reviewer(finding.reviewer)
        at = utc_now()
        loc = finding.location
        with self._write() as tx:
            self._ensure_study(tx, finding.study_key, "", "", "")
            cur = tx.execute(
                "INSERT INTO findings (study_key, type, laterality, confidence, note, x_mm, y_mm,"
                " z_mm, i, j, k, series_uid, reviewer, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    finding.study_key,
                    finding.type.value,
                    finding.laterality.value,
                    finding.confidence.value,
                    finding.note,
                    *(float(v) for v in loc.xyz_mm),
                    *(int(v) for v in loc.ijk),
                    loc.series_uid,
                    reviewer,
                    at,
                ),
            )
            new_id = int(cur.lastrowid or 0)
            stored = _finding_from_row(tx.execute(_FINDING_SELECT + " WHERE f.id = ?", (new_id,)))
            self._audit(
                tx,
                reviewer=reviewer,
                action="finding.add",
                entity="finding",
                entity_id=new_id,
                study_key=finding.study_key,
                before=None,
                after=_finding_dict(stored[0]),
                at=at,
            )
            self._status_if_unread(tx, finding.study_key, reviewer, at)
        return stored[0]

    def retract_finding(self, finding_id: int, *, reviewer: str, reason: str = "") -> Finding:
        """Retract a finding: a retraction row and an audit row; the finding row stays.

        Raises
        ------
        StoreError
            If the finding does not exist or is already retracted.
        """
        reviewer = self._check_reviewer(reviewer)
        at = utc_now()
        with self._write() as tx:
            rows = _finding_from_row(tx.execute(_FINDING_SELECT + " WHERE f.id = ?", (finding_id,)))
            if not rows:
                raise StoreError(f"finding {finding_id} does not exist", path=self.path)
            before = rows[0]
            if before.retracted:
                raise StoreError(f"finding {finding_id} is already retracted", path=self.path)
            tx.execute(
                "INSERT INTO retractions (finding_id, reason, reviewer, created_at)"
                " VALUES (?, ?, ?, ?)",
                (finding_id, reason, reviewer, at),
            )
            after = _finding_from_row(
                tx.execute(_FINDING_SELECT + " WHERE f.id = ?", (finding_id,))
            )
            self._audit(
                tx,
                reviewer=reviewer,
                action="finding.retract",
                entity="finding",
                entity_id=finding_id,
                study_key=before.study_key,
                before=_finding_dict(before),
                after=_finding_dict(after[0]),
                at=at,
            )
        return after[0]

    def set_status(
        self,
        study_key: str,
        status: ReviewStatus,
        *,
        reviewer: str,
        outcome: Outcome | None = None,
        urgency: Urgency | None = None,
        expected_status_id: int | None = None,
        replace: bool = False,
        audit_extra: Mapping[str, Any] | None = None,
    ) -> StudyReview:
        """Record a study's review status, outcome and urgency as a new status row.

        Parameters
        ----------
        expected_status_id : int, optional
            Optimistic concurrency: the ``StudyReview.status_id`` the caller saw when its
            page loaded (0: no status row yet). If another reader saved an outcome after
            that row, the save is refused inside the write transaction. None skips the check.
        replace : bool
            Save anyway over such an outcome; the audit row records what was replaced.
        audit_extra : mapping, optional
            More facts for the audit row's ``after`` (e.g. a reader's confirmation).

        Raises
        ------
        OutcomeConflictError
            If another reader saved an outcome after ``expected_status_id`` (and
            ``replace`` is false); it says who, when and what.
        StoreError
            If ``status`` is ``REVIEWED`` without an outcome, or the reviewer is empty.
        """
        reviewer = self._check_reviewer(reviewer)
        if status is ReviewStatus.REVIEWED and outcome is None:
            raise StoreError("a reviewed study needs an outcome; choose one before saving")
        extra = dict(audit_extra or {})
        at = utc_now()
        with self._write() as tx:
            self._ensure_study(tx, study_key, "", "", "")
            if expected_status_id is not None:
                other = self._outcome_saved_since(tx, study_key, expected_status_id, reviewer)
                if other is not None and not replace:
                    urgency_label = Urgency(other["urgency"]).label if other["urgency"] else "-"
                    raise OutcomeConflictError(
                        f"{other['reviewer']} saved the outcome "
                        f"'{Outcome(other['outcome']).label} / {urgency_label}' at "
                        f"{other['created_at'][:19].replace('T', ' ')} UTC after this page "
                        "loaded; nothing was saved. "
                        "Review their outcome, then save again choosing to replace it",
                        reviewer=other["reviewer"],
                        saved_at=other["created_at"],
                        outcome=other["outcome"],
                        urgency=other["urgency"],
                        status_id=int(other["id"]),
                        path=self.path,
                    )
                if other is not None:
                    extra["replaced"] = dict(other)
            self._insert_status(tx, study_key, status, outcome, urgency, reviewer, at, extra)
        return self.review(study_key)

    @staticmethod
    def _outcome_saved_since(
        tx: sqlite3.Connection, study_key: str, status_id: int, reviewer: str
    ) -> sqlite3.Row | None:
        """The latest outcome another reader saved on the study after row ``status_id``."""
        row: sqlite3.Row | None = tx.execute(
            "SELECT id, reviewer, created_at, outcome, urgency FROM study_status"
            " WHERE study_key = ? AND id > ? AND outcome IS NOT NULL AND reviewer != ?"
            " ORDER BY id DESC LIMIT 1",
            (study_key, int(status_id), reviewer),
        ).fetchone()
        return row

    def _status_if_unread(
        self, tx: sqlite3.Connection, study_key: str, reviewer: str, at: str
    ) -> None:
        row = tx.execute(
            "SELECT 1 FROM study_status WHERE study_key = ? LIMIT 1", (study_key,)
        ).fetchone()
        if row is None:
            self._insert_status(tx, study_key, ReviewStatus.IN_PROGRESS, None, None, reviewer, at)

    def _insert_status(
        self,
        tx: sqlite3.Connection,
        study_key: str,
        status: ReviewStatus,
        outcome: Outcome | None,
        urgency: Urgency | None,
        reviewer: str,
        at: str,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        prev = tx.execute(
            "SELECT status, outcome, urgency, reviewer FROM study_status WHERE study_key = ?"
            " ORDER BY id DESC LIMIT 1",
            (study_key,),
        ).fetchone()
        after = {
            "status": status.value,
            "outcome": outcome.value if outcome else None,
            "urgency": urgency.value if urgency else None,
            "reviewer": reviewer,
        }
        audit_after = {**(extra or {}), **after}
        cur = tx.execute(
            "INSERT INTO study_status (study_key, status, outcome, urgency, reviewer, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (study_key, after["status"], after["outcome"], after["urgency"], reviewer, at),
        )
        self._audit(
            tx,
            reviewer=reviewer,
            action="study.status",
            entity="study_status",
            entity_id=cur.lastrowid,
            study_key=study_key,
            before=dict(prev) if prev is not None else None,
            after=audit_after,
            at=at,
        )

    # -- reads ------------------------------------------------------------------------

    def findings(self, study_key: str | None = None) -> list[Finding]:
        """Every finding (retracted ones included, flagged), oldest first."""
        sql = _FINDING_SELECT
        params: Sequence[Any] = ()
        if study_key is not None:
            sql += " WHERE f.study_key = ?"
            params = (study_key,)
        return _finding_from_row(self._conn().execute(sql + " ORDER BY f.id", params))

    def review(self, study_key: str) -> StudyReview:
        """The current review of one study (unread when nothing was recorded)."""
        row = (
            self._conn()
            .execute(
                "SELECT * FROM study_status WHERE study_key = ? ORDER BY id DESC LIMIT 1",
                (study_key,),
            )
            .fetchone()
        )
        findings = self.findings(study_key)
        if row is None:
            return StudyReview(study_key=study_key, findings=findings)
        return _review_from_row(row, findings)

    def reviews(self) -> dict[str, StudyReview]:
        """The current review of every study with a status row (findings not included)."""
        rows = (
            self._conn()
            .execute(
                "SELECT s.* FROM study_status s JOIN (SELECT study_key, MAX(id) AS id"
                " FROM study_status GROUP BY study_key) last ON s.id = last.id"
            )
            .fetchall()
        )
        return {row["study_key"]: _review_from_row(row, []) for row in rows}

    def studies(self) -> list[dict[str, Any]]:
        """Registered studies: key, study UID, source folder, modality, first seen."""
        rows = self._conn().execute("SELECT * FROM studies ORDER BY study_key").fetchall()
        return [dict(row) for row in rows]

    def audit(self, study_key: str | None = None) -> list[dict[str, Any]]:
        """Audit rows, oldest first, with ``before``/``after`` decoded from JSON."""
        sql = "SELECT * FROM audit"
        params: tuple[str, ...] = ()
        if study_key is not None:
            sql, params = sql + " WHERE study_key = ?", (study_key,)
        out = []
        for row in self._conn().execute(sql + " ORDER BY id", params):
            item = dict(row)
            for col in ("before", "after"):
                item[col] = json.loads(item[col]) if item[col] is not None else None
            out.append(item)
        return out

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` (``"ok"`` when the file is sound)."""
        return str(self._conn().execute("PRAGMA integrity_check").fetchone()[0])


_FINDING_SELECT = (
    "SELECT f.*, r.id AS retraction_id, r.reason AS retraction_reason"
    " FROM findings f LEFT JOIN retractions r ON r.finding_id = f.id"
)


def _finding_from_row(cursor: sqlite3.Cursor) -> list[Finding]:
    out = []
    for row in cursor.fetchall():
        out.append(
            Finding(
                id=int(row["id"]),
                study_key=row["study_key"],
                type=FindingType(row["type"]),
                location=Location(
                    xyz_mm=(float(row["x_mm"]), float(row["y_mm"]), float(row["z_mm"])),
                    ijk=(int(row["i"]), int(row["j"]), int(row["k"])),
                    series_uid=row["series_uid"],
                ),
                laterality=Laterality(row["laterality"]),
                confidence=Confidence(row["confidence"]),
                note=row["note"],
                reviewer=row["reviewer"],
                created_at=row["created_at"],
                retracted=row["retraction_id"] is not None,
                retraction_reason=row["retraction_reason"] or "",
            )
        )
    return out


def _finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "type": finding.type.value,
        "laterality": finding.laterality.value,
        "confidence": finding.confidence.value,
        "note": finding.note,
        "xyz_mm": list(finding.location.xyz_mm),
        "ijk": list(finding.location.ijk),
        "series_uid": finding.location.series_uid,
        "retracted": finding.retracted,
    }


def _review_from_row(row: sqlite3.Row, findings: list[Finding]) -> StudyReview:
    return StudyReview(
        study_key=row["study_key"],
        status=ReviewStatus(row["status"]),
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        urgency=Urgency(row["urgency"]) if row["urgency"] else None,
        reviewer=row["reviewer"],
        updated_at=row["created_at"],
        findings=findings,
        status_id=int(row["id"]),
    )
