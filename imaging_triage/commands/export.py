"""``imaging-triage export --db DB -o FILE [--format csv|json] [--identified] [--include-notes]``.

Writes one row per finding plus one per study outcome, de-identified unless
``--identified`` is given; readers' free-text notes only with ``--include-notes`` (or
``--identified``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``export`` options to ``parser``."""
    parser.add_argument("--db", required=True, type=Path, help="review database (SQLite file)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="file to write")
    parser.add_argument(
        "--format",
        choices=("csv", "json"),
        default=None,
        help="output format (default: from the output's extension, else csv)",
    )
    parser.add_argument(
        "--identified",
        action="store_true",
        help="include study/series UIDs and source folders (may identify patients)",
    )
    parser.add_argument(
        "--include-notes",
        action="store_true",
        default=None,
        help="include readers' free-text notes and retraction reasons (screened for "
        "identifiers when typed, but free text; default: only with --identified)",
    )


def run(args: argparse.Namespace) -> int:
    """Export the review database; return the exit code (4 when the database is absent)."""
    from imaging_triage.review.export import ExportFormat, export
    from imaging_triage.review.store import ReviewStore

    db: Path = args.db
    if not db.is_file():
        print(
            f"imaging-triage export: {db}: no review database there; "
            "give the --db path the viewer uses",
            file=sys.stderr,
        )
        return 4
    fmt_name = args.format or ("json" if args.output.suffix.lower() == ".json" else "csv")
    with ReviewStore(db) as store:
        summary = export(
            store,
            args.output,
            ExportFormat(fmt_name),
            identified=args.identified,
            include_notes=args.include_notes,
        )
    print(
        f"wrote {summary.findings} finding row(s) and {summary.studies} study row(s) to "
        f"{summary.path}"
        + (" (identified" if summary.identified else " (de-identified")
        + (", with notes)" if summary.notes_included else ", notes left out)")
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imaging-triage export`` with ``argv`` (default: ``sys.argv[1:]``)."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["export", *(sys.argv[1:] if argv is None else argv)])
