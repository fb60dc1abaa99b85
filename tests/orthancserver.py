"""A real Orthanc server for tests: Debian's ``orthanc`` and ``orthanc-dicomweb`` packages.

:func:`start_orthanc` writes a configuration into a temporary folder (loopback only, free
HTTP and DICOM ports, its own storage, HTTP basic authentication with one test user, the
DICOMweb plugin enabled), starts ``Orthanc`` on it and waits until the REST API answers.
:meth:`OrthancServer.upload` loads DICOM files through the REST API (``POST /instances``).

Nothing here mocks a server: the tests talk HTTP to the real thing.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from imaging_triage.viewer.launch import free_port

#: where Debian's orthanc-dicomweb installs its plugin
PLUGIN_CANDIDATES = (
    Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so"),
    Path("/usr/lib/orthanc/libOrthancDicomWeb.so"),
)
ENV_REQUIRE = "IMAGING_TRIAGE_REQUIRE_PACS"
SAMPLES = Path(__file__).resolve().parents[1] / "sample_data" / "dicom"


def sample_files(*studies: str) -> list[Path]:
    """The DICOM files of the named sample studies (all studies when none is named)."""
    folders = [SAMPLES / s for s in studies] if studies else [SAMPLES]
    return sorted(p for folder in folders for p in folder.rglob("*.dcm"))


def orthanc_missing_reason() -> str | None:
    """Why Orthanc cannot be started here, or None when it can."""
    if shutil.which("Orthanc") is None:
        return "Orthanc is not installed (Debian: apt-get install orthanc orthanc-dicomweb)"
    if find_plugin() is None:
        return "the Orthanc DICOMweb plugin is not installed (Debian: orthanc-dicomweb)"
    return None


def find_plugin() -> Path | None:
    """The DICOMweb plugin's shared library, or None."""
    for candidate in PLUGIN_CANDIDATES:
        if candidate.is_file():
            return candidate
    found = sorted(Path("/usr").glob("**/orthanc/plugins/libOrthancDicomWeb.so*"))
    return found[0] if found else None


@dataclass
class OrthancServer:
    """A running Orthanc: its URLs, the test user's credentials and its process."""

    http_port: int
    dicom_port: int
    username: str
    password: str
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """Base URL of the REST API."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """Base URL of the DICOMweb API (QIDO-RS, WADO-RS, STOW-RS)."""
        return f"{self.url}/dicom-web"

    def _request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers={"Authorization": f"Basic {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return bytes(response.read())

    def get_json(self, path: str) -> object:
        """GET a REST resource and decode its JSON."""
        return json.loads(self._request("GET", path))

    def upload(self, files: list[Path]) -> int:
        """POST each DICOM file to ``/instances``; return how many Orthanc stored."""
        stored = 0
        for path in files:
            answer = json.loads(self._request("POST", "/instances", path.read_bytes()))
            stored += answer.get("Status") in ("Success", "AlreadyStored")
        return stored

    def stop(self) -> None:
        """Stop the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def write_config(folder: Path, http_port: int, dicom_port: int, user: str, password: str) -> Path:
    """Write an Orthanc configuration for a private test server; return its path."""
    plugin = find_plugin()
    config = {
        "Name": "imaging-triage-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomServerEnabled": True,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {user: password},
        "Plugins": [str(plugin)] if plugin else [],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        "SaveJobs": False,
        "ConcurrentJobs": 1,
        "HttpThreadsCount": 8,
        "StableAge": 1,
    }
    path = folder / "orthanc.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def start_orthanc(folder: Path, timeout_s: float = 30.0) -> OrthancServer:
    """Start Orthanc with a fresh configuration in ``folder``; return when it answers.

    Raises
    ------
    RuntimeError
        If the server exits or does not answer within ``timeout_s`` (its log is attached).
    """
    folder.mkdir(parents=True, exist_ok=True)
    user, password = "triage-test", secrets.token_urlsafe(16)
    http_port, dicom_port = free_port(), free_port()
    config = write_config(folder, http_port, dicom_port, user, password)
    log = (folder / "orthanc.log").open("wb")
    process = subprocess.Popen(
        ["Orthanc", "--logdir=" + str(folder), str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "LANG": "C"},
    )
    server = OrthancServer(http_port, dicom_port, user, password, folder, process)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            server.get_json("/system")
            return server
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    server.stop()
    text = (folder / "orthanc.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"Orthanc did not start on port {http_port}:\n{text}")


def running_orthanc(
    tmp_path_factory: pytest.TempPathFactory, files: list[Path]
) -> Iterator[OrthancServer]:
    """Start an Orthanc holding ``files`` (skip, or fail under ``IMAGING_TRIAGE_REQUIRE_PACS=1``,
    when Orthanc is absent); stop it when the generator is closed."""
    reason = orthanc_missing_reason()
    if reason is not None:
        if os.environ.get(ENV_REQUIRE) == "1":
            pytest.fail(reason + f"; {ENV_REQUIRE}=1 makes this a failure")
        pytest.skip(reason)
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        stored = server.upload(files)
        assert stored == len(files), "Orthanc did not store every file"
        yield server
    finally:
        server.stop()
