"""``imaging-triage preprocess PATH -o OUT``: convert and run the preprocessing pipeline.

Per series: the preprocessed image, its brain mask, a sidecar and a provenance JSON;
``OUT/manifest.csv`` and the visual QC report ``OUT/report.html``. ``--dry-run`` reads
headers only, prints the plan and the effective configuration, and writes nothing.

Exit codes (:class:`imaging_triage.errors.ExitCode`): 0 all done; 1 unexpected error;
2 usage error; 3 some series failed; 4 no DICOM or NIfTI found.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imaging_triage.commands.convert import (
    add_common_arguments,
    check_paths,
    print_summary,
    progress_stream,
)
from imaging_triage.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``preprocess`` arguments to ``parser``."""
    add_common_arguments(parser)
    parser.add_argument(
        "--config", type=Path, default=None, metavar="FILE", help="TOML file overriding defaults"
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="run on an existing Dask distributed scheduler (e.g. tcp://host:8786)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan and configuration; write nothing"
    )
    parser.add_argument("--no-report", action="store_true", help="do not write report.html")


def _dry_run(args: argparse.Namespace, config: Any) -> int:
    from imaging_triage.batch import plan, scan_input
    from imaging_triage.preprocess.config import Pipeline, param_hash, to_toml

    result = scan_input(args.path, strictness=args.uneven, philips_scaling=args.philips_scaling)
    tasks, final = plan(result, args.out, config, args.force)
    print(f"plan: {len(tasks) + len(final)} series under {args.path} -> {args.out} (dry run)")
    rows: list[tuple[int, str]] = []
    for task in tasks:
        r = task.record
        state = "run"
        prov = args.out / r.study_folder / f"{r.output_stem}_provenance.json"
        if not args.force and prov.is_file():
            try:
                doc = json.loads(prov.read_text())
                if doc.get("param_hash") == param_hash(config, Pipeline(doc.get("pipeline"))):
                    state = "resume"  # skipped if the input hash also matches
            except (OSError, ValueError):
                pass
        out = f"{r.study_folder}/{r.output_stem}.nii.gz"
        rows.append((task.index, f"  {state:8} {r.modality or '?':3} {out}  <- {r.input}"))
    for index, row in final:
        rows.append((index, f"  {row.status:8} {row.modality or '?':3} {row.input}: {row.reason}"))
    for _, line in sorted(rows):
        print(line)
    print("\n# effective configuration\n" + to_toml(config))
    return ExitCode.NOTHING if not rows else ExitCode.OK


def run(args: argparse.Namespace) -> int:
    """Run ``preprocess`` for parsed arguments; return the exit code."""
    from imaging_triage.batch import read_manifest, run_batch
    from imaging_triage.preprocess.config import load_config
    from imaging_triage.preprocess.report import write_report

    problem = check_paths(args)
    if problem:
        print(f"imaging-triage preprocess: error: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    config = load_config(args.config)  # ConfigError -> exit 1 with the message (cli.py)
    if args.dry_run:
        return _dry_run(args, config)
    summary = run_batch(
        args.path,
        args.out,
        config,
        jobs=args.jobs,
        scheduler=args.scheduler,
        force=args.force,
        progress=progress_stream(args),
        strictness=args.uneven,
        philips_scaling=args.philips_scaling,
    )
    if summary.exit_code == ExitCode.NOTHING:
        print(
            f"imaging-triage preprocess: no DICOM or NIfTI found under {args.path}", file=sys.stderr
        )
        return ExitCode.NOTHING
    if summary.manifest is not None and not args.no_report:
        views = {r.output.split(";")[0]: r.views for r in summary.rows if r.views}
        rows = read_manifest(summary.manifest)
        write_report(args.out, rows, title="imaging-triage preprocess", views=views)
    print_summary(summary, args)
    return summary.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m imaging_triage.commands.preprocess``."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["preprocess", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
