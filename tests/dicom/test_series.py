"""Grouping instances into series and stacks; what is split off, refused or reported.

Moved from the ingest review (test_ingest_review.py), one file per module tested.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomgen import SeriesSpec, make_dataset, write_series
from ingestcheck import (
    loaded_or_refused,
    records,
    write,
)
from pydicom.dataset import Dataset

from imaging_triage.ingest import Status, load


def test_classic_multiframe_without_functional_groups_not_truncated(tmp_path: Path) -> None:
    spec = SeriesSpec(n=1, rows=6, cols=5)

    def multiframe(ds: Dataset, k: int) -> None:
        ds.NumberOfFrames = 3
        frames = np.stack(
            [np.full((spec.rows, spec.cols), 1024 + 10 * f, np.uint16) for f in (0, 1, 2)]
        )
        ds.PixelData = frames.tobytes()

    write(tmp_path, spec, multiframe)
    vol = loaded_or_refused(tmp_path)
    # either refused (we cannot place frames 2..3 without per-frame geometry) or all kept
    assert vol is None or vol.data.size == 3 * spec.rows * spec.cols


def test_split_off_end_slice_is_reported(tmp_path: Path) -> None:
    spec = SeriesSpec(n=8, rows=6, cols=5)

    def derived_last(ds: Dataset, k: int) -> None:
        if k == spec.n - 1:
            ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]

    write(tmp_path, spec, derived_last)
    recs = records(tmp_path)
    assert len(recs) == 2
    assert any(r.status is not Status.OK or r.reason for r in recs), [
        (r.status, r.shape, r.reason) for r in recs
    ]


def test_two_kernels_in_one_series_are_not_a_silent_4d(tmp_path: Path) -> None:
    spec = SeriesSpec(n=5, rows=6, cols=5)
    folder = tmp_path / "s"
    folder.mkdir()
    for n, (kernel, k) in enumerate((kn, k) for kn in ("H70h", "H30s") for k in range(spec.n)):
        ds = make_dataset(spec, k, instance=n + 1)
        ds.ConvolutionKernel = kernel
        pydicom.dcmwrite(folder / f"{kernel}_{k}", ds, enforce_file_format=True)
    recs = records(folder)
    vols = [v for r in recs if r.status is Status.OK for v in load(r)]
    assert all(v.data.ndim == 3 for v in vols) or any(
        "kernel" in w.lower() for v in vols for w in v.info.warnings
    )


@pytest.mark.parametrize("cut", [140, 600])
def test_end_slice_truncated_before_series_uid_is_not_silently_lost(
    tmp_path: Path, cut: int
) -> None:
    spec = SeriesSpec(n=6, rows=6, cols=5)
    paths = write_series(tmp_path, spec)
    data = paths[-1].read_bytes()
    assert cut < data.index(b"\x20\x00\x0e\x00")  # before (0020,000E) SeriesInstanceUID
    paths[-1].write_bytes(data[:cut])
    stacks = [r for r in records(tmp_path) if r.n_frames == spec.n - 1]
    assert len(stacks) == 1
    assert stacks[0].status is not Status.OK or paths[-1].name in stacks[0].reason
