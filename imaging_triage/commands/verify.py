"""``imaging-triage verify --db DB``: check a review database for tampering.

Checks the schema (tables, indexes, triggers), the schema version, the audit hash chain
and every row against the audit row that recorded it; prints each alteration found. A
SQLite file is opened read-only; a PostgreSQL database is read in one read-only
snapshot. Exit code 0 only when the database is intact, 1 otherwise, 4 when there is no
file. ``imaging-triage db verify DB`` runs the same check.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``verify`` options to ``parser``."""
    parser.add_argument("--db", required=True, help=DB_HELP)
    add_report_arguments(parser)


#: the help of every ``--db`` option
DB_HELP = "review database: a SQLite file (or sqlite:///path) or postgresql://user@host/dbname"


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the report: ``--json`` and ``--head``."""
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--head",
        default=None,
        metavar="HASH",
        help="the audit head hash recorded earlier: fail unless the chain still passes it",
    )


def run(args: argparse.Namespace) -> int:
    """Verify the database; return 0 when intact, 1 when altered, 4 when absent."""
    return verify_location(args.db, as_json=args.json, head=args.head)


def verify_location(location: str, *, as_json: bool = False, head: str | None = None) -> int:
    """Verify the database at ``location`` and print the report; return the exit code."""
    from imaging_triage.review.integrity import (
        Alteration,
        AlterationKind,
        IntegrityReport,
        verify_connection,
    )
    from imaging_triage.review.postgres import connect, parse_location
    from imaging_triage.review.schema import Dialect

    loc = parse_location(location)
    db = loc.display
    if loc.dialect is Dialect.SQLITE and not (loc.path and loc.path.is_file()):
        print(f"imaging-triage verify: {db}: no review database there", file=sys.stderr)
        return 4
    conn: Any
    try:
        if loc.path is not None:
            conn = sqlite3.connect(f"file:{quote(str(loc.path.resolve()))}?mode=ro", uri=True)
        else:
            conn = connect(loc.url)
    except sqlite3.Error as err:
        report = IntegrityReport(schema_version=-1)
        report.alterations.append(
            Alteration(AlterationKind.UNREADABLE, "database", None, f"cannot open ({err})")
        )
    else:
        try:
            report = verify_connection(conn)
            if head and not _chain_passes(conn, head):
                report.alterations.append(
                    Alteration(
                        AlterationKind.CHAIN,
                        "audit_chain",
                        None,
                        "the recorded head hash is no longer in the chain (rewritten)",
                    )
                )
        finally:
            (conn.raw if loc.path is None else conn).close()
    if as_json:
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


def _chain_passes(conn: Any, head: str) -> bool:
    row = conn.execute("SELECT 1 FROM audit_chain WHERE hash = ?", (head.strip().lower(),))
    return row.fetchone() is not None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imaging-triage verify`` with ``argv`` (default: ``sys.argv[1:]``)."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["verify", *(sys.argv[1:] if argv is None else argv)])
