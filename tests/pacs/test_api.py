"""The facade for the viewer's PACS panel, against a live Orthanc."""

from __future__ import annotations

from pathlib import Path

import pytest
from orthancserver import OrthancServer, sample_files

from imaging_triage.errors import PacsNotFoundError, PathOutsideRootError
from imaging_triage.ingest import scan
from imaging_triage.pacs.api import list_studies, pull_into_root
from imaging_triage.pacs.query import StudyQuery
from imaging_triage.roots import DataRoots


def test_list_and_pull_one_study_with_progress(pacs_env: OrthancServer, tmp_path: Path) -> None:
    (mr,) = list_studies(pacs_env.dicomweb_url, StudyQuery(modality="MR"))
    roots = DataRoots.from_paths([tmp_path])
    calls: list[tuple[int, int]] = []
    pulled = pull_into_root(
        pacs_env.dicomweb_url, mr.study_uid, roots, progress=lambda d, t: calls.append((d, t))
    )
    expected = len(sample_files("05_mr_tumor"))
    assert calls[0] == (0, expected) and calls[-1] == (expected, expected)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert pulled.folder.parent == tmp_path / "pacs" and pulled.complete
    found = {r.study_uid for r in scan(tmp_path).series}
    assert found == {mr.study_uid}


def test_pull_refuses_a_folder_outside_the_roots(pacs_env: OrthancServer, tmp_path: Path) -> None:
    roots = DataRoots.from_paths([tmp_path])
    with pytest.raises(PathOutsideRootError):
        pull_into_root(pacs_env.dicomweb_url, "1.2.3", roots, folder="../elsewhere")


def test_pull_of_an_unknown_study_is_a_typed_error(pacs_env: OrthancServer, tmp_path: Path) -> None:
    roots = DataRoots.from_paths([tmp_path])
    with pytest.raises(PacsNotFoundError):
        pull_into_root(pacs_env.dicomweb_url, "1.2.3.4.5", roots)
    assert list(tmp_path.iterdir()) == []
