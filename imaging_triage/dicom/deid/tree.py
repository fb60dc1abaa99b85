"""De-identification of a tree of files: outputs named from new UIDs, a report without
paths, and the identifying UID map written apart with mode 0600."""

from __future__ import annotations

import enum
import hashlib
import hmac
import io
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imaging_triage.dicom.deid.table as deid_table
from imaging_triage.dicom.deid.cleaner import deidentify_dataset
from imaging_triage.dicom.deid.config import DeidConfig
from imaging_triage.dicom.deid.keys import UidMapper
from imaging_triage.dicom.deid.reading import check_complete, is_dicomdir, read_complete
from imaging_triage.errors import (
    ConfigError,
    DeidentificationError,
    InputError,
    NotDicomError,
    TriageError,
)
from imaging_triage.volume import atomic_write_bytes, atomic_write_json

logger = logging.getLogger(__name__)


class FileStatus(str, enum.Enum):
    """What became of one input file."""

    #: a de-identified copy was written
    WRITTEN = "written"
    #: refused: its pixels may show identity (see ``--allow-burned-in``)
    QUARANTINED = "quarantined"
    #: could not be read or de-identified (typed error in ``reason``)
    FAILED = "failed"
    #: not DICOM, or a DICOMDIR index (not copied: it lists names and paths)
    SKIPPED = "skipped"


@dataclass
class FileOutcome:
    """What happened to one input file (``input`` is only written to the map file)."""

    input: str
    status: FileStatus
    output: str = ""
    reason: str = ""
    code: str = ""
    #: class name of the typed error (``InputError``, ``DeidentificationError``, ...)
    error: str = ""


@dataclass
class DeidReport:
    """Result of :func:`deidentify_tree`."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    date_shift_days: int | None = None
    uid_count: int = 0

    def counts(self) -> dict[str, int]:
        """Number of files per status (every status listed)."""
        return {s.value: sum(o.status is s for o in self.outcomes) for s in FileStatus}


def _encode(ds: Any, path: Path) -> bytes:
    buffer = io.BytesIO()
    try:
        ds.save_as(buffer, enforce_file_format=True)
    except Exception as err:
        raise DeidentificationError(
            f"cannot write the de-identified copy ({type(err).__name__}); the header may be "
            "damaged: re-export the file from the source",
            path=path,
        ) from err
    return buffer.getvalue()


def _output_name(ds: Any) -> str:
    """Relative output path from new UIDs only: ``study_<h>/series_<h>/<SOPInstanceUID>.dcm``."""

    def short(uid: str) -> str:
        return hashlib.sha256(uid.encode()).hexdigest()[:12]

    study = str(ds.get("StudyInstanceUID", "") or "none")
    series = str(ds.get("SeriesInstanceUID", "") or "none")
    return f"study_{short(study)}/series_{short(series)}/{ds.SOPInstanceUID}.dcm"


def iter_files(root: Path) -> Iterator[Path]:
    """Every file under ``root`` (or ``root`` itself) exactly as the ingest walks it (see
    :func:`imaging_triage.dicom.discover.walk`: file links followed, hidden names and
    folders marked ``.imaging-triage-ignore`` skipped), so both trees hold the same series."""
    from imaging_triage.dicom.discover import walk

    for found in walk(root):
        yield Path(found.path)


def default_map_path(out: str | os.PathLike[str]) -> Path:
    """The map file next to (never inside) the output folder: ``OUT.deid-map.json``."""
    target = Path(out).resolve()
    return target.parent / f"{target.name}.deid-map.json"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _name(err: BaseException) -> str:
    return type(err).__name__


def _unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name`` with ``-2``, ``-3``... when another input of this run had the same
    SOP Instance UID (the same instance stored twice, e.g. in two transfer syntaxes)."""
    if name not in taken:
        return name
    stem = name[: -len(".dcm")]
    n = 2
    while f"{stem}-{n}.dcm" in taken:
        n += 1
    return f"{stem}-{n}.dcm"


