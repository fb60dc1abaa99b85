"""Brain masks of the default pipeline on the sample studies against the generator's truth.

Issue 15, acceptance 3: the truth is :func:`imaging_triage.phantom.anatomy_masks` at the
world position of every output voxel (CT: the intracranial region; MR: the brain).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imaging_triage import ingest
from imaging_triage.phantom import anatomy_masks
from imaging_triage.preprocess.config import load_config
from imaging_triage.preprocess.pipeline import run_pipeline


def _dice_per_series(sample_data: Path, study: str) -> list[float]:
    out = []
    for record in ingest.scan(sample_data / "dicom" / study).series:
        if record.status is not ingest.Status.OK:
            continue
        (volume,) = ingest.load(record)
        if min(volume.shape[:3]) < 8:  # a localizer
            continue
        result = run_pipeline(volume, load_config(None))
        img, mask = result.sample.image, result.sample.mask
        assert mask is not None
        grid = np.indices(img.shape[:3]).reshape(3, -1).T
        icv, brain = anatomy_masks(img.world(grid))
        truth = (icv if result.pipeline.value == "ct" else brain).reshape(img.shape[:3])
        out.append(2.0 * float((mask & truth).sum()) / float(mask.sum() + truth.sum()))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "study",
    [
        "01_ct_normal",
        "02_ct_sdh",
        "03_ct_sah",
        "04_ct_infarct",
        "05_mr_tumor",
        # tilted: the ingest's blur-free tilt correction keeps the inner table out of the rim
        "06_ct_tilt_sdh",
    ],
)
def test_sample_study_mask_matches_truth(sample_data: Path, study: str) -> None:
    if not (sample_data / "dicom" / study).is_dir():
        pytest.skip(f"sample study {study} not generated")
    dices = _dice_per_series(sample_data, study)
    assert dices
    assert min(dices) >= 0.95, [round(d, 3) for d in dices]
