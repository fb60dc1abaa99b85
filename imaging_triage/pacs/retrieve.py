"""WADO-RS retrieval of whole studies or chosen series, streamed to disk and resumable.

For each series, the instances the server lists (QIDO-RS) are compared with the files
already on disk (names from :mod:`imaging_triage.pacs.layout`): present instances are not
fetched again. A series with nothing on disk is streamed (one multipart response read
part by part, one instance in memory at a time); a series partly on disk gets its missing
instances one request each. Every file is written under a temporary ``.partial`` name
and renamed into place (``os.replace``) once complete, so a killed pull leaves only whole
files under final names; the next run deletes the leftovers and fetches what is missing.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from imaging_triage.errors import (
    DeidentificationError,
    ExitCode,
    PacsNotFoundError,
    PacsResponseError,
)
from imaging_triage.pacs.anonymize import Deidentifier
from imaging_triage.pacs.client import PacsClient
from imaging_triage.pacs.layout import (
    MANIFEST_NAME,
    PARTIAL_SUFFIX,
    instance_name,
    partial_files,
    series_folder,
    study_folder,
)
from imaging_triage.pacs.manifest import SeriesEntry, StudyManifest
from imaging_triage.pacs.query import (
    InstanceSummary,
    SeriesSummary,
    StudyQuery,
    search_instances,
    search_series,
    search_studies,
)

logger = logging.getLogger(__name__)

#: ``progress(done, total)``: instances on disk (fetched or already present) of the study
ProgressCallback = Callable[[int, int], None]


@dataclass
class StudyPull:
    """What :func:`pull_study` did for one study."""

    study_uid: str
    folder: Path
    manifest: StudyManifest
    fetched: int = 0
    already_present: int = 0
    failed: int = 0

    @property
    def complete(self) -> bool:
        """Whether every listed instance of the chosen series is on disk."""
        return all(entry.complete for entry in self.manifest.series)


@dataclass
class PullSummary:
    """What :func:`pull` did: one :class:`StudyPull` per study, and the studies that failed."""

    studies: list[StudyPull] = field(default_factory=list)
    #: (study UID asked for, reason) of studies that could not be pulled
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 all pulled; 3 some study or instance failed; 4 nothing matched."""
        if self.failures or any(not s.complete for s in self.studies):
            return ExitCode.PARTIAL
        return ExitCode.OK if self.studies else ExitCode.NOTHING


