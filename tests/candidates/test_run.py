"""All checks on one series: label volume on the input grid, JSON, score."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from imaging_triage.candidates import (
    DISCLAIMER,
    Check,
    CheckStatus,
    run_checks,
    save_candidates,
)
from imaging_triage.candidates.findings import CheckResult, Region, Side
from imaging_triage.candidates.run import _key_slices, _number
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


def _regions(check, count):
    return [Region(0, check, 1.0, 60.0, 70.0, (0.0, 0.0, 0.0), Side.LEFT, 0) for _ in range(count)]


def test_numbering_merges_the_checks_first_check_wins_and_stops_at_255():
    shape = (6, 5, 4)
    hyper = np.zeros(shape, dtype=np.int32)
    hyper[0, :, :] = 1
    hyper[1, :, :] = 2
    hypo = np.zeros(shape, dtype=np.int32)
    hypo[1:3, :, :] = 1  # overlaps the second hyperdense region: that one keeps the voxels
    results = [
        CheckResult(
            Check.HYPERDENSITY, CheckStatus.MEASURED, regions=_regions(Check.HYPERDENSITY, 2)
        ),
        CheckResult(
            Check.HYPODENSITY_ASYMMETRY,
            CheckStatus.MEASURED,
            regions=_regions(Check.HYPODENSITY_ASYMMETRY, 1),
        ),
    ]
    out = _number(results, {Check.HYPERDENSITY: hyper, Check.HYPODENSITY_ASYMMETRY: hypo}, shape)
    assert [r.label for res in results for r in res.regions] == [1, 2, 3]
    assert (out[0] == 1).all() and (out[1] == 2).all() and (out[2] == 3).all()
    assert not out[3:].any()

    many = np.arange(300, dtype=np.int32).reshape(10, 10, 3) + 1
    results = [
        CheckResult(
            Check.HYPERDENSITY, CheckStatus.MEASURED, regions=_regions(Check.HYPERDENSITY, 300)
        )
    ]
    out = _number(results, {Check.HYPERDENSITY: many}, many.shape)
    assert len(results[0].regions) == 255 and results[0].regions[-1].label == 255
    assert "more than 255" in results[0].reasons[0]
    np.testing.assert_array_equal(out, np.where(many <= 255, many, 0))


def test_key_slices_follow_the_input_superior_axis():
    labels = np.zeros((4, 5, 6), dtype=np.uint8)
    labels[1, 2, 3] = labels[1, 3, 3] = labels[2, 2, 4] = 1
    labels[0, 4, 0] = 2
    results = [
        CheckResult(
            Check.HYPERDENSITY, CheckStatus.MEASURED, regions=_regions(Check.HYPERDENSITY, 2)
        )
    ]
    results[0].regions = [replace(r, label=n) for n, r in enumerate(results[0].regions, start=1)]
    assert _key_slices(results, labels, np.eye(4)) == 2
    assert [r.key_slice for r in results[0].regions] == [3, 0]
    swapped = np.eye(4)[:, [0, 2, 1, 3]]  # voxel axis 1 runs superior
    assert _key_slices(results, labels, swapped) == 1
    assert [r.key_slice for r in results[0].regions] == [2, 4]
