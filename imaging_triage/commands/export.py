"""``imaging-triage export --db DB -o FILE [--format csv|json] [--identified] [--include-notes]``.

Writes one row per finding plus one per study outcome, de-identified unless
``--identified`` is given; readers' free-text notes only with ``--include-notes`` (or
``--identified``).

``--format sr --data DIR -o OUTDIR [--push URL]`` writes one DICOM Comprehensive 3D SR
per reviewed study instead (:mod:`imaging_triage.review.sr`), identified by nature (it
references the original study, whose DICOM files ``--data`` must hold), and with
``--push`` sends them to a PACS with STOW-RS.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from imaging_triage.commands.verify import DB_HELP
from imaging_triage.errors import ExitCode

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``export`` options to ``parser``."""
    parser.add_argument("--db", required=True, help=DB_HELP)
    parser.add_argument("-o", "--output", required=True, type=Path, help="file to write")
    parser.add_argument(
        "--format",
        choices=("csv", "json", "sr"),
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
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="SR: folder with the studies' original DICOM files (repeatable)",
    )
    parser.add_argument(
        "--push",
        metavar="URL",
        default=None,
        help="SR: send the reports to this DICOMweb server with STOW-RS "
        "(credentials as for `pull`: environment or --pacs-config)",
    )
    parser.add_argument(
        "--pacs-config", type=Path, default=None, metavar="FILE", help="SR: PACS config file"
    )


def run(args: argparse.Namespace) -> int:
    """Export the review database; return the exit code (4 when the database is absent)."""
    from imaging_triage.review.export import ExportFormat, export
    from imaging_triage.review.postgres import parse_location
    from imaging_triage.review.store import ReviewStore

    db = parse_location(args.db)
    if db.path is not None and not db.path.is_file():
        print(
            f"imaging-triage export: {db}: no review database there; "
            "give the --db path the viewer uses",
            file=sys.stderr,
        )
        return ExitCode.NOTHING
    fmt_name = args.format or ("json" if args.output.suffix.lower() == ".json" else "csv")
    if fmt_name == "sr":
        return _run_sr(args)
    if args.push or args.data:
        print("imaging-triage export: --push and --data need --format sr", file=sys.stderr)
        return ExitCode.USAGE
    with ReviewStore(args.db) as store:
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
    return ExitCode.OK


def _run_sr(args: argparse.Namespace) -> int:
    """``--format sr``: one SR per reviewed study into the output folder, then STOW-RS."""
    from imaging_triage.review.sr import export_sr
    from imaging_triage.review.store import ReviewStore

    if not args.data:
        print(
            "imaging-triage export: --format sr needs --data DIR, the folder with the studies' "
            "original DICOM files (an SR references them)",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    if args.output.exists() and not args.output.is_dir():
        print(f"imaging-triage export: {args.output}: not a folder", file=sys.stderr)
        return ExitCode.USAGE
    with ReviewStore(args.db) as store:
        summary = export_sr(store, args.output, args.data, include_notes=bool(args.include_notes))
    for result in summary.written:
        print(f"wrote {result.path} ({result.findings} finding(s))")
    for result in summary.failed:
        print(f"no SR for {result.study_key}: {result.reason}", file=sys.stderr)
    if args.push and summary.written:
        from imaging_triage.pacs.client import connect
        from imaging_triage.pacs.config import load_config
        from imaging_triage.pacs.stow import push_files

        client = connect(load_config(args.push, config_file=args.pacs_config))
        pushed = push_files(client, [r.path for r in summary.written if r.path is not None])
        print(f"sent {pushed} report(s) to {client.url}")
    return summary.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imaging-triage export`` with ``argv`` (default: ``sys.argv[1:]``)."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["export", *(sys.argv[1:] if argv is None else argv)])
