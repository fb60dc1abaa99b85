"""Review store: durability, append-only audit, concurrency, crash safety, migrations."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imaging_triage.errors import OutcomeConflictError, StoreError
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
from imaging_triage.review.store import APPEND_ONLY_TABLES, SCHEMA_VERSION, ReviewStore


def _finding(study: str = "study_a", note: str = "crescent", reviewer: str = "dr a") -> Finding:
    return Finding(
        study_key=study,
        type=FindingType.SDH,
        location=Location(xyz_mm=(-55.5, 10.25, 8.0), ijk=(76, 43, 21), series_uid="1.2.3"),
        laterality=Laterality.LEFT,
        confidence=Confidence.DEFINITE,
        note=note,
        reviewer=reviewer,
    )


def test_review_and_findings_survive_close_and_reopen(db_url: str) -> None:
    db = db_url
    store = ReviewStore(db)
    stored = store.add_finding(_finding())
    store.set_status(
        "study_a",
        ReviewStatus.REVIEWED,
        reviewer="dr a",
        outcome=Outcome.SECONDARY,
        urgency=Urgency.CRITICAL,
    )
    store.close()

    reopened = ReviewStore(db)
    review = reopened.review("study_a")
    assert review.status is ReviewStatus.REVIEWED
    assert review.outcome is Outcome.SECONDARY
    assert review.urgency is Urgency.CRITICAL
    assert review.reviewer == "dr a"
    assert len(review.findings) == 1
    f = review.findings[0]
    assert f.id == stored.id
    assert f.type is FindingType.SDH and f.laterality is Laterality.LEFT
    assert f.location.xyz_mm == pytest.approx((-55.5, 10.25, 8.0), abs=1e-9)
    assert f.location.ijk == (76, 43, 21)
    assert f.note == "crescent" and not f.retracted
    assert reopened.schema_version == SCHEMA_VERSION
    reopened.close()


def test_database_is_wal_with_foreign_keys(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    conn = store._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute(
            "INSERT INTO retractions (finding_id, reason, reviewer, created_at)"
            " VALUES (999, '', 'x', 'now')"
        )
    store.close()


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_append_only_tables_refuse_update_and_delete(tmp_path: Path, table: str) -> None:
    db = tmp_path / "r.sqlite"
    store = ReviewStore(db)
    f = store.add_finding(_finding())
    store.retract_finding(int(f.id or 0), reviewer="dr b", reason="artefact")
    store.close()
    conn = sqlite3.connect(db)  # a raw connection: the schema itself must refuse
    before = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    assert before >= 1
    with pytest.raises(sqlite3.IntegrityError, match=f"{table} rows are append-only"):
        conn.execute(f"UPDATE {table} SET reviewer = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match=f"{table} rows are append-only"):
        conn.execute(f"DELETE FROM {table}")
    conn.commit()
    assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == before
    assert (
        conn.execute(f"SELECT COUNT(*) FROM {table} WHERE reviewer = 'mallory'").fetchone()[0] == 0
    )
    conn.close()


def test_retraction_is_a_new_row_and_the_finding_stays(db_url: str) -> None:
    store = ReviewStore(db_url)
    f = store.add_finding(_finding())
    retracted = store.retract_finding(int(f.id or 0), reviewer="dr b", reason="motion artefact")
    assert retracted.retracted and retracted.retraction_reason == "motion artefact"
    findings = store.findings("study_a")
    assert [x.id for x in findings] == [f.id] and findings[0].retracted
    actions = [row["action"] for row in store.audit("study_a")]
    assert actions == ["study.register", "finding.add", "study.status", "finding.retract"]
    last = store.audit("study_a")[-1]
    assert last["reviewer"] == "dr b"
    assert last["before"]["retracted"] is False and last["after"]["retracted"] is True
    with pytest.raises(StoreError, match="already retracted"):
        store.retract_finding(int(f.id or 0), reviewer="dr b")
    with pytest.raises(StoreError, match="does not exist"):
        store.retract_finding(12345, reviewer="dr b")
    store.close()


def test_outcome_correction_is_a_new_row(db_url: str) -> None:
    store = ReviewStore(db_url)
    store.set_status(
        "s1", ReviewStatus.REVIEWED, reviewer="a", outcome=Outcome.NO_ACUTE, urgency=Urgency.ROUTINE
    )
    store.set_status(
        "s1", ReviewStatus.REVIEWED, reviewer="b", outcome=Outcome.SECONDARY, urgency=Urgency.URGENT
    )
    review = store.review("s1")
    assert (review.outcome, review.urgency, review.reviewer) == (
        Outcome.SECONDARY,
        Urgency.URGENT,
        "b",
    )
    audit = [row for row in store.audit("s1") if row["action"] == "study.status"]
    assert len(audit) == 2
    assert audit[1]["before"]["outcome"] == Outcome.NO_ACUTE.value
    assert audit[1]["after"]["outcome"] == Outcome.SECONDARY.value
    rows = store._query("SELECT COUNT(*) FROM study_status")[0][0]
    assert rows == 2
    store.close()


def test_writes_need_a_reviewer_and_reviewed_needs_an_outcome(db_url: str) -> None:
    store = ReviewStore(db_url)
    with pytest.raises(StoreError, match="reviewer's name"):
        store.add_finding(_finding(reviewer="  "))
    with pytest.raises(StoreError, match="needs an outcome"):
        store.set_status("s1", ReviewStatus.REVIEWED, reviewer="a")
    assert store.findings() == [] and store.reviews() == {}
    store.close()


def test_newer_schema_is_refused_and_garbage_file_is_a_store_error(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    ReviewStore(db).close()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE from_the_future (x)")  # a newer program's schema
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this program"):
        ReviewStore(db)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"not a review database|cannot open"):
        ReviewStore(junk)


def test_reopening_does_not_migrate_again(db_url: str) -> None:
    db = db_url
    store = ReviewStore(db)
    store.add_finding(_finding())
    store.close()
    again = ReviewStore(db)  # would fail with "table already exists" if re-migrated
    assert len(again.findings()) == 1
    again.close()


def _writer(db: str, worker: int, n: int) -> None:
    store = ReviewStore(db, busy_timeout_s=60)
    for i in range(n):
        study = f"study_w{worker}_{i}"
        store.add_finding(_finding(study=study, note=f"w{worker} #{i}", reviewer=f"r{worker}"))
        store.set_status(
            study,
            ReviewStatus.REVIEWED,
            reviewer=f"r{worker}",
            outcome=Outcome.NON_ACUTE,
            urgency=Urgency.ROUTINE,
        )
    store.close()


def test_two_processes_writing_at_once_lose_nothing(db_url: str) -> None:
    db = db_url
    ReviewStore(db).close()
    n = 60
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(db, w, n)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = ReviewStore(db)
    findings = store.findings()
    assert len(findings) == 2 * n
    assert {f.note for f in findings} == {f"w{w} #{i}" for w in range(2) for i in range(n)}
    reviews = store.reviews()
    assert len(reviews) == 2 * n
    assert all(r.status is ReviewStatus.REVIEWED for r in reviews.values())
    # each study: registration + finding.add + in-progress status + reviewed status
    assert len(store.audit()) == 4 * 2 * n
    assert store.verify().ok
    assert store.integrity_check() == "ok"
    store.close()


_KILL_CHILD = """
import sys
from imaging_triage.review.findings import *
from imaging_triage.review.store import ReviewStore
store = ReviewStore(sys.argv[1], busy_timeout_s=60)
log = open(sys.argv[2], "a", buffering=1)
i = 0
while True:
    f = store.add_finding(Finding(study_key=f"s{i}", type=FindingType.SAH,
        location=Location((1.0, 2.0, 3.0), (1, 2, 3), "1.2"), note=f"n{i}", reviewer="k"))
    store.set_status(f"s{i}", ReviewStatus.REVIEWED, reviewer="k",
        outcome=Outcome.SECONDARY, urgency=Urgency.CRITICAL)
    log.write(f"{f.id} s{i}\\n")
    i += 1
