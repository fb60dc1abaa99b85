"""Benchmark of the candidate checks (issue 14): what they find, what they wrongly flag, cost.

Usage (from the project root, with the virtualenv)::

    .venv/bin/python benchmarks/candidates.py                  # prints the tables
    .venv/bin/python benchmarks/candidates.py --json out.json  # also saves the numbers

Every volume series (CT and MR) goes through ``preprocess`` as the command runs it
(:func:`imaging_triage.preprocess.pipeline.process_volume` with the default
configuration: reorient, clip, resample to 1 mm, brain mask, then the candidate checks as
the last step, writing their label NIfTI and JSON), into a temporary folder; the figures
are read back from what it wrote.

* **Sample studies** (``sample_data/``, synthetic, ground truth in
  ``ground_truth/*/truth.json`` and the label NIfTIs, brought onto the processed grid by
  nearest neighbour through world coordinates, so the tilted study compares too):

  - per ground-truth lesion: found or missed (a candidate region of the matching check
    overlaps its label: hyperdensity for hemorrhage, hypodensity asymmetry for infarct),
    and the candidate volume inside the label;
  - per study: candidate volume (mL) of the regions that overlap no lesion, per check;
  - per mimic (``mimics`` of truth.json: physiological calcifications, beam hardening;
    never findings): the candidate volume near it, which should be 0;
  - midline shift against the generator's truth (``modifiers`` of truth.json; 0 when none);
  - Evans' index against the generator's geometry (frontal horns and inner table of
    :mod:`imaging_triage.phantom`: 2 x 16.5 / 2 x 63 = 0.262).

* **Follow-up studies** (``follow_up_of`` in truth.json: 07, ten days after 02): both
  studies through one ``preprocess`` run, whose follow-up pass measures the sites of the
  prior's candidates on the follow-up (:mod:`imaging_triage.candidates.followup`); per
  lesion of the follow-up, found or missed by those sites, and the pass's seconds against
  the follow-up series' ``preprocess`` seconds. The summary line counts the sample
  hemorrhages of 0.5 mL or more found by any check.

* **Real data** (``../shared/realdata``: the Philips CT head phantom, two series, the GE
  real head CT, and the United Imaging real 3-D T1 head MR): the candidate volume and
  regions per series, and the midline shift, as the false-positive measure on real data
  (no report comes with any: the GE head shows by eye a left parieto-occipital
  hypodensity, probably an old infarct, on which its largest hypodense region lies).

* **Cost**: seconds of the ``candidates`` step (checks and their outputs, from the
  provenance) against the rest of ``preprocess`` on the same series in the same run
  (loading the DICOM, the steps, writing the outputs): the ratio is what the checks add
  to ``preprocess`` per CT series (the issue's budget is 30%; MR rows are shown too).
  Each series runs ``--repeat`` times (default 2) and each figure is the least of the
  runs, so that a moment of load on a shared machine does not decide a row. The
  benchmark runs with **one thread**, as the ``preprocess`` workers do
  (:data:`imaging_triage.batch.SINGLE_THREAD_ENV` set before numpy is imported, and
  :func:`imaging_triage.batch.init_worker` for SimpleITK), so that threads cannot hide a
  cost; beside the wall seconds it prints the process CPU seconds of the same runs
  (``*_cpu_s``), which load on a shared machine disturbs less.

The checks are not validated on patients: these figures are on synthetic studies and on
two real series without lesions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: one thread for the numeric libraries, set before they are imported (they read it then):
#: the same as :data:`imaging_triage.batch.SINGLE_THREAD_ENV` (checked in :func:`main`)
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1",
}
os.environ.update(ONE_THREAD)

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REALDATA = Path(os.environ.get("IMAGING_TRIAGE_REALDATA", ROOT.parent / "shared" / "realdata"))
REAL = {
    "philips_phantom_std_brain": REALDATA / "dcm_qa_ct" / "In" / "Philips" / "S21570",
    "philips_phantom_stereotaxis": REALDATA / "dcm_qa_ct" / "In" / "Philips" / "S21610",
    "ge_real_head": REALDATA / "dcm_qa_ct" / "In" / "GE",
    "uih_real_head_t1": REALDATA / "dcm_qa_uih" / "In" / "DTI_132225" / "t1_gre_fsp_3d_sag__132750",
}
#: which check should find each lesion type of truth.json
CHECK_OF_TYPE = {
    "sdh": "hyperdensity",
    "edh": "hyperdensity",
    "sah": "hyperdensity",
    "iph": "hyperdensity",
    "ivh": "hyperdensity",
    "infarct": "hypodensity_asymmetry",
    "mass": "flair_asymmetry",
    "edema": "flair_asymmetry",
}


def evans_truth() -> float:
    """Evans' index of the generator's head: frontal horns' outer walls / inner table width."""
    from imaging_triage.phantom import FRONTAL_HORNS, SKULL_INNER

    horns = max(abs(h.centre[0]) + h.radii[0] for h in FRONTAL_HORNS)
    return 2.0 * horns / (2.0 * SKULL_INNER.radii[0])


