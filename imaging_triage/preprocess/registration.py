"""Affine registration of the brain template to a head image (SimpleITK, mutual information).

The template is the fixed image and its intracranial region (dilated) the metric mask, so
only the brain is compared: the subject's scalp, neck and face, which the skull-stripped
template lacks, do not pull the fit. Mattes mutual information makes it work across
contrasts (T1, T2, FLAIR). A similarity transform (rotation, translation, one scale)
is fitted first from the centres of mass, then a full affine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imaging_triage.errors import PreprocessError


def register_affine(fixed: Any, moving: Any, fixed_mask: Any, seed: int = 1) -> Any:
    """Fit the affine transform that maps points of ``fixed`` to points of ``moving``.

    Parameters
    ----------
    fixed, moving : SimpleITK.Image
        Float images; ``moving`` is the subject (already reduced to a few millimetres).
    fixed_mask : SimpleITK.Image
        Where the metric is sampled (uint8).
    seed : int
        Seed of the random metric sampling (fixed: the result is reproducible).

    Returns
    -------
    SimpleITK.AffineTransform

    Raises
    ------
    PreprocessError
        If the optimiser fails (e.g. an empty image).
    """
    import SimpleITK as sitk

    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.2, seed)
    reg.SetMetricFixedMask(fixed_mask)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(
        1.0, 1e-4, 200, relaxationFactor=0.6, gradientMagnitudeTolerance=1e-6
    )
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    similarity = sitk.CenteredTransformInitializer(
        fixed,
        moving,
        sitk.Similarity3DTransform(),
        sitk.CenteredTransformInitializerFilter.MOMENTS,
    )
    affine = sitk.AffineTransform(3)
    try:
        reg.SetInitialTransform(similarity, inPlace=True)
        reg.SetShrinkFactorsPerLevel([4, 2, 1])
        reg.SetSmoothingSigmasPerLevel([2, 1, 0])
        reg.Execute(fixed, moving)
        affine.SetCenter(similarity.GetCenter())
        affine.SetMatrix(similarity.GetMatrix())
        affine.SetTranslation(similarity.GetTranslation())
        reg.SetInitialTransform(affine, inPlace=True)
        reg.SetShrinkFactorsPerLevel([2, 1])
        reg.SetSmoothingSigmasPerLevel([1, 0])
        reg.Execute(fixed, moving)
    except RuntimeError as err:
        raise PreprocessError(f"template registration failed: {err}") from err
    scale = float(np.cbrt(abs(np.linalg.det(np.asarray(affine.GetMatrix()).reshape(3, 3)))))
    if not 0.5 < scale < 2.0:
        raise PreprocessError(
            f"template registration failed: implausible scale {scale:.2f} (is this a head image?)"
        )
    return affine