"""


def test_sigkill_during_review_writes_keeps_database_sound(tmp_path: Path, db_url: str) -> None:
    db = db_url
    log = tmp_path / "committed.txt"
    ReviewStore(db).close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, db, str(log)], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= 40:
                break
            assert child.poll() is None, "writer exited early"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    committed = [line.split() for line in log.read_text().splitlines() if line.strip()]
    assert len(committed) >= 40
    store = ReviewStore(db)
    assert store.integrity_check() == "ok"
    ids = {f.id for f in store.findings()}
    reviews = store.reviews()
    for finding_id, study in committed:
        assert int(finding_id) in ids
        assert reviews[study].outcome is Outcome.SECONDARY
    store.close()


def test_one_connection_per_thread_and_ended_threads_are_closed(tmp_path: Path) -> None:
    import threading

    store = ReviewStore(tmp_path / "r.sqlite")
    seen: list[int] = []

    def work(n: int) -> None:
        conn = store._conn()
        assert store._conn() is conn  # the same connection within a thread
        seen.append(id(conn))
        store.add_finding(_finding(study=f"t{n}"))

    for n in range(5):
        t = threading.Thread(target=work, args=(n,))
        t.start()
        t.join()
    assert len(seen) == 5
    # finished threads' connections are closed when a new thread connects
    assert len(store._connections) <= 2
    assert len(store.findings()) == 5
    store.close()
    assert store._connections == []


# --- optimistic concurrency (issue 9) -------------------------------------------------


def _save(
    store: ReviewStore,
    reviewer: str,
    outcome: Outcome,
    urgency: Urgency,
    seen: int | None,
    *,
    replace: bool = False,
) -> None:
    store.set_status(
        "study_a",
        ReviewStatus.REVIEWED,
        reviewer=reviewer,
        outcome=outcome,
        urgency=urgency,
        expected_status_id=seen,
        replace=replace,
    )


def test_outcome_saved_by_another_reader_after_page_load_is_not_replaced(
    db_url: str,
) -> None:
    db = db_url
    first, second = ReviewStore(db), ReviewStore(db)  # two server processes, one file
    first.set_status("study_a", ReviewStatus.IN_PROGRESS, reviewer="dr a")
    seen_a = first.review("study_a").status_id
    seen_b = second.review("study_a").status_id
    assert seen_a == seen_b > 0
    _save(first, "dr a", Outcome.SECONDARY, Urgency.CRITICAL, seen_a)
    with pytest.raises(OutcomeConflictError) as caught:
        _save(second, "dr b", Outcome.NO_ACUTE, Urgency.ROUTINE, seen_b)
    err = caught.value
    assert isinstance(err, StoreError)
    assert (err.reviewer, err.outcome, err.urgency) == (
        "dr a",
        "secondary_cause_suspected",
        "critical",
    )
    assert err.saved_at == first.review("study_a").updated_at
    assert "dr a" in str(err) and "Secondary cause suspected" in str(err)
    # nothing was saved: the outcome of dr a stands, in both stores
    for store in (first, second):
        review = store.review("study_a")
        assert (review.outcome, review.reviewer) == (Outcome.SECONDARY, "dr a")
    assert len([a for a in second.audit("study_a") if a["action"] == "study.status"]) == 2


def test_first_outcome_on_an_unread_study_conflicts_too(db_url: str) -> None:
    db = db_url
    first, second = ReviewStore(db), ReviewStore(db)
    assert first.review("study_a").status_id == 0 == second.review("study_a").status_id
    _save(first, "dr a", Outcome.SECONDARY, Urgency.CRITICAL, 0)
    with pytest.raises(OutcomeConflictError):
        _save(second, "dr b", Outcome.NO_ACUTE, Urgency.ROUTINE, 0)


def test_replace_is_recorded_in_the_audit(db_url: str) -> None:
    db = db_url
    first, second = ReviewStore(db), ReviewStore(db)
    _save(first, "dr a", Outcome.SECONDARY, Urgency.CRITICAL, 0)
    replaced_id = first.review("study_a").status_id
    _save(second, "dr b", Outcome.NON_ACUTE, Urgency.ROUTINE, 0, replace=True)
    review = first.review("study_a")
    assert (review.outcome, review.reviewer) == (Outcome.NON_ACUTE, "dr b")
    last = first.audit("study_a")[-1]
    assert last["after"]["replaced"]["id"] == replaced_id
    assert last["after"]["replaced"]["reviewer"] == "dr a"
    assert last["after"]["replaced"]["outcome"] == "secondary_cause_suspected"
    assert last["after"]["outcome"] == "non_acute_or_incidental"


def test_no_conflict_for_own_outcome_for_what_was_seen_or_without_a_check(
    db_url: str,
) -> None:
    db = db_url
    first, second = ReviewStore(db), ReviewStore(db)
    _save(first, "dr a", Outcome.SECONDARY, Urgency.CRITICAL, 0)
    # the same reader from another tab: a correction of their own outcome
    _save(second, "dr a", Outcome.SECONDARY, Urgency.URGENT, 0)
    # another reader who saw the latest row replaces it knowingly
    _save(second, "dr b", Outcome.NON_ACUTE, Urgency.ROUTINE, second.review("study_a").status_id)
    # a status without an outcome by another reader after the page loaded is no conflict
    seen = first.review("study_a").status_id
    second.set_status("study_a", ReviewStatus.IN_PROGRESS, reviewer="dr c")
    _save(first, "dr a", Outcome.SECONDARY, Urgency.CRITICAL, seen)
    # callers that pass no expected id keep the old behaviour (the latest row wins)
    _save(second, "dr b", Outcome.NO_ACUTE, Urgency.ROUTINE, None)
    assert first.review("study_a").outcome is Outcome.NO_ACUTE
    assert not any("replaced" in (a["after"] or {}) for a in first.audit("study_a"))


def test_audit_extra_lands_in_the_status_audit_row(db_url: str) -> None:
    store = ReviewStore(db_url)
    store.set_status(
        "study_a",
        ReviewStatus.REVIEWED,
        reviewer="dr a",
        outcome=Outcome.NO_ACUTE,
        urgency=Urgency.ROUTINE,
        audit_extra={"confirmed_despite_findings": [3, 4], "outcome": "forged"},
    )
    after = store.audit("study_a")[-1]["after"]
    assert after["confirmed_despite_findings"] == [3, 4]
    assert after["outcome"] == "no_acute_abnormality"  # extra never overrides the facts


def test_measurements_attached_to_a_finding_are_stored_and_audited(db_url: str) -> None:
    from imaging_triage.review.findings import Measurement

    ruler = Measurement("distance", "12.6 mm", (("distance", 12.6),))
    roi = Measurement("ellipse", "mean 71.5 SD 3.4 HU, 8.9 mm²", (("area", 8.9), ("mean_hu", 71.5)))
    with ReviewStore(db_url) as store:
        stored = store.add_finding(dataclasses.replace(_finding(), measurements=(ruler, roi)))
        assert stored.measurements == (ruler, roi)
        (audit,) = [a for a in store.audit() if a["action"] == "finding.add"]
        assert "mean_hu" in str(audit["after"])
    with ReviewStore(db_url) as store:
        (again,) = store.findings()
        assert again.measurements == (ruler, roi)
        assert store.verify().ok