def labels_on_grid(
    data: npt.NDArray[Any],
    affine: npt.NDArray[np.float64],
    shape: tuple[int, ...],
    new_affine: npt.NDArray[np.float64],
) -> npt.NDArray[np.uint8]:
    """Nearest-neighbour resampling of a label volume (any affine, shear included)."""
    from scipy import ndimage

    out = np.zeros(shape, dtype=np.uint8)
    m = np.linalg.inv(affine) @ new_affine
    ii, jj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    for k in range(shape[2]):
        pts = np.stack([ii, jj, np.full_like(ii, k), np.ones_like(ii)]).reshape(4, -1)
        src = (m @ pts.astype(np.float64))[:3]
        out[:, :, k] = ndimage.map_coordinates(
            np.asarray(data), src, order=0, mode="constant", cval=0
        ).reshape(ii.shape)
    return out


@dataclass
class Processed:
    """One series as ``preprocess`` wrote it, read back."""

    series: int
    stack: int
    modality: str
    image: Any
    labels: npt.NDArray[np.uint8]
    report: Any
    preprocess_s: float
    checks_s: float
    preprocess_cpu_s: float = 0.0
    checks_cpu_s: float = 0.0


def _timed_step(step: Callable[..., Any], cpu: list[float]) -> Callable[..., Any]:
    """``step`` appending the process CPU seconds of each call to ``cpu``."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return step(*args, **kwargs)
        finally:
            cpu.append(time.process_time() - start)

    return timed


def process(root: Path, repeat: int = 1) -> list[Processed]:
    """Every volume series under ``root`` through ``preprocess`` (candidates included),
    ``repeat`` times; the seconds are the least of the runs (the machine is shared)."""
    from imaging_triage.candidates.stored import read_candidates
    from imaging_triage.ingest import Status, load, scan
    from imaging_triage.preprocess import pipeline
    from imaging_triage.preprocess.config import load_config
    from imaging_triage.volume import load_nifti

    config = load_config(None)
    out = []
    records = [r for r in scan(root).series if r.status is Status.OK]
    step_cpu: list[float] = []
    original = pipeline._candidates_step
    pipeline._candidates_step = _timed_step(original, step_cpu)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-candidates-") as tmp:
            for index, record in enumerate(records):
                start, cpu_start = time.perf_counter(), time.process_time()
                volumes = load(record)
                load_s = (time.perf_counter() - start) / max(1, len(volumes))
                load_cpu = (time.process_time() - cpu_start) / max(1, len(volumes))
                for n, volume in enumerate(volumes):
                    if min(volume.shape[:3]) < 4:
                        continue
                    base = Path(tmp) / f"s{index}_{n}"
                    rest_s, checks_s = float("inf"), float("inf")
                    rest_cpu, checks_cpu = float("inf"), float("inf")
                    for _ in range(max(1, repeat)):
                        step_cpu.clear()
                        start, cpu_start = time.perf_counter(), time.process_time()
                        written = pipeline.process_volume(
                            volume, config, base, input_sha256="", series_outputs=[]
                        )
                        total_s = load_s + time.perf_counter() - start
                        total_cpu = load_cpu + time.process_time() - cpu_start
                        step_s = written.step_seconds.get("candidates", 0.0)
                        rest_s, checks_s = min(rest_s, total_s - step_s), min(checks_s, step_s)
                        step_c = sum(step_cpu)
                        rest_cpu = min(rest_cpu, total_cpu - step_c)
                        checks_cpu = min(checks_cpu, step_c)
                    stored = read_candidates(written.paths["image"])
                    if stored is None or stored.labels_path is None:
                        continue
                    out.append(
                        Processed(
                            series=volume.info.series_number or 0,
                            stack=index + n,
                            modality=volume.info.modality,
                            image=load_nifti(written.paths["image"]),
                            labels=np.asarray(load_nifti(stored.labels_path).data, np.uint8),
                            report=stored,
                            preprocess_s=rest_s,
                            checks_s=checks_s,
                            preprocess_cpu_s=rest_cpu,
                            checks_cpu_s=checks_cpu,
                        )
                    )
    finally:
        pipeline._candidates_step = original
    return out


def _region_maps(report: Any) -> dict[str, list[tuple[int, float]]]:
    """(label, volume) of the regions of each check."""
    maps: dict[str, list[tuple[int, float]]] = {}
    for res in report.results:
        maps[res.check.value] = [(r.label, r.volume_ml) for r in res.regions]
    return maps


def sample_rows(samples: Path, repeat: int = 1) -> dict[str, Any]:
    """Lesion, study and cost rows on the sample studies."""
    from imaging_triage.volume import load_nifti

    lesions, studies, cost, mimics = [], [], [], []
    evans_ref = evans_truth()
    for study_dir in sorted((samples / "dicom").iterdir()):
        truth = json.loads((samples / "ground_truth" / study_dir.name / "truth.json").read_text())
        shift_truth = 0.0
        for mod in truth.get("modifiers", []):
            if mod.get("type") == "midline_shift":
                sign = 1.0 if mod.get("direction") == "right" else -1.0
                shift_truth = sign * float(mod["shift_mm"])
        for item in process(study_dir, repeat):
            report, image, labels = item.report, item.image, item.labels
            cost.append(_cost_row(f"{study_dir.name} s{item.series}", item))
            label = load_nifti(
                samples / "ground_truth" / study_dir.name / f"label_series{item.series:03d}.nii.gz"
            )
            gt = labels_on_grid(np.asarray(label.data), label.affine, image.shape, image.affine)
            maps = _region_maps(report)
            voxel_ml = float(np.prod(image.spacing)) / 1000.0
            touched: set[tuple[str, int]] = set()
            measured = {res.check.value for res in report.results if res.status.value == "measured"}
            for finding in truth["findings"]:
                check = CHECK_OF_TYPE.get(finding["type"])
                if check not in measured:  # e.g. the FLAIR check on a T1 series
                    continue
                inside = gt == finding["label_value"]
                hit_labels = set(np.unique(labels[inside]).tolist()) - {0}
                for name, regions in maps.items():
                    for lab, _ in regions:
                        if lab in hit_labels:
                            touched.add((name, lab))
                own = {lab for lab, _ in maps.get(check or "", [])} & hit_labels
                found_ml = float(np.isin(labels[inside], list(own)).sum()) * voxel_ml
                lesions.append(
                    {
                        "study": study_dir.name,
                        "series": item.series,
                        "lesion": finding["type"],
                        "location": finding["location"],
                        "truth_ml": finding["volume_ml"],
                        "hu": finding.get("true_hu", finding.get("true_delta_hu")),
                        "check": check,
                        "found": bool(own),
                        "candidate_ml_in_lesion": round(found_ml, 2),
                    }
                )
            fp = {
                name: round(sum(v for lab, v in regions if (name, lab) not in touched), 2)
                for name, regions in maps.items()
            }
            lesion_labels = np.isin(labels, [lab for _, lab in touched])
            mimics += mimic_rows(study_dir.name, truth, np.where(lesion_labels, 0, labels), image)
            shift = report.result(_check("midline_shift"))
            evans = report.result(_check("ventricles"))
            studies.append(
                {
                    "study": study_dir.name,
                    "series": item.series,
                    "fp_hyperdensity_ml": fp.get("hyperdensity", 0.0),
                    "fp_hypodensity_ml": fp.get("hypodensity_asymmetry", 0.0),
                    "fp_flair_ml": fp.get("flair_asymmetry", 0.0),
                    "shift_mm": _measure(shift, "shift_mm"),
                    "shift_truth_mm": shift_truth,
                    "evans": _measure(evans, "evans_index"),
                    "evans_truth": round(evans_ref, 3),
                    "score": report.score.score,
                }
            )
    return {"lesions": lesions, "studies": studies, "cost": cost, "mimics": mimics}


def followup_rows(samples: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow-up studies (``follow_up_of`` in truth.json) through ``preprocess`` with their
    prior, as the command runs them: one :func:`imaging_triage.batch.run_batch` over both
    studies, whose follow-up pass matches them by the keyed patient hash and the study date.
    Per lesion of the follow-up: found or not by the prior sites (a site overlaps it), the
    candidate volume inside it and the site's difference from its mirror; and the cost of
    the pass on the follow-up series (measured again, it replaces what it wrote) against
    the seconds ``preprocess`` spent on that series."""
    import shutil

    from imaging_triage.batch import read_manifest, run_batch
    from imaging_triage.candidates.followup import add_prior_sites, study_day
    from imaging_triage.preprocess.config import load_config
    from imaging_triage.volume import load_nifti

    config = load_config(None)
    lesions, cost = [], []
    for study_dir in sorted((samples / "dicom").iterdir()):
        truth = json.loads((samples / "ground_truth" / study_dir.name / "truth.json").read_text())
        prior = truth.get("follow_up_of")
        if not prior:
            continue
        prior_truth = json.loads((samples / "ground_truth" / prior / "truth.json").read_text())
        with tempfile.TemporaryDirectory(prefix="bench-followup-") as tmp:
            src, out = Path(tmp) / "in", Path(tmp) / "out"
            for name in (prior, study_dir.name):
                shutil.copytree(samples / "dicom" / name, src / name)
            run_batch(src, out, config, jobs=1)
            rows = {Path(r["input"]).parts[0]: r for r in read_manifest(out / "manifest.csv")}
            image_path = out / rows[study_dir.name]["output"].split(";")[0]
            prior_path = out / rows[prior]["output"].split(";")[0]
            later, earlier = study_day(truth["study_date"]), study_day(prior_truth["study_date"])
            assert later is not None and earlier is not None
            days = (later - earlier).days
            wall, cpu = time.perf_counter(), time.process_time()
            stored = add_prior_sites(image_path, prior_path, days, config.candidates.checks)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert stored is not None and stored.labels_path is not None
            preprocess_s = float(rows[study_dir.name]["seconds"])
            cost.append(
                {
                    "series": f"{study_dir.name} (prior {prior})",
                    "modality": "CT",
                    "follow_up_pass_s": round(wall, 2),
                    "follow_up_pass_cpu_s": round(cpu, 2),
                    "preprocess_s": round(preprocess_s, 2),
                    "ratio": round(wall / preprocess_s, 3),
                }
            )
            image = load_nifti(image_path)
            labels = np.asarray(load_nifti(stored.labels_path).data)
            series = int(Path(image_path).name.split("_")[0])
            label = load_nifti(
                samples / "ground_truth" / study_dir.name / f"label_series{series:03d}.nii.gz"
            )
            gt = labels_on_grid(np.asarray(label.data), label.affine, image.shape, image.affine)
            voxel_ml = float(np.prod(image.spacing)) / 1000.0
            sites = stored.result(_check("prior_sites")).regions
            for finding in truth["findings"]:
                inside = gt == finding["label_value"]
                hit = [r for r in sites if np.any(labels[inside] == r.label)]
                found_ml = float(np.isin(labels[inside], [r.label for r in hit]).sum()) * voxel_ml
                lesions.append(
                    {
                        "study": study_dir.name,
                        "series": series,
                        "lesion": finding["type"],
                        "location": finding["location"],
                        "truth_ml": finding["volume_ml"],
                        "hu": finding.get("true_hu", finding.get("true_delta_hu")),
                        "check": "prior_sites",
                        "found": bool(hit),
                        "candidate_ml_in_lesion": round(found_ml, 2),
                        "site_delta_hu": round(hit[0].delta_hu, 1)
                        if hit and hit[0].delta_hu is not None
                        else None,
                    }
                )
    return lesions, cost


