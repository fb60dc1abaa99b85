"""Benchmark of ``imaging-triage preprocess``: throughput, steps, memory, and dcm2niix.

Usage (from the project root, with the virtualenv)::

    .venv/bin/python benchmarks/preprocess.py                 # default inputs, prints a table
    .venv/bin/python benchmarks/preprocess.py --json out.json # also save the numbers
    .venv/bin/python benchmarks/preprocess.py --phantoms 4 --keep /tmp/bench

Inputs (at least 8 series): the sample studies in ``sample_data/dicom`` (5 CT and 2 MR
volume series), the two real Philips CT volume series of
``../shared/realdata/dcm_qa_ct`` (copied to a temporary folder, never into the
repository) and
``--phantoms`` generated NIfTI head phantoms (CT, 1 mm). Missing sources are skipped
with a note.

What it measures, each as a whole ``imaging-triage preprocess`` process (``--force``, so
nothing is skipped; the QC report is included):

* series per minute at ``--jobs 1`` and ``--jobs 2`` (and the speed-up), and the CPU
  seconds of each run (the process and its workers): a ratio near 1 means the two
  workers do not fight each other, so a speed-up short of 2 is the serial part and the
  cores that other processes on the machine take (the load average is printed);
* mean seconds per step across series (from the manifest's ``step_seconds``);
* peak RSS per worker process (max ``worker_peak_rss_mb`` per worker pid);
* one real CT series alone through the whole pipeline (``--jobs 1``, no report) against
  ``dcm2niix -z y`` converting the same series: whole-process wall time and the ratio.

``--real-heads`` instead runs the default pipeline in this process on the two real heads
(the GE head CT, each stack; the United Imaging 3D T1) and prints seconds per step, the
mask volume and the QC verdict. Run either mode twice to compare versions, e.g. before
and after a change, with ``PYTHONPATH=<other source tree>`` for the other one (the
``preprocess`` processes run outside the source tree, so that path is the one imported).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("IMAGING_TRIAGE_REALDATA", ROOT.parent / "shared" / "realdata"))
REAL_CT = [
    REALDATA / "dcm_qa_ct" / "In" / "Philips" / "S21570" / "S2010",
    REALDATA / "dcm_qa_ct" / "In" / "Philips" / "S21610" / "S2010",
]
CLI = [sys.executable, "-m", "imaging_triage"]


def build_inputs(folder: Path, n_phantoms: int) -> list[str]:
    """Copy or generate the benchmark series under ``folder``; return notes."""
    notes = []
    samples = ROOT / "sample_data" / "dicom"
    if samples.is_dir():
        shutil.copytree(samples, folder / "samples")
    else:
        notes.append("sample_data/dicom missing: sample studies skipped")
    for n, src in enumerate(REAL_CT):
        if src.is_dir():
            shutil.copytree(src, folder / f"real_ct_{n}")
        else:
            notes.append(f"{src} missing: real CT skipped")
    if n_phantoms:
        from imaging_triage.preprocess.phantom import ct_head_phantom
        from imaging_triage.volume import save_nifti

        for n in range(n_phantoms):
            vol = ct_head_phantom((1.0, 1.0, 1.0), seed=n).volume
            save_nifti(vol, folder / "phantoms" / f"phantom_ct_{n}.nii.gz")
    return notes


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Run ``cmd``; return wall seconds, exit code, stderr tail."""
    wall, _, code, err = timed_cpu(cmd)
    return wall, code, err


def timed_cpu(cmd: list[str]) -> tuple[float, float, int, str]:
    """Run ``cmd``; return wall seconds, CPU seconds (it and its workers), exit code, stderr."""
    cpu = _children_cpu()
    start = time.perf_counter()
    # run outside the source tree: ``python -m`` puts the working folder first on the path,
    # which would hide a ``PYTHONPATH=<other source tree>`` given for a comparison
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - start
    return wall, _children_cpu() - cpu, proc.returncode, proc.stderr[-2000:]


def manifest_stats(out: Path) -> dict[str, Any]:
    """Series counts, mean seconds per step, and peak RSS per worker from a manifest."""
    from imaging_triage.batch import read_manifest

    rows = read_manifest(out / "manifest.csv")
    done = [r for r in rows if r["status"] == "ok"]
    steps: dict[str, list[float]] = {}
    for row in done:
        for name, sec in json.loads(row["step_seconds"] or "{}").items():
            steps.setdefault(name, []).append(float(sec))
    rss: dict[str, float] = {}
    for row in done:
        pid = row["worker_pid"]
        rss[pid] = max(rss.get(pid, 0.0), float(row["worker_peak_rss_mb"] or 0))
    return {
        "series_ok": len(done),
        "series_rows": len(rows),
        "step_mean_seconds": {k: round(sum(v) / len(v), 3) for k, v in steps.items()},
        "task_seconds_sum": round(sum(float(r["seconds"]) for r in done), 2),
        "peak_rss_mb_per_worker": sorted(rss.values(), reverse=True),
    }


