"""``imaging-triage preprocess``: dry run, configuration, progress, real data (issue 4)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from imaging_triage.batch import ManifestRow, Progress, read_manifest
from imaging_triage.cli import main
from imaging_triage.preprocess.config import load_config, to_toml
from imaging_triage.preprocess.phantom import ct_head_phantom
from imaging_triage.volume import load_nifti, save_nifti

FAST_TOML = """
[ct.resample]
spacing_mm = [2.0, 2.0, 2.0]

[mr.resample]
spacing_mm = [2.0, 2.0, 2.0]

[mr.n4]
shrink_factor = 2
iterations = [10]

[mr.brain_mask]
working_mm = 4.0
iterations = 30
"""


@pytest.fixture
def small_tree(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    save_nifti(ct_head_phantom((4.0, 4.0, 4.0)).volume, src / "s1" / "ct.nii.gz")
    return src


def test_dry_run_prints_plan_and_config_and_writes_nothing(
    small_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["preprocess", str(small_tree), "-o", str(out), "--dry-run"])
    assert code == 0
    printed = capsys.readouterr().out
    assert not out.exists()
    assert "plan: 1 series" in printed
    assert "run" in printed and "s1/ct.nii.gz" in printed
    # the effective configuration is printed as loadable TOML
    toml_text = printed.split("# effective configuration\n", 1)[1]
    config_file = tmp_path / "effective.toml"
    config_file.write_text(toml_text)
    assert load_config(config_file) == load_config(None)


def test_config_file_applies_and_windows_optional(small_tree: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[ct]\nsteps = ["reorient", "clip", "resample", "brain_mask", "windows"]\n'
        "[ct.resample]\nspacing_mm = [4.0, 4.0, 4.0]\n"
        "[ct.windows]\npresets = { brain = [80.0, 40.0], bone = [2800.0, 600.0] }\n"
    )
    out = tmp_path / "out"
    code = main(["preprocess", str(small_tree), "-o", str(out), "--config", str(config), "--quiet"])
    assert code == 0
    row = read_manifest(out / "manifest.csv")[0]
    stem = row["output"][: -len(".nii.gz")]
    image = load_nifti(out / row["output"])
    brain = load_nifti(out / f"{stem}_win-brain.nii.gz")
    assert image.spacing == pytest.approx((4.0, 4.0, 4.0))
    expected = np.clip(np.round(image.data.astype(np.float32) * 255 / 80), 0, 255)
    # windows come from the float HU before the int16 output is rounded: 0.5 HU = 1.6 levels
    assert np.abs(brain.data.astype(np.int16) - expected).max() <= 2
    assert (out / f"{stem}_win-bone.nii.gz").is_file()
    assert not (out / f"{stem}_win-subdural.nii.gz").exists()
    assert (out / "report.html").is_file()


def test_bad_config_is_an_error_naming_the_key(
    small_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[ct.resample]\nspacng_mm = [1.0, 1.0, 1.0]\n")
    code = main(["preprocess", str(small_tree), "-o", str(tmp_path / "o"), "--config", str(config)])
    assert code == 1
    err = capsys.readouterr().err
    assert "bad.toml" in err and "unknown key(s) spacng_mm" in err
    config.write_text('[mr]\nsteps = ["n4", "skull_strip"]\n')
    assert (
        main(["preprocess", str(small_tree), "-o", str(tmp_path / "o"), "--config", str(config)])
        == 1
    )
    assert "unknown step(s) skull_strip" in capsys.readouterr().err


def test_no_progress_bar_off_a_terminal(
    small_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["preprocess", str(small_tree), "-o", str(tmp_path / "o"), "--jobs", "1"])
    assert code == 0
    err = capsys.readouterr().err
    assert "\r" not in err  # stderr is not a terminal here
    assert "1 series: 1 ok" in err
    code = main(["preprocess", str(small_tree), "-o", str(tmp_path / "o"), "--quiet"])
    assert code == 0 and capsys.readouterr().err == ""


def test_progress_bar_drawing() -> None:
    stream = io.StringIO()
    bar = Progress(2, stream, width=10)
    bar.update(ManifestRow(input="a", status="ok"))
    bar.update(ManifestRow(input="b", status="failed"))
    bar.close()
    text = stream.getvalue()
    assert "\r[#####.....] 1/2 series  ok 1" in text
    assert "\r[##########] 2/2 series  failed 1 ok 1" in text and text.endswith("\n")


def test_effective_config_roundtrip_with_changes(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(FAST_TOML)
    config = load_config(path)
    again = tmp_path / "again.toml"
    again.write_text(to_toml(config))
    assert load_config(again) == config


@pytest.mark.realdata
def test_real_ct_default_pipeline(realdata: Path, tmp_path: Path) -> None:
    src = realdata / "dcm_qa_ct" / "In" / "Philips"  # the phantom (GE is a real head)
    out = tmp_path / "out"
    code = main(["preprocess", str(src), "-o", str(out), "--jobs", "2", "--quiet"])
    assert code == 0
    rows = read_manifest(out / "manifest.csv")
    philips = rows  # the Philips phantom only (the GE head: tests/realdata)
    ok = [r for r in philips if r["status"] == "ok"]
    dropped = [r for r in philips if r["status"] == "dropped"]
    assert len(ok) == 2 and len(dropped) == 4  # 2 volumes; localizers and summaries dropped
    for row in ok:
        image = load_nifti(out / row["output"])
        mask = load_nifti(out / row["output"].replace(".nii.gz", "_mask.nii.gz"))
        assert image.orientation() == "RAS"
        assert image.spacing == pytest.approx((1.0, 1.0, 1.0))
        inside = image.data[mask.data.astype(bool)]
        # a skull phantom whose cavity is air (about -990 HU) with a few inserts: the mask
        # holds only the inserts' soft-tissue voxels, never bone, and says it is small
        assert inside.size > 0 and inside.max() <= 150 and inside.min() >= -15
        prov = json.loads((out / row["output"].replace(".nii.gz", "_provenance.json")).read_text())
        assert prov["pipeline"] == "ct"
        assert prov["qc"]["verdict"] == "warn"
        assert row["qc"].startswith("warn: intracranial volume")
    assert (out / "report.html").is_file()
    # a second run skips everything
    assert main(["preprocess", str(src), "-o", str(out), "--jobs", "2", "--quiet"]) == 0
    rows = read_manifest(out / "manifest.csv")
    assert sorted({r["status"] for r in rows}) == ["dropped", "skipped"]


@pytest.mark.realdata
@pytest.mark.slow
def test_whole_realdata_tree(realdata: Path, tmp_path: Path) -> None:
    """Acceptance 1: every series found has a row; exit 3 because of dicom2nifti failing/."""
    from imaging_triage import ingest

    config = tmp_path / "fast.toml"
    config.write_text(FAST_TOML)
    out = tmp_path / "out"
    code = main(
        [
            "preprocess",
            str(realdata),
            "-o",
            str(out),
            "--jobs",
            "2",
            "--config",
            str(config),
            "--quiet",
        ]
    )
    assert code == 3
    scan = ingest.scan(realdata)
    rows = read_manifest(out / "manifest.csv")
    assert len(rows) == len(scan.series) + len(scan.unreadable)
    assert sorted(r["input"] for r in rows) == sorted(
        [s.input for s in scan.series]
        + [str(Path(p).relative_to(realdata)) for p, _ in scan.unreadable]
    )
    statuses = {r["status"] for r in rows}
    assert statuses <= {"ok", "dropped", "failed"}
    for row in rows:
        if row["status"] == "ok":
            for output in row["output"].split(";"):
                assert load_nifti(out / output).data.size > 0
        else:
            assert row["reason"], row
    failing = [r for r in rows if r["input"].startswith("dicom2nifti/tests/data/failing/")]
    assert any(r["status"] == "failed" for r in failing)
    assert all(r["status"] != "ok" or r["reason"] == "" for r in failing)
    report = (out / "report.html").read_text()
    assert report.count("data-row=") == len(rows)
