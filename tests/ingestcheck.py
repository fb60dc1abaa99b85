"""Helpers shared by the ingest tests: write generated series, scan and load them,
sample volumes at patient positions, run dcm2niix."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dicomgen
import nibabel as nib
import numpy as np
import pydicom
import pytest
from dicomgen import SeriesSpec, make_dataset
from pydicom.dataset import Dataset
from scipy import ndimage

from imaging_triage.errors import TriageError
from imaging_triage.ingest import SeriesRecord, Status, load, scan
from imaging_triage.volume import Volume

_VENV_DCM2NIIX = Path(sys.executable).with_name("dcm2niix")
DCM2NIIX = _VENV_DCM2NIIX if _VENV_DCM2NIIX.is_file() else Path(shutil.which("dcm2niix") or "-")


def rotation(axis: tuple[float, float, float], deg: float) -> np.ndarray:
    """Rodrigues rotation matrix about ``axis`` by ``deg`` degrees."""
    a = np.asarray(axis, dtype=float)
    a /= np.linalg.norm(a)
    t = np.radians(deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * (k @ k)


def add_orientation(monkeypatch: pytest.MonkeyPatch, name: str, rot: np.ndarray, base: str) -> None:
    r, c = (np.asarray(v, dtype=float) for v in dicomgen.ORIENTATIONS[base])
    monkeypatch.setitem(dicomgen.ORIENTATIONS, name, (tuple(rot @ r), tuple(rot @ c)))


def write(
    folder: Path,
    spec: SeriesSpec,
    mutate: Callable[[Dataset, int], None] | None = None,
    indices: list[int] | None = None,
) -> list[Path]:
    """Write ``spec`` slice by slice, letting ``mutate(ds, k)`` change each dataset."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, k in enumerate(indices if indices is not None else range(spec.n)):
        ds = make_dataset(spec, k, instance=n + 1)
        if mutate is not None:
            mutate(ds, k)
        path = folder / f"IM{n:04d}"
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    return paths


def records(folder: Path, **kwargs: Any) -> list[SeriesRecord]:
    return scan(folder, **kwargs).series


def only_ok(folder: Path, **kwargs: Any) -> tuple[Volume, SeriesRecord]:
    recs = records(folder, **kwargs)
    ok = [r for r in recs if r.status is Status.OK]
    assert len(ok) == 1, [(r.status, r.reason) for r in recs]
    return load(ok[0])[0], ok[0]


def loaded_or_refused(folder: Path, **kwargs: Any) -> Volume | None:
    """The one volume of ``folder``, or ``None`` when scan or load refused it (typed error)."""
    recs = records(folder, **kwargs)
    ok = [r for r in recs if r.status is Status.OK]
    if not ok:
        return None
    try:
        return load(ok[0])[0]
    except TriageError:
        return None


def sample_lps(volume: Volume, lps: np.ndarray) -> np.ndarray:
    """Trilinear sample of ``volume`` at LPS points (..., 3)."""
    ras = lps * np.array([-1.0, -1.0, 1.0])
    ijk = volume.index(ras.reshape(-1, 3)).T
    vals = ndimage.map_coordinates(volume.data.astype(np.float64), ijk, order=1, mode="nearest")
    return vals.reshape(lps.shape[:-1])


def set_ipp(ds: Dataset, lps: np.ndarray) -> None:
    ds.ImagePositionPatient = [f"{v:.6f}" for v in lps]


def dcm2niix(src: Path, out: Path) -> nib.Nifti1Image:
    out.mkdir()
    proc = subprocess.run(
        [str(DCM2NIIX), "-z", "n", "-b", "n", "-f", "%s", "-o", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    files = sorted(out.glob("*.nii"))
    assert len(files) == 1, proc.stdout + proc.stderr
    return nib.load(files[0])


def centres(img: nib.Nifti1Image) -> np.ndarray:
    """World (RAS) coordinates of every voxel centre, in voxel order, shape (N, 3)."""
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in img.shape[:3]], indexing="ij"), -1)
    ijk = grid.reshape(-1, 3).astype(float)
    return ijk @ img.affine[:3, :3].T + img.affine[:3, 3]


ORIENTATION_CASES = {
    "axial": ("axial", None),
    "coronal": ("coronal", None),
    "sagittal": ("sagittal", None),
    # oblique: axial rotated 25 deg about an arbitrary axis
    "oblique_axial": ("axial", rotation((1.0, 2.0, 3.0), 25.0)),
    # double-oblique sagittal (typical MR brain planning)
    "oblique_sagittal": ("sagittal", rotation((0.0, 1.0, 0.0), 20.0) @ rotation((1, 0, 0), -15)),
    # axial written with the column cosine pointing anterior: the normal points inferior
    "axial_normal_inferior": ("axial", np.diag([1.0, -1.0, -1.0])),
    # coronal rotated 30 deg in-plane
    "coronal_inplane": ("coronal", rotation((0.0, 1.0, 0.0), 30.0)),
}
