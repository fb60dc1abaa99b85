"""DICOM SR export of reviews (acceptance 2 of issue 12): read back with highdicom and pydicom."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from reviewgen import SDH_SAMPLE as SAMPLE
from reviewgen import build_sdh_review

from imaging_triage.cli import main
from imaging_triage.review import codes
from imaging_triage.review.findings import FindingType, Outcome, Urgency
from imaging_triage.review.sr import SrMeasurement, export_sr, ras_to_lps
from imaging_triage.review.store import ReviewStore


@pytest.fixture
def review_db(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A review of the SDH sample: two active findings, one retracted, an outcome."""
    path = tmp_path / "reviews.sqlite"
    return path, build_sdh_review(path)


def _export(db: Path, out: Path, *extra: str) -> Path:
    code = main(
        ["export", "--format", "sr", "--db", str(db), "--data", str(SAMPLE), "-o", str(out), *extra]
    )
    assert code == 0
    (path,) = sorted(out.glob("*.sr.dcm"))
    return path


def _content(ds: pydicom.Dataset) -> list[str]:
    """Every code value, text value and person name in the SR content tree."""
    out = []
    for item in ds.get("ContentSequence", []):
        for seq in ("ConceptCodeSequence", "ConceptNameCodeSequence"):
            out += [str(code.CodeValue) for code in item.get(seq, [])]
        for attr in ("TextValue", "PersonName"):
            if attr in item:
                out.append(str(item.get(attr)))
        out += _content(item)
    return out


def _evaluations(group: object) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in group.get_qualitative_evaluations():  # type: ignore[attr-defined]
        out.setdefault(item.name.meaning, []).append(item.value.value)
    return out


def test_sr_reads_back_findings_outcome_and_observer(review_db, tmp_path: Path) -> None:
    db, facts = review_db
    path = _export(db, tmp_path / "sr")
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    source = pydicom.dcmread(next(SAMPLE.rglob("002_*/IM00001.dcm")), stop_before_pixels=True)
    assert ds.StudyInstanceUID == source.StudyInstanceUID
    assert ds.PatientID == source.PatientID  # identified by nature: it is about that study
    sr = hd.sr.Comprehensive3DSR.from_dataset(ds)
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == 2  # the retracted SAH is absent
    by_type = {g.finding_type.value: g for g in groups}
    assert set(by_type) == {"35486000", "126952004"}
    content = _content(ds)
    assert codes.finding_concept(FindingType.SAH).value not in content
    for name, concept_type, laterality in (
        ("sdh", FindingType.SDH, "7771000"),
        ("mass", FindingType.MASS_WITH_EDEMA, "24028007"),
    ):
        finding = facts[name]
        group = by_type[codes.finding_concept(concept_type).value]
        (site,) = group.finding_sites
        assert site.value.value == codes.BRAIN.value and site.laterality.value == laterality
        region = group.roi
        assert region.frame_of_reference_uid == source.FrameOfReferenceUID
        np.testing.assert_allclose(
            region.value[0],
            ras_to_lps(finding.location.xyz_mm),
            atol=0.01,  # type: ignore[attr-defined]
        )
        evaluations = _evaluations(group)
        assert codes.CONFIDENCES[finding.confidence].value in evaluations["Reader confidence"]  # type: ignore[attr-defined]
    assert codes.EDEMA.value in _evaluations(by_type["126952004"])["Clinical finding"]
    assert codes.OUTCOMES[Outcome.SECONDARY].value in content
    assert codes.URGENCIES[Urgency.CRITICAL].value in content
    assert "Dr Reader^" in content
    assert "left convexity crescent" not in content  # notes only when asked


def test_notes_are_included_only_when_asked(review_db, tmp_path: Path) -> None:
    db, _ = review_db
    path = _export(db, tmp_path / "sr", "--include-notes")
    assert "left convexity crescent" in _content(pydicom.dcmread(path))


