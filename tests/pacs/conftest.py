"""Fixtures of the PACS tests: a real Orthanc loaded with the sample studies.

The server skips with a reason where Orthanc is not installed; ``IMAGING_TRIAGE_REQUIRE_PACS=1``
(set by ``.ci/run``) turns that skip into a failure, as for real data and the browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from orthancserver import (
    ENV_REQUIRE,
    OrthancServer,
    orthanc_missing_reason,
    sample_files,
    start_orthanc,
)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A running Orthanc on 127.0.0.1 holding every sample study, stopped after the module.

    Module-scoped so that a module that sends reports to it does not change what another
    module's counts see.
    """
    reason = orthanc_missing_reason()
    if reason is not None:
        if os.environ.get(ENV_REQUIRE) == "1":
            pytest.fail(reason + f"; {ENV_REQUIRE}=1 makes this a failure")
        pytest.skip(reason)
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        files = sample_files()
        stored = server.upload(files)
        assert stored == len(files), "Orthanc did not store every sample file"
        yield server
    finally:
        server.stop()


@pytest.fixture
def pacs_env(orthanc: OrthancServer, monkeypatch: pytest.MonkeyPatch) -> OrthancServer:
    """The test user's credentials in the environment, as a user would set them."""
    monkeypatch.setenv("IMAGING_TRIAGE_PACS_USER", orthanc.username)
    monkeypatch.setenv("IMAGING_TRIAGE_PACS_PASSWORD", orthanc.password)
    for name in ("IMAGING_TRIAGE_PACS_TOKEN", "IMAGING_TRIAGE_PACS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return orthanc
