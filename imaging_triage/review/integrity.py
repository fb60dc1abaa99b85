"""Tamper evidence for the review database: the audit hash chain and its verification.

No SQLite schema can stop someone with write access to the file from dropping a trigger
and editing a row; what it can do is make the edit *visible*. Every audit row carries a
SHA-256 hash over its own content and the previous row's hash (table ``audit_chain``),
and every row of the other tables must match the audit row that recorded it. On open,
:class:`~imaging_triage.review.store.ReviewStore` runs :func:`verify_connection` and
refuses a file that fails; ``imaging-triage verify --db FILE`` prints every alteration.

What this detects: a dropped, added or altered trigger, table or index; a changed
``user_version``; an edited, deleted or inserted audit row (the chain breaks, or the
time goes backwards); an edited, deleted or forged row of ``findings``, ``retractions``,
``study_status`` or ``studies`` (no matching audit row). What it cannot detect: someone
who rewrites the tail of the chain consistently (forged entity rows, their audit rows
and recomputed hashes), since the algorithm is public and the file holds no secret;
compare the head hash printed by ``verify`` with one recorded elsewhere to catch that.

Alterations name tables, row ids and columns, never the values (which may identify a
patient).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from imaging_triage.review.schema import (
    GENESIS_HASH,
    SCHEMA_VERSION,
    Connection,
    Dialect,
    database_errors,
    dialect_of,
    expected_objects,
    read_version,
    schema_objects,
)

#: an audit row may be older than the previous one by this much (clock adjustments)
CLOCK_TOLERANCE = timedelta(minutes=2)

_AUDIT_COLUMNS = (
    "id",
    "at",
    "reviewer",
    "action",
    "entity",
    "entity_id",
    "study_key",
    "before",
    "after",
)


class AlterationKind(enum.Enum):
    """What kind of evidence of tampering was found."""

    #: a table, index or trigger is missing, added or different from this version's schema
    SCHEMA = "schema"
    #: ``PRAGMA user_version`` disagrees with the schema the file actually has
    USER_VERSION = "user-version"
    #: an audit row's hash does not match its content and the previous hash
    CHAIN = "chain"
    #: an audit row is older than the one before it
    ORDER = "order"
    #: a row has no audit row recording it (inserted behind the program's back)
    UNAUDITED = "unaudited"
    #: a row differs from what its audit row recorded (edited)
    MISMATCH = "mismatch"
    #: an audit row records a row that is gone (deleted)
    MISSING = "missing"
    #: the file cannot be read as a review database
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Alteration:
    """One piece of evidence: what, where (table and row id), and a short detail."""

    kind: AlterationKind
    table: str
    row_id: int | None
    detail: str

    def __str__(self) -> str:
        where = f"{self.table} row {self.row_id}" if self.row_id is not None else self.table
        return f"[{self.kind.value}] {where}: {self.detail}"


@dataclass
class IntegrityReport:
    """The result of :func:`verify_connection`."""

    schema_version: int
    audit_rows: int = 0
    #: hash of the last audit row (record it elsewhere to detect a rewritten tail)
    head_hash: str = GENESIS_HASH
    alterations: list[Alteration] = field(default_factory=list)
    #: facts that are not alterations (e.g. an older schema without a chain yet)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no alteration was found."""
        return not self.alterations


