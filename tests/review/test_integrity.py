"""Tamper evidence: every alteration made with plain sqlite3 is detected on open and by
``imaging-triage verify``; an untouched (or migrated) database verifies."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from imaging_triage.cli import main as cli_main
from imaging_triage.errors import StoreTamperedError
from imaging_triage.review.findings import (
    Confidence,
    Finding,
    FindingType,
    Laterality,
    Location,
    Outcome,
    ReviewStatus,
    Urgency,
)
from imaging_triage.review.integrity import AlterationKind, audit_hash
from imaging_triage.review.schema import MIGRATIONS, SCHEMA_VERSION, Dialect
from imaging_triage.review.store import ReviewStore


def _finding(study: str, note: str = "crescent") -> Finding:
    return Finding(
        study_key=study,
        type=FindingType.SDH,
        location=Location(xyz_mm=(-55.5, 10.25, 8.0), ijk=(76, 43, 21), series_uid="1.2.3"),
        laterality=Laterality.LEFT,
        confidence=Confidence.DEFINITE,
        note=note,
        reviewer="dr a",
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "r.sqlite"
    with ReviewStore(path) as store:
        store.register_study("study_a", study_uid="1.2.840.1", source="a", modality="CT")
        first = store.add_finding(_finding("study_a"))
        store.add_finding(_finding("study_b", note="second"))
        store.retract_finding(first.id or 0, reviewer="dr b", reason="artefact")
        store.set_status(
            "study_a",
            ReviewStatus.REVIEWED,
            reviewer="dr a",
            outcome=Outcome.NO_ACUTE,
            urgency=Urgency.ROUTINE,
        )
    return path


def _edit(db: Path, *sql: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    for statement in sql:
        conn.execute(statement)
    conn.close()


def _bypass(table: str, edit: str, trigger: str = "no_update") -> Callable[[Path], None]:
    """Drop a guard trigger, edit, and put the trigger back exactly as it was."""

    def tamper(db: Path) -> None:
        conn = sqlite3.connect(db, isolation_level=None)
        name = f"{table}_{trigger}"
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()
        conn.execute(f"DROP TRIGGER {name}")
        conn.execute(edit)
        conn.execute(sql)
        conn.close()

    return tamper


def _backdated_audit_row(db: Path) -> None:
    """Append an audit row with a valid chain hash but a time before its predecessor's."""
    conn = sqlite3.connect(db, isolation_level=None)
    last_id, last_hash = conn.execute(
        "SELECT audit_id, hash FROM audit_chain ORDER BY audit_id DESC LIMIT 1"
    ).fetchone()
    row = {
        "id": last_id + 1,
        "at": "2020-01-01T00:00:00.000000+00:00",
        "reviewer": "dr x",
        "action": "note",
        "entity": "study",
        "entity_id": None,
        "study_key": "study_a",
        "before": None,
        "after": None,
    }
    conn.execute(
        "INSERT INTO audit VALUES (:id, :at, :reviewer, :action, :entity, :entity_id,"
        " :study_key, :before, :after)",
        row,
    )
    conn.execute("INSERT INTO audit_chain VALUES (?, ?)", (row["id"], audit_hash(last_hash, row)))
    conn.close()


TAMPERS: dict[str, tuple[Callable[[Path], None], AlterationKind]] = {
    "drop trigger": (
        lambda db: _edit(db, "DROP TRIGGER findings_no_update"),
        AlterationKind.SCHEMA,
    ),
    "drop trigger then edit": (
        lambda db: _edit(
            db, "DROP TRIGGER findings_no_update", "UPDATE findings SET note = 'x' WHERE id = 2"
        ),
        AlterationKind.MISMATCH,
    ),
    "extra trigger": (
        lambda db: _edit(db, "CREATE TRIGGER spy AFTER INSERT ON findings BEGIN SELECT 1; END"),
        AlterationKind.SCHEMA,
    ),
    "finding edited, trigger restored": (
        _bypass("findings", "UPDATE findings SET type = 'sah' WHERE id = 2"),
        AlterationKind.MISMATCH,
    ),
    "finding's measurements edited": (
        _bypass(
            "findings",
            'UPDATE findings SET measurements = \'[{"tool": "distance", '
            '"text": "99 mm", "quantities": [["distance", 99.0]]}]\' WHERE id = 2',
        ),
        AlterationKind.MISMATCH,
    ),
    "finding deleted": (
        _bypass("findings", "DELETE FROM findings WHERE id = 2", "no_delete"),
        AlterationKind.MISSING,
    ),
    "retraction reason edited": (
        _bypass("retractions", "UPDATE retractions SET reason = 'x'"),
        AlterationKind.MISMATCH,
    ),
    "studies edited": (
        _bypass("studies", "UPDATE studies SET source = 'elsewhere' WHERE study_key = 'study_a'"),
        AlterationKind.MISMATCH,
    ),
    "forged status row": (
        lambda db: _edit(
            db,
            "INSERT INTO study_status (study_key, status, outcome, urgency, reviewer,"
            " created_at) VALUES ('study_b', 'reviewed', 'no_acute', 'routine', 'dr a',"
            " '2030-01-01T00:00:00.000000+00:00')",
        ),
        AlterationKind.UNAUDITED,
    ),
    "forged study row": (
        lambda db: _edit(
            db,
            "INSERT INTO studies VALUES ('study_z', '', '', '', '2030-01-01T00:00:00+00:00')",
        ),
        AlterationKind.UNAUDITED,
    ),
    "audit row edited": (
        _bypass("audit", "UPDATE audit SET reviewer = 'dr z' WHERE id = 3"),
        AlterationKind.CHAIN,
    ),
    "audit row inserted without hash": (
        lambda db: _edit(
            db,
            "INSERT INTO audit (at, reviewer, action, entity, study_key) VALUES"
            " ('2031-01-01T00:00:00+00:00', 'dr x', 'note', 'study', 'study_a')",
        ),
        AlterationKind.CHAIN,
    ),
    "backdated audit row": (_backdated_audit_row, AlterationKind.ORDER),
    "user_version raised": (
        lambda db: _edit(db, "PRAGMA user_version = 99"),
        AlterationKind.USER_VERSION,
    ),
    "user_version lowered": (
        lambda db: _edit(db, "PRAGMA user_version = 1"),
        AlterationKind.USER_VERSION,
    ),
}


