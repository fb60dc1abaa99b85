"""Synthetic head phantoms with a known intracranial region, for tests and benchmarks.

The geometry, in RAS+ millimetres around the origin: a cerebrum ellipsoid and a
posterior-fossa ellipsoid (below and behind it) form the intracranial region; a 7 mm
skull and a 5 mm scalp surround it; the skull has a foramen magnum through which the
brainstem continues into the neck. Inside: grey and white matter, ventricles, a small
haematoma and a calcification.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from imaging_triage.volume import SeriesInfo, Volume


@dataclass
class Phantom:
    """A phantom volume and its ground truth on the same grid."""

    volume: Volume
    #: the intracranial region (cerebrum and posterior fossa)
    intracranial: npt.NDArray[np.bool_]
    #: the posterior-fossa part of the intracranial region
    posterior_fossa: npt.NDArray[np.bool_]


def _ellipsoid(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    z: npt.NDArray[np.float64],
    centre: tuple[float, float, float],
    radii: tuple[float, float, float],
) -> npt.NDArray[np.bool_]:
    return np.asarray(
        ((x - centre[0]) / radii[0]) ** 2
        + ((y - centre[1]) / radii[1]) ** 2
        + ((z - centre[2]) / radii[2]) ** 2
        <= 1.0,
        dtype=bool,
    )


def _geometry(
    spacing: tuple[float, float, float],
) -> tuple[dict[str, npt.NDArray[np.bool_]], npt.NDArray[np.float64]]:
    extent = np.array([[-92.0, 92.0], [-112.0, 112.0], [-110.0, 96.0]])
    sp = np.asarray(spacing, dtype=np.float64)
    shape = tuple(int(np.floor((hi - lo) / s)) + 1 for (lo, hi), s in zip(extent, sp, strict=True))
    affine = np.diag([*sp, 1.0])
    affine[:3, 3] = extent[:, 0]
    i, j, k = (np.arange(n, dtype=np.float64) for n in shape)
    x = (affine[0, 0] * i + affine[0, 3])[:, None, None]
    y = (affine[1, 1] * j + affine[1, 3])[None, :, None]
    z = (affine[2, 2] * k + affine[2, 3])[None, None, :]
    cerebrum = _ellipsoid(x, y, z, (0, 8, 22), (66, 84, 60))
    fossa = _ellipsoid(x, y, z, (0, -42, -22), (50, 38, 28)) & ~cerebrum
    intracranial = cerebrum | fossa
    outside = ndimage.distance_transform_edt(~intracranial, sampling=sp)
    skull = (outside > 0) & (outside <= 7.0)
    scalp = (outside > 7.0) & (outside <= 12.0)
    r_cord = np.hypot(x - 0, y + 42)
    foramen = (r_cord <= 14) & (z < -35)
    skull &= ~foramen
    cord = (r_cord <= 6) & (z < -35)
    neck = (np.hypot(x, (y + 25) / 1.2) <= 55) & (z < -62)
    white = _ellipsoid(x, y, z, (0, 8, 25), (50, 66, 42))
    ventricles = _ellipsoid(x, y, z, (-12, 5, 25), (6, 26, 10)) | _ellipsoid(
        x, y, z, (12, 5, 25), (6, 26, 10)
    )
    blood = _ellipsoid(x, y, z, (35, 20, 35), (9, 12, 8))
    calcification = _ellipsoid(x, y, z, (-20, -20, 30), (3, 3, 3))
    masks = {
        "intracranial": intracranial,
        "fossa": fossa,
        "skull": skull,
        "scalp": scalp & ~foramen,
        "cord": cord & ~intracranial,
        "neck": neck & ~cord & ~skull,
        "white": white & cerebrum,
        "ventricles": ventricles & cerebrum,
        "blood": blood & cerebrum,
        "calcification": calcification & cerebrum,
    }
    return masks, affine


def ct_head_phantom(
    spacing: tuple[float, float, float] = (1.5, 1.5, 1.5), noise_hu: float = 4.0, seed: int = 0
) -> Phantom:
    """A head CT phantom in HU (float32): air -1000, bone 1000, brain 25-40, blood 70.

    Examples
    --------
    >>> ph = ct_head_phantom((3.0, 3.0, 3.0))
    >>> bool(ph.intracranial.sum() > 0) and ph.volume.info.modality
    'CT'
    """
    m, affine = _geometry(spacing)
    data = np.full(m["intracranial"].shape, -1000.0, dtype=np.float32)
    data[m["scalp"] | m["neck"]] = 40.0
    data[m["cord"]] = 32.0
    data[m["skull"]] = 1000.0
    data[m["intracranial"]] = 38.0
    data[m["white"]] = 27.0
    data[m["ventricles"]] = 8.0
    data[m["blood"]] = 70.0
    data[m["calcification"]] = 300.0
    rng = np.random.default_rng(seed)
    data += rng.normal(0.0, noise_hu, data.shape).astype(np.float32)
    info = SeriesInfo(
        modality="CT", series_description="phantom head CT", series_number=2, hounsfield=True
    )
    return Phantom(Volume(data, affine, info), m["intracranial"], m["fossa"])


def mr_head_phantom(
    spacing: tuple[float, float, float] = (1.5, 1.5, 1.5), bias: float = 0.3, seed: int = 0
) -> Phantom:
    """A T1-like head MR phantom with a smooth multiplicative bias field of ``bias``."""
    m, affine = _geometry(spacing)
    data = np.zeros(m["intracranial"].shape, dtype=np.float32)
    data[m["scalp"] | m["neck"]] = 150.0
    data[m["cord"]] = 90.0
    data[m["skull"]] = 5.0
    data[m["intracranial"]] = 80.0
    data[m["white"]] = 110.0
    data[m["ventricles"]] = 25.0
    data[m["blood"]] = 120.0
    dims: tuple[int, ...] = data.shape
    shape = (dims[0], dims[1], dims[2])
    x = np.linspace(-1, 1, shape[0])[:, None, None]
    z = np.linspace(-1, 1, shape[2])[None, None, :]
    data *= (1.0 + bias * (0.6 * x + 0.4 * z)).astype(np.float32)
    rng = np.random.default_rng(seed)
    data += np.abs(rng.normal(0.0, 3.0, shape)).astype(np.float32)
    info = SeriesInfo(modality="MR", series_description="phantom head T1", series_number=3)
    return Phantom(Volume(data, affine, info), m["intracranial"], m["fossa"])
