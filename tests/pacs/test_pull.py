"""``pacs ls`` and ``pull`` against a live Orthanc (acceptance 1 of issue 12)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
from orthancserver import SAMPLES, OrthancServer, free_port, sample_files

from imaging_triage.cli import main
from imaging_triage.ingest import load, scan
from imaging_triage.pacs.layout import PARTIAL_SUFFIX
from imaging_triage.pacs.manifest import StudyManifest


def _uids(folder: Path) -> tuple[str, dict[str, str]]:
    """Study UID and {series description: series UID} of a sample study."""
    series = {}
    study = ""
    for path in sorted(folder.rglob("IM00001.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        study = str(ds.StudyInstanceUID)
        series[str(ds.get("SeriesDescription", ""))] = str(ds.SeriesInstanceUID)
    return study, series


def _volumes(root: Path) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    out: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for record in scan(root).series:
        if record.status.value == "ok":
            out[record.series_uid] = [(v.data, v.affine) for v in load(record)]
    return out


def _dcm_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.dcm"))


def test_ls_lists_the_sample_studies_with_counts(pacs_env: OrthancServer, capsys) -> None:
    code = main(["pacs", "ls", pacs_env.dicomweb_url, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    studies = {s["study_uid"]: s for s in doc["studies"]}
    folders = sorted(p for p in SAMPLES.iterdir() if p.is_dir())
    assert len(studies) == len(folders)
    for folder in folders:
        study_uid, series = _uids(folder)
        assert studies[study_uid]["series"] == len(series), folder.name
        assert studies[study_uid]["instances"] == len(sample_files(folder.name)), folder.name
    # no patient identifiers in what is shown
    assert "PHANTOM" not in json.dumps(doc)


def test_ls_filters_by_modality_and_description(pacs_env: OrthancServer, capsys) -> None:
    assert main(["pacs", "ls", pacs_env.dicomweb_url, "--modality", "MR", "--json"]) == 0
    mr = json.loads(capsys.readouterr().out)["studies"]
    assert [s["modalities"] for s in mr] == [["MR"]]
    code = main(["pacs", "ls", pacs_env.dicomweb_url, "--description", "head", "--json"])
    ct = json.loads(capsys.readouterr().out)["studies"]
    n_ct = sum(1 for p in SAMPLES.iterdir() if "_ct_" in p.name)  # every CT sample is a head
    assert code == 0 and len(ct) == n_ct and all("HEAD" in s["description"] for s in ct)
    code = main(["pacs", "ls", pacs_env.dicomweb_url, "--since", "2031-01-01"])
    assert code == 4


def test_pull_ct_by_description_converts_like_the_sample(
    pacs_env: OrthancServer, tmp_path: Path, capsys
) -> None:
    study_uid, _ = _uids(SAMPLES / "02_ct_sdh")
    out = tmp_path / "pulled"
    args = ["pull", pacs_env.dicomweb_url, "--description", "HEAD", "--study", study_uid]
    assert main([*args, "--since", "2000-01-01", "-o", str(out)]) == 0
    assert len(_dcm_files(out)) == len(sample_files("02_ct_sdh"))
    pulled, original = _volumes(out), _volumes(SAMPLES / "02_ct_sdh")
    assert pulled.keys() == original.keys() and pulled
    for uid, volumes in original.items():
        for (data, affine), (pdata, paffine) in zip(volumes, pulled[uid], strict=True):
            np.testing.assert_array_equal(pdata, data)
            np.testing.assert_array_equal(paffine, affine)
    (manifest_path,) = out.glob("study_*/manifest.json")
    manifest = StudyManifest.read(manifest_path)
    assert manifest.study_uid == study_uid and all(s.complete for s in manifest.series)
    # a second pull fetches nothing and changes no file
    before = {p: p.stat().st_mtime_ns for p in _dcm_files(out)}
    capsys.readouterr()
    assert main([*args, "-o", str(out)]) == 0
    assert "0 instance(s) fetched" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in _dcm_files(out)} == before


def test_pull_one_mr_series_by_uid(pacs_env: OrthancServer, tmp_path: Path) -> None:
    study_uid, series = _uids(SAMPLES / "05_mr_tumor")
    flair = next(uid for desc, uid in series.items() if "FLAIR" in desc.upper())
    out = tmp_path / "mr"
    code = main(
        ["pull", pacs_env.dicomweb_url, "--study", study_uid, "--series", flair, "-o", str(out)]
    )
    assert code == 0
    pulled = _volumes(out)
    assert list(pulled) == [flair]
    ((data, affine),) = _volumes(SAMPLES / "05_mr_tumor")[flair]
    np.testing.assert_array_equal(pulled[flair][0][0], data)
    np.testing.assert_array_equal(pulled[flair][0][1], affine)


_KILLER = """
import os, signal, sys
calls = 0
real = os.replace
def replace(src, dst):
    global calls
    calls += str(src).endswith(".partial")
    if calls == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)  # dies with a .partial file written, not renamed
    return real(src, dst)
