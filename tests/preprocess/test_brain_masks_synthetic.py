"""Brain masks on the realistic synthetic head of sample_data (issue 15, acceptance 3).

The head of :mod:`imaging_triage.phantom` (gyri and sulci, skull base, sinuses, falx and
tentorium, cerebellum and brainstem) is rendered here on a 2 mm grid covering the whole
head; its ground truth (:func:`~imaging_triage.phantom.anatomy_masks`) gives the
intracranial region (CT) and the brain (MR).
"""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.phantom import HeadSpec, anatomy_masks, bias_field, classify
from imaging_triage.phantom import ct_values as phantom_ct
from imaging_triage.phantom import mr_values as phantom_mr
from imaging_triage.preprocess.base import Sample
from imaging_triage.preprocess.ct_brain_mask import CTBrainMask
from imaging_triage.preprocess.mr_brain_mask import MRBrainMask
from imaging_triage.preprocess.normalize import ZScoreNormalize
from imaging_triage.preprocess.qc import Verdict, assess
from imaging_triage.volume import SeriesInfo, Volume

SPACING = 2.0


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


class Head:
    """The synthetic head on a 2 mm RAS grid, with its truth."""

    def __init__(self) -> None:
        lo = np.array([-82.0, -104.0, -100.0])
        shape = (83, 105, 95)
        self.affine = np.diag([SPACING, SPACING, SPACING, 1.0])
        self.affine[:3, 3] = lo
        ijk = np.indices(shape).reshape(3, -1).T
        points = ijk * SPACING + lo
        spec = HeadSpec()
        tissue, lesion = classify(points, spec)
        self.spec = spec
        self.shape = shape
        self.points = points
        self.tissue, self.lesion = tissue, lesion
        icv, brain = anatomy_masks(points)
        self.intracranial = icv.reshape(shape)
        self.brain = brain.reshape(shape)

    def ct(self, seed: int = 0) -> Volume:
        hu = phantom_ct(self.tissue, self.lesion, self.spec).reshape(self.shape)
        hu = hu + np.random.default_rng(seed).normal(0.0, 4.0, self.shape)
        info = SeriesInfo(modality="CT", hounsfield=True)
        return Volume(hu.astype(np.float32), self.affine, info)

    def mr(self, contrast: str, seed: int = 0) -> Volume:
        signal = phantom_mr(self.tissue, self.lesion, self.spec, contrast) * bias_field(self.points)
        rng = np.random.default_rng(seed)
        real = signal.reshape(self.shape) + rng.normal(0.0, 12.0, self.shape)
        imag = rng.normal(0.0, 12.0, self.shape)
        data = np.sqrt(real**2 + imag**2).astype(np.float32)
        return Volume(data, self.affine, SeriesInfo(modality="MR"))


@pytest.fixture(scope="module")
def head() -> Head:
    return Head()


def test_ct_mask_matches_intracranial_truth(head: Head) -> None:
    vol = head.ct()
    mask = CTBrainMask().mask(np.asarray(vol.data), vol.spacing)
    assert dice(mask, head.intracranial) >= 0.95
    assert float(np.asarray(vol.data)[mask].max()) <= 150.0
    assert assess(mask, vol, "ct").verdict is Verdict.PASS


@pytest.mark.slow
@pytest.mark.parametrize("contrast", ["T1", "FLAIR"])
def test_mr_mask_matches_brain_truth(head: Head, contrast: str) -> None:
    out = MRBrainMask()(Sample(image=head.mr(contrast)))
    vol = out.image
    assert out.mask is not None
    assert dice(out.mask, head.brain) >= 0.95
    assert assess(out.mask, vol, "mr").verdict is Verdict.PASS
    # normalisation on the whole mask: CSF inside the brain stays off the floor
    z = ZScoreNormalize()(out).image.data
    csf = out.mask & head.brain & np.isin(head.tissue.reshape(head.shape), [5, 9])
    at_floor = float((z[csf] <= z.min() + 1e-6).mean())
    assert at_floor < 0.02


def test_mask_pulled_onto_the_whole_head_is_flagged(head: Head) -> None:
    """What a registration run off to the scalp gives (the template's brain on the whole
    head, as the FLAIR did before the registration masked the head's edge): QC warns."""
    vol = head.mr("FLAIR")
    whole_head = head.tissue.reshape(head.shape) != 0
    report = assess(whole_head, vol, "mr")
    assert report.verdict is Verdict.WARN
    assert any("brain volume" in r or "of the head" in r for r in report.reasons)
