"""Real scanner data through a real PACS: what comes back is what went in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from orthancserver import OrthancServer, running_orthanc

from imaging_triage.cli import main
from imaging_triage.ingest import load, scan

pytestmark = pytest.mark.realdata


def _files(folder: Path) -> list[Path]:
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            continue
        out.append(path)
    return out


@pytest.fixture(scope="module")
def real_orthanc(
    realdata: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OrthancServer]:
    """Orthanc holding the GE head CT (two segments, tilt) and one MR image in 9 syntaxes."""
    files = _files(realdata / "dcm_qa_ct" / "In" / "GE") + _files(realdata / "dcm_qa_ts" / "In")
    yield from running_orthanc(tmp_path_factory, files)


def _volumes(root: Path) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    out = {}
    for record in scan(root).series:
        if record.status.value == "ok":
            out[record.series_uid] = [(v.data, v.affine) for v in load(record)]
    return out


def test_real_ct_pulled_converts_to_the_same_volume(
    real_orthanc: OrthancServer, realdata: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("IMAGING_TRIAGE_PACS_USER", real_orthanc.username)
    monkeypatch.setenv("IMAGING_TRIAGE_PACS_PASSWORD", real_orthanc.password)
    out = tmp_path / "pulled"
    assert main(["pull", real_orthanc.dicomweb_url, "--modality", "CT", "-o", str(out)]) == 0
    original = _volumes(realdata / "dcm_qa_ct" / "In" / "GE")
    pulled = _volumes(out)
    assert pulled.keys() == original.keys() and original
    for uid, volumes in original.items():
        for (data, affine), (pdata, paffine) in zip(volumes, pulled[uid], strict=True):
            np.testing.assert_array_equal(pdata, data)
            np.testing.assert_array_equal(paffine, affine)


def test_every_transfer_syntax_comes_back_with_the_same_pixels(
    real_orthanc: OrthancServer, realdata: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("IMAGING_TRIAGE_PACS_USER", real_orthanc.username)
    monkeypatch.setenv("IMAGING_TRIAGE_PACS_PASSWORD", real_orthanc.password)
    out = tmp_path / "ts"
    assert main(["pull", real_orthanc.dicomweb_url, "--modality", "MR", "-o", str(out)]) == 0
    sources = {
        str(pydicom.dcmread(p).SOPInstanceUID): p for p in _files(realdata / "dcm_qa_ts" / "In")
    }
    pulled = {str(pydicom.dcmread(p).SOPInstanceUID): p for p in out.rglob("*.dcm")}
    assert pulled.keys() == sources.keys() and len(sources) == 9
    for uid, source in sources.items():
        np.testing.assert_array_equal(
            pydicom.dcmread(pulled[uid]).pixel_array, pydicom.dcmread(source).pixel_array
        )
