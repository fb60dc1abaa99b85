"""Run a pipeline over a tree: one batch runner for ``convert`` and ``preprocess``.

:func:`run_batch` scans the input (headers only), plans one :class:`Task` per loadable
series, runs the tasks on local worker processes (default) or on an existing Dask
distributed cluster (``scheduler``), and writes ``OUT/manifest.csv`` as results arrive:
the file is rewritten atomically after every finished series, so an interrupted run
leaves a truthful manifest of what is finished.

Resume: a worker first hashes the series' input files; when the provenance files of a
previous run show the same input hash and parameter hash and every output is present,
the series is ``skipped``. ``force=True`` redoes everything.

>>> summary = run_batch("studies", "out", load_config(None))        # doctest: +SKIP
>>> summary.exit_code                                              # doctest: +SKIP
0
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

from imaging_triage.csvsafe import read_rows, spreadsheet_safe
from imaging_triage.errors import (
    ConfigError,
    ExitCode,
    NotAVolumeError,
    TriageError,
    UnsupportedError,
)
from imaging_triage.ingest import ScanResult, SeriesRecord, Status
from imaging_triage.preprocess.config import Pipeline, PipelineConfig, param_hash
from imaging_triage.preprocess.qc import QCReport, Verdict
from imaging_triage.volume import Volume, atomic_write_bytes, remove_stale_temporaries

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.csv"


@dataclass
class ManifestRow:
    """One row of ``manifest.csv``: one series found, whatever became of it."""

    input: str
    series_uid: str = ""
    modality: str = ""
    description: str = ""
    status: str = Status.OK.value
    reason: str = ""
    #: output image(s) relative to OUT, ``;``-separated when a series gave several volumes
    output: str = ""
    shape: str = ""
    spacing_mm: str = ""
    seconds: float = 0.0
    pipeline: str = ""
    #: seconds per step, as JSON (``{"resample": 0.2, ...}``)
    step_seconds: str = ""
    #: peak resident memory of the worker process so far, in MB
    worker_peak_rss_mb: float = 0.0
    worker_pid: int = 0
    #: brain-mask QC: ``pass``, ``warn: reasons`` (see preprocess/qc.py), empty when no mask
    qc: str = ""
    #: automated candidate score of the series (0-100; empty when the checks did not run):
    #: a candidate for a reader, never a diagnosis
    candidates: str = ""
    #: QC renderings of the first output (view -> PNG bytes), made by the worker for the
    #: report; not a manifest column
    views: dict[str, bytes] = field(default_factory=dict, repr=False, metadata={"column": False})

    @classmethod
    def columns(cls) -> list[str]:
        """The manifest's column names, in order."""
        return [f.name for f in fields(cls) if f.metadata.get("column", True)]


@dataclass(frozen=True)
class Task:
    """One series to process: picklable, crosses process and machine boundaries."""

    record: SeriesRecord
    index: int
    out: str
    config: PipelineConfig | None
    force: bool = False


@dataclass
class BatchSummary:
    """What a batch did."""

    rows: list[ManifestRow] = field(default_factory=list)
    manifest: Path | None = None
    exit_code: int = ExitCode.OK

    def count(self, status: Status) -> int:
        """Number of rows with ``status``."""
        return sum(1 for r in self.rows if r.status == status.value)


# --------------------------------------------------------------------------- worker side


#: environment of worker processes: one thread for the numeric libraries that read it at
#: import (OpenBLAS, MKL, OpenMP), so that N workers on N cores do not each start a pool
#: of threads that fight the other workers (parallelism comes from processes)
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1",
}


def init_worker() -> None:
    """Per-process setup of a worker: one ITK thread (parallelism comes from processes)."""
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


@contextlib.contextmanager
def single_threaded_children() -> Iterator[None]:
    """Within the block, processes started from this one inherit :data:`SINGLE_THREAD_ENV`.

    Worker processes are spawned (lazily, as tasks are submitted), so the variables must
    be in the environment while the pool runs; the previous values come back afterwards.
    """
    saved = {k: os.environ.get(k) for k in SINGLE_THREAD_ENV}
    os.environ.update(SINGLE_THREAD_ENV)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _peak_rss_mb() -> float:
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / 1024.0 if sys.platform != "darwin" else peak / 2**20, 1)
    except (ImportError, OSError):  # pragma: no cover
        return 0.0


