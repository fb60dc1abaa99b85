"""All checks on one series: label volume on the input grid, JSON, score."""

from __future__ import annotations

import json

import numpy as np

from imaging_triage.candidates import (
    DISCLAIMER,
    Check,
    CheckStatus,
    run_checks,
    save_candidates,
)
from imaging_triage.volume import LPS_TO_RAS, SeriesInfo, Volume, load_nifti

from .conftest import Blob, build_head


def test_label_volume_json_and_score(tmp_path):
    head = build_head(
        shift_mm=4.0,
        blobs=(
            Blob((25.0, 20.0, 10.0), 8.0, 70.0),
            Blob((-32.0, -25.0, 20.0), 15.0, 27.0),
        ),
    )
    report = run_checks(head.volume, head.mask)
    assert [r.label for r in report.regions] == [1, 2]
    assert {r.check for r in report.regions} == {Check.HYPERDENSITY, Check.HYPODENSITY_ASYMMETRY}
    assert report.labels.dtype == np.uint8
    assert set(np.unique(report.labels)) == {0, 1, 2}
    first = report.regions[0]
    assert report.labels[..., first.key_slice].__eq__(first.label).any()
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["disclaimer"] == DISCLAIMER
    assert doc["regions"] == 2
    assert doc["key_slice_axis"] == 2
    assert report.score.score >= 70
    assert any("midline shift" in r for r in report.score.reasons)
    paths = save_candidates(report, head.volume, tmp_path / "0002_HEAD")
    saved = load_nifti(paths["labels"])
    assert np.array_equal(np.asarray(saved.data), report.labels)
    assert json.loads(paths["json"].read_text())["score"]["score"] == report.score.score


def test_labels_come_back_on_an_lps_grid():
    head = build_head(blobs=(Blob((25.0, 20.0, 10.0), 8.0, 70.0),))
    vol = head.volume
    affine = vol.affine @ LPS_TO_RAS  # voxel axes towards the left and posterior
    affine[:3, 3] = vol.world([vol.shape[0] - 1, vol.shape[1] - 1, 0])
    flipped = Volume(np.ascontiguousarray(vol.data[::-1, ::-1]), affine, vol.info)
    assert flipped.orientation() == "LPS"
    report = run_checks(flipped, np.ascontiguousarray(head.mask[::-1, ::-1]))
    assert len(report.regions) == 1
    assert report.regions[0].side.value == "right"
    back = report.labels[::-1, ::-1]
    assert back[head.truth["blob0"]].mean() > 0.8


def test_mr_t1_gets_the_ct_checks_and_flair_as_not_applicable(normal_head):
    vol = normal_head.volume
    mr = Volume(np.abs(vol.data), vol.affine, SeriesInfo(modality="MR"))
    report = run_checks(mr, normal_head.mask)
    assert not report.ct
    ct_only = (Check.HYPERDENSITY, Check.VENTRICLES, Check.HYPODENSITY_ASYMMETRY)
    assert all(report.result(c).status is CheckStatus.NOT_APPLICABLE for c in ct_only)
    flair = report.result(Check.FLAIR_ASYMMETRY)
    assert flair.status is CheckStatus.NOT_APPLICABLE and flair.reasons == ["not a FLAIR series"]
    assert report.result(Check.MIDLINE_SHIFT).status is not CheckStatus.NOT_APPLICABLE
    assert report.score.score == 0
    assert not report.labels.any()
