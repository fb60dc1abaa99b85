"""``imaging-triage pacs ls URL [filters] [--json]``: what a pull with the same filters fetches.

Lists the matching studies (date, modalities, description, series and instance counts,
Study Instance UID), or with ``--series`` the series of each. No patient name, ID or birth
date is shown. Credentials come from the environment or ``--config FILE``
(see :mod:`imaging_triage.pacs.config`), never from the command line.

Exit codes: 0 listed; 1 server or configuration error; 2 usage error; 4 nothing matched.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imaging_triage.errors import ExitCode


def add_query_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``pull`` and ``pacs ls``: the server and the study filters."""
    parser.add_argument("url", metavar="URL", help="DICOMweb base URL, e.g. https://host/dicom-web")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="TOML file with a [pacs] table (credentials, TLS); "
        "default: $IMAGING_TRIAGE_PACS_CONFIG",
    )
    parser.add_argument("--since", metavar="DATE", help="studies on or after DATE (YYYY-MM-DD)")
    parser.add_argument("--until", metavar="DATE", help="studies on or before DATE (YYYY-MM-DD)")
    parser.add_argument("--modality", choices=("CT", "MR"), help="a modality in the study")
    parser.add_argument(
        "--description", metavar="TEXT", default="", help="study description contains TEXT"
    )
    parser.add_argument("--accession", metavar="NUMBER", default="", help="accession number")
    parser.add_argument("--study", metavar="UID", default="", help="Study Instance UID")


def query_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~imaging_triage.pacs.query.StudyQuery` of the parsed arguments."""
    from imaging_triage.pacs.query import StudyQuery, parse_date

    return StudyQuery(
        since=parse_date(args.since) if args.since else None,
        until=parse_date(args.until) if args.until else None,
        modality=args.modality or "",
        description=args.description,
        accession=args.accession,
        study_uid=args.study,
    )


def client_from_args(args: argparse.Namespace) -> Any:
    """A :class:`~imaging_triage.pacs.client.PacsClient` for ``args.url`` and ``--config``."""
    from imaging_triage.pacs.client import connect
    from imaging_triage.pacs.config import load_config

    return connect(load_config(args.url, config_file=args.config))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``pacs`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="pacs_command", metavar="ACTION", required=True)
    ls = sub.add_parser("ls", help="list the studies a query matches", description=__doc__)
    add_query_arguments(ls)
    ls.add_argument("--series", action="store_true", help="list the series of each study")
    ls.add_argument("--json", action="store_true", help="JSON instead of a table")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def run(args: argparse.Namespace) -> int:
    """List matching studies; return the exit code."""
    from dataclasses import asdict

    from imaging_triage.pacs.query import search_series, search_studies

    client = client_from_args(args)
    studies = search_studies(client, query_from_args(args))
    series = (
        {s.study_uid: search_series(client, s.study_uid) for s in studies} if args.series else {}
    )
    if args.json:
        doc = []
        for study in studies:
            item = study.as_dict()
            if args.series:
                item["series_list"] = [asdict(s) for s in series[study.study_uid]]
            doc.append(item)
        print(json.dumps({"url": client.url, "studies": doc}, indent=2))
    else:
        rows = [["date", "modalities", "series", "instances", "description", "study_uid"]]
        for study in studies:
            rows.append(
                [
                    study.date,
                    ",".join(study.modalities),
                    str(study.series),
                    str(study.instances),
                    study.description,
                    study.study_uid,
                ]
            )
            for s in series.get(study.study_uid, []):
                number = "" if s.number is None else str(s.number)
                rows.append(
                    ["", f"  {s.modality}", number, str(s.instances), s.description, s.series_uid]
                )
        print(_table(rows))
        print(f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'}", file=sys.stderr)
    return ExitCode.OK if studies else ExitCode.NOTHING


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imaging-triage pacs`` with ``argv`` (default: ``sys.argv[1:]``)."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["pacs", *(sys.argv[1:] if argv is None else argv)])
