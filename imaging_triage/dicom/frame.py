"""Frame: one 2-D image plane with its geometry, as read from the headers.

Every DICOM source becomes frames: a classic single-frame file is one frame, an
enhanced multi-frame object gives one frame per item of its Per-Frame Functional Groups,
a Siemens mosaic gives one frame per tile. :mod:`imaging_triage.dicom.series` groups
frames into stacks and :mod:`imaging_triage.dicom.assemble` reads their pixels.

Geometry is in DICOM patient coordinates (LPS+, mm), as in the headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Frame:
    """One image plane and where it sits in the patient.

    Attributes
    ----------
    path : str
        File holding the pixels.
    frame_index : int or None
        0-based frame number inside a multi-frame file; ``None`` for single-frame files.
    tile_index : int or None
        0-based tile number inside a Siemens mosaic; ``None`` otherwise.
    position : tuple of float
        ImagePositionPatient: LPS mm of the centre of the first transmitted pixel.
    row_cosine, col_cosine : tuple of float
        ImageOrientationPatient: direction of increasing column index (along a row),
        and of increasing row index (down a column).
    row_spacing, col_spacing : float
        PixelSpacing: distance between rows, and between columns (mm).
    rows, cols : int
        Size of this plane (for a mosaic tile: the tile size).
    slope, intercept : float
        Pixel value transformation for this frame (RescaleSlope/Intercept).
    stack_key : tuple
        Frames with equal keys belong to the same output volume(s): series UID plus what
        must not be mixed (orientation, image type, echo, stack id, acquisition, ...).
    order_key : tuple
        Sort key for repeated positions (temporal position, acquisition time, instance
        number, ...): the acquisition order of the 4th dimension.
    instance_number : int or None
        InstanceNumber, kept for messages only (never used to sort).
    slice_thickness : float or None
        SliceThickness, for the sidecar and consistency checks.
    meta : dict
        Extra per-frame facts (``EchoTime``, ``DiffusionBValue``, ``AcquisitionTime``, ...).
    """

    path: str
    frame_index: int | None
    tile_index: int | None
    position: tuple[float, float, float]
    row_cosine: tuple[float, float, float]
    col_cosine: tuple[float, float, float]
    row_spacing: float
    col_spacing: float
    rows: int
    cols: int
    slope: float = 1.0
    intercept: float = 0.0
    stack_key: tuple[Any, ...] = ()
    order_key: tuple[Any, ...] = ()
    instance_number: int | None = None
    slice_thickness: float | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def normal(self) -> npt.NDArray[np.float64]:
        """Unit slice normal (row cosine x column cosine), LPS."""
        n = np.cross(np.asarray(self.row_cosine), np.asarray(self.col_cosine))
        norm = float(np.linalg.norm(n))
        return n / norm if norm > 0 else n

    def pixel_to_lps(self, row: npt.ArrayLike, col: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """LPS mm of pixel centres at (row, col) indices (broadcast), shape (..., 3).

        Implements DICOM PS3.3 C.7.6.2.1.1: P = S + c * dc * R + r * dr * C, where R is
        the row cosine, C the column cosine, dc the column spacing, dr the row spacing.
        """
        r = np.asarray(row, dtype=np.float64)[..., np.newaxis]
        c = np.asarray(col, dtype=np.float64)[..., np.newaxis]
        return (
            np.asarray(self.position)
            + c * self.col_spacing * np.asarray(self.row_cosine)
            + r * self.row_spacing * np.asarray(self.col_cosine)
        )
