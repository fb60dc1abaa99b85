"""Stack geometry: sorting, repeats, spacing, drift and orientation checks (PS3.3 C.7.6.2).

Moved from the ingest review (test_ingest_review.py), one file per module tested.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomgen import SeriesSpec, make_dataset, pixel_centres, value_at, write_series
from ingestcheck import (
    loaded_or_refused,
    only_ok,
    records,
    set_ipp,
    write,
)
from pydicom.dataset import Dataset

from imaging_triage.ingest import Status
from imaging_triage.volume import to_sitk


def test_4d_order_follows_acquisition_not_instance_number(tmp_path: Path) -> None:
    """Repeated positions become t in acquisition order, whatever InstanceNumber says."""
    n_t, n_k = 3, 5
    instances = list(range(1, n_t * n_k + 1))
    random.Random(5).shuffle(instances)
    folder = tmp_path / "s"
    folder.mkdir()
    uids: dict[str, str] = {}
    for t in range(n_t):
        spec = SeriesSpec(n=n_k, rows=8, cols=7, values=lambda p, t=t: value_at(p) + 100.0 * t)
        if uids:
            spec.study_uid, spec.series_uid, spec.frame_uid = uids["st"], uids["se"], uids["fr"]
        else:
            uids = {"st": spec.study_uid, "se": spec.series_uid, "fr": spec.frame_uid}
        for k in range(n_k):
            ds = make_dataset(spec, k, instance=instances[t * n_k + k])
            ds.AcquisitionNumber = t + 1
            ds.AcquisitionTime = f"1200{10 * t:02d}.000000"
            pydicom.dcmwrite(folder / f"t{t}k{k}", ds, enforce_file_format=True)
    vol, _ = only_ok(folder)
    assert vol.shape == (7, 8, n_k, n_t)
    for t in range(n_t):
        expected = value_at(pixel_centres(SeriesSpec(n=n_k, rows=8, cols=7), 3)) + 100.0 * t
        np.testing.assert_allclose(vol.data[:, :, 3, t].T, np.round(expected), atol=0.5)


def test_repeat_count_mismatch_refused(tmp_path: Path) -> None:
    """One position acquired twice while the others once: refused, never a silent 4-D."""
    spec = SeriesSpec(n=6, rows=6, cols=5)
    write(tmp_path, spec, indices=[0, 1, 2, 3, 3, 4, 5])
    (rec,) = records(tmp_path)
    assert rec.status is Status.FAILED
    assert "duplicate" in rec.reason


def test_cumulative_spacing_drift_is_not_accepted_as_even(tmp_path: Path) -> None:
    spec = SeriesSpec(n=41, rows=6, cols=5, step=5.0)
    # 25 steps of 5.00 mm then 15 of 5.09 mm: each within 2 % of the median, 1.35 mm at the end
    steps = [5.0] * 25 + [5.09] * 15
    offsets = np.concatenate([[0.0], np.cumsum(steps)])
    write(
        tmp_path,
        spec,
        lambda ds, k: set_ipp(ds, np.add(spec.origin, (0.0, 0.0, offsets[k]))),
    )
    vol = loaded_or_refused(tmp_path)
    if vol is None:
        return
    k = np.arange(spec.n)
    placed = vol.world(np.stack([np.zeros_like(k), np.zeros_like(k), k], -1))[:, 2]
    true = spec.origin[2] + offsets
    assert np.abs(placed - true).max() <= 0.5, f"slice misplaced by {np.abs(placed - true).max()}"


def test_non_unit_orientation_cosines_are_normalised_or_refused(tmp_path: Path) -> None:
    spec = SeriesSpec(n=5, rows=6, cols=5, pixel_spacing=(0.5, 0.5))

    def shrink(ds: Dataset, k: int) -> None:
        ds.ImageOrientationPatient = ["0.992", "0", "0", "0", "1", "0"]

    write(tmp_path, spec, shrink)
    vol = loaded_or_refused(tmp_path)
    assert vol is None or vol.spacing[0] == pytest.approx(0.5, abs=1e-4)


def test_slightly_skewed_orientation_gives_orthogonal_volume_or_refusal(tmp_path: Path) -> None:
    spec = SeriesSpec(n=5, rows=6, cols=5)
    skew = np.radians(0.5)

    def skewed(ds: Dataset, k: int) -> None:
        ds.ImageOrientationPatient = [
            "1",
            "0",
            "0",
            f"{np.sin(skew):.8f}",
            f"{np.cos(skew):.8f}",
            "0",
        ]

    write(tmp_path, spec, skewed)
    vol = loaded_or_refused(tmp_path)
    if vol is not None:
        to_sitk(vol)


def test_sub_threshold_tilt_gives_sitk_compatible_volume(tmp_path: Path) -> None:
    spec = SeriesSpec(n=8, rows=6, cols=5, tilt_deg=0.03)
    write_series(tmp_path, spec)
    vol, rec = only_ok(tmp_path)
    assert rec.tilt_deg == 0.0  # reported as untilted ...
    to_sitk(vol)  # ... so it must be usable as an orthogonal grid
