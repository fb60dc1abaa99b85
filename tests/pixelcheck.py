"""The pixel-centre check: does a volume hold every source pixel where it was measured?

Each source slice's pixels are placed in the world by the slice's own
ImagePositionPatient, ImageOrientationPatient and PixelSpacing (PS3.3 C.7.6.2.1.1); the
volume is sampled there (trilinear) and the sampled values are correlated with the
source values. A volume that blurs neighbouring slices, or misplaces a slice, scores
lower.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pydicom
from scipy import ndimage

from imaging_triage.volume import Volume

LPS_TO_RAS_DIAG = np.array([-1.0, -1.0, 1.0])


def source_points(path: Path, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(RAS positions (N, 3), modality values (N,)) of the pixel centres of one file."""
    ds = pydicom.dcmread(path)
    ipp = np.array(ds.ImagePositionPatient, dtype=float)
    iop = np.array(ds.ImageOrientationPatient, dtype=float)
    dr, dc = (float(v) for v in ds.PixelSpacing)
    values = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1) or 1) + float(
        ds.get("RescaleIntercept", 0) or 0
    )
    rows, cols = np.meshgrid(
        np.arange(0, values.shape[0], stride), np.arange(0, values.shape[1], stride), indexing="ij"
    )
    lps = ipp + cols[..., None] * dc * iop[:3] + rows[..., None] * dr * iop[3:]
    return (lps * LPS_TO_RAS_DIAG).reshape(-1, 3), values[rows, cols].reshape(-1)


def pixel_centre_r(volume: Volume, files: Iterable[Path], stride: int = 1) -> float:
    """Correlation between source pixel values and the volume sampled at their centres.

    Only pixels whose position lies inside the volume's grid take part.
    """
    data = volume.data.astype(np.float64)
    shape = np.array(data.shape[:3])
    got, want = [], []
    for path in files:
        ras, values = source_points(Path(path), stride)
        ijk = volume.index(ras)
        inside = np.all((ijk >= 0) & (ijk <= shape - 1), axis=1)
        got.append(ndimage.map_coordinates(data, ijk[inside].T, order=1))
        want.append(values[inside])
    a, b = np.concatenate(got), np.concatenate(want)
    return float(np.corrcoef(a, b)[0, 1])