def mimic_rows(
    study: str, truth: dict[str, Any], labels: npt.NDArray[np.uint8], image: Any
) -> list[dict[str, Any]]:
    """Per mimic of truth.json (not a finding): candidate volume (mL) near it, of the
    regions that overlap no lesion (``labels`` has the others removed).

    Near a calcification: within its largest radius plus 5 mm of its centre. Near the
    beam-hardening streaks: within 10 mm of the level of the petrous apices, behind them
    (posterior fossa), within 45 mm of the midline.
    """
    rows = []
    ijk = np.argwhere(labels > 0)
    xyz = ijk @ image.affine[:3, :3].T + image.affine[:3, 3] if ijk.size else np.zeros((0, 3))
    voxel_ml = float(np.prod(image.spacing)) / 1000.0
    for mimic in truth.get("mimics", []):
        centre = np.asarray(mimic["centre_ras_mm"], dtype=np.float64)
        if mimic["type"] == "beam_hardening":
            near = (
                (np.abs(xyz[:, 2] - centre[2]) <= 10.0)
                & (xyz[:, 1] <= centre[1] + 5.0)
                & (np.abs(xyz[:, 0]) <= 45.0)
            )
        else:
            reach = max(mimic["radii_mm"]) + 5.0
            near = np.linalg.norm(xyz - centre, axis=1) <= reach
        rows.append(
            {
                "study": study,
                "mimic": mimic["type"],
                "location": mimic["location"],
                "candidate_ml_near": round(float(near.sum()) * voxel_ml, 2),
            }
        )
    return rows


