"""Review of batch.py, commands/{convert,preprocess}.py and preprocess/*.py.

Tests marked ``xfail(strict=True)`` demonstrate confirmed bugs (they pass once fixed);
the others pin behaviour verified correct during the review.
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest

from imaging_triage import batch
from imaging_triage.batch import Task, plan, read_manifest, run_batch, run_task, scan_input
from imaging_triage.errors import ExitCode
from imaging_triage.ingest import SeriesRecord, Status
from imaging_triage.preprocess.base import Sample
from imaging_triage.preprocess.config import PipelineConfig, default_config, merge
from imaging_triage.preprocess.ct_brain_mask import CTBrainMask
from imaging_triage.preprocess.phantom import Phantom, ct_head_phantom
from imaging_triage.preprocess.reorient import Reorient
from imaging_triage.preprocess.report import write_report
from imaging_triage.preprocess.resample import Interpolation, Resample
from imaging_triage.volume import LPS_TO_RAS, Volume, load_nifti, save_nifti

FAST = {"ct": {"resample": {"spacing_mm": [3.0, 3.0, 3.0]}}}


def fast_config(extra: dict | None = None) -> PipelineConfig:
    config = merge(default_config(), FAST)
    return merge(config, extra) if extra else config


def _world_grids(vol: Volume) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, z (RAS mm) of every voxel of an axis-aligned volume."""
    i, j, k = np.indices(vol.shape[:3], dtype=np.float64)
    a = vol.affine
    return a[0, 0] * i + a[0, 3], a[1, 1] * j + a[1, 3], a[2, 2] * k + a[2, 3]


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return ct_head_phantom((2.0, 2.0, 2.0))


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))


# --------------------------------------------------------------------------- CT brain mask


def test_ct_mask_keeps_brain_at_the_level_of_a_burr_hole(phantom: Phantom) -> None:
    vol = phantom.volume
    x, y, z = _world_grids(vol)
    data = vol.data.copy()
    # post-operative burr hole (e.g. after subdural haematoma drainage), filled by soft tissue
    hole = (np.hypot(y - 20, z - 40) <= 7) & (x > 0) & (data > 500)
    assert hole.any()
    data[hole] = 40.0
    mask = CTBrainMask()(Sample(image=Volume(data, vol.affine, vol.info))).mask
    assert mask is not None
    truth = phantom.intracranial
    for kk in np.unique(np.nonzero(hole)[2]):
        kept = (mask[:, :, kk] & truth[:, :, kk]).sum() / truth[:, :, kk].sum()
        assert kept > 0.9, f"slice {kk}: {kept:.0%} of the intracranial region kept"
    assert _dice(mask, truth) >= 0.95


def test_ct_mask_keeps_posterior_fossa_after_suboccipital_craniectomy(phantom: Phantom) -> None:
    vol = phantom.volume
    x, y, z = _world_grids(vol)
    data = vol.data.copy()
    gap = (y < -60) & (np.abs(x) < 15) & (z > -40) & (z < -20) & (data > 500)
    assert gap.any()
    data[gap] = 40.0
    mask = CTBrainMask()(Sample(image=Volume(data, vol.affine, vol.info))).mask
    assert mask is not None
    fossa = phantom.posterior_fossa
    assert (mask & fossa).sum() / fossa.sum() > 0.9


def test_ct_mask_on_intact_phantom_keeps_fossa_and_excludes_bone(phantom: Phantom) -> None:
    mask = CTBrainMask()(Sample(image=phantom.volume)).mask
    assert mask is not None
    assert _dice(mask, phantom.intracranial) >= 0.95
    fossa = phantom.posterior_fossa
    assert (mask & fossa).sum() / fossa.sum() > 0.95
    assert not (phantom.volume.data[mask] > 150).any()


# --------------------------------------------------------------------------- geometry


