"""``export --format sr --push URL``: STOW-RS to a live Orthanc, then retrieve (acceptance 2)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from orthancserver import OrthancServer
from reviewgen import SDH_SAMPLE, build_sdh_review

from imaging_triage.cli import main
from imaging_triage.pacs.client import connect
from imaging_triage.pacs.config import load_config
from imaging_triage.pacs.query import search_series


def test_sr_pushed_with_stow_is_retrievable_from_the_study(
    pacs_env: OrthancServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "reviews.sqlite"
    build_sdh_review(db)
    out = tmp_path / "sr"
    code = main(
        [
            "export",
            "--format",
            "sr",
            "--db",
            str(db),
            "--data",
            str(SDH_SAMPLE),
            "-o",
            str(out),
            "--push",
            pacs_env.dicomweb_url,
        ]
    )
    assert code == 0
    assert "sent 1 report(s)" in capsys.readouterr().out
    (path,) = out.glob("*.sr.dcm")
    written = pydicom.dcmread(path)
    client = connect(load_config(pacs_env.dicomweb_url))
    series = search_series(client, str(written.StudyInstanceUID))
    sr_series = [s for s in series if s.modality == "SR"]
    assert [s.series_uid for s in sr_series] == [str(written.SeriesInstanceUID)]
    (back,) = list(client.iter_series(str(written.StudyInstanceUID), sr_series[0].series_uid))
    assert back.SOPInstanceUID == written.SOPInstanceUID
    assert back.ContentSequence == written.ContentSequence


def test_push_with_wrong_credentials_exits_1(
    pacs_env: OrthancServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    db = tmp_path / "reviews.sqlite"
    build_sdh_review(db)
    monkeypatch.setenv("IMAGING_TRIAGE_PACS_PASSWORD", "not-it")
    args = ["export", "--format", "sr", "--db", str(db), "--data", str(SDH_SAMPLE)]
    code = main([*args, "-o", str(tmp_path / "sr"), "--push", pacs_env.dicomweb_url])
    assert code == 1
    assert "refused the credentials" in capsys.readouterr().err
