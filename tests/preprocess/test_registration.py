"""Rigid registration of two CT scans of one head (a follow-up and its prior)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from imaging_triage.errors import PreprocessError
from imaging_triage.preprocess.phantom import ct_head_phantom
from imaging_triage.preprocess.registration import register_rigid
from imaging_triage.volume import to_sitk


@pytest.fixture(scope="module")
def head() -> sitk.Image:
    return to_sitk(ct_head_phantom((1.5, 1.5, 1.5)).volume)


def _moved(image: sitk.Image, transform: sitk.Transform) -> sitk.Image:
    """``image`` seen through ``transform`` (fixed -> moving): moving(T x) = image(x)."""
    return sitk.Resample(image, image, transform.GetInverse(), sitk.sitkLinear, -1000.0)


def _error_mm(found: sitk.Transform, known: sitk.Transform, image: sitk.Image) -> float:
    """Mean distance (mm) between the two transforms' images of the head's voxels."""
    head = np.argwhere(sitk.GetArrayViewFromImage(image)[::5, ::5, ::5] > -100)[:, ::-1] * 5
    points = [image.TransformIndexToPhysicalPoint([int(v) for v in p]) for p in head]
    return float(
        np.mean(
            [
                np.linalg.norm(np.subtract(found.TransformPoint(p), known.TransformPoint(p)))
                for p in points
            ]
        )
    )


def test_a_known_turn_and_shift_of_the_head_is_recovered(head: sitk.Image) -> None:
    known = sitk.Euler3DTransform()
    known.SetCenter(head.TransformContinuousIndexToPhysicalPoint([s / 2 for s in head.GetSize()]))
    known.SetRotation(np.radians(4.0), np.radians(-3.0), np.radians(6.0))
    known.SetTranslation((3.0, -5.0, 2.0))
    moving = _moved(head, known)
    found = register_rigid(head, moving)
    assert _error_mm(found, known, head) < 1.0
    identity = sitk.Euler3DTransform()
    assert _error_mm(identity, known, head) > 5.0  # the test moved the head measurably


def test_the_same_head_registers_to_itself(head: sitk.Image) -> None:
    found = register_rigid(head, head)
    assert _error_mm(found, sitk.Euler3DTransform(), head) < 0.5


def test_heads_too_far_apart_are_refused(head: sitk.Image) -> None:
    far = sitk.Image(head)
    far.SetOrigin([o + d for o, d in zip(head.GetOrigin(), (150.0, 0.0, 0.0), strict=True)])
    with pytest.raises(PreprocessError, match="implausible fit"):
        register_rigid(head, far)