def audit_hash(previous: str, row: Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and the audit row's columns (a JSON array).

    Examples
    --------
    >>> len(audit_hash(GENESIS_HASH, dict.fromkeys(_AUDIT_COLUMNS, "")))
    64
    """
    payload = json.dumps([row[c] for c in _AUDIT_COLUMNS], ensure_ascii=True)
    return hashlib.sha256((previous + payload).encode("ascii")).hexdigest()


def append_chain(tx: Connection, audit_id: int) -> str:
    """Insert the chain row of audit row ``audit_id`` (inside the write transaction)."""
    prev = tx.execute(
        "SELECT hash FROM audit_chain WHERE audit_id < ? ORDER BY audit_id DESC LIMIT 1",
        (audit_id,),
    ).fetchone()
    cur = tx.execute(f"SELECT {', '.join(_AUDIT_COLUMNS)} FROM audit WHERE id = ?", (audit_id,))
    row = dict(zip(_AUDIT_COLUMNS, cur.fetchone(), strict=True))
    digest = audit_hash(prev[0] if prev else GENESIS_HASH, row)
    tx.execute("INSERT INTO audit_chain (audit_id, hash) VALUES (?, ?)", (audit_id, digest))
    return digest


def study_register_after(row: Iterable[Any]) -> str:
    """The ``after`` JSON of a ``study.register`` audit row for a ``studies`` row."""
    _key, study_uid, source, modality, first_seen = row
    return json.dumps(
        {"study_uid": study_uid, "source": source, "modality": modality, "first_seen": first_seen},
        sort_keys=True,
    )


def verify_connection(conn: Connection) -> IntegrityReport:
    """Check schema, ``user_version``, the audit chain and every row against its audit.

    Parameters
    ----------
    conn : Connection
        An open connection to the review database (read-only is enough).

    Returns
    -------
    IntegrityReport
        ``ok`` when nothing was altered; otherwise every alteration found.

    Notes
    -----
    Every read happens in one read transaction (one snapshot), so a writer committing
    meanwhile cannot make a row look unaudited.
    """
    own = not getattr(conn, "in_transaction", False)
    if own:
        if dialect_of(conn) is Dialect.POSTGRESQL:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        else:
            conn.execute("BEGIN")
    try:
        return _verify(conn)
    finally:
        if own:
            conn.execute("ROLLBACK")


def _verify(conn: Connection) -> IntegrityReport:
    try:
        version = read_version(conn)
        actual = schema_objects(conn)
    except database_errors() as err:
        report = IntegrityReport(schema_version=-1)
        report.alterations.append(
            Alteration(AlterationKind.UNREADABLE, "database", None, f"not SQLite ({err})")
        )
        return report
    report = IntegrityReport(schema_version=version)
    dialect = dialect_of(conn)
    if not 0 <= version <= SCHEMA_VERSION or actual != expected_objects(version, dialect):
        matches = [v for v in range(SCHEMA_VERSION + 1) if actual == expected_objects(v, dialect)]
        if matches:
            report.alterations.append(
                Alteration(
                    AlterationKind.USER_VERSION,
                    "database",
                    None,
                    f"user_version is {version} but the schema is exactly version {matches[0]}",
                )
            )
            version = matches[0]
        else:
            reference = expected_objects(min(max(version, 0), SCHEMA_VERSION), dialect)
            report.alterations.extend(_schema_differences(actual, reference))
    if version < SCHEMA_VERSION:
        report.notes.append(
            f"schema version {version}: no audit chain until the program opens it and migrates"
        )
        return report
    try:
        _check_chain(conn, report)
        _check_rows(conn, report)
    except database_errors() as err:
        report.alterations.append(
            Alteration(AlterationKind.UNREADABLE, "database", None, f"rows unreadable ({err})")
        )
    return report


def _schema_differences(
    actual: frozenset[tuple[str, str, str, str | None]],
    expected: frozenset[tuple[str, str, str, str | None]],
) -> list[Alteration]:
    have = {(t, n): sql for t, n, _tb, sql in actual}
    want = {(t, n): sql for t, n, _tb, sql in expected}
    out = []
    for key in sorted(want.keys() | have.keys()):
        kind, name = key
        if key not in have:
            detail = f"{kind} {name} is missing (dropped)"
        elif key not in want:
            detail = f"{kind} {name} was added"
        elif have[key] != want[key]:
            detail = f"{kind} {name} was altered"
        else:
            continue
        out.append(Alteration(AlterationKind.SCHEMA, "sqlite_master", None, detail))
    return out


def _check_chain(conn: Connection, report: IntegrityReport) -> None:
    chain = dict(conn.execute("SELECT audit_id, hash FROM audit_chain").fetchall())
    previous = GENESIS_HASH
    previous_at: datetime | None = None
    seen: set[int] = set()
    cur = conn.execute(f"SELECT {', '.join(_AUDIT_COLUMNS)} FROM audit ORDER BY id")
    for values in cur:
        row = dict(zip(_AUDIT_COLUMNS, values, strict=True))
        audit_id = int(row["id"])
        seen.add(audit_id)
        report.audit_rows += 1
        digest = audit_hash(previous, row)
        stored = chain.get(audit_id)
        if stored is None:
            report.alterations.append(
                Alteration(AlterationKind.CHAIN, "audit", audit_id, "no chain hash (inserted)")
            )
        elif stored != digest:
            report.alterations.append(
                Alteration(
                    AlterationKind.CHAIN,
                    "audit",
                    audit_id,
                    "hash does not match its content and the previous row (edited, or a row"
                    " before it was edited, inserted or deleted)",
                )
            )
        previous = stored if stored is not None else digest
        at = _parse_time(row["at"])
        if at is None:
            report.alterations.append(
                Alteration(AlterationKind.ORDER, "audit", audit_id, "time is not ISO 8601")
            )
        else:
            if previous_at is not None and at < previous_at - CLOCK_TOLERANCE:
                report.alterations.append(
                    Alteration(
                        AlterationKind.ORDER,
                        "audit",
                        audit_id,
                        "older than the row before it (backdated)",
                    )
                )
            previous_at = at
    report.head_hash = previous
    for audit_id in sorted(chain.keys() - seen):
        report.alterations.append(
            Alteration(
                AlterationKind.MISSING, "audit", audit_id, "chained audit row is gone (deleted)"
            )
        )


def _parse_time(text: object) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _audit_rows(conn: Connection, action: str) -> dict[Any, dict[str, Any]]:
    """Audit rows of one action keyed by entity id (or study key for registrations)."""
    out: dict[Any, dict[str, Any]] = {}
    cur = conn.execute(
        f"SELECT {', '.join(_AUDIT_COLUMNS)} FROM audit WHERE action = ? ORDER BY id", (action,)
    )
    for values in cur:
        row = dict(zip(_AUDIT_COLUMNS, values, strict=True))
        try:
            row["after"] = json.loads(row["after"]) if row["after"] is not None else None
        except ValueError:
            row["after"] = None
        key = row["study_key"] if action == "study.register" else row["entity_id"]
        out.setdefault(key, row)
    return out


def _compare(
    report: IntegrityReport,
    table: str,
    row_id: int,
    audit: dict[str, Any] | None,
    expected: Mapping[str, Any],
) -> None:
    """Compare a row's values with its audit row; report unaudited or edited columns."""
    if audit is None:
        report.alterations.append(
            Alteration(AlterationKind.UNAUDITED, table, row_id, "no audit row records it")
        )
        return
    after = audit["after"] if isinstance(audit["after"], dict) else {}
    recorded = {**after, "@at": audit["at"], "@reviewer": audit["reviewer"]}
    recorded["@study_key"] = audit["study_key"]
    edited = sorted(
        name.lstrip("@")
        for name, value in expected.items()
        if name in recorded and recorded[name] != value
    )
    if edited:
        report.alterations.append(
            Alteration(
                AlterationKind.MISMATCH,
                table,
                row_id,
                f"differs from its audit row in {', '.join(edited)} (edited)",
            )
        )


def _check_rows(conn: Connection, report: IntegrityReport) -> None:
    conn_rows = conn.execute
    added = _audit_rows(conn, "finding.add")
    finding_ids: set[int] = set()
    for r in conn_rows("SELECT * FROM findings ORDER BY id").fetchall():
        (fid, key, ftype, lat, conf, note, x, y, z, i, j, k, series, reviewer, created) = r[:15]
        finding_ids.add(int(fid))
        expected = {
            "id": fid,
            "type": ftype,
            "laterality": lat,
            "confidence": conf,
            "note": note,
            "xyz_mm": [x, y, z],
            "ijk": [i, j, k],
            "series_uid": series,
            "@reviewer": reviewer,
            "@at": created,
            "@study_key": key,
        }
        if len(r) > 15:  # schema 4: the measurements column
            try:
                expected["measurements"] = json.loads(r[15])
            except ValueError:
                expected["measurements"] = r[15]
        if len(r) > 16:  # schema 5: the read role
            expected["read_role"] = r[16]
        _compare(report, "findings", int(fid), added.get(fid), expected)
    retracted = _audit_rows(conn, "finding.retract")
    retraction_ids: set[int] = set()
    for rid, fid, reason, reviewer, created in conn_rows(
        "SELECT * FROM retractions ORDER BY id"
    ).fetchall():
        retraction_ids.add(int(fid))
        expected = {
            "id": fid,
            "retraction_reason": reason,
            "retracted": True,
            "@reviewer": reviewer,
            "@at": created,
        }
        _compare(report, "retractions", int(rid), retracted.get(fid), expected)
    statuses = _audit_rows(conn, "study.status")
    status_ids: set[int] = set()
    for row in conn_rows("SELECT * FROM study_status ORDER BY id").fetchall():
        sid, key, status, outcome, urgency, reviewer, created = row[:7]
        status_ids.add(int(sid))
        expected = {
            "status": status,
            "outcome": outcome,
            "urgency": urgency,
            "reviewer": reviewer,
            "@reviewer": reviewer,
            "@at": created,
            "@study_key": key,
        }
        if len(row) > 7:  # schema 5: the read role
            expected["read_role"] = row[7]
        _compare(report, "study_status", int(sid), statuses.get(sid), expected)
    registered = _audit_rows(conn, "study.register")
    study_rowids: dict[str, int] = {}
    rowid_sql = "rowid" if dialect_of(conn) is Dialect.SQLITE else "row_number() OVER ()"
    for row in conn_rows(
        f"SELECT {rowid_sql}, study_key, study_uid, source, modality, first_seen FROM studies"
    ).fetchall():
        rowid, key, study_uid, source, modality, first_seen = row
        study_rowids[key] = int(rowid)
        expected = {
            "study_uid": study_uid,
            "source": source,
            "modality": modality,
            "first_seen": first_seen,
        }
        _compare(report, "studies", int(rowid), registered.get(key), expected)
    for table, audits, present in (
        ("findings", added, finding_ids),
        ("retractions", retracted, retraction_ids),
        ("study_status", statuses, status_ids),
        ("studies", registered, set(study_rowids)),
    ):
        for key, audit in audits.items():
            if key not in present:
                report.alterations.append(
                    Alteration(
                        AlterationKind.MISSING,
                        table,
                        None,
                        f"a row recorded by audit row {audit['id']} is gone (deleted)",
                    )
                )
