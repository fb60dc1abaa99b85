"""``imaging-triage convert``: good and bad inputs mixed, exit codes, sidecars."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from dicomgen import SeriesSpec, value_at, write_dwi, write_localizer, write_series
from refcompare import bvec_world

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


# ---------------------------------------------------------------- diffusion .bval / .bvec

PHILIPS_DTI = "dcm_qa_philips/In/Vanderbilt_2018/601_WIP_dti_ax"
DTI_REF = "dcm_qa_philips/Ref/WIP_dti_ax_601"


def _outputs(out: Path) -> dict[str, Path]:
    """File name -> path of every image the manifest lists (all rows must be ok)."""
    rows = read_manifest(out / "manifest.csv")
    assert all(r["status"] == "ok" for r in rows), rows
    return {Path(o).name: out / o for r in rows for o in r["output"].split(";")}


def test_generated_dwi_writes_bval_bvec_beside_the_4d_image(tmp_path: Path) -> None:
    spec = SeriesSpec(n=5, rows=8, cols=7, modality="MR", intercept=0.0, description="DWI")
    encodings = [(0.0, (0, 0, 0)), (1000.0, (1, 0, 0)), (1000.0, (0, 1, 0)), (700.5, (0, 0, 1))]
    write_dwi(tmp_path / "in", spec, encodings)
    assert main(["convert", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    (image,) = _outputs(tmp_path / "out").values()
    assert load_nifti(image).shape == (7, 8, 5, 4)
    stem = image.with_name(image.name.removesuffix(".nii.gz"))
    bval = stem.with_suffix(".bval").read_text()
    bvec = stem.with_suffix(".bvec").read_text()
    assert bval == "0 1000 1000 700.5\n"
    # axial, rows along LPS +x (RAS -x), columns along LPS +y: the affine's determinant
    # is positive, so FSL negates the first component: LPS +x is -1 along i
    assert bvec == "0 -1 0 0\n0 0 1 0\n0 0 0 1\n"
    prov = json.loads(stem.with_name(stem.name + "_provenance.json").read_text())
    assert prov["outputs"]["bval"] == stem.name + ".bval"
    assert prov["outputs"]["bvec"] == stem.name + ".bvec"
    # a second run finds them and skips; a lost .bvec makes the series run again
    stem.with_suffix(".bvec").unlink()
    assert main(["convert", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert read_manifest(tmp_path / "out" / "manifest.csv")[0]["status"] == "ok"
    assert stem.with_suffix(".bvec").read_text() == bvec


def test_non_diffusion_images_write_no_bval_bvec(converted: tuple[int, Path]) -> None:
    _, out = converted
    assert any(out.rglob("*.nii.gz"))
    assert not list(out.rglob("*.bval")) and not list(out.rglob("*.bvec"))


@pytest.mark.realdata
def test_philips_dti_bval_bvec_equal_dcm2niix(realdata: Path, tmp_path: Path) -> None:
    """Our files against dcm2niix's for the same series: b-values exactly, directions
    within 1e-4, in the same volume order and FSL sign convention.

    dcm2niix stores the rows of a DICOM image bottom-up (its voxel axis j is our -j: its
    affine is ours with the second column negated; checked by running dcm2niix 1.0.2024
    on this series). A .bvec is given in its own image's voxel frame, so its j component
    changes sign with the axis, and its i component with FSL's rule (negated when the
    affine's determinant is positive: ours is, theirs is not). The same directions in the
    world are therefore (-x, -y, z) of theirs in our file.
    """
    out = tmp_path / "out"
    assert main(["convert", str(realdata / PHILIPS_DTI), "-o", str(out), "--quiet"]) == 0
    images = _outputs(out)
    four_d = [p for p in images.values() if load_nifti(p).data.ndim == 4]
    (image,) = four_d
    trace = [p for p in images.values() if p != image]
    assert len(trace) == 1  # the trace image is its own 3-D output, without .bval/.bvec
    assert {p.name for p in out.rglob("*.bval")} == {image.name.removesuffix(".nii.gz") + ".bval"}
    stem = image.with_name(image.name.removesuffix(".nii.gz"))
    ref_bval = (realdata / f"{DTI_REF}.bval").read_text()
    assert stem.with_suffix(".bval").read_text() == ref_bval  # b-values exactly, as text
    ours = np.loadtxt(stem.with_suffix(".bvec"))
    theirs = np.loadtxt(realdata / f"{DTI_REF}.bvec")
    assert ours.shape == theirs.shape == (3, 16)
    np.testing.assert_allclose(ours, theirs * np.array([[-1.0], [-1.0], [1.0]]), atol=1e-4)
    affine = load_nifti(image).affine
    theirs_affine = affine.copy()
    theirs_affine[:3, 1] *= -1
    assert np.linalg.det(affine[:3, :3]) > 0 > np.linalg.det(theirs_affine[:3, :3])
    np.testing.assert_allclose(
        bvec_world(ours, affine), bvec_world(theirs, theirs_affine), atol=1e-4
    )
