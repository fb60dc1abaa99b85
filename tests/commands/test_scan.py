"""``imaging-triage scan``: table and JSON from headers, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dicomgen import SeriesSpec, write_localizer, write_series

from imaging_triage.cli import main


def test_scan_json_lists_series_with_status_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = SeriesSpec(n=6, tilt_deg=12.0)
    write_series(tmp_path / "study" / "s2", spec)
    write_localizer(tmp_path / "study" / "s2", spec)
    (tmp_path / "study" / "notes.txt").write_text("x")
    assert main(["scan", str(tmp_path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = sorted(payload["series"], key=lambda r: r["status"])
    assert [r["status"] for r in rows] == ["dropped", "ok"]
    assert "localizer" in rows[0]["reason"]
    ok = rows[1]
    assert ok["shape"] == [spec.cols, spec.rows, 6] and ok["tilt_deg"] == pytest.approx(12.0)
    assert payload["skipped_files"] == 1
    assert "TEST^GEOMETRY" not in json.dumps(payload)  # no patient name in the output


def test_scan_table_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_series(tmp_path / "s", SeriesSpec(n=5, description="HEAD 5MM"))
    assert main(["scan", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "HEAD 5MM" in out and "ok" in out and "study_" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["scan", str(empty)]) == 4  # nothing to do
    assert main(["scan", str(tmp_path / "missing")]) == 2  # usage error
    assert main(["scan", "--no-such-option", str(tmp_path)]) == 2