def _write_instance(ds: Any, path: Path) -> None:
    """Write ``ds`` to ``path`` through a ``.partial`` file and ``os.replace``."""
    from pydicom import dcmwrite

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            dcmwrite(fh, ds, enforce_file_format=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class _SeriesPlan:
    summary: SeriesSummary
    entry: SeriesEntry
    folder: Path
    #: source SOP Instance UID -> target file
    targets: dict[str, Path]

    def missing(self) -> dict[str, Path]:
        return {uid: path for uid, path in self.targets.items() if not path.exists()}


def _plan_series(
    client: PacsClient,
    study_uid: str,
    series: SeriesSummary,
    study_dir: Path,
    deid: Deidentifier | None,
) -> _SeriesPlan:
    instances: list[InstanceSummary] = search_instances(client, study_uid, series.series_uid)
    out_series = deid.uid(series.series_uid) if deid else series.series_uid
    folder = study_dir / series_folder(series.number, series.modality, out_series)
    targets = {}
    for inst in instances:
        out_sop = deid.uid(inst.sop_uid) if deid else inst.sop_uid
        targets[inst.sop_uid] = folder / instance_name(inst.number, out_sop)
    entry = SeriesEntry(
        folder=folder.name,
        series_uid=out_series,
        modality=series.modality,
        number=series.number,
        description="" if deid else series.description,
        expected=len(targets),
    )
    return _SeriesPlan(series, entry, folder, targets)


def _fetch(
    client: PacsClient, study_uid: str, plan: _SeriesPlan, missing: dict[str, Path]
) -> Iterable[tuple[Path | None, Any]]:
    """Yield (target, dataset) of the missing instances: streamed when none is on disk."""
    series_uid = plan.summary.series_uid
    if len(missing) == len(plan.targets):
        for ds in client.iter_series(study_uid, series_uid):
            sop = str(getattr(ds, "SOPInstanceUID", "") or "")
            yield missing.get(sop), ds
        return
    for sop, path in missing.items():
        yield path, client.retrieve_instance(study_uid, series_uid, sop)


def pull_study(
    client: PacsClient,
    study_uid: str,
    out: str | os.PathLike[str],
    *,
    series_uids: Sequence[str] = (),
    deidentifier: Deidentifier | None = None,
    progress: ProgressCallback | None = None,
) -> StudyPull:
    """Retrieve one study (or the chosen series) into ``out/study_<hash>/``.

    Parameters
    ----------
    client : PacsClient
        The server.
    study_uid : str
        Study Instance UID on the server.
    out : path
        The pull's output folder (created when the first file is written).
    series_uids : sequence of str
        Only these series (default: every series of the study).
    deidentifier : Deidentifier, optional
        De-identify every instance before it is written.
    progress : callable, optional
        Called as ``progress(done, total)`` after each instance (and once at the start).

    Returns
    -------
    StudyPull
        Counts of instances fetched, already present and failed, and the manifest.

    Raises
    ------
    PacsNotFoundError
        If the study, or a chosen series, is not on the server. Nothing is written.
    PacsAuthError, PacsConnectionError, PacsResponseError
        If the server refuses or fails; files already complete stay, and a rerun resumes.
    """
    series = search_series(client, study_uid)
    if series_uids:
        known = {s.series_uid for s in series}
        absent = [uid for uid in series_uids if uid not in known]
        if absent:
            raise PacsNotFoundError(
                f"series {', '.join(absent)} not in study {study_uid}; list its series with "
                "`imaging-triage pacs ls URL --study UID --series`",
                path=client.url,
            )
        series = [s for s in series if s.series_uid in set(series_uids)]
    out_study = deidentifier.uid(study_uid) if deidentifier else study_uid
    study_dir = Path(out) / study_folder(out_study)
    plans = [_plan_series(client, study_uid, s, study_dir, deidentifier) for s in series]
    manifest = StudyManifest(
        study_uid=out_study, source=client.url, deidentified=deidentifier is not None
    )
    result = StudyPull(study_uid=out_study, folder=study_dir, manifest=manifest)
    total = sum(len(p.targets) for p in plans)
    done = 0
    if progress:
        progress(done, total)
    for plan in plans:
        for leftover in partial_files(plan.folder):
            leftover.unlink(missing_ok=True)
        missing = plan.missing()
        present = len(plan.targets) - len(missing)
        result.already_present += present
        done += present
        if missing:
            for target, ds in _fetch(client, study_uid, plan, missing):
                if target is None:
                    continue  # listed after our search, or already on disk
                try:
                    if deidentifier is not None:
                        ds = deidentifier.apply(ds)
                    _write_instance(ds, target)
                except DeidentificationError as err:
                    plan.entry.failed.append(f"{target.name}: {err.reason}")
                    result.failed += 1
                    logger.warning("instance not written: %s", err.reason)
                    continue
                result.fetched += 1
                done += 1
                if progress:
                    progress(done, total)
        if progress and not missing:
            progress(done, total)
        plan.entry.present = sum(path.exists() for path in plan.targets.values())
        manifest.series.append(plan.entry)
        manifest.pulled_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        study_dir.mkdir(parents=True, exist_ok=True)
        manifest.write(study_dir / MANIFEST_NAME)
    return result


def pull(
    client: PacsClient,
    query: StudyQuery,
    out: str | os.PathLike[str],
    *,
    series_uids: Sequence[str] = (),
    deidentifier: Deidentifier | None = None,
    progress: Callable[[int, int, int, int], None] | None = None,
) -> PullSummary:
    """Pull every study matching ``query`` into ``out``; a failing study does not stop the rest.

    With only ``query.study_uid`` set, that study is pulled without a search first (so that
    an unknown UID is reported as not found); with other filters too, it must match them.
    ``progress(study_index, studies, done, total)`` follows each study's instances.

    Raises
    ------
    PacsAuthError, PacsConnectionError
        If the server cannot be used at all (nothing more can be pulled).
    """
    others = (query.since, query.until, query.modality, query.description, query.accession)
    if query.study_uid and not any(others):
        uids = [query.study_uid]
    else:
        uids = [s.study_uid for s in search_studies(client, query)]
    summary = PullSummary()
    for index, uid in enumerate(uids):

        def study_progress(done: int, total: int, _i: int = index) -> None:
            if progress:
                progress(_i, len(uids), done, total)

        try:
            summary.studies.append(
                pull_study(
                    client,
                    uid,
                    out,
                    series_uids=series_uids,
                    deidentifier=deidentifier,
                    progress=study_progress,
                )
            )
        except (PacsNotFoundError, PacsResponseError) as err:
            summary.failures.append((uid, err.reason))
            logger.warning("study not pulled: %s", err.reason)
    return summary
