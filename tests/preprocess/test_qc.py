"""Brain-mask QC: a broken mask is flagged in the manifest and the report (issue 15, item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from imaging_triage.batch import read_manifest, run_batch
from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.config import (
    Pipeline,
    default_config,
    load_config,
    merge,
    param_hash,
    to_toml,
)
from imaging_triage.preprocess.ct_brain_mask import CTBrainMask
from imaging_triage.preprocess.phantom import Phantom, ct_head_phantom
from imaging_triage.preprocess.qc import QCLimits, QCReport, Verdict, assess, read_qc
from imaging_triage.preprocess.report import write_report
from imaging_triage.volume import Volume, save_nifti

FAST = {"ct": {"resample": {"spacing_mm": [2.0, 2.0, 2.0]}}}


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return ct_head_phantom((2.0, 2.0, 2.0))


def _half(mask: np.ndarray) -> np.ndarray:
    """The mask with its right half (RAS: high i on an axis-aligned grid) removed."""
    broken = mask.copy()
    i = np.nonzero(mask.any(axis=(1, 2)))[0]
    broken[(i.min() + i.max()) // 2 :] = False
    return broken


def test_correct_mask_passes(phantom: Phantom) -> None:
    report = assess(phantom.intracranial, phantom.volume, "ct")
    assert report.verdict is Verdict.PASS, report.reasons
    assert report.measures["components"] == 1
    assert report.measures["asymmetry"] < 0.05


def test_half_mask_warns_with_reasons(phantom: Phantom) -> None:
    report = assess(_half(phantom.intracranial), phantom.volume, "ct")
    assert report.verdict is Verdict.WARN
    text = "; ".join(report.reasons)
    assert "intracranial volume" in text and "below 1200 ml" in text
    assert "left-right imbalance" in text
    assert report.summary().startswith("warn: intracranial volume")


def test_partial_field_of_view_lowers_the_volume_limit(phantom: Phantom) -> None:
    # keep only the top 60 mm of the head: the mask is cut by the field of view
    k_top = phantom.volume.shape[2]
    keep = slice(k_top - 45, k_top)
    data = np.ascontiguousarray(phantom.volume.data[:, :, keep])
    affine = phantom.volume.affine.copy()
    affine[:3, 3] = phantom.volume.world([0, 0, k_top - 45])
    vol = Volume(data, affine, phantom.volume.info)
    mask = np.ascontiguousarray(phantom.intracranial[:, :, keep])
    report = assess(mask, vol, "ct")
    assert report.measures["coverage"] < 1.0
    assert report.verdict is Verdict.PASS, report.reasons
    # with the whole-head limit it would have warned
    whole = assess(mask, vol, "ct", QCLimits(expected_height_mm=1.0))
    assert whole.verdict is Verdict.WARN


def test_mask_in_pieces_warns(phantom: Phantom) -> None:
    mask = phantom.intracranial.copy()
    k = np.nonzero(mask.any(axis=(0, 1)))[0]
    mask[:, :, (k.min() + k.max()) // 2 - 2 : (k.min() + k.max()) // 2 + 2] = False
    report = assess(mask, phantom.volume, "ct")
    assert report.verdict is Verdict.WARN
    assert any("pieces" in r for r in report.reasons)


def test_report_round_trip() -> None:
    report = QCReport(Verdict.WARN, ["a", "b"], {"volume_ml": 500.0})
    assert QCReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_broken_mask_flagged_in_manifest_report_and_provenance(
    tmp_path: Path, phantom: Phantom, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in"
    save_nifti(phantom.volume, src / "ct.nii.gz")
    config = merge(default_config(), FAST)

    good = tmp_path / "good"
    run_batch(src, good, config, jobs=1)
    (row,) = read_manifest(good / "manifest.csv")
    assert row["qc"] == "pass"
    assert "data-qc='warn'" not in write_report(good, [row]).read_text()

    original = CTBrainMask.mask
    monkeypatch.setattr(CTBrainMask, "mask", lambda self, hu, sp: _half(original(self, hu, sp)))
    bad = tmp_path / "bad"
    run_batch(src, bad, config, jobs=1)  # one series: runs in this process
    (row,) = read_manifest(bad / "manifest.csv")
    assert row["status"] == "ok"
    assert row["qc"].startswith("warn: intracranial volume")
    assert "left-right imbalance" in row["qc"]
    html = write_report(bad, [row]).read_text()
    assert "data-qc='warn'" in html and "class='qc-warn'" in html
    assert "1 brain mask(s) flagged by QC" in html
    # the viewer's entry point reads the same verdict from the provenance
    qc = read_qc(bad / row["output"])
    assert qc is not None and qc.verdict is Verdict.WARN
    assert qc.reasons and qc.reasons[0].startswith("intracranial volume")


def test_read_qc_without_qc(tmp_path: Path) -> None:
    path = tmp_path / "x_provenance.json"
    path.write_text(json.dumps({"pipeline": "convert"}))
    assert read_qc(path) is None
    assert read_qc(tmp_path / "missing.json") is None


def test_qc_limits_from_the_pipeline_toml_reach_the_verdict(
    tmp_path: Path, phantom: Phantom
) -> None:
    src = tmp_path / "in"
    save_nifti(phantom.volume, src / "ct.nii.gz")
    # a child's head, say: the adult CT range would pass this mask, this one does not
    config = merge(default_config(), {**FAST, "qc": {"ct_ml": [1800.0, 2400.0]}})
    assert config.qc.ct_ml == (1800.0, 2400.0)
    assert config.qc.mr_ml == QCLimits().mr_ml  # the other limits keep their defaults
    out = tmp_path / "out"
    run_batch(src, out, config, jobs=1)
    (row,) = read_manifest(out / "manifest.csv")
    assert row["qc"].startswith("warn: intracranial volume") and "below 1800 ml" in row["qc"]


def test_qc_limits_round_trip_and_hash(tmp_path: Path) -> None:
    config = merge(default_config(), {"qc": {"mr_ml": [900.0, 1600.0], "max_asymmetry": 0.2}})
    path = tmp_path / "pipeline.toml"
    path.write_text(to_toml(config))
    assert load_config(path).qc == config.qc
    base = default_config()
    # outputs carry the verdict: changing a limit redoes the series that have a mask
    assert param_hash(config, Pipeline.MR) != param_hash(base, Pipeline.MR)
    assert param_hash(config, Pipeline.OTHER) == param_hash(base, Pipeline.OTHER)


@pytest.mark.parametrize(
    "qc",
    [{"ct_ml": [1800.0, 1200.0]}, {"head_fraction": [0.2, 1.5]}, {"max_asymmetry": -1}, {"x": 1}],
)
def test_bad_qc_limits_are_refused(qc: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="qc"):
        merge(default_config(), {"qc": qc})
