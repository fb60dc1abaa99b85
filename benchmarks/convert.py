"""Benchmark ``imaging-triage convert`` against dcm2niix and dicom2nifti, in one run.

Usage (from the project root, after ``make setup``)::

    .venv/bin/python benchmarks/convert.py            # generated 512x512x300 CT + real CT
    .venv/bin/python benchmarks/convert.py --repeat 5 --slices 300 --json out.json
    git archive <commit> imaging_triage | tar -x -C /tmp/base   # an earlier version ...
    .venv/bin/python benchmarks/convert.py --baseline /tmp/base  # ... measured beside ours

What it measures, for each input series and each tool, as separate processes:
whole-process wall time (median of ``--repeat`` runs, after one warm-up run that fills
the page cache) and peak resident memory (``ru_maxrss`` of the process and its
descendants, from ``wait4``). All three write gzipped NIfTI (dcm2niix ``-z y``,
dicom2nifti's default, ours ``.nii.gz``). Our converter runs with ``--jobs 1`` so the
comparison is one core against one core; ``imaging-triage-inline`` is ours with the native
decoders run inline (``IMAGING_TRIAGE_ISOLATE_DECODERS=0``), so the RLE rows show what the
decoder isolation costs (issue 11).

Printed: a table with the times, the peak RSS, and the ratios ours/dcm2niix and
ours/dicom2nifti (and ours/baseline when ``--baseline`` names the source tree of an
earlier imaging_triage, run by the same interpreter in the same run). Targets (issue 2):
within 2x of dcm2niix, faster than dicom2nifti,
peak RSS under 3x the volume's in-memory size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("IMAGING_TRIAGE_REALDATA", ROOT.parent / "shared" / "realdata"))
BIN = Path(sys.executable).parent


@dataclass
class Row:
    """One tool on one input."""

    series: str
    tool: str
    seconds: float
    peak_rss_mb: float
    volume_mb: float
    ok: bool


def generate_ct(
    folder: Path, slices: int, size: int = 512, seed: int = 0, syntax: str | None = None
) -> float:
    """Write a synthetic int16 axial CT series; return its in-memory size in MB.

    With ``syntax`` (a transfer syntax UID, e.g. RLE Lossless) the pixel data are
    compressed, so that the native decoders (and their isolation) are measured.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    r = np.hypot(xx - size / 2, yy - size / 2) / (size / 2)
    head = np.where(r < 0.8, 35, -1000) + np.where((r > 0.72) & (r < 0.8), 1000, 0)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(slices):
        hu = head + rng.normal(0, 5, (size, size))
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.PatientName = "BENCH^CT"
        ds.PatientID = "BENCH"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyDate, ds.StudyTime, ds.Modality = "20260101", "120000", "CT"
        ds.SeriesNumber, ds.InstanceNumber = 2, k + 1
        ds.SeriesDescription = "BENCH HEAD"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [-125.0, -125.0, k * 0.625]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.488, 0.488]
        ds.SliceThickness = 0.625
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, 0
        ds.PixelData = np.round(hu).astype(np.int16).tobytes()
        if syntax is not None:
            ds.compress(syntax)
        pydicom.dcmwrite(folder / f"IM{k:05d}", ds, enforce_file_format=True)
    return size * size * slices * 2 / 1e6


