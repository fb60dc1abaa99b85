"""``imaging-triage agreement --db DB``: agreement between readers, and teaching scores.

Prints, for the outcome and each finding type, Cohen's kappa (two readers) or Fleiss'
kappa (more), the percent agreement and, for findings, the positive agreement of matched
findings; then the discordant studies. With ``--reference READER`` or ``--truth DIR``
(a ``sample_data/ground_truth`` folder) it also prints each reader's teaching summary:
reference findings found, missed, extra, and outcome and urgency matches. Study keys and
readers' names are printed; no patient identifier is (keys are hashes).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imaging_triage.commands.verify import DB_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``agreement`` options to ``parser``."""
    parser.add_argument("--db", required=True, help=DB_HELP)
    parser.add_argument(
        "--readers", default=None, metavar="A,B", help="readers to compare (default: all)"
    )
    parser.add_argument(
        "--distance-mm",
        type=float,
        default=20.0,
        help="findings of the same type and side match within this distance (default 20)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--reference", metavar="READER", help="teaching: score reads against")
    group.add_argument(
        "--truth", type=Path, metavar="DIR", help="teaching: a sample_data/ground_truth folder"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    """Compute and print the agreement (and teaching) report; return the exit code."""
    from imaging_triage.review.agreement import agreement
    from imaging_triage.review.reads import MatchRule, reads_from_store
    from imaging_triage.review.store import ReviewStore
    from imaging_triage.review.teaching import against_reader, against_truth, summarize

    readers = [r.strip() for r in args.readers.split(",")] if args.readers else None
    rule = MatchRule(distance_mm=args.distance_mm)
    with ReviewStore(args.db) as store:
        report = agreement(reads_from_store(store), readers=readers, rule=rule)
        teaching = None
        if args.reference:
            teaching = summarize(against_reader(store, args.reference, readers=readers, rule=rule))
        elif args.truth:
            teaching = summarize(against_truth(store, args.truth, readers=readers, rule=rule))
    doc: dict[str, Any] = {
        "readers": list(report.readers),
        "studies": len(report.studies),
        "distance_mm": rule.distance_mm,
        "rows": [
            {
                "name": row.name,
                "kappa": row.result.kappa,
                "method": row.result.method,
                "percent_agreement": row.result.percent_agreement,
                "positive_agreement": row.positive_agreement,
            }
            for row in report.rows
        ],
        "discordant": [{"study": d.study_key, "about": list(d.about)} for d in report.discordant],
    }
    if teaching is not None:
        doc["teaching"] = [
            {
                "reader": s.reader,
                "studies": len(s.results),
                "found": s.found,
                "missed": s.missed,
                "extra": s.extra,
                "outcome_matches": s.outcome_matches,
                "urgency_matches": s.urgency_matches,
            }
            for s in teaching.values()
        ]
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(
        f"readers: {', '.join(report.readers) or '-'}; studies read by all: "
        f"{len(report.studies)}; findings match within {rule.distance_mm:g} mm"
    )
    if not report.rows:
        print("no agreement to compute: need two readers with saved outcomes on a study")
    for row in doc["rows"]:
        k = "undefined" if row["kappa"] is None else f"{row['kappa']:.3f}"
        pos = row["positive_agreement"]
        print(
            f"{row['name']:<24} {row['method']} kappa {k:>9}  agreement "
            f"{100 * row['percent_agreement']:5.1f}%"
            + (f"  matched findings {100 * pos:5.1f}%" if pos is not None else "")
        )
    for d in doc["discordant"]:
        print(f"discordant: {d['study']}: {', '.join(d['about'])}")
    for item in doc.get("teaching", []):
        print(
            f"teaching {item['reader']}: {item['studies']} studies, found {item['found']}, "
            f"missed {item['missed']}, extra {item['extra']}, outcome matched "
            f"{item['outcome_matches']}, urgency matched {item['urgency_matches']}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imaging-triage agreement`` with ``argv`` (default: ``sys.argv[1:]``)."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["agreement", *(sys.argv[1:] if argv is None else argv)])
