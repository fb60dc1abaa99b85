"""Viewer server side: opening a 300-slice CT study (scan and decode).

Usage::

    .venv/bin/python benchmarks/viewer.py [--slices 300] [--keep DIR] [--json]

Writes a synthetic CT series (512 x 512 x N, uncompressed 12-bit DICOM, rescale to HU)
in a temporary folder, then measures, on this machine, what the server does before the
browser gets the first byte of a study: scan the folder (headers), then decode the series
into a volume and reorient it (:func:`imaging_triage.viewer.loader.open_series`). The page
caches the decoded volume (``st.cache_resource``), so this is paid once per series per
server process. The browser draws every image; its timings (open to first image, step
latency) are in ``benchmarks/viewer_browser.py``, which also writes its series with
:func:`write_ct_series`.

Prints a small table and, with ``--json``, a JSON line for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_ct_series(folder: Path, n_slices: int, size: int = 512) -> None:
    """A head-like CT series: skull ring, brain, a left hyperdense crescent."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    spacing, step = 0.45, 0.625
    yy, xx = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2.0
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    rng = np.random.default_rng(0)
    for k in range(n_slices):
        scale = np.sqrt(max(1e-3, 1.0 - ((k - n_slices / 2) / (n_slices / 1.6)) ** 2))
        r = np.hypot((xx - c) / (200 * scale), (yy - c) / (230 * scale))
        hu = np.full((size, size), -1000.0)
        hu[r < 1.0] = 1200.0
        hu[r < 0.93] = 35.0
        hu[(r < 0.93) & (r > 0.85) & (xx > c + 60)] = 70.0  # screen right = patient left
        hu += rng.normal(0.0, 4.0, hu.shape)
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "CT"
        ds.SeriesNumber = 2
        ds.SeriesDescription = "BENCH HEAD 0.625 BRAIN"
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [f"{-c * spacing:.4f}", f"{-c * spacing:.4f}", f"{k * step:.4f}"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.PixelSpacing = [f"{spacing}", f"{spacing}"]
        ds.SliceThickness = f"{step}"
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11  # as most CT scanners
        ds.PixelRepresentation = 0
        ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
        ds.PixelData = np.clip(np.round(hu + 1024), 0, 4095).astype(np.uint16).tobytes()
        pydicom.dcmwrite(folder / f"IM{k:05d}.dcm", ds, enforce_file_format=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--keep", type=Path, default=None, help="write the series here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from imaging_triage.ingest import scan
    from imaging_triage.viewer.hanging import default_series
    from imaging_triage.viewer.loader import open_series

    with tempfile.TemporaryDirectory() as tmp:
        folder = (args.keep or Path(tmp)) / "bench_ct"
        t0 = time.perf_counter()
        write_ct_series(folder, args.slices)
        write_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        records = [r for r in scan(folder).series if r.status.value == "ok"]
        t_scan = time.perf_counter() - t0
        record = default_series(records)
        assert record is not None, "benchmark series not found"
        t0 = time.perf_counter()
        opened = open_series(record)
        t_load = time.perf_counter() - t0
        shape = list(opened.volume.shape)

    result = {
        "slices": args.slices,
        "shape": shape,
        "write_series_s": round(write_s, 2),
        "open_scan_s": round(t_scan, 3),
        "open_decode_s": round(t_load, 3),
        "open_total_s": round(t_scan + t_load, 3),
    }
    print(f"series {shape} ({args.slices} slices of 512 x 512), written in {write_s:.1f} s")
    print(
        f"open study, server side: {t_scan + t_load:.2f} s "
        f"(scan {t_scan:.2f} + decode and reorient {t_load:.2f})"
    )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