def test_reorient_and_resample_keep_world_positions_of_image_and_mask() -> None:
    """An LPS-stored, obliquely rotated volume: a bright marker and its mask stay where they
    are in world space through reorient + resample (no half-voxel shift, mask aligned)."""
    angle = np.deg2rad(12.0)
    rot = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    lps = np.eye(4)
    lps[:3, :3] = rot @ np.diag([0.9, 0.9, 2.5])
    lps[:3, 3] = [-40.0, -45.0, -30.0]
    affine = LPS_TO_RAS @ lps
    shape = (90, 100, 30)
    vol = Volume(np.zeros(shape, np.float32), affine)
    centre = np.array([5.3, -7.1, 4.2])  # RAS mm
    idx = np.indices(shape).reshape(3, -1).T
    world = vol.world(idx)
    inside = (np.linalg.norm(world - centre, axis=1) <= 8.0).reshape(shape)
    vol.data[inside] = 100.0
    sample = Sample(image=vol, mask=inside)
    out = Resample(spacing_mm=(1.0, 1.0, 1.0), interpolation=Interpolation.LINEAR)(
        Reorient()(sample)
    )
    img = out.image
    assert img.orientation() == "RAS"
    assert img.spacing == pytest.approx((1.0, 1.0, 1.0))
    assert out.mask is not None and out.mask.shape == img.shape and out.mask.dtype == bool
    grid = np.indices(img.shape).reshape(3, -1).T
    w = img.world(grid)
    weights = img.data.reshape(-1).astype(np.float64)
    image_centroid = (w * weights[:, None]).sum(axis=0) / weights.sum()
    mask_centroid = w[out.mask.reshape(-1)].mean(axis=0)
    assert image_centroid == pytest.approx(centre, abs=0.3)
    assert mask_centroid == pytest.approx(centre, abs=0.5)
    # nearest neighbour kept the mask binary, with about the sphere's volume (ml)
    assert out.mask.sum() / 1000.0 == pytest.approx(4 / 3 * np.pi * 8**3 / 1000.0, rel=0.1)


# --------------------------------------------------------------------------- batch: crash


def test_interrupted_rerun_leaves_truthful_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in"
    save_nifti(ct_head_phantom((3.0, 3.0, 4.0)).volume, src / "s" / "ct.nii.gz")
    out = tmp_path / "out"
    assert run_batch(src, out, fast_config(), jobs=1).exit_code == ExitCode.OK

    # second run with another spacing, killed after the image was replaced but before the
    # sidecar/provenance/manifest were written (a SIGKILL or power cut at that moment)
    import imaging_triage.preprocess.pipeline as pipeline

    def killed(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "atomic_write_json", killed)
    changed = fast_config({"ct": {"resample": {"spacing_mm": [4.0, 4.0, 4.0]}}})
    with pytest.raises(KeyboardInterrupt):
        run_batch(src, out, changed, jobs=1)
    monkeypatch.undo()

    rows = read_manifest(out / "manifest.csv")
    for row in rows:
        if row["status"] in ("ok", "skipped"):
            image = load_nifti(out / row["output"])
            spacing = "x".join(f"{s:.4g}" for s in image.spacing)
            assert (row["shape"], row["spacing_mm"]) == (
                "x".join(str(s) for s in image.shape),
                spacing,
            ), "manifest row says ok with a shape/spacing the file on disk does not have"


# --------------------------------------------------------------------------- batch: stale


def _ct_tree(root: Path) -> Path:
    save_nifti(ct_head_phantom((3.0, 3.0, 4.0)).volume, root / "s" / "ct.nii.gz")
    return root


NO_MASK = {"ct": {"steps": ["reorient", "clip", "resample"], "resample": {"spacing_mm": [4.0] * 3}}}


def test_no_stale_outputs_after_a_step_is_removed(tmp_path: Path) -> None:
    src = _ct_tree(tmp_path / "in")
    out = tmp_path / "out"
    run_batch(src, out, fast_config(), jobs=1)
    second = run_batch(src, out, fast_config(NO_MASK), jobs=1)
    assert [r.status for r in second.rows] == ["ok"]
    stem = second.rows[0].output[: -len(".nii.gz")]
    prov = json.loads((out / f"{stem}_provenance.json").read_text())
    listed = set(prov["outputs"].values()) | {f"{Path(stem).name}_provenance.json"}
    on_disk = {p.name for p in (out / stem).parent.iterdir() if not p.name.startswith(".")}
    assert on_disk - {"manifest.csv"} <= listed, on_disk - listed


