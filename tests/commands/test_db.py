"""``imaging-triage db init|migrate|verify|copy`` on SQLite and a real PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from pgserver import PostgresServer

from imaging_triage.cli import main as cli_main
from imaging_triage.review.admin import COPIED_TABLES
from imaging_triage.review.findings import (
    Finding,
    FindingType,
    Laterality,
    Location,
    Measurement,
    Outcome,
    ReviewStatus,
    Urgency,
)
from imaging_triage.review.schema import SCHEMA_VERSION
from imaging_triage.review.store import ReviewStore


def _fill(location: str) -> None:
    ruler = Measurement("distance", "12.6 mm", (("distance", 12.6),))
    with ReviewStore(location) as store:
        store.register_study("s1", study_uid="1.2.840.1", source="a/b", modality="CT")
        for n in range(3):
            f = store.add_finding(
                Finding(
                    study_key=f"s{n}",
                    type=FindingType.SDH,
                    location=Location((-55.123456789, 10.25, 8.0 + n / 3), (76, 43, n), "1.2"),
                    laterality=Laterality.LEFT,
                    note=f"note é {n}",
                    reviewer="dr a",
                    measurements=(ruler,),
                )
            )
        store.retract_finding(int(f.id or 0), reviewer="dr b", reason="artefact")
        store.set_status(
            "s1",
            ReviewStatus.REVIEWED,
            reviewer="dr a",
            outcome=Outcome.SECONDARY,
            urgency=Urgency.CRITICAL,
        )


def _rows(location: str) -> dict[str, list[tuple[object, ...]]]:
    with ReviewStore(location) as store:
        return {
            table: [tuple(r) for r in store._query(f"SELECT * FROM {table} ORDER BY {key}")]
            for table, key in COPIED_TABLES
        }


def test_init_migrate_verify_on_a_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "new" / "reviews.sqlite"
    assert cli_main(["db", "init", f"sqlite:///{db}"]) == 0
    assert f"schema version 0 -> {SCHEMA_VERSION}" in capsys.readouterr().out
    assert cli_main(["db", "migrate", str(db)]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
    assert cli_main(["db", "verify", str(db)]) == 0
    assert "intact" in capsys.readouterr().out
    assert cli_main(["db", "init", str(db), "--app-role", "app"]) == 1  # no roles in a file
    assert "no roles" in capsys.readouterr().err


def test_copy_sqlite_to_postgresql_and_back_is_lossless(
    pg_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = str(tmp_path / "first.sqlite")
    _fill(first)
    pg = pg_server.new_database()
    back = str(tmp_path / "back.sqlite")
    assert cli_main(["db", "copy", first, pg]) == 0
    assert "audit chain verified" in capsys.readouterr().out
    assert cli_main(["db", "copy", pg, back]) == 0
    original = _rows(first)
    assert sum(len(v) for v in original.values()) > 20
    assert _rows(pg) == original
    assert _rows(back) == original
    for location in (first, pg, back):
        with ReviewStore(location) as store:
            report = store.verify()
            assert report.ok and report.audit_rows == len(original["audit"])
    heads = set()
    for location in (first, pg, back):
        with ReviewStore(location) as store:
            heads.add(store.verify().head_hash)
    assert len(heads) == 1
    # the copy goes on numbering rows after the copied ones
    with ReviewStore(pg) as store:
        added = store.add_finding(
            Finding(
                study_key="s9",
                type=FindingType.SAH,
                location=Location((0, 0, 0), (0, 0, 0)),
                reviewer="dr c",
            )
        )
        assert added.id == len(original["findings"]) + 1
        assert store.verify().ok
    assert cli_main(["db", "verify", pg, "--json"]) == 0


def test_copy_into_a_database_with_rows_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite")
    _fill(a)
    _fill(b)
    before = _rows(b)
    assert cli_main(["db", "copy", a, b]) == 1
    assert "already holds review rows" in capsys.readouterr().err
    assert _rows(b) == before


def test_init_on_postgresql_grants_an_append_only_role(
    pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = pg_server.new_database()
    monkeypatch.setenv("IMAGING_TRIAGE_APP_PASSWORD", "pw-from-env-7")
    assert cli_main(["db", "init", url, "--app-role", "viewer_app"]) == 0
    out = capsys.readouterr().out
    assert "SELECT and INSERT only" in out and "pw-from-env-7" not in out
    pg_server.add_password("viewer_app", "pw-from-env-7")
    app = url.replace("triage_admin@", "viewer_app@")
    _fill(app)
    with (
        psycopg.connect(app, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(b"DELETE FROM findings")
    assert cli_main(["db", "migrate", url]) == 0
    assert cli_main(["db", "verify", app]) == 0


def test_a_version_2_file_is_migrated_by_the_command(tmp_path: Path) -> None:
    from imaging_triage.review.schema import MIGRATIONS, Dialect

    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(db, isolation_level=None)
    for step in MIGRATIONS[:2]:
        for statement in step.statements(Dialect.SQLITE):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    assert cli_main(["db", "migrate", str(db)]) == 0
    with ReviewStore(db) as store:
        assert store.schema_version == SCHEMA_VERSION and store.verify().ok
