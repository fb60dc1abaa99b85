"""The review database: findings, study outcomes and an append-only audit trail.

SQLite by default (DESIGN.md section 2): write-ahead logging, foreign keys on, every write
in a ``BEGIN IMMEDIATE`` transaction, a busy timeout so that concurrent writers wait
rather than fail, one connection per thread, and a schema versioned with
``PRAGMA user_version`` and migrated forward on open. The same store runs on PostgreSQL
when given a ``postgresql://`` URL (:mod:`imaging_triage.review.postgres`): one pool per
process, writers serialised by an advisory lock, the same schema and migrations
(:mod:`imaging_triage.review.schema`) with the same guards as triggers.

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

from imaging_triage.errors import OutcomeConflictError, StoreError, StoreTamperedError
from imaging_triage.review.findings import (
    Confidence,
    Finding,
    FindingType,
    Laterality,
    Location,
    Measurement,
    Outcome,
    ReviewStatus,
    StudyReview,
    Urgency,
)
from imaging_triage.review.integrity import (
    IntegrityReport,
    append_chain,
    study_register_after,
    verify_connection,
)
from imaging_triage.review.postgres import acquire_pool, parse_location, pooled, release_pool
from imaging_triage.review.schema import (
    APPEND_ONLY_TABLES,
    MIGRATIONS,
    SCHEMA_VERSION,
    Dialect,
    apply_migration,
    database_errors,
    expected_objects,
    read_version,
    schema_objects,
    write_version,
)

__all__ = ["APPEND_ONLY_TABLES", "MIGRATIONS", "SCHEMA_VERSION", "ReviewStore", "utc_now"]

logger = logging.getLogger(__name__)


def utc_now() -> str:
    """Current UTC time as ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class ReviewStore:
    """The review database at ``location``, created and migrated on first use.

    Parameters
    ----------
    location : str or Path
        A SQLite file (a path or ``sqlite:///path``; its folder is created if missing) or
        a PostgreSQL server (``postgresql://user@host[:port]/dbname``; the password comes
        from ``PGPASSWORD`` or a ``.pgpass`` file, see :mod:`imaging_triage.review.postgres`).
    busy_timeout_s : float
        How long a writer waits for another writer's lock before giving up.

    Raises
    ------
    StoreError
        If the location is not a review database, was written by a newer version, or
        cannot be opened; the message names the location (never a password) and what to do.

    Notes
    -----
    Safe to share between threads: on SQLite each thread gets its own connection; on
    PostgreSQL each call borrows a connection from the process's one pool. Safe to share
    between processes and machines: writers are serialised (SQLite's lock, or a
    PostgreSQL advisory lock), so the audit chain is appended in commit order.
    """

    def __init__(self, location: str | os.PathLike[str], *, busy_timeout_s: float = 30.0) -> None:
        self.location = parse_location(location)
        self.dialect = self.location.dialect
        #: the location as it may be shown (a SQLite path, or a URL without password)
        self.where = self.location.display
        self.path = self.location.path if self.location.path is not None else Path(self.where)
        self.busy_timeout_s = float(busy_timeout_s)
        self._local = threading.local()
        self._lock = threading.Lock()
        #: every open connection with the thread that owns it (pruned when threads end)
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._pool: Any = None
        if self.dialect is Dialect.POSTGRESQL:
            self._pool = acquire_pool(self.location.url, lock_timeout_s=self.busy_timeout_s)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connection() as conn:
                self._migrate(conn)
        except BaseException:
            self.close()
            raise

    # -- connections ------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        """This thread's SQLite connection (SQLite only; see :meth:`_connection`)."""
        if self.dialect is not Dialect.SQLITE:
            raise StoreError("no per-thread connection on PostgreSQL", path=self.where)
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
                path=self.where,
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

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A connection for the ``with`` block: the thread's (SQLite) or a pooled one."""
        if self.dialect is Dialect.SQLITE:
            yield self._conn()
            return
        if self._pool is None:
            raise StoreError("the review store is closed", path=self.where)
        with pooled(self._pool) as conn:
            yield conn

    def close(self) -> None:
        """Close every connection this store opened (in any thread), or give back the pool."""
        with self._lock:
            conns, self._connections = [c for _, c in self._connections], []
            pool, self._pool = self._pool, None
        for conn in conns:
            conn.close()
        if pool is not None:
            release_pool(self.location.url)
        self._local = threading.local()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A write transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``BEGIN`` and the
        writers' advisory lock), committed on success, rolled back otherwise."""
        with self._connection() as conn:
            try:
                if self.dialect is Dialect.SQLITE:
                    conn.execute("BEGIN IMMEDIATE")
                else:
                    conn.begin_write()
            except database_errors() as err:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(
                    f"the review database stayed locked for {self.busy_timeout_s:g} s "
                    f"({type(err).__name__}); another program is writing to it: retry, or "
                    "raise the busy timeout",
                    path=self.where,
                ) from err
            try:
                yield conn
            except BaseException:
                if self.dialect is Dialect.POSTGRESQL:
                    conn.rollback_quietly()
                else:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _migrate(self, conn: Any) -> None:
        try:
            version = read_version(conn)
            actual = schema_objects(conn)
        except database_errors() as err:
            raise StoreError(
                f"not a review database ({err}); choose another --db path",
                path=self.where,
            ) from err
        if version > SCHEMA_VERSION and actual != expected_objects(SCHEMA_VERSION, self.dialect):
            raise StoreError(
                f"review database has schema version {version}, newer than this program's "
                f"{SCHEMA_VERSION}; upgrade imaging-triage to open it",
                path=self.where,
            )
        if version < SCHEMA_VERSION and actual == expected_objects(version, self.dialect):
            try:
                self._apply_migrations()
            except database_errors() as err:
                raise StoreError(
                    f"cannot migrate the review database to schema version {SCHEMA_VERSION} "
                    f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                    "run `imaging-triage db migrate URL` as the database's owner",
                    path=self.where,
                ) from err
        self._verify(conn)

    def _apply_migrations(self) -> None:
        with self._write() as tx:
            # re-read under the write lock: another process may have migrated meanwhile
            version = read_version(tx)
            for step in range(version, SCHEMA_VERSION):
                apply_migration(tx, step, self.dialect)
                write_version(tx, step + 1, utc_now())
                logger.info("review database migrated to schema version %d", step + 1)

    def _verify(self, conn: Any) -> None:
        """Refuse a database whose schema, version, audit chain or rows were altered."""
        report = verify_connection(conn)
        if report.ok and report.schema_version == SCHEMA_VERSION:
            return
        shown = "; ".join(str(a) for a in report.alterations[:5])
        more = len(report.alterations) - 5
        if more > 0:
            shown += f"; and {more} more"
        logger.error("review database fails its integrity check: %s", shown)
        raise StoreTamperedError(
            f"the review database was altered outside imaging-triage ({shown}); it is not "
            f"opened. Run `imaging-triage verify --db {self.where}` for the full list, and "
            "restore it from a backup",
            path=self.where,
        )

    def verify(self) -> IntegrityReport:
        """Check the schema, the schema version, the audit chain and every row now.

        Returns
        -------
        IntegrityReport
            ``ok`` when nothing was altered since the rows were written.
        """
        with self._connection() as conn:
            return verify_connection(conn)

    @property
    def schema_version(self) -> int:
        """The database's schema version (SQLite: ``PRAGMA user_version``)."""
        with self._connection() as conn:
            return read_version(conn)

    # -- writes -----------------------------------------------------------------------

    @staticmethod
    def _audit(
        tx: Any,
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
        cur = tx.execute(
            "INSERT INTO audit (at, reviewer, action, entity, entity_id, study_key, before, after)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
        append_chain(tx, int(cur.fetchone()[0]))

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

    @classmethod
    def _ensure_study(
        cls,
        tx: Any,
        study_key: str,
        study_uid: str,
        source: str,
        modality: str,
        at: str | None = None,
    ) -> None:
        """Register a study once, with a ``study.register`` audit row (studies are
        append-only: the first registration is kept)."""
        if tx.execute("SELECT 1 FROM studies WHERE study_key = ?", (study_key,)).fetchone():
            return
        at = at or utc_now()
        row = (study_key, study_uid, source, modality, at)
        tx.execute(
            "INSERT INTO studies (study_key, study_uid, source, modality, first_seen)"
            " VALUES (?, ?, ?, ?, ?)",
            row,
        )
        cls._audit(
            tx,
            reviewer="imaging-triage",
            action="study.register",
            entity="study",
            entity_id=None,
            study_key=study_key,
            before=None,
            after=json.loads(study_register_after(row)),
            at=at,
        )

    def add_finding(self, finding: Finding) -> Finding:
        """Store a new finding (and its audit row); return it with ``id`` and timestamp.

        Raises
        ------
        StoreError
            If the reviewer's name is empty or the database stays locked.
        """
        reviewer = self._check_reviewer(finding.reviewer)
        loc = finding.location
        with self._write() as tx:
            at = utc_now()  # taken under the write lock, so audit times never go backwards
            self._ensure_study(tx, finding.study_key, "", "", "", at)
            cur = tx.execute(
                "INSERT INTO findings (study_key, type, laterality, confidence, note, x_mm, y_mm,"
                " z_mm, i, j, k, series_uid, reviewer, created_at, measurements, read_role)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
                    json.dumps([m.as_dict() for m in finding.measurements], sort_keys=True),
                    finding.read_role,
                ),
            )
            new_id = int(cur.fetchone()[0])
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
        with self._write() as tx:
            at = utc_now()
            rows = _finding_from_row(tx.execute(_FINDING_SELECT + " WHERE f.id = ?", (finding_id,)))
            if not rows:
                raise StoreError(f"finding {finding_id} does not exist", path=self.where)
            before = rows[0]
            if before.retracted:
                raise StoreError(f"finding {finding_id} is already retracted", path=self.where)
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
                after={**_finding_dict(after[0]), "retraction_reason": reason},
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
        read_role: str = "",
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
        read_role : str
            "" for an ordinary read, "consensus" for a consensus read
            (:mod:`imaging_triage.review.reading`).

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
        with self._write() as tx:
            at = utc_now()
            self._ensure_study(tx, study_key, "", "", "", at)
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
                        path=self.where,
                    )
                if other is not None:
                    extra["replaced"] = dict(other)
            self._insert_status(
                tx, study_key, status, outcome, urgency, reviewer, at, extra, read_role
            )
        return self.review(study_key)

    @staticmethod
    def _outcome_saved_since(tx: Any, study_key: str, status_id: int, reviewer: str) -> Any:
        """The latest outcome another reader saved on the study after row ``status_id``."""
        row: Any = tx.execute(
            "SELECT id, reviewer, created_at, outcome, urgency FROM study_status"
            " WHERE study_key = ? AND id > ? AND outcome IS NOT NULL AND reviewer != ?"
            " ORDER BY id DESC LIMIT 1",
            (study_key, int(status_id), reviewer),
        ).fetchone()
        return row

    def _status_if_unread(self, tx: Any, study_key: str, reviewer: str, at: str) -> None:
        row = tx.execute(
            "SELECT 1 FROM study_status WHERE study_key = ? LIMIT 1", (study_key,)
        ).fetchone()
        if row is None:
            self._insert_status(tx, study_key, ReviewStatus.IN_PROGRESS, None, None, reviewer, at)

    def _insert_status(
        self,
        tx: Any,
        study_key: str,
        status: ReviewStatus,
        outcome: Outcome | None,
        urgency: Urgency | None,
        reviewer: str,
        at: str,
        extra: Mapping[str, Any] | None = None,
        read_role: str = "",
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
            "read_role": read_role,
        }
        audit_after = {**(extra or {}), **after}
        cur = tx.execute(
            "INSERT INTO study_status (study_key, status, outcome, urgency, reviewer, created_at,"
            " read_role) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                study_key,
                after["status"],
                after["outcome"],
                after["urgency"],
                reviewer,
                at,
                read_role,
            ),
        )
        self._audit(
            tx,
            reviewer=reviewer,
            action="study.status",
            entity="study_status",
            entity_id=int(cur.fetchone()[0]),
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
        with self._connection() as conn:
            return _finding_from_row(conn.execute(sql + " ORDER BY f.id", params))

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of one read (rows readable by index and by column name)."""
        with self._connection() as conn:
            return list(conn.execute(sql, params).fetchall())

    def review(self, study_key: str) -> StudyReview:
        """The current review of one study (unread when nothing was recorded)."""
        rows = self._query(
            "SELECT * FROM study_status WHERE study_key = ? ORDER BY id DESC LIMIT 1",
            (study_key,),
        )
        findings = self.findings(study_key)
        if not rows:
            return StudyReview(study_key=study_key, findings=findings)
        return _review_from_row(rows[0], findings)

    def reviews(self) -> dict[str, StudyReview]:
        """The current review of every study with a status row (findings not included)."""
        rows = self._query(
            "SELECT s.* FROM study_status s JOIN (SELECT study_key, MAX(id) AS id"
            " FROM study_status GROUP BY study_key) last ON s.id = last.id"
        )
        return {row["study_key"]: _review_from_row(row, []) for row in rows}

    def status_rows(self, study_key: str | None = None) -> list[dict[str, Any]]:
        """Every status row (each reader's saves, oldest first): id, study_key, status,
        outcome, urgency, reviewer, created_at."""
        sql = "SELECT * FROM study_status"
        params: tuple[str, ...] = ()
        if study_key is not None:
            sql, params = sql + " WHERE study_key = ?", (study_key,)
        return [dict(row) for row in self._query(sql + " ORDER BY id", params)]

    def studies(self) -> list[dict[str, Any]]:
        """Registered studies: key, study UID, source folder, modality, first seen."""
        return [dict(row) for row in self._query("SELECT * FROM studies ORDER BY study_key")]

    def audit(self, study_key: str | None = None) -> list[dict[str, Any]]:
        """Audit rows, oldest first, with ``before``/``after`` decoded from JSON."""
        sql = "SELECT * FROM audit"
        params: tuple[str, ...] = ()
        if study_key is not None:
            sql, params = sql + " WHERE study_key = ?", (study_key,)
        out = []
        for row in self._query(sql + " ORDER BY id", params):
            item = dict(row)
            for col in ("before", "after"):
                item[col] = json.loads(item[col]) if item[col] is not None else None
            out.append(item)
        return out

    def integrity_check(self) -> str:
        """``"ok"`` when the database is sound: SQLite's ``PRAGMA integrity_check``; on
        PostgreSQL (whose server checks its own pages) a round trip to the server."""
        if self.dialect is Dialect.POSTGRESQL:
            return "ok" if self._query("SELECT 1")[0][0] == 1 else "no answer"
        return str(self._query("PRAGMA integrity_check")[0][0])


_FINDING_SELECT = (
    "SELECT f.*, r.id AS retraction_id, r.reason AS retraction_reason"
    " FROM findings f LEFT JOIN retractions r ON r.finding_id = f.id"
)


def _finding_from_row(cursor: Any) -> list[Finding]:
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
                measurements=_measurements(row),
                read_role=_column(row, "read_role", ""),
            )
        )
    return out


def _column(row: Any, name: str, default: Any) -> Any:
    """A column added by a later schema version (``default`` on older rows)."""
    return row[name] if name in row.keys() else default  # noqa: SIM118


def _measurements(row: Any) -> tuple[Measurement, ...]:
    """The measurements column (schema 4), tolerant of older rows."""
    raw = row["measurements"] if "measurements" in row.keys() else "[]"  # noqa: SIM118
    try:
        items = json.loads(raw or "[]")
    except ValueError:
        return ()
    return tuple(Measurement.from_dict(m) for m in items if isinstance(m, dict))


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
        "measurements": [m.as_dict() for m in finding.measurements],
        "read_role": finding.read_role,
    }


def _review_from_row(row: Any, findings: list[Finding]) -> StudyReview:
    return StudyReview(
        study_key=row["study_key"],
        status=ReviewStatus(row["status"]),
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        urgency=Urgency(row["urgency"]) if row["urgency"] else None,
        reviewer=row["reviewer"],
        updated_at=row["created_at"],
        findings=findings,
        status_id=int(row["id"]),
        read_role=_column(row, "read_role", ""),
    )