os.replace = replace
from imaging_triage.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_killed_pull_resumes_without_duplicates(pacs_env: OrthancServer, tmp_path: Path) -> None:
    study_uid, _ = _uids(SAMPLES / "01_ct_normal")
    out = tmp_path / "killed"
    args = ["pull", pacs_env.dicomweb_url, "--study", study_uid, "-o", str(out), "--quiet"]
    proc = subprocess.run(
        [sys.executable, "-c", _KILLER, "6", *args], env=os.environ.copy(), timeout=120
    )
    assert proc.returncode == -signal.SIGKILL
    partial = [p for p in out.rglob("*") if p.name.endswith(PARTIAL_SUFFIX)]
    assert len(partial) == 1 and len(_dcm_files(out)) == 5
    assert main(args) == 0
    files = _dcm_files(out)
    assert not [p for p in out.rglob("*") if p.name.endswith(PARTIAL_SUFFIX)]
    sops = [str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in files]
    assert len(sops) == len(set(sops)) == len(sample_files("01_ct_normal"))


def test_wrong_credentials_exit_1_and_write_nothing(
    pacs_env: OrthancServer, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("IMAGING_TRIAGE_PACS_PASSWORD", "wrong")
    out = tmp_path / "out"
    assert main(["pull", pacs_env.dicomweb_url, "--modality", "CT", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "refused the credentials" in err and "wrong" not in err
    assert not out.exists()


def test_unreachable_server_exits_1(pacs_env: OrthancServer, tmp_path: Path, capsys) -> None:
    url = f"http://127.0.0.1:{free_port()}/dicom-web"
    assert main(["pull", url, "--modality", "CT", "-o", str(tmp_path / "out")]) == 1
    assert "cannot reach the server" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_unknown_study_exits_3_and_writes_nothing(
    pacs_env: OrthancServer, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    code = main(["pull", pacs_env.dicomweb_url, "--study", "1.2.3.4.5.6.7.8.9", "-o", str(out)])
    assert code == 3
    assert "not on the server" in capsys.readouterr().err
    assert not out.exists()


def test_deidentified_pull_writes_no_identifiers(pacs_env: OrthancServer, tmp_path: Path) -> None:
    study_uid, _ = _uids(SAMPLES / "01_ct_normal")
    out = tmp_path / "teaching"
    args = ["pull", pacs_env.dicomweb_url, "--study", study_uid, "-o", str(out), "--deidentify"]
    assert main(args) == 0
    files = _dcm_files(out)
    assert len(files) == len(sample_files("01_ct_normal"))
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert ds.PatientIdentityRemoved == "YES"
        assert "PHANTOM" not in str(ds.get("PatientName", ""))
        assert ds.StudyInstanceUID != study_uid
    assert (tmp_path / "teaching.deid-key").is_file()
    # resumable: the same key gives the same names
    assert main([*args, "--quiet"]) == 0 and _dcm_files(out) == files


def test_ls_series_of_one_study(pacs_env: OrthancServer, capsys) -> None:
    study_uid, series = _uids(SAMPLES / "05_mr_tumor")
    code = main(["pacs", "ls", pacs_env.dicomweb_url, "--study", study_uid, "--series", "--json"])
    (study,) = json.loads(capsys.readouterr().out)["studies"]
    assert code == 0
    listed = {s["series_uid"]: s for s in study["series_list"]}
    assert set(listed) == set(series.values())
    for desc, uid in series.items():
        assert listed[uid]["description"] == desc and listed[uid]["modality"] == "MR"
    assert sum(s["instances"] for s in listed.values()) == len(sample_files("05_mr_tumor"))