def run_measured(cmd: list[str]) -> tuple[float, float, bool]:
    """Run ``cmd``; return (wall seconds, peak RSS MB of it and its children, success)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024.0, proc.returncode in (0, 3)


#: the earlier imaging_triage source tree measured as "baseline" (``--baseline``)
BASELINE: Path | None = None


def tools(src: Path, out: Path) -> dict[str, list[str]]:
    """The command of each tool converting ``src`` into ``out``."""
    ours_args = ["convert", str(src), "-o", str(out), "--jobs", "1", "--quiet", "--force"]
    baseline = {}
    if BASELINE is not None:
        code = (
            f"import sys; sys.path.insert(0, {str(BASELINE)!r}); "
            "from imaging_triage.cli import main; sys.exit(main(sys.argv[1:]))"
        )
        baseline = {"baseline": [sys.executable, "-c", code, *ours_args]}
    return {
        **baseline,
        "imaging-triage": [
            str(BIN / "imaging-triage"),
            "convert",
            str(src),
            "-o",
            str(out),
            "--jobs",
            "1",
            "--quiet",
            "--force",
        ],
        # the same with the native decoders inline: the cost of their isolation (issue 11)
        "imaging-triage-inline": [
            "env",
            "IMAGING_TRIAGE_ISOLATE_DECODERS=0",
            str(BIN / "imaging-triage"),
            "convert",
            str(src),
            "-o",
            str(out),
            "--jobs",
            "1",
            "--quiet",
            "--force",
        ],
        "dcm2niix": [str(BIN / "dcm2niix"), "-z", "y", "-b", "y", "-o", str(out), str(src)],
        "dicom2nifti": [str(BIN / "dicom2nifti"), str(src), str(out)],
    }


def bench(name: str, src: Path, volume_mb: float, repeat: int, work: Path) -> list[Row]:
    """Measure every tool on one input series."""
    rows = []
    for tool, _ in tools(src, work).items():
        times, peaks, ok = [], [], True
        for i in range(repeat + 1):
            out = work / f"{tool}-{i}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            wall, peak, success = run_measured(tools(src, out)[tool])
            ok = ok and success
            if i > 0:  # the first run warms the page cache
                times.append(wall)
                peaks.append(peak)
            shutil.rmtree(out, ignore_errors=True)
        rows.append(Row(name, tool, statistics.median(times), max(peaks), volume_mb, ok))
    return rows


def report(rows: list[Row]) -> str:
    """The table, with ratios against the references measured in the same run."""
    lines = [
        f"{'series':<28} {'tool':<21} {'seconds':>8} {'peak MB':>8} {'vs dcm2niix':>11} "
        f"{'vs dicom2nifti':>14} {'RSS/volume':>10}"
    ]
    if any(r.tool == "baseline" for r in rows):
        lines[0] += f" {'vs baseline':>11}"
    for name in dict.fromkeys(r.series for r in rows):
        group = {r.tool: r for r in rows if r.series == name}
        for r in group.values():
            d = group.get("dcm2niix")
            p = group.get("dicom2nifti")
            b = group.get("baseline")
            line = (
                f"{name:<28} {r.tool:<21} {r.seconds:>8.2f} {r.peak_rss_mb:>8.0f} "
                f"{r.seconds / d.seconds if d else float('nan'):>10.2f}x "
                f"{r.seconds / p.seconds if p else float('nan'):>13.2f}x "
                f"{r.peak_rss_mb / r.volume_mb:>9.2f}x"
            )
            if b:
                line += f" {r.seconds / b.seconds:>10.2f}x"
            lines.append(line + ("" if r.ok else "  (FAILED)"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table (and write JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=300, help="slices of the generated CT")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per tool")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="source tree (holding imaging_triage/) of an earlier version to measure beside ours",
    )
    parser.add_argument(
        "--rle-slices", type=int, default=100, help="slices of the generated RLE CT (0: none)"
    )
    parser.add_argument("--only", choices=("generated", "rle", "real"), help="one input only")
    args = parser.parse_args(argv)
    global BASELINE
    BASELINE = args.baseline
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="it-bench-") as tmp:
        work = Path(tmp)
        if args.only in (None, "generated"):
            gen = work / "generated"
            mb = generate_ct(gen, args.slices)
            rows += bench(f"generated 512x512x{args.slices}", gen, mb, args.repeat, work / "out")
        if args.rle_slices and args.only in (None, "rle"):
            from pydicom.uid import RLELossless

            rle = work / "generated-rle"
            mb = generate_ct(rle, args.rle_slices, syntax=RLELossless)
            name = f"RLE 512x512x{args.rle_slices}"
            rows += bench(name, rle, mb, args.repeat, work / "out")
        real_series = {
            "real CT 512x512x28": ("dcm_qa_ct/In/Philips/S21570/S2010", 28),
            "real tilted CT 512x512x54": ("dcm_qa_ct/In/Philips/S21610/S2010", 54),
            "real GE 2-segment tilted 28": ("dcm_qa_ct/In/GE", 28),
        }
        for name, (folder, slices) in real_series.items():
            if (REALDATA / folder).is_dir() and args.only in (None, "real"):
                size_mb = 512 * 512 * slices * 2 / 1e6
                rows += bench(name, REALDATA / folder, size_mb, args.repeat, work / "out")
    print(report(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
