"""A small generated CT head with known geometry, for the candidate checks.

1 mm voxels in RAS order, origin at the centre of the head: a 6 mm skull (1500 HU) around an
intracranial ellipsoid (semi-axes 60 x 75 x 58 mm), a thin CSF layer under the inner table,
brain at 35 HU, two lateral ventricles with frontal horns (5 HU) whose septum can be
displaced, then a 1 mm blur (partial volume against the bone) and 3 HU noise. The mask is
the intracranial ellipsoid itself, so each test controls exactly what the checks see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from scipy import ndimage

from imaging_triage.volume import SeriesInfo, Volume

SHAPE = (136, 166, 132)
INNER = (60.0, 75.0, 58.0)
SKULL_MM = 6.0
BRAIN_HU = 35.0
#: lateral walls of the frontal horns at x = +-(11 + 5.5) mm
FRONTAL_HORN_WIDTH_MM = 33.0


@dataclass
class Blob:
    """A sphere of ``radius`` mm at ``centre`` (RAS mm) filled with ``hu``."""

    centre: tuple[float, float, float]
    radius: float
    hu: float


@dataclass
class Head:
    """The generated volume, its mask and its truth."""

    volume: Volume
    mask: npt.NDArray[np.bool_]
    truth: dict[str, npt.NDArray[np.bool_]]


def _grid() -> tuple[npt.NDArray[np.float64], ...]:
    axes = [np.arange(n, dtype=np.float64) - (n - 1) / 2.0 for n in SHAPE]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    return x, y, z


def _ellipsoid(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    z: npt.NDArray[np.float64],
    c: tuple[float, float, float],
    r: tuple[float, float, float],
) -> npt.NDArray[np.bool_]:
    rho = ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2
    return np.asarray(rho < 1.0)


def build_head(
    shift_mm: float = 0.0,
    blobs: tuple[Blob, ...] = (),
    crescent_hu: float | None = None,
    seed: int = 0,
) -> Head:
    """The head, with its septum shifted by ``shift_mm`` towards +x, and lesions."""
    x, y, z = _grid()
    inner = _ellipsoid(x, y, z, (0, 0, 0), INNER)
    outer = _ellipsoid(x, y, z, (0, 0, 0), tuple(r + SKULL_MM for r in INNER))  # type: ignore[arg-type]
    scalp = _ellipsoid(x, y, z, (0, 0, 0), tuple(r + SKULL_MM + 4 for r in INNER))  # type: ignore[arg-type]
    hu = np.full(SHAPE, -1000.0, dtype=np.float32)
    hu[scalp] = 40.0
    hu[outer] = 1500.0
    hu[inner] = BRAIN_HU
    csf_layer = inner & ~_ellipsoid(x, y, z, (0, 0, 0), tuple(r - 1.5 for r in INNER))  # type: ignore[arg-type]
    hu[csf_layer] = 8.0
    truth: dict[str, npt.NDArray[np.bool_]] = {}
    ventricles = np.zeros(SHAPE, dtype=bool)
    for side in (1.0, -1.0):
        ventricles |= _ellipsoid(x, y, z, (side * 9.0 + shift_mm, 0.0, 12.0), (5.0, 25.0, 8.0))
        ventricles |= _ellipsoid(x, y, z, (side * 11.0 + shift_mm, 20.0, 10.0), (5.5, 9.0, 7.0))
    hu[ventricles] = 5.0
    truth["ventricles"] = ventricles
    if crescent_hu is not None:
        shell = inner & ~_ellipsoid(x, y, z, (0, 0, 0), tuple(r - 7.0 for r in INNER))  # type: ignore[arg-type]
        crescent = shell & (x < -15.0) & (np.abs(y) < 35.0) & (z > -10.0) & (z < 40.0)
        hu[crescent] = crescent_hu
        truth["crescent"] = np.asarray(crescent)
    for n, blob in enumerate(blobs):
        r2 = (x - blob.centre[0]) ** 2 + (y - blob.centre[1]) ** 2 + (z - blob.centre[2]) ** 2
        sphere = np.asarray(r2 <= blob.radius**2) & inner
        hu[sphere] = blob.hu
        truth[f"blob{n}"] = sphere
    hu = ndimage.gaussian_filter(hu, 0.7)
    hu += np.random.default_rng(seed).normal(0.0, 3.0, SHAPE).astype(np.float32)
    affine = np.eye(4)
    affine[:3, 3] = [-(n - 1) / 2.0 for n in SHAPE]
    info = SeriesInfo(modality="CT", hounsfield=True)
    return Head(Volume(hu.astype(np.float32), affine, info), np.asarray(inner), truth)


@pytest.fixture(scope="session")
def make_head() -> Callable[..., Head]:
    """The head builder (see :func:`build_head`)."""
    return build_head


@pytest.fixture(scope="session")
def normal_head() -> Head:
    """A head without lesion or shift."""
    return build_head()