def _base_row(record: SeriesRecord) -> ManifestRow:
    return ManifestRow(
        input=record.input,
        series_uid=record.series_uid,
        modality=record.modality,
        description=record.description,
        status=record.status.value,
        reason=record.reason,
        shape="x".join(str(s) for s in record.shape),
        spacing_mm="x".join(f"{s:.4g}" for s in record.spacing_mm),
    )


def _volume_stems(record: SeriesRecord, n_volumes: int) -> list[str]:
    stem = record.output_stem
    if n_volumes == 1:
        return [stem]
    return [f"{stem}_v{i + 1}" for i in range(n_volumes)]


def _finished(task: Task, input_sha256: str) -> list[dict[str, Any]] | None:
    """Provenance of a complete previous output with the same hashes, else None."""
    folder = Path(task.out) / task.record.study_folder
    stem = task.record.output_stem
    for first in (f"{stem}_provenance.json", f"{stem}_v1_provenance.json"):
        found = _finished_layout(task, folder / first, input_sha256)
        if found is not None:
            return found
    return None


def _finished_layout(task: Task, path: Path, input_sha256: str) -> list[dict[str, Any]] | None:
    """Provenance of the outputs under one layout (one volume, or ``_v1``...), if current."""
    folder = path.parent
    if not path.is_file():
        return None
    try:
        head = json.loads(path.read_text())
        provs = [json.loads((folder / name).read_text()) for name in head["series_outputs"]]
    except (OSError, ValueError, KeyError):
        return None
    for prov in provs:
        if prov.get("input_sha256") != input_sha256:
            return None
        pipe = prov.get("pipeline", "")
        expected = (
            param_hash(None, None)
            if task.config is None
            else param_hash(task.config, Pipeline(pipe))
            if pipe in {p.value for p in Pipeline}
            else None
        )
        if prov.get("param_hash") != expected:
            return None
        if not all((folder / name).is_file() for name in prov.get("outputs", {}).values()):
            return None
    return provs


def _qc_cell(reports: list[QCReport]) -> str:
    """The manifest cell of a series: its first warning, else its first verdict."""
    for report in reports:
        if report.verdict is Verdict.WARN:
            return report.summary()
    return reports[0].summary() if reports else ""


def _candidates_cell(scores: list[int]) -> str:
    """The manifest cell of a series: its highest candidate score, empty when none ran."""
    return str(max(scores)) if scores else ""


def _check_greyscale(volumes: list[Volume], record: SeriesRecord) -> None:
    for volume in volumes:
        if volume.data.dtype.names is not None or volume.data.dtype.kind not in "biuf":
            raise UnsupportedError(
                f"colour or non-numeric image (data type {volume.data.dtype}); only greyscale "
                "volumes are converted and preprocessed",
                path=record.input,
            )


def _relative_text(text: str, task: Task) -> str:
    """Replace absolute input and output folders in a message by relative names: the
    folders above the scanned root may carry identifiers (a patient-named folder)."""
    root = task.record.extra.get("root") or ""
    for prefix, name in ((str(root), "<input>"), (str(task.out), "<output>")):
        if prefix and prefix not in (".", "/"):
            text = text.replace(prefix.rstrip("/") + "/", "").replace(prefix, name)
    return text


def _reason(err: TriageError, task: Task) -> str:
    """The manifest reason of a typed error: the file relative to the root, then why."""
    where = ""
    if err.path:
        where = _relative_text(str(err.path), task) + ": "
    return where + _relative_text(err.reason, task)