def test_report_of_a_skipped_series_ignores_stale_mask(tmp_path: Path) -> None:
    src = _ct_tree(tmp_path / "in")
    out = tmp_path / "out"
    run_batch(src, out, fast_config(), jobs=1)
    run_batch(src, out, fast_config(NO_MASK), jobs=1)
    third = run_batch(src, out, fast_config(NO_MASK), jobs=1)
    assert [r.status for r in third.rows] == ["skipped"]
    html = write_report(out, read_manifest(out / "manifest.csv")).read_text()
    assert "cannot render" not in html
    assert html.count("data:image/png;base64,") == 3


# --------------------------------------------------------------------------- batch: resume


def test_resume_skips_a_finished_output_and_force_redoes(tmp_path: Path) -> None:
    src = _ct_tree(tmp_path / "in")
    out = tmp_path / "out"
    first = run_batch(src, out, fast_config(), jobs=1)
    assert [r.status for r in first.rows] == ["ok"]
    assert [r.status for r in run_batch(src, out, fast_config(), jobs=1).rows] == ["skipped"]
    # a batch-only setting is not part of the parameter hash
    recycled = merge(fast_config(), {"batch": {"max_tasks_per_child": 3}})
    assert [r.status for r in run_batch(src, out, recycled, jobs=1).rows] == ["skipped"]
    # an output deleted by hand is redone
    (out / first.rows[0].output).unlink()
    assert [r.status for r in run_batch(src, out, fast_config(), jobs=1).rows] == ["ok"]
    forced = run_batch(src, out, fast_config(), jobs=1, force=True)
    assert [r.status for r in forced.rows] == ["ok"]


def _nifti_record(tmp_path: Path) -> SeriesRecord:
    path = tmp_path / "x.nii.gz"
    save_nifti(ct_head_phantom((6.0, 6.0, 6.0)).volume, path)
    return SeriesRecord(input="x.nii.gz", files=[str(path)], kind="nifti", key="abcdef0123")


def test_resume_not_fooled_by_stale_single_volume_provenance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _nifti_record(tmp_path)
    vol = ct_head_phantom((6.0, 6.0, 6.0)).volume
    out = tmp_path / "out"
    monkeypatch.setattr("imaging_triage.ingest.load", lambda _: [vol])
    assert run_task(Task(record, 0, str(out), None)).status == "ok"
    # the series changes (e.g. re-exported with a second volume): two volumes now
    save_nifti(ct_head_phantom((6.0, 6.0, 6.0), seed=1).volume, record.files[0])
    monkeypatch.setattr("imaging_triage.ingest.load", lambda _: [vol, vol])
    assert run_task(Task(record, 0, str(out), None)).status == "ok"
    # nothing changed since: every output is up to date and must be skipped
    assert run_task(Task(record, 0, str(out), None)).status == "skipped"


# --------------------------------------------------------------------------- identifiers


def test_failure_reason_does_not_leak_the_absolute_input_path(tmp_path: Path) -> None:
    root = tmp_path / "DOE_JOHN_MRN1234567"
    save_nifti(Volume(np.zeros((8, 8, 8), np.float32), np.eye(4)), root / "a.nii")
    raw = (root / "a.nii").read_bytes()
    (root / "a.nii").write_bytes(raw[: 352 + 100])  # header fine, voxels truncated
    out = tmp_path / "out"
    summary = run_batch(root, out, None, jobs=1)
    assert summary.exit_code == ExitCode.PARTIAL
    rows = read_manifest(out / "manifest.csv")
    assert rows[0]["status"] == "failed" and rows[0]["reason"]
    text = (out / "manifest.csv").read_text()
    assert "DOE_JOHN" not in text
    html = write_report(out, rows).read_text()
    assert "DOE_JOHN" not in html


# --------------------------------------------------------------------------- Dask


def test_tasks_sent_to_workers_carry_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ct_tree(tmp_path / "in")
    monkeypatch.chdir(tmp_path)
    scanned = scan_input(Path("in"))
    tasks, _ = plan(scanned, Path("out"), fast_config(), False)
    assert tasks
    for task in tasks:
        assert all(Path(f).is_absolute() for f in task.record.files)
        assert Path(task.out).is_absolute()


