"""What flows through a pipeline: a :class:`Sample` (image, brain mask, derivatives).

Every step is a frozen dataclass whose fields are its parameters and whose ``__call__``
takes a :class:`Sample` and returns a new one. Steps keep the mask and the derivatives on
the same voxel grid as the image: a step that moves the grid (reorient, resample) moves
them too.

>>> from imaging_triage.preprocess.reorient import Reorient
>>> sample = Reorient()(Sample(image=volume))               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from imaging_triage.volume import Volume


@dataclass
class Sample:
    """An image on its grid, with the brain mask and derivatives computed so far.

    Attributes
    ----------
    image : Volume
        The working image (3-D).
    mask : numpy.ndarray of bool, optional
        Brain mask on the image grid, once a brain-mask step has run.
    derivatives : dict of str to numpy.ndarray
        Extra images on the image grid (e.g. windowed CT), written as separate outputs.
    notes : list of str
        Human-readable observations made by the steps (recorded in the provenance).
    """

    image: Volume
    mask: npt.NDArray[np.bool_] | None = None
    derivatives: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def replace(self, **changes: Any) -> Sample:
        """Return a copy with some attributes replaced (lists and dicts copied)."""
        values: dict[str, Any] = {
            "image": self.image,
            "mask": self.mask,
            "derivatives": dict(self.derivatives),
            "notes": list(self.notes),
        }
        values.update(changes)
        return Sample(**values)


class Step(Protocol):
    """A preprocessing step: a frozen dataclass of parameters that maps a Sample."""

    name: ClassVar[str]

    def __call__(self, sample: Sample) -> Sample:
        """Apply the step."""
        ...


def step_params(step: Any) -> dict[str, Any]:
    """Return the parameters of a step dataclass as plain JSON-able values."""
    return {f.name: _plain(getattr(step, f.name)) for f in dataclasses.fields(step)}


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def mm_to_voxels(radius_mm: float, spacing: tuple[float, ...]) -> tuple[int, ...]:
    """Radius in voxels along each axis for a radius in millimetres (at least 0)."""
    return tuple(max(0, round(radius_mm / s)) for s in spacing)


def ellipsoid_structure(radii: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """A boolean ellipsoid structuring element with the given radius per axis (voxels).

    An axis with radius 0 gets extent 1, so ``(3, 3, 0)`` is an in-plane disk.
    """
    grids = np.ogrid[tuple(slice(-r, r + 1) for r in radii)]
    dist = np.zeros([2 * r + 1 for r in radii], dtype=np.float64)
    for g, r in zip(grids, radii, strict=True):
        if r > 0:
            dist = dist + (np.asarray(g, dtype=np.float64) / r) ** 2
    return np.asarray(dist <= 1.0, dtype=bool)