def run_task(task: Task) -> ManifestRow:
    """Process one series in a worker; never raises (failures become a ``failed`` row).

    A :class:`~imaging_triage.errors.TriageError` gives its message as the reason; any
    other exception gives its type and message, and the batch goes on.
    """
    from imaging_triage import ingest
    from imaging_triage.preprocess.pipeline import VolumeOutput, process_volume
    from imaging_triage.preprocess.provenance import hash_files

    init_worker()
    start = time.perf_counter()
    record = task.record
    row = _base_row(record)
    row.worker_pid = os.getpid()
    folder = Path(task.out) / record.study_folder
    try:
        input_sha256 = hash_files(record.files, salt=_ingest_options(record))
        previous = None if task.force else _finished(task, input_sha256)
        if previous is not None:
            row.status = Status.SKIPPED.value
            row.reason = "finished output with the same input and parameters exists"
            images = [folder / p["outputs"]["image"] for p in previous]
            row.output = ";".join(str(p.relative_to(task.out)) for p in images)
            row.shape = ";".join("x".join(str(s) for s in p["shape"]) for p in previous)
            row.spacing_mm = ";".join(
                "x".join(f"{s:.4g}" for s in p["spacing_mm"]) for p in previous
            )
            row.pipeline = previous[0].get("pipeline", "")
            row.qc = _qc_cell([QCReport.from_dict(p["qc"]) for p in previous if p.get("qc")])
            row.candidates = _candidates_cell(
                [p["candidates"]["score"] for p in previous if p.get("candidates")]
            )
        else:
            t_load = time.perf_counter()
            volumes = ingest.load(record)
            load_seconds = time.perf_counter() - t_load
            _check_greyscale(volumes, record)
            stems = _volume_stems(record, len(volumes))
            names = [f"{s}_provenance.json" for s in stems]
            outputs: list[VolumeOutput] = []
            for volume, stem in zip(volumes, stems, strict=True):
                outputs.append(
                    process_volume(
                        volume,
                        task.config,
                        folder / stem,
                        input_sha256=input_sha256,
                        series_outputs=names,
                        load_seconds=load_seconds / len(volumes),
                        render=task.config is not None and not outputs,
                    )
                )
            row.status = Status.OK.value
            row.reason = ""
            if volumes and volumes[0].info.modality:
                row.modality = volumes[0].info.modality
            row.output = ";".join(str(o.paths["image"].relative_to(task.out)) for o in outputs)
            row.shape = ";".join("x".join(str(s) for s in o.shape) for o in outputs)
            row.spacing_mm = ";".join("x".join(f"{s:.4g}" for s in o.spacing_mm) for o in outputs)
            row.pipeline = outputs[0].pipeline if outputs else ""
            row.views = outputs[0].views if outputs else {}
            row.qc = next((o.qc for o in outputs if o.qc.startswith("warn")), "") or next(
                (o.qc for o in outputs if o.qc), ""
            )
            row.candidates = _candidates_cell(
                [o.candidate_score for o in outputs if o.candidate_score is not None]
            )
            steps: dict[str, float] = {"load": round(load_seconds, 4)}
            for o in outputs:
                for k, v in [*o.step_seconds.items(), ("write", o.write_seconds)]:
                    steps[k] = round(steps.get(k, 0.0) + v, 4)
            row.step_seconds = json.dumps(steps, sort_keys=False)
    except NotAVolumeError as err:  # by nature not a volume (a single slice): dropped
        row.status = Status.DROPPED.value
        row.reason = _reason(err, task)
    except TriageError as err:
        row.status = Status.FAILED.value
        row.reason = _reason(err, task)
    except Exception as err:  # the batch goes on; the row names the exception type
        logger.debug("unexpected error on %s", record.output_stem, exc_info=True)
        row.status = Status.FAILED.value
        row.reason = _relative_text(f"unexpected {type(err).__name__}: {err}", task)
    row.seconds = round(time.perf_counter() - start, 3)
    row.worker_peak_rss_mb = _peak_rss_mb()
    return row


# --------------------------------------------------------------------------- main process