def _cost_row(name: str, item: Processed) -> dict[str, Any]:
    return {
        "series": name,
        "modality": item.modality,
        "preprocess_s": round(item.preprocess_s, 2),
        "checks_s": round(item.checks_s, 2),
        "ratio": round(item.checks_s / item.preprocess_s, 3),
        "preprocess_cpu_s": round(item.preprocess_cpu_s, 2),
        "checks_cpu_s": round(item.checks_cpu_s, 2),
        "cpu_ratio": round(item.checks_cpu_s / max(item.preprocess_cpu_s, 1e-9), 3),
    }


def _check(name: str) -> Any:
    from imaging_triage.candidates import Check

    return Check(name)


def _measure(result: Any, key: str) -> float | None:
    value = result.measures.get(key)
    return None if value is None else round(float(value), 2)


def real_rows(repeat: int = 1) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Candidate volume and regions per real series (no report known), and the cost rows."""
    rows, cost = [], []
    for name, folder in REAL.items():
        if not folder.is_dir():
            rows.append({"series": name, "note": f"{folder} missing: skipped"})
            continue
        for item in process(folder, repeat):
            report = item.report
            cost.append(_cost_row(f"{name} s{item.series} stack{item.stack}", item))
            hyper = report.result(_check("hyperdensity"))
            hypo = report.result(_check("hypodensity_asymmetry"))
            flair = report.result(_check("flair_asymmetry"))
            rows.append(
                {
                    "series": f"{name} s{item.series} stack{item.stack}",
                    "modality": item.modality,
                    "hyperdensity": hyper.status.value,
                    "hyper_ml": round(sum(r.volume_ml for r in hyper.regions), 2),
                    "hyper_regions": len(hyper.regions),
                    "hypo_ml": round(sum(r.volume_ml for r in hypo.regions), 2),
                    "hypo_regions": len(hypo.regions),
                    "flair_ml": round(sum(r.volume_ml for r in flair.regions), 2),
                    "shift_mm": _measure(report.result(_check("midline_shift")), "shift_mm"),
                    "evans": _measure(report.result(_check("ventricles")), "evans_index"),
                    "reasons": "; ".join(hyper.reasons),
                }
            )
    return rows, cost


def table(rows: list[dict[str, Any]], title: str) -> str:
    """A plain-text table of ``rows`` (columns of the first row)."""
    if not rows:
        return f"{title}: (none)\n"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    cells = [[str(r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = [title, "  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT / "sample_data")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    parser.add_argument("--no-real", action="store_true", help="skip ../shared/realdata")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs per series; seconds are the least (2)"
    )
    args = parser.parse_args(argv)
    from imaging_triage.batch import SINGLE_THREAD_ENV, init_worker

    if ONE_THREAD != SINGLE_THREAD_ENV:
        raise SystemExit("benchmarks/candidates.py: ONE_THREAD differs from SINGLE_THREAD_ENV")
    init_worker()  # one SimpleITK thread, as in a preprocess worker
    out: dict[str, Any] = sample_rows(args.samples, args.repeat)
    out["follow_up"], out["follow_up_cost"] = followup_rows(args.samples)
    out["real"], real_cost = ([], []) if args.no_real else real_rows(args.repeat)
    out["cost"] += real_cost
    print(table(out["lesions"], "Sample lesions (found = a region of the matching check overlaps)"))
    print(
        table(
            out["follow_up"],
            "Follow-up studies with their prior (found = a prior site overlaps the lesion)",
        )
    )
    found = {
        (r["study"], r["lesion"], r["location"])
        for r in out["lesions"] + out["follow_up"]
        if r["found"]
    }
    bleeds = [
        r for r in out["lesions"] if r["check"] == "hyperdensity" and float(r["truth_ml"]) >= 0.5
    ]
    missed = [r for r in bleeds if (r["study"], r["lesion"], r["location"]) not in found]
    print(
        f"sample hemorrhages of 0.5 mL or more found by a check: {len(bleeds) - len(missed)} "
        f"of {len(bleeds)}"
        + (
            f"; missed: {', '.join(r['study'] + ' ' + r['lesion'] for r in missed)}"
            if missed
            else ""
        )
        + "\n"
    )
    print(
        table(out["studies"], "Sample studies (fp = candidate mL in regions overlapping no lesion)")
    )
    print(table(out["mimics"], "Sample mimics (not findings: any candidate near one is false)"))
    print(table(out["real"], "Real data (no lesion known from a report; see the README)"))
    print(table(out["cost"], "Cost per series (candidates step / rest of preprocess)"))
    print(
        table(
            out["follow_up_cost"],
            "Cost of the follow-up pass per follow-up CT series (/ its preprocess seconds)",
        )
    )
    ratios = [c["ratio"] for c in out["cost"] if c["modality"] == "CT"]
    cpu = [c["cpu_ratio"] for c in out["cost"] if c["modality"] == "CT"]
    if ratios:
        print(
            f"candidates add to preprocess per CT series (one thread): median "
            f"{np.median(ratios):.0%}, max {max(ratios):.0%} of wall time; median "
            f"{np.median(cpu):.0%}, max {max(cpu):.0%} of CPU time (budget 30%)"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