def test_untouched_database_verifies(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ReviewStore(db) as store:
        report = store.verify()
        assert report.ok and report.audit_rows == len(store.audit())
    assert cli_main(["verify", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "intact" in out and report.head_hash in out
    assert cli_main(["verify", "--db", str(db), "--head", report.head_hash]) == 0


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_tamper_is_detected_on_open_and_by_verify(
    db: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper, kind = TAMPERS[name]
    tamper(db)
    with pytest.raises(StoreTamperedError, match="altered outside imaging-triage"):
        ReviewStore(db)
    assert cli_main(["verify", "--db", str(db), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["intact"]
    assert kind.value in {a["kind"] for a in report["alterations"]}
    # names tables and rows, never the values
    assert "crescent" not in json.dumps(report) and "1.2.840.1" not in json.dumps(report)


def test_rewritten_tail_is_caught_by_a_recorded_head(db: Path) -> None:
    with ReviewStore(db) as store:
        head = store.verify().head_hash
        store.set_status("study_b", ReviewStatus.IN_PROGRESS, reviewer="dr c")
    # someone rewrites every chain hash (the limit of an unkeyed chain): recompute them all
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER audit_chain_no_update")
    previous = "f" * 64
    rows = conn.execute("SELECT * FROM audit ORDER BY id").fetchall()
    names = [d[0] for d in conn.execute("SELECT * FROM audit").description]
    for values in rows:
        previous = audit_hash(previous, dict(zip(names, values, strict=True)))
        conn.execute("UPDATE audit_chain SET hash = ? WHERE audit_id = ?", (previous, values[0]))
    conn.close()
    assert cli_main(["verify", "--db", str(db), "--head", head]) == 1


def test_version_2_database_migrates_and_verifies(tmp_path: Path) -> None:
    """A database written by the previous schema (no chain, studies unaudited) opens,
    gets its chain, and verifies."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:2]:
        assert step.data is None
        for statement in step.statements(Dialect.SQLITE):
            conn.execute(statement)
    at = "2025-01-01T00:00:00.000000+00:00"
    conn.execute("INSERT INTO studies VALUES ('s1', '1.2', 'src', 'CT', ?)", (at,))
    after = {"status": "in_progress", "outcome": None, "urgency": None, "reviewer": "dr a"}
    conn.execute(
        "INSERT INTO study_status VALUES (1, 's1', 'in_progress', NULL, NULL, 'dr a', ?)", (at,)
    )
    conn.execute(
        "INSERT INTO audit VALUES (1, ?, 'dr a', 'study.status', 'study_status', 1, 's1', NULL, ?)",
        (at, json.dumps(after, sort_keys=True)),
    )
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with ReviewStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 5
        assert store.verify().ok
        assert [r["action"] for r in store.audit()] == ["study.status", "study.register"]
        store.set_status("s1", ReviewStatus.REVIEWED, reviewer="dr b", outcome=Outcome.NO_ACUTE)
    assert cli_main(["verify", "--db", str(path)]) == 0


def test_verify_of_a_missing_or_garbage_file(tmp_path: Path) -> None:
    assert cli_main(["verify", "--db", str(tmp_path / "none.sqlite")]) == 4
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 200)
    assert cli_main(["verify", "--db", str(junk)]) == 1


def test_verify_during_concurrent_writes_sees_one_snapshot(db: Path) -> None:
    """A writer committing between the verifier's reads must not look like a forgery."""
    import threading

    stop = threading.Event()
    written = [0]

    def write() -> None:
        with ReviewStore(db) as writer:
            while not stop.is_set():
                writer.add_finding(_finding(f"study_w{written[0]}"))
                written[0] += 1

    thread = threading.Thread(target=write)
    thread.start()
    try:
        with ReviewStore(db) as reader:
            reports = [reader.verify()]
            while written[0] < 30 and len(reports) < 2000:
                reports.append(reader.verify())
    finally:
        stop.set()
        thread.join(30)
    assert all(r.ok for r in reports), [str(a) for r in reports for a in r.alterations][:3]
    assert reports[-1].audit_rows > reports[0].audit_rows  # the writer did write meanwhile


def test_a_schema_4_file_of_the_previous_release_migrates_and_verifies(tmp_path: Path) -> None:
    """tests/review/data/schema_v4.sqlite was written by the release before schema 5 (a
    study, two findings with a measurement, a retraction, an outcome)."""
    import shutil

    path = tmp_path / "v4.sqlite"
    shutil.copy(Path(__file__).parent / "data" / "schema_v4.sqlite", path)
    assert cli_main(["verify", "--db", str(path)]) == 0  # a v4 file verifies as it is
    with ReviewStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.verify().ok
        findings = store.findings("study_v4")
        assert [(f.type, f.retracted, f.read_role) for f in findings] == [
            (FindingType.SDH, False, ""),
            (FindingType.SAH, True, ""),
        ]
        assert findings[0].measurements[0].quantities == (("distance", 9.0),)
        assert store.review("study_v4").outcome is Outcome.SECONDARY
        store.add_finding(_finding("study_v4", note="after the migration"))
        assert store.verify().ok
