"""``imaging-triage convert PATH -o OUT``: one NIfTI per volume, a JSON sidecar, a manifest.

The same batch runner as ``preprocess`` with an empty pipeline
(:func:`imaging_triage.batch.run_batch` with ``config=None``).

Exit codes (:class:`imaging_triage.errors.ExitCode`): 0 all converted; 1 unexpected error;
2 usage error; 3 some series failed; 4 no DICOM or NIfTI found.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imaging_triage.errors import ExitCode


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``convert`` and ``preprocess``."""
    parser.add_argument("path", type=Path, metavar="PATH", help="folder (or file) to read")
    parser.add_argument(
        "-o", "--out", type=Path, required=True, metavar="OUT", help="output folder"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: number of CPUs)",
    )
    parser.add_argument("--force", action="store_true", help="redo series already finished")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    from imaging_triage.commands.scan import add_ingest_options

    add_ingest_options(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``convert`` arguments to ``parser``."""
    add_common_arguments(parser)


def check_paths(args: argparse.Namespace) -> str | None:
    """Return a usage error message, or None when the paths and numbers are usable."""
    if not args.path.exists():
        return f"{args.path}: no such file or folder"
    if args.out.exists() and not args.out.is_dir():
        return f"{args.out}: exists and is not a folder; choose an output folder"
    if args.jobs is not None and args.jobs < 1:
        return f"--jobs must be at least 1, got {args.jobs}"
    try:
        args.out.resolve().relative_to(args.path.resolve())
        if args.path.is_dir() and args.out.resolve() != args.path.resolve():
            return f"{args.out}: the output folder must not be inside the input folder"
    except ValueError:
        pass
    if args.out.resolve() == args.path.resolve():
        return f"{args.out}: the output folder must differ from the input folder"
    return None


def progress_stream(args: argparse.Namespace) -> Any:
    """stderr when it is a terminal and ``--quiet`` is not set, else None."""
    return sys.stderr if (not args.quiet and sys.stderr.isatty()) else None


def print_summary(summary: Any, args: argparse.Namespace) -> None:
    """One line on stderr: counts per status and where the manifest is."""
    if args.quiet:
        return
    counts: dict[str, int] = {}
    for row in summary.rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    text = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"{len(summary.rows)} series: {text}; manifest: {summary.manifest}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run ``convert`` for parsed arguments; return the exit code."""
    from imaging_triage.batch import run_batch

    problem = check_paths(args)
    if problem:
        print(f"imaging-triage convert: error: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    summary = run_batch(
        args.path,
        args.out,
        None,
        jobs=args.jobs,
        force=args.force,
        progress=progress_stream(args),
        strictness=args.uneven,
        philips_scaling=args.philips_scaling,
    )
    if summary.exit_code == ExitCode.NOTHING:
        print(f"imaging-triage convert: no DICOM or NIfTI found under {args.path}", file=sys.stderr)
        return ExitCode.NOTHING
    print_summary(summary, args)
    return summary.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m imaging_triage.commands.convert``."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["convert", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
