"""``imaging-triage verify --db FILE``: check a review database for tampering.

Checks the schema (tables, indexes, triggers), ``user_version``, the audit hash chain and
every row against the audit row that recorded it; prints each alteration found. The file
is opened read-only. Exit code 0 only when the database is intact, 1 otherwise, 4 when
there is no file.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``verify`` options to ``parser``."""
    parser.add_argument("--db", required=True, type=Path, help="review database (SQLite file)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--head",
        default=None,
        metavar="HASH",
        help="the audit head hash recorded earlier: fail unless the chain still passes it",
    )


def run(args: argparse.Namespace) -> int:
    """Verify the database; return 0 when intact, 1 when altered, 4 when absent."""
    from imaging_triage.review.integrity import (
        Alteration,
        AlterationKind,
        IntegrityReport,
        verify_connection,
    )

    db: Path = args.db
    if not db.is_file():
        print(f"imaging-triage verify: {db}: no review database there", file=sys.stderr)
        return 4
    try:
        conn = sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as err:
        report = IntegrityReport(schema_version=-1)
        report.alterations.append(
            Alteration(AlterationKind.UNREADABLE, "database", None, f"cannot open ({err})")
        )
    else:
        try:
            report = verify_connection(conn)
            if args.head and not _chain_passes(conn, args.head):
                report.alterations.append(
                    Alteration(
                        AlterationKind.CHAIN,
                        "audit_chain",
                        None,
                        "the recorded head hash is no longer in the chain (rewritten)",
                    )
                )
        finally:
            conn.close()
    if args.json:
        print(
            json.dumps(
                {
                    "database": str(db),
                    "intact": report.ok,
                    "schema_version": report.schema_version,
                    "audit_rows": report.audit_rows,
                    "head_hash": report.head_hash,
                    "alterations": [
                        {"kind": a.kind.value, "table": a.table, "row": a.row_id}
                        | {"detail": a.detail}
                        for a in report.alterations
                    ],
                    "notes": report.notes,
                },
                indent=2,
            )
        )
    else:
        for alteration in report.alterations:
            print(f"ALTERED {alteration}")
        for note in report.notes:
            print(f"note: {note}")
        verdict = "intact" if report.ok else f"ALTERED ({len(report.alterations)} finding(s))"
        print(
            f"{db}: {verdict}; schema version {report.schema_version}, "
            f"{report.audit_rows} audit row(s), head hash {report.head_hash}"
        )
    return 0 if report.ok else 1


def _chain_passes(conn: sqlite3.Connection, head: str) -> bool:
    row = conn.execute("SELECT 1 FROM audit_chain WHERE hash = ?", (head.strip().lower(),))
    return row.fetchone() is not None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imaging-triage verify`` with ``argv`` (default: ``sys.argv[1:]``)."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["verify", *(sys.argv[1:] if argv is None else argv)])
