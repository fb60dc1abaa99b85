"""DNS rebinding: a session whose Host (or Origin) is not this machine gets no app content.

Unit tests of :func:`host_refusal`, and a real ``streamlit run app.py`` server on a free
127.0.0.1 port reached through a websocket whose ``Host`` header is forged, as a page on a
rebinding domain would send it: once with the server's ``allowedHosts`` from
``.streamlit/config.toml`` (the handshake is refused), once with that layer switched off
(``--server.allowedHosts *``: the page's own check must render nothing but the refusal).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imaging_triage.viewer.hostcheck import allowed_hosts, host_refusal

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"Host": "127.0.0.1:8501", "Origin": "http://127.0.0.1:8501"}, False),
        ({"host": "localhost:8501"}, False),
        ({"Host": "[::1]:8501", "Origin": "http://[::1]:8501"}, False),
        ({"Host": "evil.example:8501", "Origin": "http://evil.example:8501"}, True),
        ({"Host": "127.0.0.1:8501", "Origin": "http://evil.example:8501"}, True),
        ({"Host": "127.0.0.1.evil.example"}, True),
        ({"Host": "user@127.0.0.1:8501"}, True),
        ({"Host": "127.0.0.1:notaport"}, True),
        ({"Origin": "http://127.0.0.1"}, True),  # a request without Host
        ({}, False),  # not an HTTP request (AppTest)
    ],
)
def test_host_refusal(headers: dict[str, str], refused: bool) -> None:
    assert (host_refusal(headers, "127.0.0.1", environ={}) is not None) is refused


def test_bound_address_and_extra_names() -> None:
    assert "viewer.lan" in allowed_hosts(
        "127.0.0.1", {"IMAGING_TRIAGE_ALLOWED_HOSTS": "Viewer.lan"}
    )
    assert "0.0.0.0" not in allowed_hosts("0.0.0.0", {})
    assert host_refusal({"Host": "10.0.0.5:8501"}, "10.0.0.5", environ={}) is None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "HOME": str(tmp), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    for name in ("IMAGING_TRIAGE_DATA", "IMAGING_TRIAGE_DB", "IMAGING_TRIAGE_ALLOWED_HOSTS"):
        env.pop(name, None)
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.port", str(port), "--server.headless", "true",
        "--server.fileWatcherType", "none", *extra,
        "--", "--data", str(ROOT / "sample_data"), "--db", str(tmp / "r.sqlite"),
    ]  # fmt: skip
    log = (tmp / f"server{port}.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "streamlit exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("streamlit did not start within 60 s")


def _session_text(port: int, host: str, seconds: float = 8.0) -> str | None:
    """Open the app's websocket with ``Host``/``Origin`` naming ``host``, ask for a run,
    and return the text of every message the server sends (``None``: handshake refused).
    """
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    url = f"ws://{host}:{port}/_stcore/stream"
    try:
        ws = connect(url, sock=sock, origin=f"http://{host}:{port}", subprotocols=["streamlit"])  # type: ignore[list-item]
    except InvalidStatus:
        return None
    texts: list[str] = []
    with ws:
        back = BackMsg()
        back.rerun_script.query_string = ""
        ws.send(back.SerializeToString())
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                raw = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            except ConnectionClosed:
                break
            msg = ForwardMsg()
            msg.ParseFromString(raw if isinstance(raw, bytes) else raw.encode())
            texts.append(str(msg))
            if msg.HasField("script_finished"):
                break
    return "\n".join(texts)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    tmp = tmp_path_factory.mktemp("hostcheck")
    configured, port_a = _start(tmp, [])
    page_only, port_b = _start(tmp, ["--server.allowedHosts", "*"])
    try:
        yield port_a, port_b
    finally:
        for proc in (configured, page_only):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)


@pytest.mark.slow
def test_forged_host_gets_no_app_content_and_loopback_does(servers: tuple[int, int]) -> None:
    configured, page_only = servers
    for port in (configured, page_only):
        loopback = _session_text(port, "127.0.0.1")
        assert loopback is not None and "Headache imaging triage: review" in loopback
        assert "only answers requests addressed to this computer" not in loopback
    # server layer: the websocket handshake itself is refused
    assert _session_text(configured, "evil.example") is None
    # page layer alone: a session, but nothing in it except the refusal
    forged = _session_text(page_only, "evil.example")
    assert forged is not None and "only answers requests addressed to this computer" in forged
    for leak in ("Headache imaging triage: review", "sample_data", "r.sqlite", "Worklist"):
        assert leak not in forged, leak
