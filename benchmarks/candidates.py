"""Benchmark of the candidate checks (issue 14): what they find, what they wrongly flag, cost.

Usage (from the project root, with the virtualenv)::

    .venv/bin/python benchmarks/candidates.py                  # prints the tables
    .venv/bin/python benchmarks/candidates.py --json out.json  # also saves the numbers

Every volume series goes through the default ``preprocess`` pipeline (reorient, clip,
resample to 1 mm, brain mask) and then :func:`imaging_triage.candidates.run_checks`.

* **Sample studies** (``sample_data/``, synthetic, ground truth in
  ``ground_truth/*/truth.json`` and the label NIfTIs, brought onto the processed grid by
  nearest neighbour through world coordinates, so the tilted study compares too):

  - per ground-truth lesion: found or missed (a candidate region of the matching check
    overlaps its label: hyperdensity for hemorrhage, hypodensity asymmetry for infarct),
    and the candidate volume inside the label;
  - per study: candidate volume (mL) of the regions that overlap no lesion, per check;
  - midline shift against the generator's truth (``modifiers`` of truth.json; 0 when none);
  - Evans' index against the generator's geometry (frontal horns and inner table of
    :mod:`imaging_triage.phantom`: 2 x 16.5 / 2 x 63 = 0.262).

* **Real CT** (``../shared/realdata/dcm_qa_ct``: the Philips head phantom, two series, and
  the GE real head CT, two stacks): the candidate volume and regions per series, as the
  false-positive measure on real data (no lesion is known in either).

* **Cost**: seconds of the checks against seconds of the pipeline on the same series, in
  the same run (the ratio is the figure; the issue's budget is 30%).

The checks are not validated on patients: these figures are on synthetic studies and on
two real series without lesions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REALDATA = Path(os.environ.get("IMAGING_TRIAGE_REALDATA", ROOT.parent / "shared" / "realdata"))
REAL_CT = {
    "philips_phantom_std_brain": REALDATA / "dcm_qa_ct" / "In" / "Philips" / "S21570",
    "philips_phantom_stereotaxis": REALDATA / "dcm_qa_ct" / "In" / "Philips" / "S21610",
    "ge_real_head": REALDATA / "dcm_qa_ct" / "In" / "GE",
}
#: which check should find each lesion type of truth.json
CHECK_OF_TYPE = {
    "sdh": "hyperdensity",
    "edh": "hyperdensity",
    "sah": "hyperdensity",
    "iph": "hyperdensity",
    "ivh": "hyperdensity",
    "infarct": "hypodensity_asymmetry",
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


def process(root: Path) -> list[dict[str, Any]]:
    """Every volume series under ``root`` through the pipeline and the checks."""
    from imaging_triage.candidates import run_checks
    from imaging_triage.ingest import Status, load, scan
    from imaging_triage.preprocess.config import load_config
    from imaging_triage.preprocess.pipeline import run_pipeline

    config = load_config(None)
    out = []
    records = [r for r in scan(root).series if r.status is Status.OK]
    for index, record in enumerate(records):
        for n, volume in enumerate(load(record)):
            if min(volume.shape[:3]) < 4:
                continue
            start = time.perf_counter()
            result = run_pipeline(volume, config)
            pipeline_s = time.perf_counter() - start
            image, mask = result.sample.image, result.sample.mask
            if mask is None:
                continue
            start = time.perf_counter()
            report = run_checks(image, mask)
            checks_s = time.perf_counter() - start
            out.append(
                {
                    "series": volume.info.series_number,
                    "stack": index + n,
                    "modality": volume.info.modality,
                    "image": image,
                    "report": report,
                    "pipeline_s": pipeline_s,
                    "checks_s": checks_s,
                }
            )
    return out


def _region_maps(report: Any) -> dict[str, list[tuple[int, float]]]:
    """(label, volume) of the regions of each check."""
    maps: dict[str, list[tuple[int, float]]] = {}
    for res in report.results:
        maps[res.check.value] = [(r.label, r.volume_ml) for r in res.regions]
    return maps


def sample_rows(samples: Path) -> dict[str, Any]:
    """Lesion, study and cost rows on the sample studies."""
    from imaging_triage.volume import load_nifti

    lesions, studies, cost = [], [], []
    evans_ref = evans_truth()
    for study_dir in sorted((samples / "dicom").iterdir()):
        truth = json.loads((samples / "ground_truth" / study_dir.name / "truth.json").read_text())
        shift_truth = 0.0
        for mod in truth.get("modifiers", []):
            if mod.get("type") == "midline_shift":
                sign = 1.0 if mod.get("direction") == "right" else -1.0
                shift_truth = sign * float(mod["shift_mm"])
        for item in process(study_dir):
            report, image = item["report"], item["image"]
            if not report.ct:
                studies.append({"study": study_dir.name, "series": item["series"], "ct": False})
                continue
            cost.append(
                {
                    "study": study_dir.name,
                    "pipeline_s": round(item["pipeline_s"], 2),
                    "checks_s": round(item["checks_s"], 2),
                    "ratio": round(item["checks_s"] / item["pipeline_s"], 3),
                }
            )
            label = load_nifti(
                samples
                / "ground_truth"
                / study_dir.name
                / f"label_series{item['series']:03d}.nii.gz"
            )
            gt = labels_on_grid(np.asarray(label.data), label.affine, image.shape, image.affine)
            maps = _region_maps(report)
            voxel_ml = float(np.prod(image.spacing)) / 1000.0
            touched: set[tuple[str, int]] = set()
            for finding in truth["findings"]:
                check = CHECK_OF_TYPE.get(finding["type"])
                inside = gt == finding["label_value"]
                hit_labels = set(np.unique(report.labels[inside]).tolist()) - {0}
                for name, regions in maps.items():
                    for lab, _ in regions:
                        if lab in hit_labels:
                            touched.add((name, lab))
                own = {lab for lab, _ in maps.get(check or "", [])} & hit_labels
                found_ml = float(np.isin(report.labels[inside], list(own)).sum()) * voxel_ml
                lesions.append(
                    {
                        "study": study_dir.name,
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
            shift = report.result(_check("midline_shift"))
            evans = report.result(_check("ventricles"))
            studies.append(
                {
                    "study": study_dir.name,
                    "series": item["series"],
                    "ct": True,
                    "fp_hyperdensity_ml": fp.get("hyperdensity", 0.0),
                    "fp_hypodensity_ml": fp.get("hypodensity_asymmetry", 0.0),
                    "shift_mm": _measure(shift, "shift_mm"),
                    "shift_truth_mm": shift_truth,
                    "evans": _measure(evans, "evans_index"),
                    "evans_truth": round(evans_ref, 3),
                    "score": report.score.score,
                }
            )
    return {"lesions": lesions, "studies": studies, "cost": cost}


def _check(name: str) -> Any:
    from imaging_triage.candidates import Check

    return Check(name)


def _measure(result: Any, key: str) -> float | None:
    value = result.measures.get(key)
    return None if value is None else round(float(value), 2)


def real_rows() -> list[dict[str, Any]]:
    """Candidate volume and regions per real CT series (no lesion known: all are false)."""
    rows = []
    for name, folder in REAL_CT.items():
        if not folder.is_dir():
            rows.append({"series": name, "note": f"{folder} missing: skipped"})
            continue
        for item in process(folder):
            report = item["report"]
            hyper = report.result(_check("hyperdensity"))
            hypo = report.result(_check("hypodensity_asymmetry"))
            rows.append(
                {
                    "series": f"{name} s{item['series']} stack{item['stack']}",
                    "hyperdensity": hyper.status.value,
                    "hyper_ml": round(sum(r.volume_ml for r in hyper.regions), 2),
                    "hyper_regions": len(hyper.regions),
                    "hypo_ml": round(sum(r.volume_ml for r in hypo.regions), 2),
                    "hypo_regions": len(hypo.regions),
                    "shift_mm": _measure(report.result(_check("midline_shift")), "shift_mm"),
                    "evans": _measure(report.result(_check("ventricles")), "evans_index"),
                    "reasons": "; ".join(hyper.reasons),
                    "ratio": round(item["checks_s"] / item["pipeline_s"], 3),
                }
            )
    return rows


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
    args = parser.parse_args(argv)
    out: dict[str, Any] = sample_rows(args.samples)
    out["real"] = [] if args.no_real else real_rows()
    print(table(out["lesions"], "Sample lesions (found = a region of the matching check overlaps)"))
    print(
        table(out["studies"], "Sample studies (fp = candidate mL in regions overlapping no lesion)")
    )
    print(table(out["real"], "Real CT (no known lesion: every candidate is a false positive)"))
    print(table(out["cost"], "Cost per CT series (checks / preprocess pipeline, same run)"))
    ratios = [c["ratio"] for c in out["cost"]] + [r["ratio"] for r in out["real"] if "ratio" in r]
    if ratios:
        print(f"checks / pipeline time: median {np.median(ratios):.0%}, max {max(ratios):.0%}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
