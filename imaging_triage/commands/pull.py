"""``imaging-triage pull URL [filters] [--series UID] -o DIR [--deidentify]``.

Retrieves the matching studies over DICOMweb into ``DIR/study_<hash>/<series>/``, with a
``manifest.json`` per study; a rerun fetches only what is missing. ``--deidentify`` passes
every instance through our de-identification profile before it is written (key file
``DIR.deid-key`` beside the output, or ``--key-file``). Credentials come from the
environment or ``--config FILE`` (see :mod:`imaging_triage.pacs.config`).

Exit codes: 0 all pulled; 1 server or configuration error (unreachable, credentials
refused); 2 usage error; 3 some study, series or instance failed (e.g. not found);
4 no study matched.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from imaging_triage.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``pull`` arguments to ``parser``."""
    from imaging_triage.commands.pacs import add_query_arguments

    add_query_arguments(parser)
    parser.add_argument(
        "--series",
        metavar="UID",
        action="append",
        default=[],
        help="only this Series Instance UID (repeatable; needs --study)",
    )
    parser.add_argument(
        "-o", "--out", type=Path, required=True, metavar="DIR", help="output folder"
    )
    parser.add_argument(
        "--deidentify", action="store_true", help="de-identify every instance before writing it"
    )
    parser.add_argument(
        "--key-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="de-identification UID key (default DIR.deid-key beside DIR; created if absent)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress and no summary")


def run(args: argparse.Namespace) -> int:
    """Pull the matching studies; return the exit code."""
    from imaging_triage.commands.pacs import client_from_args, query_from_args
    from imaging_triage.pacs.anonymize import Deidentifier, default_key_path, load_or_create_key
    from imaging_triage.pacs.retrieve import pull

    if args.series and not args.study:
        print("imaging-triage pull: error: --series needs --study UID", file=sys.stderr)
        return ExitCode.USAGE
    if args.out.exists() and not args.out.is_dir():
        print(
            f"imaging-triage pull: error: {args.out}: exists and is not a folder", file=sys.stderr
        )
        return ExitCode.USAGE
    client = client_from_args(args)
    query = query_from_args(args)
    deid = None
    if args.deidentify:
        deid = Deidentifier(load_or_create_key(args.key_file or default_key_path(args.out)))
    show = not args.quiet and sys.stderr.isatty()

    def progress(index: int, studies: int, done: int, total: int) -> None:
        if show:
            print(
                f"\rstudy {index + 1}/{studies}: {done}/{total} instances", end="", file=sys.stderr
            )
            if done == total:
                print(file=sys.stderr)

    summary = pull(
        client, query, args.out, series_uids=args.series, deidentifier=deid, progress=progress
    )
    if not args.quiet:
        fetched = sum(s.fetched for s in summary.studies)
        present = sum(s.already_present for s in summary.studies)
        failed = sum(s.failed for s in summary.studies)
        print(
            f"{len(summary.studies)} stud{'y' if len(summary.studies) == 1 else 'ies'} in "
            f"{args.out}: {fetched} instance(s) fetched, {present} already present, "
            f"{failed} not written" + (" (de-identified)" if deid else ""),
            file=sys.stderr,
        )
        for _uid, reason in summary.failures:
            print(f"not pulled: {reason}", file=sys.stderr)
    if not summary.studies and not summary.failures:
        print("no study matched the query", file=sys.stderr)
    return summary.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imaging-triage pull`` with ``argv`` (default: ``sys.argv[1:]``)."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["pull", *(sys.argv[1:] if argv is None else argv)])
