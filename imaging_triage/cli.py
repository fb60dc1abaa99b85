"""The ``imaging-triage`` console script (also ``python -m imaging_triage``).

Each subcommand lives in :mod:`imaging_triage.commands` as a module with
``add_arguments(parser)`` and ``run(args) -> int``; heavy libraries are imported
lazily inside ``run`` so that ``--help`` is instant. This module and ``app.py`` are the
only places that configure logging.

Exit codes (:class:`imaging_triage.errors.ExitCode`, the one table): 0 all done;
1 unexpected error; 2 usage error; 3 partial (some series failed); 4 nothing to do (no
DICOM or NIfTI found); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence

from imaging_triage.errors import ExitCode, TriageError

#: subcommand name -> (module under imaging_triage.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("scan", "list studies and series under PATH (headers only)"),
    "convert": ("convert", "convert every volume series under PATH to NIfTI with a JSON sidecar"),
    "preprocess": ("preprocess", "convert and run the preprocessing pipeline"),
    "deidentify": ("deidentify", "write a de-identified copy of a DICOM tree"),
    "export": ("export", "export review findings and study outcomes"),
    "samples": ("samples", "regenerate the synthetic sample studies"),
    "verify": ("verify", "check a review database for tampering (schema, audit chain, rows)"),
    "pull": ("pull", "retrieve studies from a PACS over DICOMweb"),
    "pacs": ("pacs", "query a PACS over DICOMweb (pacs ls URL ...)"),
    "db": ("db", "manage a review database (init, migrate, verify, copy; SQLite or PostgreSQL)"),
    "agreement": ("agreement", "agreement between readers (kappa) and teaching-mode scores"),
}


def _available_commands() -> dict[str, tuple[str, str]]:
    found = {}
    for name, (module, help_text) in COMMANDS.items():
        spec = importlib.util.find_spec(f"imaging_triage.commands.{module}")
        if spec is not None:
            found[name] = (module, help_text)
    return found


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every available subcommand."""
    from imaging_triage import __version__

    parser = argparse.ArgumentParser(
        prog="imaging-triage",
        description="Headache imaging triage: ingest, preprocess, review. "
        "Automated output is a candidate for human review, never a diagnosis.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in _available_commands().items():
        mod = importlib.import_module(f"imaging_triage.commands.{module}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def configure_logging(verbosity: int) -> None:
    """Log to stderr: warnings by default, info with -v, debug with -vv."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    from imaging_triage.logsafe import console_handler

    # handled library failures as one line (tracebacks with -vv), header text printable
    fmt = "%(levelname)s %(name)s: %(message)s"
    handler = console_handler(sys.stderr, fmt, keep_tracebacks=verbosity >= 2)
    logging.basicConfig(level=level, handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    configure_logging(args.verbose)
    try:
        return int(args._run(args))
    except TriageError as err:
        print(f"imaging-triage {args.command}: error: {err}", file=sys.stderr)
        return ExitCode.ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