def run_jobs(inputs: Path, out: Path, jobs: int) -> dict[str, Any]:
    """One whole preprocess run at ``--jobs``; throughput and manifest stats."""
    wall, cpu, code, err = timed_cpu(
        [*CLI, "preprocess", str(inputs), "-o", str(out), "--jobs", str(jobs), "--force", "--quiet"]
    )
    stats = manifest_stats(out)
    stats.update(
        jobs=jobs,
        exit_code=code,
        wall_seconds=round(wall, 2),
        # CPU of the process and its workers: equal at both --jobs when the workers do not
        # fight each other; the wall-time speed-up then only lacks the cores others use
        cpu_seconds=round(cpu, 2),
        series_per_minute=round(60.0 * stats["series_ok"] / wall, 2),
    )
    if code not in (0, 3):
        stats["stderr"] = err
    return stats


def ct_versus_dcm2niix(work: Path) -> dict[str, Any] | None:
    """One real CT series: whole pipeline (one process) against dcm2niix's conversion."""
    src = REAL_CT[0]
    dcm2niix = shutil.which("dcm2niix") or str(Path(sys.executable).with_name("dcm2niix"))
    if not src.is_dir() or not Path(dcm2niix).exists():
        return None
    # the series folder alone (its localizer and summary sit in sibling folders)
    ours, ref = work / "ct_ours", work / "ct_dcm2niix"
    ref.mkdir()
    ours_times, ref_times = [], []
    for _ in range(3):
        shutil.rmtree(ref)
        ref.mkdir()
        ref_times.append(timed([dcm2niix, "-z", "y", "-o", str(ref), str(src)])[0])
        cmd = [*CLI, "preprocess", str(src), "-o", str(ours), "--jobs", "1", "--force"]
        wall, code, err = timed([*cmd, "--quiet", "--no-report"])
        if code != 0:
            return {"error": err}
        ours_times.append(wall)
    stats = manifest_stats(ours)
    best_ours, best_ref = min(ours_times), min(ref_times)
    in_worker = sum(stats["step_mean_seconds"].values())
    return {
        "series": str(src.relative_to(REALDATA)),
        "ours_wall_seconds_best_of_3": round(best_ours, 3),
        "dcm2niix_wall_seconds_best_of_3": round(best_ref, 3),
        "ratio_whole_process": round(best_ours / best_ref, 2),
        "ours_in_worker_seconds": round(in_worker, 3),
        "ratio_in_worker": round(in_worker / best_ref, 2),
        "steps": stats["step_mean_seconds"],
    }


REAL_HEADS = {
    "GE head CT": REALDATA / "dcm_qa_ct" / "In" / "GE",
    "UIH 3D T1": REALDATA / "dcm_qa_uih" / "In",
}


def real_heads() -> list[dict[str, Any]]:
    """Seconds per step, mask volume and QC of the default pipeline on the real heads."""
    import numpy as np

    import imaging_triage
    from imaging_triage import ingest
    from imaging_triage.preprocess.config import load_config
    from imaging_triage.preprocess.pipeline import run_pipeline

    config = load_config(None)
    rows: list[dict[str, Any]] = []
    for name, folder in REAL_HEADS.items():
        if not folder.is_dir():
            continue
        records = [r for r in ingest.scan(folder).series if r.status.value == "ok"]
        for n, record in enumerate(records):
            start = time.perf_counter()
            (volume,) = ingest.load(record)
            load = time.perf_counter() - start
            result = run_pipeline(volume, config)
            mask = result.sample.mask
            row: dict[str, Any] = {
                "series": f"{name} stack {n + 1}/{len(records)}",
                "code": str(Path(imaging_triage.__file__).parent.parent),
                "load_seconds": round(load, 2),
                "steps": {s.name: round(s.seconds, 2) for s in result.steps},
                "total_seconds": round(load + sum(s.seconds for s in result.steps), 2),
            }
            if mask is not None:
                voxel_ml = float(np.prod(result.sample.image.spacing)) / 1000.0
                row["mask_ml"] = round(float(mask.sum()) * voxel_ml)
                try:
                    from imaging_triage.preprocess.qc import assess
                except ImportError:  # a version without QC
                    row["qc"] = "n/a"
                else:
                    row["qc"] = assess(mask, result.sample.image, result.pipeline.value).summary()
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phantoms", type=int, default=3, help="generated CT phantoms to add")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep")
    parser.add_argument(
        "--real-heads", action="store_true", help="only the per-step timing on the real heads"
    )
    args = parser.parse_args(argv)
    if args.real_heads:
        rows = real_heads()
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2) + "\n")
        return 0
    work = (args.keep or Path(tempfile.mkdtemp(prefix="bench_preprocess_"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    inputs = work / "inputs"
    if inputs.exists():
        shutil.rmtree(inputs)
    inputs.mkdir()
    notes = build_inputs(inputs, args.phantoms)
    # the reduced MR template is kept on disk between runs (steady state): make it exist
    # before either timed run, so neither pays its one-off reduction
    sys.path.insert(0, str(ROOT))
    from imaging_triage.preprocess.template import load_template

    load_template()
    # other processes on the machine distort the numbers: record the load around the runs
    results: dict[str, Any] = {
        "notes": notes,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    for jobs in (1, 2):
        results[f"jobs_{jobs}"] = run_jobs(inputs, work / f"out_jobs{jobs}", jobs)
    one, two = results["jobs_1"], results["jobs_2"]
    results["speedup_1_to_2"] = round(two["series_per_minute"] / one["series_per_minute"], 2)
    results["cpu_ratio_2_to_1"] = round(two["cpu_seconds"] / max(one["cpu_seconds"], 1e-9), 2)
    results["ct_vs_dcm2niix"] = ct_versus_dcm2niix(work)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
