"""Acceptance tests of the committed sample studies (issue 3) and of their generator.

Every check goes through our own ingest (``imaging_triage.ingest.scan`` / ``load``) and
compares with the ground truth beside the DICOM tree, in world (RAS+) coordinates, so
that it holds whatever grid the loader chooses (the tilted study is resampled).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from functools import cache
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt
import pydicom
import pytest

from imaging_triage.ingest import ScanResult, SeriesRecord, Status, load, scan
from imaging_triage.phantom import Tissue, classify
from imaging_triage.samples import (
    DEFAULT_SEED,
    DEFLATED,
    RLE_LOSSLESS,
    _finish,
    study_specs,
)
from imaging_triage.volume import Volume

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_data"
SPECS = {spec.key: spec for spec in study_specs()}
CT_STUDIES = [key for key, spec in SPECS.items() if spec.modality == "CT"]
BRAIN_WINDOW = (40.0, 80.0)  # level, width (DESIGN.md section 3)
BONE_HU = 150.0  # voxels next to anything denser are excluded from lesion densities


def truth(study: str) -> dict[str, Any]:
    return json.loads((SAMPLES / "ground_truth" / study / "truth.json").read_text())


@cache
def scanned() -> ScanResult:
    return scan(SAMPLES / "dicom")


def records_of(study: str) -> list[SeriesRecord]:
    return [r for r in scanned().series if r.input.split("/")[0] == study]


@cache
def loaded(study: str, series_number: int) -> Volume:
    (record,) = [
        r for r in records_of(study) if r.series_number == series_number and r.status is Status.OK
    ]
    volumes = load(record)
    assert len(volumes) == 1, f"{study} series {series_number}: {len(volumes)} volumes"
    return volumes[0]


@cache
def label_points(study: str, series_number: int, value: int) -> npt.NDArray[np.float64]:
    """World (RAS mm) coordinates of the label voxels of one finding."""
    (series,) = [s for s in truth(study)["series"] if s["series_number"] == series_number]
    img = nib.load(SAMPLES / "ground_truth" / study / series["label"])
    data = np.asarray(img.dataobj)
    ijk = np.argwhere(data == value).astype(np.float64)
    return ijk @ img.affine[:3, :3].T + img.affine[:3, 3]


def sample(
    volume: Volume | npt.NDArray[Any], xyz: npt.NDArray[np.float64], like: Volume | None = None
) -> npt.NDArray[np.float64]:
    """Nearest-voxel values at world points (a bare array takes the grid of ``like``)."""
    grid = volume if isinstance(volume, Volume) else like
    assert grid is not None
    data = volume.data if isinstance(volume, Volume) else volume
    ijk = np.round(grid.index(xyz)).astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.array(grid.shape[:3])), axis=1)
    assert inside.all(), "ground-truth points fall outside the loaded volume"
    i, j, k = ijk.T
    return np.asarray(data[i, j, k], dtype=np.float64)


def volume_series(study: str) -> list[dict[str, Any]]:
    return [s for s in truth(study)["series"] if s["role"] == "volume"]


# --- 1. every study scans and loads ----------------------------------------------------


def test_sample_data_is_complete_and_within_budget() -> None:
    studies = sorted(p.name for p in (SAMPLES / "dicom").iterdir())
    assert studies == sorted(SPECS)
    for study in studies:
        assert (SAMPLES / "ground_truth" / study / "truth.json").is_file()
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 20_000_000, f"sample_data/ is {total} bytes, over the 20 MB budget"
    assert "synthetic" in (SAMPLES / "README.md").read_text().lower()


def test_scan_finds_no_failure_and_nothing_unreadable() -> None:
    result = scanned()
    assert result.unreadable == []
    failed = [(r.input, r.reason) for r in result.series if r.status is Status.FAILED]
    assert failed == []


@pytest.mark.parametrize("study", sorted(SPECS))
def test_localizer_dropped_and_volumes_ok(study: str) -> None:
    records = records_of(study)
    localizers = [r for r in records if r.series_number == 1]
    assert len(localizers) == 1
    assert localizers[0].status is Status.DROPPED
    assert "localizer" in localizers[0].reason.lower()
    ok = sorted(r.series_number or 0 for r in records if r.status is Status.OK)
    assert ok == [s["series_number"] for s in volume_series(study)]


@pytest.mark.parametrize("study", sorted(SPECS))
def test_volumes_load_with_expected_geometry(study: str) -> None:
    spec = SPECS[study]
    for series in volume_series(study):
        vol = loaded(study, series["series_number"])
        assert vol.info.modality == spec.modality
        assert vol.info.hounsfield is (spec.modality == "CT")
        columns = vol.affine[:3, :3] / np.linalg.norm(vol.affine[:3, :3], axis=0)
        assert np.allclose(columns.T @ columns, np.eye(3), atol=1e-6), "affine has shear"
        if not spec.tilt_deg:
            label = nib.load(SAMPLES / "ground_truth" / study / series["label"])
            assert vol.shape == label.shape
            assert np.allclose(vol.affine, label.affine, atol=1e-4)
            assert vol.info.corrections == []


def test_tilted_study_is_corrected() -> None:
    study = "06_ct_tilt_sdh"
    (record,) = [r for r in records_of(study) if r.status is Status.OK]
    assert record.tilt_deg == pytest.approx(20.0, abs=0.1)
    vol = loaded(study, 2)
    assert any("tilt" in c.lower() for c in vol.info.corrections), vol.info.corrections
    # the label grid of a tilted study is the acquired (sheared) one
    label = nib.load(SAMPLES / "ground_truth" / study / "label_series002.nii.gz")
    step = label.affine[:3, 2]
    assert np.allclose(step, [0.0, 0.0, 5.0], atol=1e-6)


def _header(study: str) -> pydicom.Dataset:
    path = sorted((SAMPLES / "dicom" / study).glob("002_*/*.dcm"))[0]
    return pydicom.dcmread(path, stop_before_pixels=True)


def test_follow_up_study_is_the_same_patient_later() -> None:
    """Issue 9: 07 follows 02 (same phantom patient, 10 days later, its own study)."""
    first, later = _header("02_ct_sdh"), _header("07_ct_sdh_followup")
    for keyword in ("PatientID", "PatientName", "PatientBirthDate", "PatientSex"):
        assert first.get(keyword) == later.get(keyword), keyword
    assert first.StudyInstanceUID != later.StudyInstanceUID
    gap = np.datetime64(
        f"{later.StudyDate[:4]}-{later.StudyDate[4:6]}-{later.StudyDate[6:]}"
    ) - np.datetime64(f"{first.StudyDate[:4]}-{first.StudyDate[4:6]}-{first.StudyDate[6:]}")
    assert gap == np.timedelta64(10, "D")
    record = truth("07_ct_sdh_followup")
    assert record["follow_up_of"] == "02_ct_sdh" and record["study_date"] == later.StudyDate
    # no other study shares the patient, and every study has its own date
    others = [_header(s) for s in SPECS if s not in ("02_ct_sdh", "07_ct_sdh_followup")]
    assert first.PatientID not in {ds.PatientID for ds in others}
    dates = [truth(s)["study_date"] for s in SPECS]
    assert len(set(dates)) == len(dates)


def test_follow_up_hematoma_is_smaller_and_less_dense() -> None:
    def sdh(study: str) -> dict[str, Any]:
        (finding,) = [f for f in truth(study)["findings"] if f["type"] == "sdh"]
        return finding

    acute, subacute = sdh("02_ct_sdh"), sdh("07_ct_sdh_followup")
    assert subacute["volume_ml"] < 0.7 * acute["volume_ml"]
    assert 40.0 <= subacute["true_hu"] <= 50.0 < acute["true_hu"]
    points = label_points("07_ct_sdh_followup", 2, subacute["label_value"])
    same_place = sample(loaded("02_ct_sdh", 2), points)
    assert np.median(sample(loaded("07_ct_sdh_followup", 2), points)) < np.median(same_place)


# --- 2. lesion densities and sides, through our loader ----------------------------------


def _ct_findings() -> list[tuple[str, dict[str, Any]]]:
    return [
        (study, finding)
        for study in CT_STUDIES
        for finding in truth(study)["findings"]
        if "expected_hu" in finding
    ]


@pytest.mark.parametrize(
    ("study", "finding"),
    _ct_findings(),
    ids=[f"{s}-{f['type']}-{f['laterality']}" for s, f in _ct_findings()],
)
def test_lesion_density_through_loader(study: str, finding: dict[str, Any]) -> None:
    from scipy.ndimage import maximum_filter

    vol = loaded(study, 2)
    points = label_points(study, 2, finding["label_value"])
    # as a reader places an ROI: away from the skull, whose blooming raises the edge voxels
    near_bone = maximum_filter(np.asarray(vol.data), size=(3, 3, 1)) > BONE_HU
    values = sample(vol, points)[~sample(near_bone, points, like=vol).astype(bool)]
    # a thin crescent (the 5 mm subacute SDH of study 07) keeps about 40 % of its voxels
    # away from the skull; thicker lesions keep more than half
    assert values.size > 0.35 * len(points)
    lo, hi = finding["expected_hu"]
    assert lo <= float(np.median(values)) <= hi, (np.median(values), finding["expected_hu"])
    if finding["type"] == "sdh":
        quartiles = np.percentile(values, [25, 75])
        assert lo <= quartiles[0] and quartiles[1] <= hi, quartiles


@pytest.mark.parametrize(
    "study", [s for s in CT_STUDIES if any(f["type"] == "sdh" for f in truth(s)["findings"])]
)
def test_sdh_on_the_stated_side(study: str) -> None:
    (sdh,) = [f for f in truth(study)["findings"] if f["type"] == "sdh"]
    assert sdh["laterality"] == "left"
    points = label_points(study, 2, sdh["label_value"])
    assert sdh["centre_ras_mm"][0] < -20.0
    assert np.all(points[:, 0] < 0), "a left-sided lesion must have RAS x < 0"
    vol = loaded(study, 2)
    mirrored = points * np.array([-1.0, 1.0, 1.0])
    lesion, other = np.median(sample(vol, points)), np.median(sample(vol, mirrored))
    # acute blood (70 HU) stands far above the other side; subacute (45 HU) only a little
    contrast = 25.0 if sdh["true_hu"] >= 60.0 else 8.0
    assert lesion - other > contrast, (lesion, other)


def test_infarct_hypodense_versus_mirrored_side() -> None:
    study = "04_ct_infarct"
    (finding,) = truth(study)["findings"]
    assert finding["type"] == "infarct"
    assert finding["laterality"] == "left"
    points = label_points(study, 2, finding["label_value"])
    assert points[:, 0].max() < 0
    vol = loaded(study, 2)
    delta = sample(vol, points).mean() - sample(vol, points * np.array([-1, 1, 1])).mean()
    lo, hi = finding["expected_delta_hu"]
    assert lo <= delta <= hi, delta


def test_mr_edema_bright_on_flair_on_the_left() -> None:
    study = "05_mr_tumor"
    findings = {f["type"]: f for f in truth(study)["findings"]}
    assert set(findings) == {"mass", "edema"}
    flair = loaded(study, 3)
    t1 = loaded(study, 2)
    edema = label_points(study, 3, findings["edema"]["label_value"])
    mass = label_points(study, 2, findings["mass"]["label_value"])
    assert edema[:, 0].mean() < 0 and mass[:, 0].mean() < 0
    mirror = np.array([-1.0, 1.0, 1.0])
    assert sample(flair, edema).mean() > 1.5 * sample(flair, edema * mirror).mean()
    assert sample(t1, mass).mean() < 0.8 * sample(t1, mass * mirror).mean()


# --- 3. brain-window rendering of the central axial slice -------------------------------


def brain_window_8bit(hu: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    level, width = BRAIN_WINDOW
    scaled = (hu - (level - width / 2.0)) / width * 255.0
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("study", CT_STUDIES)
def test_central_slice_brain_window_contrast(study: str) -> None:
    vol = loaded(study, 2)
    k = vol.shape[2] // 2
    image = brain_window_8bit(np.asarray(vol.data[:, :, k], dtype=np.float64))
    ii, jj = np.meshgrid(np.arange(vol.shape[0]), np.arange(vol.shape[1]), indexing="ij")
    world = vol.world(np.stack([ii, jj, np.full_like(ii, k)], axis=-1))
    tissue, _ = classify(world, SPECS[study].head)
    from scipy.ndimage import binary_erosion

    bone = binary_erosion(tissue == Tissue.BONE) | binary_erosion(tissue == Tissue.DIPLOE)
    ventricle = binary_erosion(tissue == Tissue.VENTRICLE, iterations=2)
    parenchyma = binary_erosion(np.isin(tissue, [Tissue.GREY, Tissue.WHITE]), iterations=1)
    mm2 = vol.spacing[0] * vol.spacing[1]  # areas, whatever the pixel size of the study
    assert bone.sum() * mm2 > 400 and ventricle.sum() * mm2 > 40
    assert parenchyma.sum() * mm2 > 4000
    assert np.mean(image[bone] == 255) > 0.99, "skull must saturate white in the brain window"
    assert image[ventricle].mean() + 40 < image[parenchyma].mean()


# --- 4. headers, compression, reproducibility -------------------------------------------


@pytest.mark.parametrize("study", sorted(SPECS))
def test_headers_are_complete_and_fake(study: str) -> None:
    spec = SPECS[study]
    files = sorted((SAMPLES / "dicom" / study).rglob("*.dcm"))
    study_uids, frames = set(), set()
    for path in files[:: max(1, len(files) // 6)] + files[-1:]:
        ds = pydicom.dcmread(path)
        assert str(ds.PatientName).startswith("PHANTOM^")
        assert ds.file_meta.TransferSyntaxUID in (spec.transfer_syntax, "1.2.840.10008.1.2.1")
        for keyword in (
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "SOPInstanceUID",
            "FrameOfReferenceUID",
            "StudyDate",
            "ImagePositionPatient",
            "ImageOrientationPatient",
            "PixelSpacing",
            "SliceThickness",
            "WindowCenter",
            "WindowWidth",
        ):
            assert keyword in ds, f"{path.name}: {keyword} missing"
        if spec.modality == "CT":
            assert float(ds.RescaleSlope) == 1.0 and "RescaleIntercept" in ds
        study_uids.add(ds.StudyInstanceUID)
        frames.add(ds.FrameOfReferenceUID)
    assert len(study_uids) == 1 and len(frames) == 1
    assert study_uids == {truth(study)["study_instance_uid"]}


def test_tilted_headers_step_along_the_table() -> None:
    files = sorted((SAMPLES / "dicom" / "06_ct_tilt_sdh" / "002_head_5mm_tilt").glob("*.dcm"))
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    assert all(float(ds.GantryDetectorTilt) == 20.0 for ds in headers)
    iop = np.array([float(v) for v in headers[0].ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    assert np.degrees(np.arccos(abs(normal[2]))) == pytest.approx(20.0, abs=1e-3)
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in headers])
    assert np.allclose(np.diff(positions, axis=0), [0.0, 0.0, 5.0], atol=1e-4)


@pytest.mark.parametrize("dtype", [np.uint16, np.int16])
def test_rle_round_trip_is_lossless(dtype: type) -> None:
    spec = SPECS["03_ct_sah"]
    from imaging_triage.samples import SeriesPlan, _base_dataset

    rng = np.random.default_rng(0)
    lo = -1500 if dtype is np.int16 else 0
    pixels = rng.integers(lo, 4000, size=(64, 48)).astype(dtype)
    ds = _base_dataset(spec, 3, DEFAULT_SEED, SeriesPlan(9, "TEST", "volume"))
    payload = _finish(
        ds, spec, DEFAULT_SEED, SeriesPlan(9, "TEST", "volume"), 1, pixels, RLE_LOSSLESS
    )
    from io import BytesIO

    back = pydicom.dcmread(BytesIO(payload))
    assert back.file_meta.TransferSyntaxUID == RLE_LOSSLESS
    np.testing.assert_array_equal(back.pixel_array, pixels)


def test_committed_rle_studies_decode() -> None:
    rle = [key for key, spec in SPECS.items() if spec.transfer_syntax == RLE_LOSSLESS]
    assert len(rle) >= 1
    for study in rle:
        path = sorted((SAMPLES / "dicom" / study).glob("002_*/*.dcm"))[10]
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == RLE_LOSSLESS
        assert ds.pixel_array.shape == (ds.Rows, ds.Columns)


def _inflated(payload: bytes) -> bytes:
    """A DICOM file with its Deflated dataset inflated (the file meta kept as written)."""
    if DEFLATED.encode() not in payload[:1024]:
        return payload
    meta_end = 132 + 12 + int.from_bytes(payload[140:144], "little")  # (0002,0000) UL
    return payload[:meta_end] + zlib.decompress(payload[meta_end:], -zlib.MAX_WBITS)


def _hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every generated file; gzip files and Deflated DICOM datasets by their
    decompressed content (the NIfTI header and voxels, the DICOM elements), since deflate
    output may differ between zlib builds."""
    hashes = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.relative_to(root).parts[0] in ("dicom", "ground_truth"):
            payload = p.read_bytes()
            if p.suffix == ".gz":
                payload = gzip.decompress(payload)
            elif p.suffix == ".dcm":
                payload = _inflated(payload)
            hashes[p.relative_to(root).as_posix()] = hashlib.sha256(payload).hexdigest()
    return hashes


