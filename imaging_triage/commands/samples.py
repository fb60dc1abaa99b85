"""``imaging-triage samples -o DIR [--seed N] [--study KEY ...]``.

Regenerates the synthetic sample studies (DICOM under ``DIR/dicom/``, ground truth under
``DIR/ground_truth/``). With the default seed the output reproduces the committed
``sample_data/`` byte for byte. The studies are synthetic: no real patient.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from imaging_triage.errors import ExitCode

logger = logging.getLogger(__name__)

#: seed of the committed sample_data/ (kept equal to imaging_triage.samples.DEFAULT_SEED,
#: repeated here so that ``--help`` does not import numpy)
DEFAULT_SEED = 20240601


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``samples`` options to ``parser``."""
    parser.add_argument(
        "-o", "--output", required=True, type=Path, help="folder to write (e.g. sample_data)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"seed of UIDs and noise (default {DEFAULT_SEED}: the committed sample_data/)",
    )
    parser.add_argument(
        "--study",
        action="append",
        default=None,
        metavar="KEY",
        help="write only this study (repeatable), e.g. 02_ct_sdh; default: all",
    )


def run(args: argparse.Namespace) -> int:
    """Write the sample studies; return the exit code (2 for an unknown study key)."""
    from imaging_triage.samples import generate, study_specs

    known = [spec.key for spec in study_specs()]
    unknown = sorted(set(args.study or ()) - set(known))
    if unknown:
        print(
            f"imaging-triage samples: unknown study {', '.join(unknown)}; "
            f"choose from {', '.join(known)}",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    records = generate(args.output, seed=args.seed, studies=args.study)
    for record in records:
        findings = ", ".join(f"{f['type']} ({f['laterality']})" for f in record["findings"])
        print(f"{record['study']}: {record['modality']}, {findings or 'no finding'}")
    print(f"wrote {len(records)} synthetic studies to {args.output} (no real patient data)")
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imaging-triage samples`` with ``argv`` (default: ``sys.argv[1:]``)."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["samples", *(sys.argv[1:] if argv is None else argv)])
