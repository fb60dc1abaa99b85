"""Small synthetic head studies for viewer tests (NIfTI, built in a temporary folder).

The volumes are stored in DICOM-like voxel order (i towards the patient's left, j
posterior: an LPS grid written with its RAS affine), so that every test exercises the
reorientation to the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imaging_triage.volume import SeriesInfo, Volume, save_nifti


@dataclass(frozen=True)
class SyntheticStudy:
    """Where a synthetic study was written and where its lesion is."""

    folder: Path
    nifti: Path
    #: RAS mm of the lesion's centre
    lesion_xyz: tuple[float, float, float]
    affine: np.ndarray
    shape: tuple[int, int, int]


def lps_affine(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> np.ndarray:
    """RAS affine of an LPS-ordered grid centred on the origin."""
    sx, sy, sz = spacing
    aff = np.diag([-sx, -sy, sz, 1.0])
    centre = (np.asarray(shape) - 1) / 2.0
    aff[:3, 3] = -aff[:3, :3] @ centre
    return aff


def make_head(
    shape: tuple[int, int, int] = (96, 96, 40),
    spacing: tuple[float, float, float] = (2.0, 2.0, 4.0),
    lesion_xyz: tuple[float, float, float] | None = (-55.0, 10.0, 8.0),
) -> Volume:
    """A CT-like head in HU: skull ~1000, brain ~35, and a left hyperdense crescent ~70.

    ``lesion_xyz`` (RAS mm) is the centre of a 9 mm-radius blob of 75 HU on the
    patient's left (x < 0) by default.
    """
    affine = lps_affine(shape, spacing)
    ii, jj, kk = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    xyz = np.stack([ii, jj, kk], -1).reshape(-1, 3) @ affine[:3, :3].T + affine[:3, 3]
    x, y, z = (xyz[:, n].reshape(shape) for n in range(3))
    r = np.sqrt((x / 75.0) ** 2 + (y / 90.0) ** 2 + (z / 70.0) ** 2)
    data = np.full(shape, -1000.0, dtype=np.float32)
    data[r < 1.0] = 1000.0
    data[r < 0.92] = 35.0
    data[(r < 0.5) & (x > 0)] = 28.0  # a little asymmetry: white matter on the right
    if lesion_xyz is not None:
        lx, ly, lz = lesion_xyz
        blob = (x - lx) ** 2 + (y - ly) ** 2 + (z - lz) ** 2 < 9.0**2
        data[blob & (r < 0.92)] = 75.0
    info = SeriesInfo(modality="CT", series_description="synthetic head", hounsfield=True)
    return Volume(data=data, affine=affine, info=info)


def write_study(folder: Path, name: str = "ct_sdh", **kwargs: object) -> SyntheticStudy:
    """Write a synthetic CT study as ``folder/name/head.nii.gz``."""
    volume = make_head(**kwargs)  # type: ignore[arg-type]
    target = folder / name / "head.nii.gz"
    save_nifti(volume, target)
    lesion = kwargs.get("lesion_xyz", (-55.0, 10.0, 8.0))
    return SyntheticStudy(
        folder=target.parent,
        nifti=target,
        lesion_xyz=tuple(lesion) if lesion else (0.0, 0.0, 0.0),  # type: ignore[arg-type]
        affine=volume.affine,
        shape=volume.shape,  # type: ignore[arg-type]
    )