def deidentify_file(
    path: Path,
    out: Path,
    config: DeidConfig,
    uids: UidMapper,
    root: Path,
    taken: set[str] | None = None,
) -> FileOutcome:
    """De-identify one file into ``out``; never raises for a bad input (see the outcome).

    ``taken`` holds the output names already written by this run (updated in place).
    """
    if taken is None:
        taken = set()
    from pydicom.config import disable_value_validation

    # pydicom's validation warnings quote header values (names, IDs): none may reach a log
    with disable_value_validation(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _deidentify_file(path, out, config, uids, root, taken)


def _deidentify_file(
    path: Path, out: Path, config: DeidConfig, uids: UidMapper, root: Path, taken: set[str]
) -> FileOutcome:
    rel = str(path.relative_to(root)) if path != root else path.name
    try:
        ds = read_complete(path)
        if is_dicomdir(ds):
            return FileOutcome(rel, FileStatus.SKIPPED, reason="DICOMDIR index", code="dicomdir")
        check_complete(ds, path)
        deidentify_dataset(ds, config, uids)
        name = _unique_name(_output_name(ds), taken)
        atomic_write_bytes(out / name, _encode(ds, path))
        taken.add(name)
    except NotDicomError as err:
        return FileOutcome(
            rel, FileStatus.SKIPPED, reason=err.reason, code=err.code, error=_name(err)
        )
    except DeidentificationError as err:
        status = FileStatus.QUARANTINED if err.code == "burned-in" else FileStatus.FAILED
        return FileOutcome(rel, status, reason=err.reason, code=err.code, error=_name(err))
    except TriageError as err:
        return FileOutcome(
            rel, FileStatus.FAILED, reason=err.reason, code=err.code, error=_name(err)
        )
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        OverflowError,
        NotImplementedError,
    ) as err:
        # pydicom raises these for values it cannot encode; the message may quote them
        return FileOutcome(
            rel,
            FileStatus.FAILED,
            reason=f"cannot de-identify ({type(err).__name__}); re-export it from the source",
            code="deid",
            error="DeidentificationError",
        )
    return FileOutcome(rel, FileStatus.WRITTEN, output=name)


def deidentify_tree(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: DeidConfig,
    *,
    map_path: str | os.PathLike[str] | None = None,
) -> DeidReport:
    """De-identify every DICOM file under ``src`` into ``out``; write the UID map apart.

    Output files are named from the new UIDs only (the input names may hold identity):
    ``OUT/study_<hash>/series_<hash>/<new SOP Instance UID>.dcm``. ``OUT/deid_report.json``
    holds counts and reasons (no input paths). The map file (original -> new UIDs, the
    date shift, each input path and what became of it) is identifying: it is written with
    mode 0600 outside ``out``.

    Parameters
    ----------
    src : path
        A folder (walked recursively, symlinks not followed) or one file.
    out : path
        Output folder; must not be inside ``src``, nor ``src`` inside it.
    config : DeidConfig
        Key, dates, burned-in policy.
    map_path : path, optional
        Where to write the map; default :func:`default_map_path`. Must be outside ``out``.

    Returns
    -------
    DeidReport
        One outcome per input file; a batch goes on past bad files.

    Raises
    ------
    ConfigError
        If the folders overlap or the map would be written inside the output.
    InputError
        If ``src`` does not exist.
    """
    root = Path(src).resolve()
    target = Path(out).resolve()
    if not root.exists():
        raise InputError("input path does not exist", path=src)
    if _inside(target, root) or _inside(root, target):
        raise ConfigError(
            "the output folder and the input folder overlap; choose an output folder "
            "outside the input tree",
            path=out,
        )
    map_file = Path(map_path).resolve() if map_path is not None else default_map_path(target)
    if _inside(map_file, target) or _inside(map_file, root):
        raise ConfigError(
            "the UID map must be kept apart from the data: give --map a path outside both "
            "the input and the output folders",
            path=map_file,
        )
    target.mkdir(parents=True, exist_ok=True)
    uids = UidMapper(config.key)
    report = DeidReport(date_shift_days=config.date_shift_days)
    base = root if root.is_dir() else root.parent
    taken: set[str] = set()
    for path in iter_files(root):
        outcome = deidentify_file(path, target, config, uids, base, taken)
        report.outcomes.append(outcome)
        if outcome.status is FileStatus.FAILED:
            logger.warning("file %d failed: %s", len(report.outcomes), outcome.reason)
        elif outcome.status is FileStatus.QUARANTINED:
            logger.info("file %d not written: %s", len(report.outcomes), outcome.reason)
    report.uid_count = len(uids.mapping)
    _write_map(map_file, config, uids, report)
    atomic_write_json(
        target / "deid_report.json",
        {
            "profile": "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile",
            "table": deid_table.TABLE_VERSION,
            "counts": report.counts(),
            "dates": "shifted" if config.date_shift_days is not None else "removed",
            "not_written": [
                {"status": o.status.value, "error": o.error, "code": o.code, "reason": o.reason}
                for o in report.outcomes
                if o.status in (FileStatus.QUARANTINED, FileStatus.FAILED)
            ],
        },
    )
    return report


def _write_map(map_file: Path, config: DeidConfig, uids: UidMapper, report: DeidReport) -> None:
    fingerprint = hmac.new(config.key, b"imaging_triage key id", hashlib.sha256).hexdigest()[:16]
    payload = {
        "warning": "IDENTIFYING: maps original UIDs and paths to the de-identified copy",
        "key_id": fingerprint,
        "date_shift_days": config.date_shift_days,
        "uids": uids.mapping,
        "files": [
            {
                "input": o.input,
                "status": o.status.value,
                "output": o.output,
                "error": o.error,
                "reason": o.reason,
            }
            for o in report.outcomes
        ],
    }
    atomic_write_json(map_file, payload)
    os.chmod(map_file, 0o600)
