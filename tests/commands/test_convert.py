"""``imaging-triage convert``: good and bad inputs mixed, exit codes, sidecars."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from dicomgen import SeriesSpec, value_at, write_localizer, write_series

from imaging_triage.batch import read_manifest
from imaging_triage.cli import main
from imaging_triage.commands.convert import main as convert_main
from imaging_triage.preprocess.phantom import ct_head_phantom
from imaging_triage.volume import LPS_TO_RAS, load_nifti, save_nifti

IDENTIFIERS = ("TEST^GEOMETRY", "TEST0001", "20260101")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mixed")
    good = SeriesSpec(n=10, description="GOOD CT", series_number=2)
    write_series(root / "good_ct", good, order=[3, 1, 0, 2, 9, 8, 4, 5, 7, 6])
    write_localizer(root / "good_ct", good)
    mr = SeriesSpec(n=8, modality="MR", description="GOOD MR", series_number=3, intercept=0.0)
    write_series(root / "good_mr", mr)
    gap = SeriesSpec(n=10, description="GAPPY", series_number=4)
    write_series(root / "gap", gap, skip=[5])
    trunc = SeriesSpec(n=6, description="TRUNCATED", series_number=5)
    paths = write_series(root / "trunc", trunc)
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[: len(data) - 300])  # pixel data cut short
    (root / "good_ct" / "README.txt").write_text("not DICOM")
    save_nifti(ct_head_phantom((6.0, 6.0, 6.0)).volume, root / "nifti" / "head.nii.gz")
    (root / "nifti" / "broken.nii.gz").write_bytes(b"garbage")
    return root


@pytest.fixture(scope="module")
def converted(mixed: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("out")
    code = main(["convert", str(mixed), "-o", str(out), "--jobs", "2", "--quiet"])
    return code, out


def test_mixed_exits_partial(converted: tuple[int, Path]) -> None:
    code, _ = converted
    assert code == 3


def test_good_series_converted_with_correct_values(converted: tuple[int, Path]) -> None:
    _, out = converted
    rows = {r["description"]: r for r in read_manifest(out / "manifest.csv")}
    row = rows["GOOD CT"]
    assert row["status"] == "ok" and row["modality"] == "CT"
    vol = load_nifti(out / row["output"])
    assert vol.shape == (20, 24, 10)
    # voxel values are value_at() of each voxel centre's LPS position (HU, exact)
    idx = np.indices(vol.shape).reshape(3, -1).T
    lps = (LPS_TO_RAS @ np.c_[vol.world(idx), np.ones(len(idx))].T).T[:, :3]
    assert np.allclose(vol.data.reshape(-1), np.round(value_at(lps)), atol=1.0)
    assert rows["GOOD MR"]["status"] == "ok"
    assert rows["head"]["status"] == "ok"


def test_bad_inputs_named_with_reasons(converted: tuple[int, Path]) -> None:
    _, out = converted
    rows = read_manifest(out / "manifest.csv")
    by_input: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_input.setdefault(r["input"].split("/")[0], []).append(r)
    gap = [r for r in rows if r["description"] == "GAPPY"]
    assert gap and gap[0]["status"] == "failed" and "missing" in gap[0]["reason"]
    trunc = [r for r in rows if "trunc" in r["input"]]
    assert trunc and all(r["status"] == "failed" and r["reason"] for r in trunc)
    broken = [r for r in rows if r["input"] == "nifti/broken.nii.gz"]
    assert broken and broken[0]["status"] == "failed"
    assert "cannot read as NIfTI" in broken[0]["reason"]
    localizer = [r for r in rows if r["status"] == "dropped"]
    assert localizer and "localizer" in localizer[0]["reason"].lower()
    # every non-ok row says why; every ok row has an output
    for r in rows:
        assert (r["status"] == "ok") == bool(r["output"]), r
        assert r["status"] == "ok" or r["reason"], r


def test_sidecar_has_bids_keys_and_no_identifiers(converted: tuple[int, Path]) -> None:
    _, out = converted
    row = next(r for r in read_manifest(out / "manifest.csv") if r["description"] == "GOOD CT")
    sidecar = json.loads((out / row["output"].replace(".nii.gz", ".json")).read_text())
    assert sidecar["Modality"] == "CT"
    assert sidecar["Manufacturer"] == "TESTVENDOR"
    assert sidecar["SeriesDescription"] == "GOOD CT"
    assert sidecar["SeriesNumber"] == 2
    assert "Corrections" in sidecar and "Warnings" in sidecar
    for path in out.rglob("*"):
        if path.suffix in (".json", ".csv"):
            text = path.read_text()
            assert not any(ident in text for ident in IDENTIFIERS), path


def test_rerun_skips_everything(converted: tuple[int, Path], mixed: Path) -> None:
    _, out = converted
    code = convert_main([str(mixed), "-o", str(out), "--jobs", "1", "--quiet"])
    assert code == 3
    statuses = {r["status"] for r in read_manifest(out / "manifest.csv")}
    assert "ok" not in statuses and "skipped" in statuses


def test_nothing_to_do_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("hello")
    assert main(["convert", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 4
    assert "no DICOM or NIfTI found" in capsys.readouterr().err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "in").mkdir()
    assert main(["convert", str(tmp_path / "in"), "-o", str(tmp_path / "in" / "out")]) == 2
    assert "must not be inside the input folder" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "in")]) == 2  # -o is required