# --------------------------------------------------------------------------- exit codes


def test_exit_codes_of_convert_and_preprocess(tmp_path: Path) -> None:
    from imaging_triage.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images")
    assert main(["convert", str(empty), "-o", str(tmp_path / "o1"), "--quiet"]) == 4
    assert main(["preprocess", str(empty), "-o", str(tmp_path / "o2"), "--quiet"]) == 4
    assert main(["convert", str(tmp_path / "missing"), "-o", str(tmp_path / "o3")]) == 2
    assert main(["convert", str(empty), "-o", str(empty / "sub")]) == 2
    assert main(["preprocess", str(empty), "-o", str(tmp_path / "o4"), "--jobs", "0"]) == 2
    src = _ct_tree(tmp_path / "in")
    assert main(["convert", str(src), "-o", str(tmp_path / "o5"), "--quiet"]) == 0
    (src / "bad.nii").write_bytes(b"not a nifti file at all")
    assert main(["convert", str(src), "-o", str(tmp_path / "o6"), "--quiet"]) == 3
    # dry run writes nothing
    assert main(["preprocess", str(src), "-o", str(tmp_path / "o7"), "--dry-run"]) == 0
    assert not (tmp_path / "o7").exists()


def test_statuses_are_manifest_values() -> None:
    assert {s.value for s in Status} == {"ok", "skipped", "dropped", "failed"}
    assert batch.ManifestRow.columns()[:9] == [
        "input",
        "series_uid",
        "modality",
        "description",
        "status",
        "reason",
        "output",
        "shape",
        "spacing_mm",
    ]


def test_output_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    from imaging_triage.cli import main

    src = _ct_tree(tmp_path / "in")
    target = tmp_path / "out.txt"
    target.write_text("not a folder")
    assert main(["convert", str(src), "-o", str(target), "--quiet"]) == 2


class _FakePool:
    """A process pool with ProcessPoolExecutor's failure semantics, without processes: when
    a worker dies (here: while running the task whose input is ``crash``), the pool breaks
    and every future still pending or running in it gets ``BrokenProcessPool``."""

    def __init__(self) -> None:
        self.items: list[tuple[Future, Task]] = []

    def submit(self, fn: object, task: Task) -> Future:
        fut: Future = Future()
        fut.set_running_or_notify_cancel()
        self.items.append((fut, task))
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass

    def run(self) -> None:
        live = [(f, t) for f, t in self.items if not f.done()]
        if any(t.record.input == "crash" for _, t in live):
            for f, _ in live:
                f.set_exception(BrokenProcessPool("a child process terminated abruptly"))
        else:
            for f, t in live:
                f.set_result(batch.ManifestRow(input=t.record.input))


def test_worker_crash_does_not_fail_an_innocent_series(monkeypatch: pytest.MonkeyPatch) -> None:
    pools: list[_FakePool] = []

    def new_pool(jobs: int) -> _FakePool:
        pools.append(_FakePool())
        return pools[-1]

    real_wait = batch.wait

    def wait(fs: list[Future], return_when: str) -> object:
        for pool in pools:
            pool.run()
        return real_wait(fs, return_when=return_when)

    monkeypatch.setattr(batch, "_new_pool", new_pool)
    monkeypatch.setattr(batch, "wait", wait)
    tasks = [
        Task(SeriesRecord("crash", [], "nifti", "c0000000"), 0, "out", None),
        Task(SeriesRecord("healthy", [], "nifti", "h0000000"), 1, "out", None),
    ]
    rows = {task.index: row for task, row in batch._local_results(tasks, 2, 10)}
    assert rows[0].status == "failed"
    assert rows[1].status == "ok", rows[1].reason


def test_unreachable_scheduler_is_reported_not_raised(tmp_path: Path) -> None:
    import dask
    import distributed  # noqa: F401 - load its config defaults before the override below

    from imaging_triage.cli import main

    src = _ct_tree(tmp_path / "in")
    argv = ["preprocess", str(src), "-o", str(tmp_path / "out"), "--quiet"]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code = main([*argv, "--scheduler", "tcp://127.0.0.1:1"])
    assert code in (ExitCode.ERROR, ExitCode.USAGE)