def test_dciodvfy_reports_no_error(review_db, tmp_path: Path) -> None:
    if shutil.which("dciodvfy") is None:
        message = "dciodvfy is not installed (Debian: apt-get install dicom3tools)"
        if os.environ.get("IMAGING_TRIAGE_REQUIRE_PACS") == "1":
            pytest.fail(message + "; IMAGING_TRIAGE_REQUIRE_PACS=1 makes this a failure")
        pytest.skip(message)
    db, facts = review_db
    distance = SrMeasurement(facts["sdh"].id, codes.MeasurementKind.DISTANCE, 9.0)
    with ReviewStore(db) as store:
        (written,) = export_sr(
            store, tmp_path / "sr", [SAMPLE], include_notes=True, measurements=[distance]
        ).written
    path = written.path
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    report = result.stdout + result.stderr
    assert report.startswith("Comprehensive3DSR"), report  # dciodvfy recognised the IOD
    errors = [line for line in report.splitlines() if line.startswith("Error")]
    assert not errors, report


def test_missing_source_data_is_reported_per_study(review_db, tmp_path: Path, capsys) -> None:
    db, _ = review_db
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(
        [
            "export",
            "--format",
            "sr",
            "--db",
            str(db),
            "--data",
            str(empty),
            "-o",
            str(tmp_path / "o"),
        ]
    )
    assert code == 3
    assert "not in the data folders" in capsys.readouterr().err
    assert not list((tmp_path).glob("o/*.sr.dcm"))


def test_measurements_are_written_with_ucum_units(review_db, tmp_path: Path) -> None:
    db, facts = review_db
    sdh, mass, retracted = facts["sdh"], facts["mass"], facts["retracted"]
    given = [
        SrMeasurement(sdh.id, codes.MeasurementKind.DISTANCE, 9.25),
        SrMeasurement(sdh.id, codes.MeasurementKind.MEAN_HU, 68.5),
        SrMeasurement(mass.id, codes.MeasurementKind.VOLUME, 3.1),
        SrMeasurement(retracted.id, codes.MeasurementKind.AREA, 12.0),
    ]
    with ReviewStore(db) as store:
        summary = export_sr(store, tmp_path / "sr", [SAMPLE], measurements=given)
    (result,) = summary.written
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(result.path))
    found = {
        (g.finding_type.value, m.name.meaning, round(m.value, 3), m.unit.value)
        for g in sr.content.get_planar_roi_measurement_groups()
        for m in g.get_measurements()
    }
    assert found == {
        ("35486000", "Length", 9.25, "mm"),
        ("35486000", "Mean", 68.5, "[hnsf'U]"),
        ("126952004", "Volume", 3.1, "ml"),
    }  # the retracted finding's area is not written


def test_sources_without_optional_patient_attributes(review_db, tmp_path: Path) -> None:
    db, _ = review_db
    data = tmp_path / "data"
    for path in SAMPLE.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        for keyword in ("PatientBirthDate", "AccessionNumber", "StudyID"):
            delattr(ds, keyword)
        target = data / path.relative_to(SAMPLE)
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target)
    with ReviewStore(db) as store:
        (written,) = export_sr(store, tmp_path / "sr", [data]).written
    sr = pydicom.dcmread(written.path)
    assert sr.PatientBirthDate == "" and sr.AccessionNumber == ""


def test_measurements_stored_with_findings_reach_the_sr(tmp_path: Path) -> None:
    import dataclasses

    from imaging_triage.review.findings import Finding, Measurement

    db = tmp_path / "reviews.sqlite"
    facts = build_sdh_review(db)
    sdh: Finding = facts["sdh"]
    ruler = Measurement("distance", "9.3 mm", (("distance", 9.25),))
    roi = Measurement("ellipse", "mean 68.5", (("area", 30.0), ("mean_hu", 68.5)))
    with ReviewStore(db) as store:
        again = dataclasses.replace(sdh, id=None, measurements=(ruler, roi))
        added = store.add_finding(again)
        summary = export_sr(store, tmp_path / "sr", [SAMPLE])
    (result,) = summary.written
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(result.path))
    found = {
        (m.name.meaning, round(m.value, 3), m.unit.value)
        for g in sr.content.get_planar_roi_measurement_groups()
        for m in g.get_measurements()
    }
    assert found == {("Length", 9.25, "mm"), ("Area", 30.0, "mm2"), ("Mean", 68.5, "[hnsf'U]")}
    assert added.id is not None
