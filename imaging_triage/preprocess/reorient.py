"""Reorient a volume to the closest canonical RAS+ voxel order (axis swaps and flips only).

No interpolation happens: voxels are permuted, and the affine changes so that every voxel
keeps its world position. An oblique acquisition stays oblique (its affine keeps the
rotation); only the voxel axes are brought closest to R, A and S.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from imaging_triage.preprocess.base import Sample
from imaging_triage.volume import Volume


def reorient_array(
    data: npt.NDArray[Any], affine: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
    """Return ``data`` and ``affine`` with voxel axes in the closest RAS+ order.

    Parameters
    ----------
    data : numpy.ndarray
        3-D (or 4-D; extra axes untouched) voxel array.
    affine : numpy.ndarray
        4x4 voxel-to-RAS+ matrix.

    Examples
    --------
    >>> import numpy as np
    >>> lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    >>> out, aff = reorient_array(np.arange(8).reshape(2, 2, 2), lps)
    >>> np.diag(aff)[:3].tolist()
    [1.0, 1.0, 1.0]
    """
    from nibabel import orientations as ornt

    current = ornt.io_orientation(affine)
    transform = ornt.ornt_transform(current, ornt.axcodes2ornt(("R", "A", "S")))
    if np.array_equal(transform, [[0, 1], [1, 1], [2, 1]]):
        return data, np.asarray(affine, dtype=np.float64)
    out = ornt.apply_orientation(data, transform)
    new_affine = affine @ ornt.inv_ornt_aff(transform, data.shape[:3])
    return np.ascontiguousarray(out), np.asarray(new_affine, dtype=np.float64)


@dataclass(frozen=True)
class Reorient:
    """Reorient the image (and mask and derivatives, if any) to closest canonical RAS+."""

    name: ClassVar[str] = "reorient"

    def __call__(self, sample: Sample) -> Sample:
        """Apply the step."""
        image = sample.image
        before = image.orientation()
        data, affine = reorient_array(image.data, image.affine)
        mask = None
        if sample.mask is not None:
            mask = reorient_array(sample.mask, image.affine)[0]
        derivatives = {k: reorient_array(v, image.affine)[0] for k, v in sample.derivatives.items()}
        out = sample.replace(
            image=Volume(data=data, affine=affine, info=image.info),
            mask=mask,
            derivatives=derivatives,
        )
        if before != "RAS":
            out.notes.append(f"reoriented {before} -> RAS")
        return out
