"""Logs and outputs never carry patient identifiers.

A study is built with canary strings in every identifying attribute (names, IDs, address,
institution, accession, nested sequences, private tags, a free-text weight, an over-long
name that makes pydicom warn). Then ``scan``/``load`` and ``convert`` run with all logging
at DEBUG, captured both as records (caplog) and as the process's own stderr/stdout (capfd,
which also catches worker processes); no canary may appear.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydicom import config as pydicom_config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from imaging_triage.errors import TriageError
from imaging_triage.ingest import Status, load, scan

CANARY = "QZXPRIVACY"
#: identity typed into a numeric field (PatientWeight, DS), planted in the bytes
WEIGHT = f"{CANARY}KG"
WEIGHT_PLACEHOLDER = "123456789012"
assert len(WEIGHT) == len(WEIGHT_PLACEHOLDER)
#: identity in PixelSpacing (DS, read by the ingest), planted in the bytes
SPACING = f"{CANARY}PS"
SPACING_PLACEHOLDER = "0.70000\\0.70"
assert len(SPACING) == len(SPACING_PLACEHOLDER)
#: identifying attributes (keyword -> planted value)
PLANTED = {
    "PatientName": f"{CANARY}^NAME",
    "PatientID": f"{CANARY}ID",
    "OtherPatientIDs": f"{CANARY}OTHERID",
    "PatientAddress": f"{CANARY} ROAD 1",
    "PatientMotherBirthName": f"{CANARY}^MOTHER",
    "AccessionNumber": f"{CANARY}ACC",
    "StudyID": f"{CANARY}ST",
    "InstitutionName": f"{CANARY} HOSPITAL",
    "ReferringPhysicianName": f"{CANARY}^REFERRER",
    "OperatorsName": f"{CANARY}^OPERATOR",
    "PatientComments": f"{CANARY} comment",
}


def _slice(series: int, index: int, *, modality_extra: dict[str, object] | None = None) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.5{series}.{index + 1}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.50"
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.5{series}"
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.59"
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SeriesNumber = series
    ds.SeriesDescription = "HEAD"
    ds.InstanceNumber = index + 1
    ds.ImagePositionPatient = [-10.0, -10.0, 3.0 * index]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 3.0
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    ds.Rows, ds.Columns = 16, 16
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = np.full((16, 16), 1040 + index, dtype=np.int16).tobytes()
    for keyword, value in PLANTED.items():
        setattr(ds, keyword, value)
    request = Dataset()
    request.RequestedProcedureID = f"{CANARY}RQ"
    request.RequestingPhysician = f"{CANARY}^REQUESTER"
    ds.RequestAttributesSequence = Sequence([request])
    block = ds.private_block(0x0029, "ACME 1.0", create=True)
    block.add_new(0x10, "LO", f"{CANARY} private name")
    for keyword, value in (modality_extra or {}).items():
        setattr(ds, keyword, value)
    return ds


def _save(ds: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with pydicom_config.disable_value_validation():
        ds.save_as(path, enforce_file_format=True)


@pytest.fixture()
def canary_study(tmp_path: Path) -> Path:
    """Two CT series, a localizer, a truncated slice and identity in odd places."""
    root = tmp_path / "study"
    for i in range(4):
        _save(_slice(2, i), root / "s2" / f"{i}.dcm")
    for i in range(3):
        # hostile placements: identity typed into a numeric field, an over-long name
        extra = {"PatientWeight": WEIGHT_PLACEHOLDER, "PatientName": f"{CANARY}^" + "LONG" * 20}
        with pydicom_config.disable_value_validation():
            ds = _slice(3, i, modality_extra=extra)
        path = root / "s3" / f"{i}.dcm"
        _save(ds, path)
        payload = path.read_bytes()
        assert payload.count(WEIGHT_PLACEHOLDER.encode()) == 1
        path.write_bytes(payload.replace(WEIGHT_PLACEHOLDER.encode(), WEIGHT.encode()))
    for i in range(3):
        # identity in a field the ingest must parse (PixelSpacing): the error must not echo it
        path = root / "s6" / f"{i}.dcm"
        with pydicom_config.disable_value_validation():
            ds = _slice(6, i, modality_extra={"PixelSpacing": SPACING_PLACEHOLDER.split("\\")})
        _save(ds, path)
        payload = path.read_bytes()
        assert payload.count(SPACING_PLACEHOLDER.encode()) == 1
        path.write_bytes(payload.replace(SPACING_PLACEHOLDER.encode(), SPACING.encode()))
    _save(
        _slice(4, 0, modality_extra={"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]}),
        root / "s4" / "0.dcm",
    )
    _save(_slice(5, 0), root / "s5" / "whole.dcm")  # a one-slice series, then cut short
    whole = (root / "s5" / "whole.dcm").read_bytes()
    (root / "s5" / "whole.dcm").unlink()
    (root / "s5" / "broken.dcm").write_bytes(whole[: len(whole) - 100])
    return root


def _formatted(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(r) for r in records)


def test_scan_and_load_log_no_identifier(
    canary_study: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    result = scan(canary_study)
    loaded = 0
    errors = []
    for record in result.series:
        if record.status is Status.OK:
            try:
                loaded += len(load(record))
            except TriageError as err:
                errors.append(str(err))
    assert loaded >= 1  # the clean series became a volume
    statuses = [r.status for r in result.series]
    assert Status.DROPPED in statuses  # the localizer: a reason was written
    assert result.unreadable or errors or Status.FAILED in statuses  # the broken slice
    out, err = capfd.readouterr()
    texts = {
        "log": _formatted(caplog.records),
        "stdout": out,
        "stderr": err,
        "errors": "\n".join(errors),
        "reasons": "\n".join(r.reason for r in result.series)
        + "\n".join(reason for _, reason in result.unreadable),
    }
    for where, text in texts.items():
        assert CANARY not in text, f"canary found in {where}"


def test_convert_in_process_logs_no_identifier(
    canary_study: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from imaging_triage.commands import convert

    caplog.set_level(logging.DEBUG)
    code = convert.main([str(canary_study), "-o", str(tmp_path / "out"), "--jobs", "1"])
    assert code in (0, 3)
    out, err = capfd.readouterr()
    assert (tmp_path / "out" / "manifest.csv").is_file()
    assert CANARY not in _formatted(caplog.records)
    assert CANARY not in out
    assert CANARY not in err


@pytest.mark.slow
def test_convert_subprocess_debug_logs_no_identifier(canary_study: Path, tmp_path: Path) -> None:
    """The command line at -vv with worker processes: the whole stderr/stdout."""
    env = dict(os.environ, PYTHONWARNINGS="always")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "imaging_triage",
            "-vv",
            "convert",
            str(canary_study),
            "-o",
            str(tmp_path / "out"),
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert proc.returncode in (0, 3), proc.stderr[-2000:]
    assert "DEBUG" in proc.stderr or "INFO" in proc.stderr  # logging really was on
    assert CANARY not in proc.stderr
    assert CANARY not in proc.stdout


def test_convert_outputs_carry_no_identifier(canary_study: Path, tmp_path: Path) -> None:
    """Manifest, sidecars and NIfTI headers carry no identifier (exports de-identified)."""
    from imaging_triage.commands import convert

    out = tmp_path / "out"
    assert convert.main([str(canary_study), "-o", str(out), "--jobs", "1", "--quiet"]) in (0, 3)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name.endswith((".nii", ".nii.gz")) for p in files)
    for path in files:
        payload = path.read_bytes()
        if path.name.endswith(".gz"):
            import gzip

            payload = gzip.decompress(payload)
        assert CANARY.encode() not in payload, f"canary in {path.relative_to(out)}"
        assert CANARY not in str(path)


def test_viewer_loading_logs_no_identifier(
    canary_study: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """The viewer's data loading (worklist, series decoding) logs and shows no identifier."""
    from imaging_triage.roots import DataRoots
    from imaging_triage.viewer.loader import open_series
    from imaging_triage.viewer.worklist import find_studies, worklist_rows

    caplog.set_level(logging.DEBUG)
    studies = find_studies(DataRoots.from_paths([canary_study]))
    rows = worklist_rows(studies, {})
    assert rows
    opened = 0
    for study in studies:
        for record in study.series:
            if record.status is Status.OK:
                try:
                    open_series(record)
                    opened += 1
                except TriageError as err:
                    assert CANARY not in str(err)
    assert opened >= 1
    out, err = capfd.readouterr()
    assert CANARY not in _formatted(caplog.records)
    assert CANARY not in out + err
    assert CANARY not in repr([r.as_dict() for r in rows])


def test_hostile_uid_values_not_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "study"
    for i in range(3):
        with pydicom_config.disable_value_validation():
            ds = _slice(
                7,
                i,
                modality_extra={
                    "SeriesInstanceUID": f"{CANARY}.SERIES",
                    "FrameOfReferenceUID": f"{CANARY}.FOR",
                },
            )
        _save(ds, root / "s7" / f"{i}.dcm")
    caplog.set_level(logging.DEBUG)
    for record in scan(root).series:
        if record.status is Status.OK:
            with contextlib.suppress(TriageError):
                load(record)
    out, err = capfd.readouterr()
    assert CANARY not in _formatted(caplog.records)
    assert CANARY not in out + err