@pytest.mark.slow
def test_regeneration_reproduces_committed_files(tmp_path: Path) -> None:
    from imaging_triage.commands.samples import main

    assert main(["-o", str(tmp_path)]) == 0
    committed = _hashes(SAMPLES)
    assert len(committed) > 150
    assert _hashes(tmp_path) == committed


def test_cli_refuses_unknown_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imaging_triage.commands.samples import main

    assert main(["-o", str(tmp_path), "--study", "99_nothing"]) == 2
    assert "unknown study" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_study_specs_use_the_clinical_vocabulary() -> None:
    from imaging_triage.review.findings import FindingType, Laterality, Outcome, Urgency

    modifier_codes = {"mass_effect", "midline_shift"}
    for spec in SPECS.values():
        record = truth(spec.key)
        assert Outcome(record["outcome"]) and Urgency(record["urgency"])
        for finding in record["findings"]:
            code = "mass_edema" if finding["type"] == "edema" else finding["type"]
            assert FindingType(code)
            assert Laterality(finding["laterality"])
        assert {m["type"] for m in record["modifiers"]} <= modifier_codes
        assert "migraine" not in json.dumps(record).lower()


# --- an independent reader agrees on the side -------------------------------------------


def _dcm2niix() -> str:
    import shutil
    import sys

    exe = shutil.which("dcm2niix") or shutil.which(
        "dcm2niix", path=str(Path(sys.executable).parent)
    )
    if exe is None:
        pytest.skip("dcm2niix not installed (dev dependency); cannot cross-check geometry")
    return exe


