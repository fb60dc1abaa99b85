"""The review store on a real PostgreSQL server (tests/pgserver.py): many writers, killed
writers, the application role's rights, and the guards of the schema itself.

The rest of the store's suite runs on both backends through the ``db_url`` fixture.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from pgserver import PostgresServer

from imaging_triage.errors import StoreError, StoreTamperedError
from imaging_triage.review import admin
from imaging_triage.review.findings import (
    Finding,
    FindingType,
    Location,
    Outcome,
    ReviewStatus,
    Urgency,
)
from imaging_triage.review.postgres import parse_location, redact
from imaging_triage.review.schema import APPEND_ONLY_TABLES, APPEND_ONLY_TABLES_V3
from imaging_triage.review.store import ReviewStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    return pg_server.new_database()


def _finding(study: str, note: str, reviewer: str) -> Finding:
    return Finding(
        study_key=study,
        type=FindingType.SAH,
        location=Location((1.5, -2.25, 3.0), (1, 2, 3), "1.2.3"),
        note=note,
        reviewer=reviewer,
    )


def _writer(url: str, passfile: str, worker: int, n: int) -> None:
    os.environ["PGPASSFILE"] = passfile
    with ReviewStore(url, busy_timeout_s=120) as store:
        for i in range(n):
            store.add_finding(_finding(f"study_{i % 50}", f"w{worker} #{i}", f"r{worker}"))


@pytest.mark.slow
def test_four_processes_of_500_writes_lose_and_duplicate_nothing(
    pg_server: PostgresServer, pg_url: str
) -> None:
    ReviewStore(pg_url).close()
    workers, n = 4, 500
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_writer, args=(pg_url, str(pg_server.passfile), w, n))
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(600)
    assert [p.exitcode for p in procs] == [0] * workers
    with ReviewStore(pg_url) as store:
        notes = [f.note for f in store.findings()]
        assert len(notes) == workers * n
        assert set(notes) == {f"w{w} #{i}" for w in range(workers) for i in range(n)}
        ids = [f.id for f in store.findings()]
        assert len(set(ids)) == len(ids)
        report = store.verify()
        assert report.ok, [str(a) for a in report.alterations[:3]]
        # 50 registrations, one audit row per finding, one in-progress row per study
        assert report.audit_rows == 50 + workers * n + 50


_KILL_CHILD = """
import sys
from imaging_triage.review.findings import *
from imaging_triage.review.store import ReviewStore
store = ReviewStore(sys.argv[1], busy_timeout_s=60)
log = open(sys.argv[2], "a", buffering=1)
i = 0
while True:
    key = f"k{sys.argv[3]}_{i}"
    f = store.add_finding(Finding(study_key=key, type=FindingType.SAH,
        location=Location((1.0, 2.0, 3.0), (1, 2, 3), "1.2"), note=key, reviewer="k"))
    store.set_status(key, ReviewStatus.REVIEWED, reviewer="k",
        outcome=Outcome.SECONDARY, urgency=Urgency.CRITICAL)
    log.write(f"{f.id} {key}\\n")
    i += 1
