"""``imaging-triage scan PATH [--json]``: list the studies and series under PATH.

Headers only: nothing is decoded. For each series: number, modality, description,
files, slices, shape, spacing, tilt, status and reason. Studies are named by a hash of
their Study Instance UID, never by patient identifiers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from imaging_triage.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``scan`` options to ``parser``."""
    parser.add_argument("path", help="folder (walked recursively) or file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_ingest_options(parser)


def add_ingest_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that reads DICOM (scan, convert, preprocess)."""
    parser.add_argument(
        "--uneven",
        choices=["strict", "resample"],
        default="strict",
        help="missing slices or uneven spacing: refuse the series (strict, default) or "
        "resample it onto even spacing (always reported)",
    )
    parser.add_argument(
        "--philips-scaling",
        choices=["display", "precise"],
        default="display",
        help="Philips MR values: displayed values from RescaleSlope/Intercept (default) or "
        "precise floating-point values using the private scale slope (dcm2niix's default)",
    )


def record_row(record: Any) -> dict[str, Any]:
    """The JSON/table fields of one series record (no identifiers).

    Header strings and names are untrusted: control characters removed, length limited,
    non-UTF-8 bytes escaped (:func:`imaging_triage.safetext.printable`).
    """
    from imaging_triage.safetext import printable

    return {
        "study": printable(record.study_folder, 1000),
        "input": printable(record.input, 1000),
        "series_number": record.series_number,
        "modality": printable(record.modality, 16),
        "description": printable(record.description),
        "files": len(record.files),
        "slices": record.shape[2] if len(record.shape) > 2 else record.n_frames,
        "shape": list(record.shape),
        "spacing_mm": list(record.spacing_mm),
        "tilt_deg": record.tilt_deg,
        "status": record.status.value,
        "reason": printable(record.reason, 1000),
    }


def _fmt(values: Sequence[Any], digits: int = 3) -> str:
    if not values:
        return "-"
    return "x".join(f"{v:.{digits}g}" if isinstance(v, float) else str(v) for v in values)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Render rows grouped by study as a plain-text table."""
    cols = ["#", "mod", "description", "files", "slices", "shape", "spacing", "tilt", "status"]
    lines: list[str] = []
    by_study: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_study.setdefault(r["study"], []).append(r)
    for study, items in by_study.items():
        lines.append(f"{study}  ({len(items)} series)")
        table = [cols]
        for r in items:
            table.append(
                [
                    str(r["series_number"] if r["series_number"] is not None else "-"),
                    r["modality"] or "-",
                    (r["description"] or r["input"])[:32],
                    str(r["files"]),
                    str(r["slices"]),
                    _fmt(r["shape"]),
                    _fmt(r["spacing_mm"]),
                    f"{r['tilt_deg']:.1f}" if r["tilt_deg"] else "0",
                    r["status"] + (f": {r['reason']}" if r["reason"] else ""),
                ]
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(cols) - 1)]
        for row in table:
            cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
            lines.append("  " + "  ".join(cells) + "  " + row[-1])
        lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Scan ``args.path`` and print the result; return the exit code."""
    from pathlib import Path

    from imaging_triage.ingest import Strictness, scan

    root = Path(args.path)
    if not root.exists():
        print(f"imaging-triage scan: {root}: no such file or folder", file=sys.stderr)
        return ExitCode.USAGE
    result = scan(root, strictness=Strictness(args.uneven), philips_scaling=args.philips_scaling)
    rows = [record_row(r) for r in result.series]
    if args.json:
        payload = {
            "root": str(root),
            "series": rows,
            "skipped_files": result.skipped_files,
            "dicomdir_files": result.dicomdir_files,
            "duplicate_files": result.duplicate_files,
        }
        print(json.dumps(payload, indent=2))
    else:
        print(format_table(rows))
        print(
            f"{len(rows)} series; {result.skipped_files} non-DICOM file(s) skipped, "
            f"{result.dicomdir_files} DICOMDIR file(s), {result.duplicate_files} duplicate(s)"
        )
    return ExitCode.OK if rows else ExitCode.NOTHING


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``scan`` as a standalone command."""
    parser = argparse.ArgumentParser(prog="imaging-triage scan", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