class Manifest:
    """``manifest.csv``, rewritten atomically after every row, rows in scan order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._rows: dict[int, ManifestRow] = {}

    def add(self, index: int, row: ManifestRow) -> None:
        """Record the row of series ``index`` and rewrite the file."""
        self._rows[index] = row
        self.write()

    @property
    def rows(self) -> list[ManifestRow]:
        """Rows so far, in scan order."""
        return [row for _, row in self.items()]

    def items(self) -> list[tuple[int, ManifestRow]]:
        """(series index, row) so far, in scan order."""
        return sorted(self._rows.items(), key=lambda item: item[0])

    def write(self) -> None:
        """Rewrite the file atomically."""
        buf = io.StringIO()
        columns = ManifestRow.columns()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({c: spreadsheet_safe(getattr(row, c)) for c in columns})
        atomic_write_bytes(self.path, buf.getvalue().encode("utf-8"))


def read_manifest(path: str | Path) -> list[dict[str, str]]:
    """Read a ``manifest.csv`` as a list of dicts (column -> text), any cell length."""
    return read_rows(path)


class Progress:
    """A one-line progress bar on a terminal; silent elsewhere."""

    def __init__(self, total: int, stream: TextIO | None, width: int = 30) -> None:
        self.total = total
        self.stream = stream
        self.width = width
        self.done = 0
        self.counts: dict[str, int] = {}

    def update(self, row: ManifestRow) -> None:
        """Count a finished row and redraw."""
        self.done += 1
        self.counts[row.status] = self.counts.get(row.status, 0) + 1
        if self.stream is None:
            return
        filled = int(self.width * self.done / max(1, self.total))
        counts = " ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} series  {counts}  ")
        self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


def scan_input(
    root: Path, *, strictness: str = "strict", philips_scaling: str = "display"
) -> ScanResult:
    """Scan ``root`` with :func:`imaging_triage.ingest.scan` (headers only)."""
    from imaging_triage import ingest

    return ingest.scan(
        root, strictness=ingest.Strictness(strictness), philips_scaling=philips_scaling
    )


def _ingest_options(record: SeriesRecord) -> str:
    """The ingest options that shape a record's output; part of its input identity, so a
    changed option (``--uneven``, ``--philips-scaling``) redoes the series on resume."""
    extra = record.extra
    return f"strictness={extra.get('strictness', '')};philips={extra.get('philips_scaling', '')}"


def plan(
    scan: ScanResult, out: Path, config: PipelineConfig | None, force: bool
) -> tuple[list[Task], list[tuple[int, ManifestRow]]]:
    """Split scanned series into tasks to run and rows that are final already.

    Records dropped or failed at scan time, and files that looked like DICOM but could
    not be parsed, become rows without loading anything.
    """
    tasks: list[Task] = []
    final: list[tuple[int, ManifestRow]] = []
    root = str(Path(scan.root).resolve())
    for index, record in enumerate(scan.series):
        record.extra["root"] = root
        if record.status in (Status.DROPPED, Status.FAILED):
            final.append((index, _base_row(record)))
        else:
            tasks.append(Task(record, index, str(out.resolve()), config, force))
    # files that could not be parsed are failed records of the scan already (one row each)
    return tasks, final


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


#: an MR series costs about this many times a CT series of the same size (N4 and the
#: template registration: 10-20 s against 1-3 s for the CT mask on the sample studies)
MR_COST_FACTOR = 8


def _cost(task: Task) -> int:
    """Expected cost of a task, for longest-first scheduling (voxels, MR weighted)."""
    n = 1
    for s in task.record.shape:
        n *= max(1, int(s))
    n = n if task.record.shape else len(task.record.files)
    if task.config is not None and task.record.modality == "MR":
        n *= MR_COST_FACTOR
    return n


def _new_pool(jobs: int) -> ProcessPoolExecutor:
    # "spawn": workers never inherit threads or locks of the parent (safe with ITK and
    # with the manifest writer); recycling is done by generations of pools below, not
    # with max_tasks_per_child, which deadlocks on CPython 3.11-3.13 (gh-115634)
    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=init_worker)


def _local_results(
    tasks: Sequence[Task], jobs: int, max_tasks_per_child: int
) -> Iterator[tuple[Task, ManifestRow]]:
    """Run tasks on local worker processes; yield (task, row) as each finishes.

    At most ``jobs`` tasks are in flight. Workers are recycled by generations: after
    ``jobs * max_tasks_per_child`` submissions the pool is retired (its running tasks
    finish) and a fresh pool takes the next tasks, bounding memory leaked by a worker.
    When a worker dies (killed, out of memory, crash) its pool breaks: every task that
    was in flight there is retried once on a fresh pool; a task that breaks a pool twice
    is reported failed.
    """
    pending = deque(tasks)
    in_flight: dict[Future[ManifestRow], tuple[Task, ProcessPoolExecutor]] = {}
    attempts: dict[int, int] = {}
    pool: ProcessPoolExecutor | None = None
    submitted = 0
    retired: list[ProcessPoolExecutor] = []
    solo: deque[Task] = deque()
    owner_counts: dict[int, int] = {}  # pool -> tasks submitted to it
    stack = contextlib.ExitStack()
    stack.enter_context(single_threaded_children())
    try:
        while pending or in_flight or solo:
            if solo and not in_flight:
                # suspects of a broken shared pool run one at a time, alone in their pool
                task = solo.popleft()
                if pool is not None:
                    pool.shutdown(wait=False)
                    retired.append(pool)
                pool = _new_pool(1)
                submitted = jobs * max_tasks_per_child  # the next batch gets a fresh pool
                attempts[task.index] = attempts.get(task.index, 0) + 1
                fut = pool.submit(run_task, task)
                in_flight[fut] = (task, pool)
                owner_counts[id(pool)] = 1
            while pending and len(in_flight) < jobs and not solo:
                if pool is None or submitted >= jobs * max_tasks_per_child:
                    if pool is not None:
                        pool.shutdown(wait=False)
                        retired.append(pool)
                    pool = _new_pool(jobs)
                    submitted = 0
                task = pending.popleft()
                attempts[task.index] = attempts.get(task.index, 0) + 1
                in_flight[pool.submit(run_task, task)] = (task, pool)
                owner_counts[id(pool)] = owner_counts.get(id(pool), 0) + 1
                submitted += 1
            if not in_flight:
                continue
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for fut in done:
                task, owner = in_flight.pop(fut)
                try:
                    row = fut.result()
                except BrokenProcessPool as err:
                    if owner is pool:
                        pool = None  # the next submission starts a fresh pool
                    shared = owner_counts.get(id(owner), 1) > 1
                    if shared:
                        # the pool died with several series in it: the culprit is unknown,
                        # so none is charged; each is retried alone in a fresh pool
                        attempts[task.index] -= 1
                        solo.append(task)
                        continue
                    if attempts[task.index] < 2:
                        pending.appendleft(task)
                        continue
                    row = _base_row(task.record)
                    row.status = Status.FAILED.value
                    row.reason = f"worker process died twice on this series ({err})"
                except Exception as err:  # e.g. the task could not be pickled
                    row = _base_row(task.record)
                    row.status = Status.FAILED.value
                    row.reason = f"worker error ({type(err).__name__}: {err})"
                yield task, row
    finally:
        for p in [*retired, *([pool] if pool is not None else [])]:
            p.shutdown(wait=True, cancel_futures=True)
        stack.close()


def _inline_results(tasks: Sequence[Task]) -> Iterator[tuple[Task, ManifestRow]]:
    init_worker()
    for task in tasks:
        yield task, run_task(task)


def _dask_results(tasks: Sequence[Task], address: str) -> Iterator[tuple[Task, ManifestRow]]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client_cm = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise ConfigError(
            f"cannot reach the Dask scheduler at {address} ({type(err).__name__}); check the "
            "address and that the scheduler runs"
        ) from err
    with client_cm as client:
        futures = {}
        for task in tasks:
            fut = client.submit(run_task, task, pure=False)
            futures[fut.key] = (fut, task)
        for fut in dask_completed([f for f, _ in futures.values()]):
            task = futures[fut.key][1]
            try:
                row = fut.result()
            except Exception as err:  # the worker died or lost the task
                row = _base_row(task.record)
                row.status = Status.FAILED.value
                row.reason = f"dask task failed ({type(err).__name__}: {err})"
            yield task, row


def follow_up_candidates(
    out: Path, scan: ScanResult, manifest: Manifest, config: PipelineConfig
) -> int:
    """The follow-up pass of the candidate checks over every written series of the run
    (:func:`imaging_triage.candidates.followup.follow_up_pass`): prior sites measured on
    the CT series of a patient's later studies; the manifest's candidate cells updated.

    Returns the number of series whose candidates were rewritten.
    """
    from imaging_triage.candidates.findings import Check
    from imaging_triage.candidates.followup import SeriesOutput, follow_up_pass
    from imaging_triage.candidates.stored import read_candidates

    if Check.PRIOR_SITES.value not in config.candidates.checks.checks:
        return 0
    outputs: list[SeriesOutput] = []
    row_of: dict[Path, ManifestRow] = {}
    for index, row in manifest.items():
        record = scan.series[index]
        for rel in filter(None, row.output.split(";")):
            image = out / rel
            outputs.append(
                SeriesOutput(
                    image, record.patient_key, record.study_uid, record.study_date, record.modality
                )
            )
            row_of[image] = row
    updated = follow_up_pass(outputs, config.candidates.checks)
    for image in updated:
        row = row_of[image]
        stored = [read_candidates(out / rel) for rel in filter(None, row.output.split(";"))]
        row.candidates = _candidates_cell([s.score.score for s in stored if s is not None])
    if updated:
        logger.info("candidates: follow-up pass over %d CT series", len(updated))
    return len(updated)


def write_study_scores(out: Path, rows: Sequence[ManifestRow]) -> list[Path]:
    """Write ``study_candidates.json`` in each study folder of ``out`` whose series have
    candidates (:func:`imaging_triage.candidates.stored.write_study_candidates`)."""
    from imaging_triage.candidates.stored import write_study_candidates

    by_study: dict[str, list[Path]] = {}
    for row in rows:
        for rel in filter(None, row.output.split(";")):
            parts = Path(rel).parts
            if len(parts) > 1:
                by_study.setdefault(parts[0], []).append(out / rel)
    written = []
    for folder, images in sorted(by_study.items()):
        path = write_study_candidates(out / folder, images)
        if path is not None:
            written.append(path)
    return written


def run_batch(
    root: str | Path,
    out: str | Path,
    config: PipelineConfig | None,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    progress: TextIO | None = None,
    on_row: Callable[[ManifestRow], None] | None = None,
    scan: ScanResult | None = None,
    strictness: str = "strict",
    philips_scaling: str = "display",
) -> BatchSummary:
    """Convert (``config=None``) or preprocess every series under ``root`` into ``out``.

    Parameters
    ----------
    root, out : path
        Input tree (or one file) and output folder.
    config : PipelineConfig or None
        Pipeline configuration; ``None`` for ``convert``.
    jobs : int, optional
        Local worker processes (default: the number of CPUs).
    scheduler : str, optional
        Address of a Dask distributed scheduler; when given, tasks run there.
    force : bool
        Redo series whose outputs are up to date.
    progress : text stream, optional
        Where to draw a progress bar (pass ``sys.stderr`` only when it is a terminal).
    on_row : callable, optional
        Called with every finished row (after the manifest is rewritten).
    scan : ScanResult, optional
        A scan already made (otherwise ``root`` is scanned).
    strictness, philips_scaling : str
        Ingest options (see :func:`imaging_triage.ingest.scan`).

    Returns
    -------
    BatchSummary
        Rows and exit code: 0 all done, 3 some series failed, 4 nothing found.
    """
    root_path = Path(root).resolve()  # absolute: tasks may run in other processes
    out_path = Path(out).resolve()
    result = (
        scan
        if scan is not None
        else scan_input(root_path, strictness=strictness, philips_scaling=philips_scaling)
    )
    tasks, final = plan(result, out_path, config, force)
    summary = BatchSummary()
    if not tasks and not final:
        summary.exit_code = ExitCode.NOTHING
        return summary
    out_path.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_path)  # left by killed runs: ours only, by their pattern
    manifest = Manifest(out_path / MANIFEST_NAME)
    summary.manifest = manifest.path
    manifest.write()  # at once: rows of an earlier run must not outlive its outputs
    bar = Progress(len(tasks) + len(final), progress)
    for index, row in final:
        manifest.add(index, row)
        bar.update(row)
    ordered = sorted(tasks, key=_cost, reverse=True)  # largest first: better load balance
    results: Iterator[tuple[Task, ManifestRow]] = iter(())
    if not ordered:
        pass
    elif scheduler:
        results = _dask_results(ordered, scheduler)
    elif len(ordered) == 1:  # one series: no worker to spawn (same settings, same result)
        results = _inline_results(ordered)
    else:
        n_jobs = max(1, jobs or os.cpu_count() or 1)
        mtpc = config.batch.max_tasks_per_child if config is not None else 16
        results = _local_results(ordered, min(n_jobs, max(1, len(ordered))), mtpc)
    try:
        for task, row in results:
            manifest.add(task.index, row)
            bar.update(row)
            # the stem holds series number, description and a hash: no identifiers
            logger.info("%s %s (%.1f s)", task.record.output_stem, row.status, row.seconds)
            if on_row is not None:
                on_row(row)
    finally:
        bar.close()
    if config is not None and config.candidates.enabled:
        follow_up_candidates(out_path, result, manifest, config)
    summary.rows = manifest.rows
    manifest.write()
    if config is not None:  # (also removes study scores the checks no longer back)
        write_study_scores(out_path, summary.rows)
    failed = summary.count(Status.FAILED)
    summary.exit_code = ExitCode.PARTIAL if failed else ExitCode.OK
    return summary
