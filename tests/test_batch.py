"""The batch runner: manifest, failures, resume, force, kill and rerun, Dask (issue 4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from imaging_triage import batch
from imaging_triage.batch import Task, read_manifest, run_batch, run_task
from imaging_triage.errors import ExitCode, GeometryError
from imaging_triage.ingest import SeriesRecord, Status
from imaging_triage.preprocess.config import PipelineConfig, default_config, merge
from imaging_triage.preprocess.phantom import ct_head_phantom, mr_head_phantom
from imaging_triage.volume import load_nifti, save_nifti

#: small and fast: coarse target spacing, short N4
FAST = {
    "ct": {"resample": {"spacing_mm": [3.0, 3.0, 3.0]}},
    "mr": {
        "resample": {"spacing_mm": [3.0, 3.0, 3.0]},
        "n4": {"shrink_factor": 2, "iterations": [10]},
    },
}

FAST_TOML = """
[ct.resample]
spacing_mm = [3.0, 3.0, 3.0]

[mr.resample]
spacing_mm = [3.0, 3.0, 3.0]

[mr.n4]
shrink_factor = 2
iterations = [10]
"""


STEPS = {
    "ct": ["reorient", "clip", "resample", "brain_mask", "candidates"],
    "mr": ["reorient", "n4", "resample", "brain_mask", "normalize", "candidates"],
}


def fast_config(extra: dict | None = None) -> PipelineConfig:
    config = merge(default_config(), FAST)
    return merge(config, extra) if extra else config


def make_tree(root: Path, n_ct: int = 1, n_mr: int = 1, broken: bool = True) -> Path:
    """NIfTI phantoms (CT and MR) in a small tree, plus one unreadable file."""
    for n in range(n_ct):
        vol = ct_head_phantom((3.0, 3.0, 4.0), seed=n).volume
        save_nifti(vol, root / f"study{n}" / f"ct{n}.nii.gz")
    for n in range(n_mr):
        vol = mr_head_phantom((3.0, 3.0, 4.0), seed=n).volume
        save_nifti(vol, root / f"study{n}" / f"mr{n}.nii.gz")
    if broken:
        (root / "broken.nii.gz").write_bytes(b"this is not a NIfTI file")
    return root


def outputs_of(out: Path) -> dict[str, np.ndarray]:
    """Every NIfTI under ``out``, by relative path."""
    return {
        str(p.relative_to(out)): np.asarray(load_nifti(p).data)
        for p in sorted(out.rglob("*.nii.gz"))
        if not p.name.startswith(".")  # temporary files of a killed run are hidden
    }


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tree(tmp_path_factory.mktemp("in"))


def test_rows_outputs_and_provenance(tree: Path, tmp_path: Path) -> None:
    seen: list[int] = []

    def on_row(row: batch.ManifestRow) -> None:
        # the manifest on disk already holds every finished row
        seen.append(len(read_manifest(tmp_path / "manifest.csv")))

    summary = run_batch(tree, tmp_path, fast_config(), jobs=2, on_row=on_row)
    assert summary.exit_code == ExitCode.PARTIAL  # the broken file failed
    rows = {r["input"]: r for r in read_manifest(tmp_path / "manifest.csv")}
    assert set(rows) == {"broken.nii.gz", "study0/ct0.nii.gz", "study0/mr0.nii.gz"}
    assert rows["broken.nii.gz"]["status"] == "failed"
    assert "cannot read as NIfTI" in rows["broken.nii.gz"]["reason"]
    assert seen == [2, 3]  # one failed at scan time, then one row per finished series
    for name, pipeline in (("study0/ct0.nii.gz", "ct"), ("study0/mr0.nii.gz", "mr")):
        row = rows[name]
        assert row["status"] == "ok" and row["pipeline"] == pipeline, row
        image = load_nifti(tmp_path / row["output"])
        assert row["shape"] == "x".join(str(s) for s in image.shape)
        assert image.spacing == pytest.approx((3.0, 3.0, 3.0))
        assert image.orientation() == "RAS"
        stem = row["output"][: -len(".nii.gz")]
        mask = load_nifti(tmp_path / f"{stem}_mask.nii.gz")
        assert mask.shape == image.shape and set(np.unique(mask.data)) <= {0, 1}
        prov = json.loads((tmp_path / f"{stem}_provenance.json").read_text())
        assert prov["pipeline"] == pipeline
        assert len(prov["input_sha256"]) == 64
        assert prov["libraries"]["SimpleITK"] != "not installed"
        assert [s["name"] for s in prov["steps"]] == STEPS[pipeline]
        assert all(s["seconds"] >= 0 and "params" in s for s in prov["steps"])
        steps = json.loads(row["step_seconds"])
        assert "load" in steps and "brain_mask" in steps
        sidecar = json.loads((tmp_path / f"{stem}.json").read_text())
        assert sidecar["ImagingTriage"]["Pipeline"] == pipeline
    ct = load_nifti(tmp_path / rows["study0/ct0.nii.gz"]["output"])
    assert ct.data.dtype == np.int16  # HU, rounded
    # the candidate checks ran, listed in the provenance and the manifest
    stem = rows["study0/ct0.nii.gz"]["output"][: -len(".nii.gz")]
    prov = json.loads((tmp_path / f"{stem}_provenance.json").read_text())
    assert prov["outputs"]["candidates"] == Path(f"{stem}_candidates.nii.gz").name
    assert prov["outputs"]["candidates_json"] == Path(f"{stem}_candidates.json").name
    labels = load_nifti(tmp_path / f"{stem}_candidates.nii.gz")
    assert labels.shape == ct.shape and labels.data.dtype == np.uint8
    stored = json.loads((tmp_path / f"{stem}_candidates.json").read_text())
    assert rows["study0/ct0.nii.gz"]["candidates"] == str(stored["score"]["score"])
    assert prov["candidates"]["score"] == stored["score"]["score"]
    assert rows["study0/mr0.nii.gz"]["candidates"].isdigit()  # MR: midline, FLAIR
    folder = (tmp_path / stem).parent
    study = json.loads((folder / "study_candidates.json").read_text())
    scores = [int(rows[k]["candidates"]) for k in ("study0/ct0.nii.gz", "study0/mr0.nii.gz")]
    assert study["score"] == max(scores)
    assert sorted(study["series"]) == sorted(
        Path(rows[k]["output"]).name for k in ("study0/ct0.nii.gz", "study0/mr0.nii.gz")
    )
    # no temporary files left behind
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


def test_resume_change_and_force(tree: Path, tmp_path: Path) -> None:
    first = run_batch(tree, tmp_path, fast_config(), jobs=2)
    assert first.count(Status.OK) == 2
    before = outputs_of(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nii.gz")}

    second = run_batch(tree, tmp_path, fast_config(), jobs=2)
    statuses = {r.input: r.status for r in second.rows}
    assert statuses == {
        "broken.nii.gz": "failed",
        "study0/ct0.nii.gz": "skipped",
        "study0/mr0.nii.gz": "skipped",
    }
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nii.gz")} == mtimes
    skipped = next(r for r in second.rows if r.input == "study0/ct0.nii.gz")
    assert skipped.output and (tmp_path / skipped.output).is_file()

    # a CT parameter changes: CT recomputed, MR untouched
    changed = fast_config({"ct": {"brain_mask": {"bone_hu": 250.0}}})
    third = run_batch(tree, tmp_path, changed, jobs=2)
    statuses = {r.input: r.status for r in third.rows}
    assert statuses["study0/ct0.nii.gz"] == "ok"
    assert statuses["study0/mr0.nii.gz"] == "skipped"

    # the candidate checks turned off: recomputed without them, their outputs removed
    off = fast_config({"candidates": {"enabled": False}})
    fifth = run_batch(tree, tmp_path, off, jobs=2)
    statuses = {r.input: r.status for r in fifth.rows}
    assert statuses["study0/ct0.nii.gz"] == "ok" and statuses["study0/mr0.nii.gz"] == "ok"
    assert not list(tmp_path.rglob("*_candidates.*"))
    assert not list(tmp_path.rglob("study_candidates.json"))

    # --force recomputes everything, with identical results
    fourth = run_batch(tree, tmp_path, fast_config(), jobs=2, force=True)
    assert fourth.count(Status.OK) == 2 and fourth.count(Status.SKIPPED) == 0
    after = outputs_of(tmp_path)
    assert before.keys() == after.keys()
    for key in before:
        assert np.array_equal(before[key], after[key]), key


def test_changed_input_recomputes(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "in", n_mr=0, broken=False)
    out = tmp_path / "out"
    run_batch(src, out, fast_config(), jobs=1)
    vol = ct_head_phantom((3.0, 3.0, 4.0), seed=9).volume
    save_nifti(vol, src / "study0" / "ct0.nii.gz")
    again = run_batch(src, out, fast_config(), jobs=1)
    assert [r.status for r in again.rows] == ["ok"]


def test_nothing_to_do(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("no images here")
    summary = run_batch(tmp_path / "in", tmp_path / "out", fast_config())
    assert summary.exit_code == ExitCode.NOTHING
    assert not (tmp_path / "out").exists()


def _record(tmp_path: Path) -> SeriesRecord:
    path = tmp_path / "x.nii.gz"
    save_nifti(ct_head_phantom((6.0, 6.0, 6.0)).volume, path)
    return SeriesRecord(input="x.nii.gz", files=[str(path)], kind="nifti", key="abcdef0123")


def test_worker_turns_errors_into_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _record(tmp_path)
    task = Task(record, 0, str(tmp_path / "out"), fast_config())

    def geometry_error(_: SeriesRecord) -> list:
        raise GeometryError("2 missing slices; rerun with resampling", path="IM0003")

    monkeypatch.setattr("imaging_triage.ingest.load", geometry_error)
    row = run_task(task)
    assert row.status == "failed"
    assert row.reason == "IM0003: 2 missing slices; rerun with resampling"

    def crash(_: SeriesRecord) -> list:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("imaging_triage.ingest.load", crash)
    row = run_task(task)
    assert row.status == "failed"
    assert row.reason == "unexpected ZeroDivisionError: boom"


def test_several_volumes_per_series(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _record(tmp_path)
    vol = ct_head_phantom((6.0, 6.0, 6.0)).volume
    monkeypatch.setattr("imaging_triage.ingest.load", lambda _: [vol, vol])
    out = tmp_path / "out"
    row = run_task(Task(record, 0, str(out), None))
    assert row.status == "ok"
    outputs = row.output.split(";")
    assert len(outputs) == 2 and outputs[0].endswith("_v1.nii.gz")
    assert all(np.array_equal(load_nifti(out / o).data, vol.data) for o in outputs)
    # resume sees both volumes finished
    again = run_task(Task(record, 0, str(out), None))
    assert again.status == "skipped" and again.output == row.output


def test_recycled_workers_finish_every_task(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "in", n_ct=3, n_mr=0, broken=False)
    for n in range(3, 6):  # six series, three tasks per pool generation
        save_nifti(ct_head_phantom((6.0, 6.0, 6.0), seed=n).volume, src / f"c{n}.nii.gz")
    config = merge(fast_config(), {"batch": {"max_tasks_per_child": 1}})
    summary = run_batch(src, tmp_path / "out", config, jobs=2)
    assert summary.count(Status.OK) == 6
    assert len({r.worker_pid for r in summary.rows}) >= 3  # workers were replaced


@pytest.mark.slow
def test_sigkill_then_rerun_matches_clean_run(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "in", n_ct=4, n_mr=2, broken=False)
    config = tmp_path / "fast.toml"
    config.write_text(FAST_TOML)
    killed = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "imaging_triage",
        "preprocess",
        str(src),
        "-o",
        str(killed),
        "--config",
        str(config),
        "--jobs",
        "2",
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.PIPE)
    manifest = killed / "manifest.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.is_file() and len(read_manifest(manifest)) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the command and its workers
    proc.wait(timeout=30)
    proc.stderr.close()  # type: ignore[union-attr]

    # the manifest left behind is truthful: each row it lists is finished and loads
    rows = read_manifest(manifest)
    assert 2 <= len(rows) < 6
    for row in rows:
        assert row["status"] == "ok"
        assert load_nifti(killed / row["output"]).data.size > 0
    # and nothing under a final name is half written (temporary names start with ".")
    for path in killed.rglob("*.nii.gz"):
        if not path.name.startswith("."):
            load_nifti(path)

    rerun = subprocess.run(cmd, capture_output=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr.decode()
    rows = read_manifest(manifest)
    assert len(rows) == 6
    assert {r["status"] for r in rows} <= {"ok", "skipped"}
    assert sum(r["status"] == "skipped" for r in rows) >= 2

    clean = tmp_path / "clean"
    assert run_batch(src, clean, fast_config(), jobs=2).exit_code == 0
    got, want = outputs_of(killed), outputs_of(clean)
    assert got.keys() == want.keys()
    for key in want:
        assert np.array_equal(got[key], want[key]), key


@pytest.mark.slow
def test_dask_cluster_gives_identical_outputs(tree: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    local = tmp_path / "local"
    run_batch(tree, local, fast_config(), jobs=2)
    remote = tmp_path / "dask"
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        summary = run_batch(tree, remote, fast_config(), scheduler=cluster.scheduler_address)
    assert summary.exit_code == ExitCode.PARTIAL
    assert [(r.input, r.status) for r in summary.rows] == [
        (r["input"], r["status"]) for r in read_manifest(local / "manifest.csv")
    ]
    got, want = outputs_of(remote), outputs_of(local)
    assert got.keys() == want.keys() and len(want) == 6  # images, masks, candidate labels
    for key in want:
        assert np.array_equal(got[key], want[key]), key


def test_single_slice_is_dropped_by_preprocess_but_converted(tmp_path: Path) -> None:
    vol = ct_head_phantom((6.0, 6.0, 6.0)).volume
    single = type(vol)(vol.data[:, :, 10:11], vol.affine, vol.info)
    save_nifti(single, tmp_path / "in" / "one.nii.gz")
    pre = run_batch(tmp_path / "in", tmp_path / "pre", fast_config(), jobs=1)
    assert [r.status for r in pre.rows] == ["dropped"]
    assert "is not a volume" in pre.rows[0].reason and pre.exit_code == 0
    conv = run_batch(tmp_path / "in", tmp_path / "conv", None, jobs=1)
    assert [r.status for r in conv.rows] == ["ok"]


def test_manifest_cells_cannot_run_as_spreadsheet_formulas(tmp_path: Path) -> None:
    import numpy as np

    from imaging_triage.batch import run_batch
    from imaging_triage.volume import Volume, save_nifti

    src = tmp_path / "in"
    save_nifti(Volume(np.zeros((4, 4, 4), np.int16), np.eye(4)), src / "=cmd.nii.gz")
    summary = run_batch(src, tmp_path / "out", None, jobs=1)
    text = (tmp_path / "out" / "manifest.csv").read_text()
    assert summary.exit_code == 0
    assert ",'=cmd," in text and ",=cmd," not in text


def _child_env(key: str) -> str | None:
    return os.environ.get(key)


def test_workers_start_single_threaded_and_the_parent_env_is_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import multiprocessing

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "7")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with batch.single_threaded_children():
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            seen = pool.map(_child_env, ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"])
    assert seen == ["1", "1"]
    assert os.environ["OPENBLAS_NUM_THREADS"] == "7"
    assert "OMP_NUM_THREADS" not in os.environ


def test_mr_series_are_scheduled_before_ct_series_of_the_same_size(tmp_path: Path) -> None:
    def task(modality: str, index: int) -> Task:
        record = SeriesRecord(input="x", files=[], modality=modality, shape=(64, 64, 40))
        return Task(record, index, str(tmp_path), fast_config())

    ct, mr = task("CT", 0), task("MR", 1)
    assert batch._cost(mr) > batch._cost(ct)
    assert batch._cost(Task(mr.record, 1, str(tmp_path), None)) == batch._cost(ct)  # convert
