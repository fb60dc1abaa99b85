"""``imaging-triage deidentify PATH -o OUT [--key KEY | --key-file FILE] [--map FILE]
[--allow-burned-in] [--keep-safe-private] [--shift-dates DAYS|keyed]``.

Writes a de-identified copy of a DICOM tree (PS3.15 Annex E Basic Profile, see
:mod:`imaging_triage.dicom.deid`) and a UID map kept apart from it. The same key gives the same
UIDs on every run; without a key a random one is used (and the UIDs differ every run).

Exit codes: 0 every DICOM file written; 3 some files quarantined or failed; 4 no DICOM found.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from imaging_triage.errors import ExitCode

logger = logging.getLogger(__name__)

#: environment variable read for the key when neither --key nor --key-file is given
KEY_ENV = "IMAGING_TRIAGE_DEID_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``deidentify`` options to ``parser``."""
    parser.add_argument("path", type=Path, help="DICOM file or folder to de-identify")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output folder")
    key = parser.add_mutually_exclusive_group()
    key.add_argument(
        "--key",
        help=f"secret for the keyed UID mapping (prefer --key-file or ${KEY_ENV}: "
        "a key on the command line is visible to other users of the machine)",
    )
    key.add_argument("--key-file", type=Path, help="file holding the secret key")
    parser.add_argument(
        "--map",
        type=Path,
        default=None,
        help="where to write the UID map (identifying; default OUT.deid-map.json next to OUT)",
    )
    parser.add_argument(
        "--allow-burned-in",
        action="store_true",
        help="also write images that may show identity in their pixels (secondary captures, "
        "BurnedInAnnotation YES); check them by eye first",
    )
    parser.add_argument(
        "--keep-safe-private",
        action="store_true",
        help="keep the few private elements converters need (Siemens mosaic and CSA image "
        "header, Philips scale factors, GE b-values); default: remove every private element",
    )
    parser.add_argument(
        "--shift-dates",
        metavar="DAYS|keyed",
        default=None,
        help="shift every date by DAYS (an integer), or by a key-derived offset ('keyed'); "
        "default: remove dates",
    )


def _key(args: argparse.Namespace) -> bytes | None:
    from imaging_triage.errors import ConfigError

    if args.key is not None:
        return str(args.key).encode("utf-8")
    if args.key_file is not None:
        try:
            data = Path(args.key_file).read_bytes().strip()
        except OSError as err:
            raise ConfigError(
                f"cannot read the key file ({err.strerror})", path=args.key_file
            ) from err
        if not data:
            raise ConfigError("the key file is empty", path=args.key_file)
        return data
    env = os.environ.get(KEY_ENV, "")
    return env.encode("utf-8") if env else None


def _shift(value: str | None, key: bytes) -> int | None:
    from imaging_triage.dicom.deid import keyed_date_shift
    from imaging_triage.errors import ConfigError

    if value is None:
        return None
    if value.strip().lower() == "keyed":
        return keyed_date_shift(key)
    try:
        return int(value)
    except ValueError as err:
        raise ConfigError(
            f"--shift-dates takes a whole number of days or 'keyed', not {value!r}"
        ) from err


def run(args: argparse.Namespace) -> int:
    """De-identify ``args.path`` into ``args.output``; return the exit code."""
    from imaging_triage.dicom.deid import (
        DeidConfig,
        FileStatus,
        default_map_path,
        deidentify_tree,
        random_key,
    )

    key = _key(args)
    if key is None:
        key = random_key()
        logger.warning(
            "no key given (--key-file, --key or $%s): a random key is used, so UIDs will "
            "differ from every other run",
            KEY_ENV,
        )
    config = DeidConfig(
        key=key,
        date_shift_days=_shift(args.shift_dates, key),
        allow_burned_in=bool(args.allow_burned_in),
        keep_safe_private=bool(args.keep_safe_private),
    )
    map_path = args.map if args.map is not None else default_map_path(args.output)
    report = deidentify_tree(args.path, args.output, config, map_path=map_path)
    counts = report.counts()
    print(
        f"written {counts['written']}, quarantined {counts['quarantined']}, "
        f"failed {counts['failed']}, skipped (not DICOM or DICOMDIR) {counts['skipped']}; "
        f"{report.uid_count} UIDs mapped; map (identifying, keep apart): {map_path}"
    )
    if counts["quarantined"] or counts["failed"]:
        print(
            f"see {Path(args.output) / 'deid_report.json'} for reasons and the map file for "
            "which input files were not written",
            file=sys.stderr,
        )
    written = sum(o.status is FileStatus.WRITTEN for o in report.outcomes)
    if written == 0 and not counts["quarantined"] and not counts["failed"]:
        return ExitCode.NOTHING
    return ExitCode.PARTIAL if counts["quarantined"] or counts["failed"] else ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imaging-triage deidentify`` with ``argv`` (default: ``sys.argv[1:]``)."""
    from imaging_triage.cli import main as cli_main

    return cli_main(["deidentify", *(sys.argv[1:] if argv is None else argv)])
