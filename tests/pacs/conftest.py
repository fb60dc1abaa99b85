"""Fixtures of the PACS tests: a real Orthanc loaded with the sample studies.

The server skips with a reason where Orthanc is not installed; ``IMAGING_TRIAGE_REQUIRE_PACS=1``
(set by ``.ci/run``) turns that skip into a failure, as for real data and the browser.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from orthancserver import OrthancServer, running_orthanc, sample_files


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A running Orthanc on 127.0.0.1 holding every sample study, stopped after the module.

    Module-scoped so that a module that sends reports to it does not change what another
    module's counts see.
    """
    yield from running_orthanc(tmp_path_factory, sample_files())


@pytest.fixture
def pacs_env(orthanc: OrthancServer, monkeypatch: pytest.MonkeyPatch) -> OrthancServer:
    """The test user's credentials in the environment, as a user would set them."""
    monkeypatch.setenv("IMAGING_TRIAGE_PACS_USER", orthanc.username)
    monkeypatch.setenv("IMAGING_TRIAGE_PACS_PASSWORD", orthanc.password)
    for name in ("IMAGING_TRIAGE_PACS_TOKEN", "IMAGING_TRIAGE_PACS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return orthanc
