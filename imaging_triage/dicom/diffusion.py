"""Diffusion MR: which images are what, and the b-values and directions of a 4-D image.

A diffusion series mixes images of different kinds (PS3.3 C.8.13.5.9, C.8.12.5):
diffusion-weighted volumes (one per b-value and gradient direction), the scanner's
isotropic (trace) image, and derived maps (ADC, exponential ADC). Readers of stroke need
the trace and ADC as images of their own, and the diffusion-weighted volumes with their
encoding, so each kind becomes its own stack (:func:`role`) and a 4-D diffusion image
carries its b-values and gradient directions (:func:`encoding`), given in the volume's
voxel frame as FSL and dcm2niix write ``.bvec`` files (:func:`bvecs_in_voxel_frame`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.records import VolumeRole

#: gradient vectors shorter than this are "no direction" (isotropic / b0)
ZERO_VECTOR = 1e-3
#: sidecar keys of the encoding of a 4-D diffusion image
BVALS_KEY = "DiffusionBValues"
BVECS_KEY = "DiffusionGradientDirectionsVoxel"


def role(
    b_value: float | None,
    gradient: Sequence[float] | None,
    directionality: str = "",
    image_type: Sequence[str] = (),
) -> VolumeRole:
    """What a diffusion image is, from its encoding and image type.

    Parameters
    ----------
    b_value : float or None
        DiffusionBValue (s/mm2), ``None`` when the image carries none.
    gradient : sequence of float or None
        DiffusionGradientOrientation (patient frame), ``None`` when absent.
    directionality : str
        DiffusionDirectionality (``DIRECTIONAL``, ``ISOTROPIC``, ``NONE``, ``BMATRIX``).
    image_type : sequence of str
        ImageType (or FrameType) values, upper case.

    Examples
    --------
    >>> role(1000.0, (0.0, 0.0, 0.0)).value, role(1000.0, (0.0, 0.6, 0.8)).value
    ('trace', 'diffusion')
    >>> role(None, None, image_type=("DERIVED", "PRIMARY", "ADC")).value
    'adc'
    >>> role(0.0, (0.0, 0.0, 0.0)).value, role(1000.0, None).value, role(None, None).value
    ('diffusion', 'diffusion', 'image')
    """
    values = {v.strip().upper() for v in image_type}
    if values & {"EADC", "EXP", "EXPONENTIAL"}:
        return VolumeRole.EADC
    if values & {"ADC", "ADC_UNSPECIFIED"}:
        return VolumeRole.ADC
    if values & {"TRACEW", "TRACE", "ISOTROPIC"} or directionality.upper() == "ISOTROPIC":
        return VolumeRole.TRACE
    if b_value is None:
        return VolumeRole.IMAGE
    # a gradient given as the zero vector with b > 0 is the isotropic image (Philips);
    # no gradient at all says nothing
    zero_vector = gradient is not None and float(np.linalg.norm(gradient)) < ZERO_VECTOR
    if b_value > 0 and zero_vector and directionality.upper() != "DIRECTIONAL":
        return VolumeRole.TRACE
    return VolumeRole.DIFFUSION


def encoding(
    frames_per_volume: Sequence[Any],
) -> tuple[list[float], list[npt.NDArray[np.float64]]] | None:
    """(b-values, unit gradient directions in LPS) of each volume of a 4-D image.

    Parameters
    ----------
    frames_per_volume : sequence of Frame
        One frame of each volume, in volume order; their ``meta`` holds
        ``DiffusionBValue`` and ``DiffusionGradientOrientation`` (or
        ``DiffusionGradientDirection``).

    Returns
    -------
    tuple or None
        ``None`` when any volume has no b-value. A b0 volume (or one without a
        direction) gets the zero vector.
    """
    bvals: list[float] = []
    bvecs: list[npt.NDArray[np.float64]] = []
    for f in frames_per_volume:
        b = f.meta.get("DiffusionBValue")
        if b is None:
            return None
        vector = f.meta.get(
            "DiffusionGradientOrientation", f.meta.get("DiffusionGradientDirection")
        )
        v = np.zeros(3) if vector is None else np.asarray(vector, dtype=np.float64)
        norm = float(np.linalg.norm(v)) if v.shape == (3,) else 0.0
        bvals.append(float(b))
        bvecs.append(v / norm if norm >= ZERO_VECTOR else np.zeros(3))
    return bvals, bvecs


def bvecs_in_voxel_frame(
    bvecs_lps: Sequence[npt.NDArray[np.float64]], affine_ras: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Gradient directions in the voxel frame of a volume, as FSL's ``.bvec`` (3 x N).

    The LPS directions are turned into RAS, projected onto the volume's voxel axes, and
    the first component is negated when the voxel-to-world matrix has a positive
    determinant (FSL's radiological convention, which dcm2niix follows).

    Examples
    --------
    >>> aff = np.diag([-2.0, 2.0, 2.0, 1.0])  # LAS voxel axes: negative determinant
    >>> bvecs_in_voxel_frame([np.array([1.0, 0.0, 0.0])], aff).ravel().tolist()
    [1.0, 0.0, 0.0]
    """
    m = np.asarray(affine_ras, dtype=np.float64)[:3, :3]
    axes = m / np.linalg.norm(m, axis=0)
    out = np.zeros((3, len(bvecs_lps)))
    for n, v in enumerate(bvecs_lps):
        ras = np.asarray(v, dtype=np.float64) * np.array([-1.0, -1.0, 1.0])
        out[:, n] = np.linalg.solve(axes, ras)
    if np.linalg.det(m) > 0:
        out[0] = -out[0]
    out[np.abs(out) < 1e-12] = 0.0
    return out


def fsl_number(value: float) -> str:
    """One number as dcm2niix writes it in ``.bval``/``.bvec`` files (C ``%g``: six
    significant digits), with a negative zero written ``0``.

    Examples
    --------
    >>> [fsl_number(v) for v in (2000.0, -0.0, 0.0634974123, -9.99964e-05, 1.0)]
    ['2000', '0', '0.0634974', '-9.99964e-05', '1']
    """
    return f"{float(value) + 0.0:g}"


def bval_bvec_text(acquisition: dict[str, Any]) -> tuple[str, str] | None:
    """The ``.bval`` and ``.bvec`` file contents of a diffusion image, or ``None``.

    The format is dcm2niix's: ``.bval`` is one line of b-values, ``.bvec`` three lines
    (x, y, z) with one column per volume, numbers separated by single spaces
    (:func:`fsl_number`), each line ending in a newline.

    Parameters
    ----------
    acquisition : dict
        :attr:`imaging_triage.volume.SeriesInfo.acquisition` of the volume.

    Returns
    -------
    tuple of str or None
        ``None`` when the image carries no diffusion encoding.

    Examples
    --------
    >>> bval, bvec = bval_bvec_text({BVALS_KEY: [0, 1000], BVECS_KEY: [[0, 1], [0, 0], [0, 0]]})
    >>> bval, bvec
    ('0 1000\\n', '0 1\\n0 0\\n0 0\\n')
    """
    bvals = acquisition.get(BVALS_KEY)
    bvecs = acquisition.get(BVECS_KEY)
    if not bvals or not bvecs:
        return None
    bval = " ".join(fsl_number(b) for b in bvals) + "\n"
    bvec = "".join(" ".join(fsl_number(v) for v in row) + "\n" for row in bvecs)
    return bval, bvec
