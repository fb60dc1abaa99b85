"""``imaging-triage db init|migrate|verify|copy``: manage a review database.

A database is named as everywhere else: a path or ``sqlite:///path`` (SQLite file) or
``postgresql://user@host[:port]/dbname`` (the password from ``PGPASSWORD`` or a
``.pgpass`` file, never on the command line).

- ``db init DB [--app-role ROLE]``: create the schema (or migrate it); on PostgreSQL,
  with ``--app-role``, create that login role if missing and grant it read-and-append
  rights only (its password, if any, from ``IMAGING_TRIAGE_APP_PASSWORD``).
- ``db migrate DB``: bring the schema to this program's version.
- ``db verify DB [--json] [--head HASH]``: as ``imaging-triage verify --db DB``.
- ``db copy SRC DST``: copy every row into a new database (SQLite to PostgreSQL and
  back) and verify the copy's audit chain.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from imaging_triage.commands.verify import add_report_arguments

#: the environment variable holding the application role's password for ``db init``
ENV_APP_PASSWORD = "IMAGING_TRIAGE_APP_PASSWORD"
_DB = "review database: a SQLite path, sqlite:///path or postgresql://user@host/dbname"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``db`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    init = sub.add_parser("init", help="create the schema; grant an application role")
    init.add_argument("db", metavar="DB", help=_DB)
    init.add_argument(
        "--app-role",
        default=None,
        metavar="ROLE",
        help="PostgreSQL: the login role the viewer connects as; it gets SELECT and INSERT "
        f"only (password from {ENV_APP_PASSWORD}, if set)",
    )
    migrate = sub.add_parser("migrate", help="migrate the schema to this program's version")
    migrate.add_argument("db", metavar="DB", help=_DB)
    verify = sub.add_parser("verify", help="check schema, audit chain and rows")
    verify.add_argument("db", metavar="DB", help=_DB)
    add_report_arguments(verify)
    copy = sub.add_parser("copy", help="copy a review database into a new one, verified")
    copy.add_argument("source", metavar="SRC", help=_DB)
    copy.add_argument("destination", metavar="DST", help=_DB + " (new or empty)")


def run(args: argparse.Namespace) -> int:
    """Run the chosen ``db`` action; return the exit code."""
    from imaging_triage.review import admin
    from imaging_triage.review.postgres import parse_location

    if args.db_command == "verify":
        from imaging_triage.commands.verify import verify_location

        return verify_location(args.db, as_json=args.json, head=args.head)
    if args.db_command == "copy":
        report = admin.copy_database(args.source, args.destination)
        rows = ", ".join(f"{n} {t}" for t, n in report.rows.items())
        print(
            f"copied {parse_location(args.source)} to {parse_location(args.destination)}: "
            f"{rows}; audit chain verified, head hash {report.head_hash}"
        )
        return 0
    before, after = admin.migrate(args.db)
    shown = parse_location(args.db)
    if before == after:
        print(f"{shown}: schema version {after}, nothing to migrate")
    else:
        print(f"{shown}: schema version {before} -> {after}")
    if args.db_command == "init" and args.app_role:
        admin.grant_application_role(
            args.db, args.app_role, password=os.environ.get(ENV_APP_PASSWORD) or None
        )
        print(f"role {args.app_role}: SELECT and INSERT only (no UPDATE, DELETE, TRUNCATE, DDL)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imaging-triage db`` with ``argv`` (default: ``sys.argv[1:]``)."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["db", *(sys.argv[1:] if argv is None else argv)])