"""


@pytest.mark.slow
def test_twenty_sigkills_of_a_writer_lose_no_committed_row(pg_url: str, tmp_path: Path) -> None:
    ReviewStore(pg_url).close()
    log = tmp_path / "committed.txt"
    log.touch()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for round_ in range(20):
        before = len(log.read_text().splitlines())
        child = subprocess.Popen(
            [sys.executable, "-c", _KILL_CHILD, pg_url, str(log), str(round_)], env=env
        )
        try:
            deadline = time.monotonic() + 60
            # let it commit a few rows, then kill it wherever it is (mostly mid-transaction)
            while time.monotonic() < deadline:
                if len(log.read_text().splitlines()) >= before + 3 + round_ % 4:
                    break
                assert child.poll() is None, "writer exited early"
                time.sleep(0.01)
            time.sleep((round_ % 5) * 0.003)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(30)
        assert child.returncode == -signal.SIGKILL
    committed = [line.split() for line in log.read_text().splitlines() if line.strip()]
    assert len(committed) >= 20 * 3
    with ReviewStore(pg_url) as store:
        ids = {f.id for f in store.findings()}
        reviews = store.reviews()
        for finding_id, study in committed:
            assert int(finding_id) in ids
            assert reviews[study].outcome is Outcome.SECONDARY
        report = store.verify()
        assert report.ok, [str(a) for a in report.alterations[:3]]
        # a finding without its status row is fine (killed between the two transactions);
        # a status row never lacks its audit row
        assert report.audit_rows == len(store.audit())


def _seeded(url: str) -> None:
    with ReviewStore(url) as store:
        f = store.add_finding(_finding("s1", "n", "dr a"))
        store.retract_finding(int(f.id or 0), reviewer="dr b", reason="artefact")
        store.set_status(
            "s1",
            ReviewStatus.REVIEWED,
            reviewer="dr a",
            outcome=Outcome.NO_ACUTE,
            urgency=Urgency.ROUTINE,
        )


def test_application_role_cannot_update_delete_or_truncate_audit_rows(
    pg_server: PostgresServer, pg_url: str
) -> None:
    _seeded(pg_url)
    admin.grant_application_role(pg_url, "triage_app", password="app-secret-1")
    pg_server.add_password("triage_app", "app-secret-1")
    app_url = pg_url.replace("triage_admin@", "triage_app@")
    # the application works through the store as this role
    with ReviewStore(app_url) as store:
        store.add_finding(_finding("s2", "from the app role", "dr c"))
        assert store.verify().ok
        rows = len(store.audit())
    with psycopg.connect(app_url, autocommit=True) as conn:
        for sql in (
            "UPDATE audit SET reviewer = 'mallory'",
            "DELETE FROM audit",
            "TRUNCATE audit",
            "UPDATE findings SET note = 'x'",
            "DELETE FROM audit_chain",
            "DROP TRIGGER audit_no_update ON audit",
            "ALTER TABLE audit DISABLE TRIGGER ALL",
            "CREATE TABLE mine (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.encode())
        assert conn.execute("SELECT COUNT(*) FROM audit WHERE reviewer = 'mallory'").fetchone() == (
            0,
        )
        assert conn.execute("SELECT COUNT(*) FROM audit").fetchone() == (rows,)
    with ReviewStore(pg_url) as store:
        assert store.verify().ok


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES + APPEND_ONLY_TABLES_V3)
def test_triggers_refuse_update_delete_truncate_even_to_the_owner(pg_url: str, table: str) -> None:
    _seeded(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        before = conn.execute(f"SELECT COUNT(*) FROM {table}".encode()).fetchone()
        assert before is not None and before[0] >= 1
        column = (
            "hash" if table == "audit_chain" else "study_uid" if table == "studies" else "reviewer"
        )
        for sql in (f"UPDATE {table} SET {column} = 'mallory'", f"DELETE FROM {table}"):
            with pytest.raises(
                psycopg.errors.IntegrityError, match=f"{table} rows are append-only"
            ):
                conn.execute(sql.encode())
        with pytest.raises(psycopg.errors.IntegrityError, match="append-only"):
            conn.execute(f"TRUNCATE {table} CASCADE".encode())
        assert conn.execute(f"SELECT COUNT(*) FROM {table}".encode()).fetchone() == before


def test_a_disabled_trigger_or_an_edit_behind_it_is_detected(pg_url: str) -> None:
    _seeded(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(b"ALTER TABLE findings DISABLE TRIGGER findings_no_update")
        conn.execute(b"UPDATE findings SET note = 'edited'")
    with pytest.raises(StoreTamperedError, match="findings_no_update"):
        ReviewStore(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(b"ALTER TABLE findings ENABLE TRIGGER findings_no_update")
    with pytest.raises(StoreTamperedError, match=r"findings row 1: differs .* note"):
        ReviewStore(pg_url)


def test_the_password_is_never_shown(pg_server: PostgresServer, pg_url: str) -> None:
    secret = "s3cret-do-not-show"
    url = pg_url.replace("triage_admin@", f"triage_admin:{secret}@")
    assert secret not in redact(url) and secret not in str(parse_location(url))
    with pytest.raises(StoreError) as caught:
        ReviewStore(url.replace(f":{pg_server.port}/", ":1/"))
    assert secret not in str(caught.value)