@pytest.mark.parametrize(
    ("study", "suffix"), [("02_ct_sdh", ""), ("06_ct_tilt_sdh", "_Tilt_1")], ids=["rle", "tilt"]
)
def test_dcm2niix_puts_the_sdh_on_the_left(study: str, suffix: str, tmp_path: Path) -> None:
    """Our writer's geometry, read by dcm2niix: the label points hit the hematoma."""
    import subprocess

    series = volume_series(study)[0]
    subprocess.run(
        [
            _dcm2niix(),
            "-z",
            "n",
            "-b",
            "n",
            "-f",
            "out",
            "-o",
            str(tmp_path),
            str(SAMPLES / series["path"]),
        ],
        check=True,
        capture_output=True,
    )
    img = nib.load(tmp_path / f"out{suffix}.nii")
    other = Volume(np.asarray(img.dataobj, dtype=np.float64), img.affine)
    (sdh,) = [f for f in truth(study)["findings"] if f["type"] == "sdh"]
    points = label_points(study, 2, sdh["label_value"])
    assert np.median(sample(other, points)) > 55.0
    assert np.median(sample(other, points * np.array([-1.0, 1.0, 1.0]))) < 45.0


@pytest.mark.slow
def test_every_sample_study_converts_through_the_command(tmp_path: Path) -> None:
    """Issue 3, acceptance 1: `imaging-triage convert` on the whole sample folder."""
    import csv

    from imaging_triage.cli import main

    out = tmp_path / "out"
    assert main(["convert", str(SAMPLES), "-o", str(out), "--jobs", "2", "--quiet"]) == 0
    with open(out / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ok = [r for r in rows if r["status"] == "ok"]
    dropped = [r for r in rows if r["status"] == "dropped"]
    volumes = sum(1 if spec.modality == "CT" else 2 for spec in SPECS.values())  # MR: T1, FLAIR
    assert len(ok) == volumes and len(dropped) == len(SPECS)  # one localizer each
    assert len(rows) == volumes + len(SPECS)  # the truth is skipped
    assert all("localizer" in r["reason"] for r in dropped)
    tilted = [r for r in ok if "06_ct_tilt_sdh" in r["input"]]
    assert len(tilted) == 1
    sidecar = json.loads(
        (out / tilted[0]["output"]).with_suffix("").with_suffix(".json").read_text()
    )
    assert any("gantry tilt 20.00 deg" in c for c in json.dumps(sidecar).split('"'))
    for row in ok:
        img = nib.load(str(out / row["output"]))
        assert img.shape[:3] == tuple(int(v) for v in row["shape"].split("x"))[:3]


# --- mimics of blood that are not findings (issue 14) -----------------------------------


def test_mimics_are_drawn_and_the_truth_says_they_are_not_findings() -> None:
    import math

    from imaging_triage.phantom import PETROUS_APICES, STREAK_ANGLES_DEG

    record = truth("08_ct_normal_mimics")
    assert record["findings"] == [] and record["outcome"] == "no_acute_abnormality"
    assert {m["type"] for m in record["mimics"]} == {
        "physiological_calcification",
        "beam_hardening",
    }
    assert all(m["finding"] is False for m in record["mimics"])
    vol = loaded("08_ct_normal_mimics", 2)
    calcifications = [m for m in record["mimics"] if m["type"] == "physiological_calcification"]
    assert len(calcifications) == 4
    centres = np.array([m["centre_ras_mm"] for m in calcifications])
    assert np.all(sample(vol, centres) > 200)  # dense: calcification, never in the blood range
    # the streaks from the left petrous apex are brighter than the brain beside them, and
    # reach the acute-blood range (about 50-90 HU): a mimic, not a finding
    ax, ay, _ = PETROUS_APICES[0]
    level = vol.world([0, 0, 3])[2]  # the slice at the apices
    along = np.arange(4.0, 22.0, 3.0)
    streak, beside = [], []
    for angle in STREAK_ANGLES_DEG:
        for offset, out in ((0.0, streak), (12.0, beside)):
            theta = math.radians(angle + offset)
            pts = np.stack(
                [
                    ax + along * math.cos(theta),
                    ay + along * math.sin(theta),
                    np.full_like(along, level),
                ],
                axis=1,
            )
            out.extend(sample(vol, pts))
    assert np.median(streak) >= 50 and np.median(streak) > np.median(beside) + 8
    # the other studies of the same brain have none of them
    assert truth("01_ct_normal")["mimics"] == []


@pytest.mark.parametrize(("study", "kind"), [("09_ct_edh", "edh"), ("10_ct_ivh", "ivh")])
def test_edh_and_ivh_studies_complete_the_hemorrhage_types(study: str, kind: str) -> None:
    (finding,) = truth(study)["findings"]
    assert finding["type"] == kind and finding["volume_ml"] >= 0.5
    all_types = {f["type"] for key in SPECS for f in truth(key)["findings"]}
    assert {"edh", "sdh", "sah", "iph", "ivh"} <= all_types  # every RSNA hemorrhage type
