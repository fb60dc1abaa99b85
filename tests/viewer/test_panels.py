"""Panel helpers that need no running page: series labels, plain text, QC warnings."""

from __future__ import annotations

import json
from pathlib import Path

from imaging_triage.preprocess.qc import QCReport, Verdict
from imaging_triage.records import SeriesRecord, SourceKind, VolumeRole
from imaging_triage.viewer.panels import plain, qc_warning, series_label


def test_stacks_of_one_series_get_distinct_labels() -> None:
    def rec(label: str) -> SeriesRecord:
        return SeriesRecord(
            "a",
            [],
            series_number=2,
            description="HEAD",
            modality="CT",
            stack_label=label,
            shape=(512, 512, 14),
        )

    assert series_label(rec("AXIAL\\ADD, 4 mm")) != series_label(rec("7 mm"))
    joined = SeriesRecord("a", [], description="HEAD", modality="CT", joined_stacks=2)
    assert "2 segments joined" in series_label(joined)
    trace = SeriesRecord("b", [], description="DWI", modality="MR", role=VolumeRole.TRACE)
    assert "trace" in series_label(trace)


def test_plain_text_shows_markdown_literally() -> None:
    assert "\\[" in plain("[x](http://e.vil)") and "\\<" in plain("<b>")


def test_qc_warning_of_a_preprocessed_series(tmp_path: Path) -> None:
    image = tmp_path / "0002_HEAD_abc.nii.gz"
    image.write_bytes(b"")
    record = SeriesRecord("out", [str(image)], kind=SourceKind.NIFTI)
    assert qc_warning(record) is None  # no provenance: nothing to say
    report = QCReport(Verdict.WARN, ["intracranial volume 600 ml below 1200 ml"], {})
    (tmp_path / "0002_HEAD_abc_provenance.json").write_text(json.dumps({"qc": report.to_dict()}))
    warning = qc_warning(record)
    assert warning is not None and "below 1200 ml" in warning
    passing = QCReport(Verdict.PASS, [], {})
    (tmp_path / "0002_HEAD_abc_provenance.json").write_text(json.dumps({"qc": passing.to_dict()}))
    assert qc_warning(record) is None
