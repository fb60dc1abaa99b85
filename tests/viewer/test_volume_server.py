"""The loopback volume server: tokens, Host and Origin checks, streamed bytes."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import numpy as np
import pytest

from imaging_triage.viewer.transfer import EncodedVolume, decode_stream
from imaging_triage.viewer.volume_server import VolumeServer, is_loopback_host, is_loopback_origin


@pytest.fixture(scope="module")
def server() -> Iterator[VolumeServer]:
    srv = VolumeServer(max_volumes=2)
    yield srv
    srv.stop()


def _get(
    server: VolumeServer, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", path, headers={"Host": f"127.0.0.1:{server.port}", **(headers or {})})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), body


def test_published_volume_streams_back_exactly(server: VolumeServer) -> None:
    data = np.arange(6 * 5 * 9, dtype=np.int16).reshape(6, 5, 9) - 100
    enc = EncodedVolume.from_array(data, slab_slices=2)
    url = server.publish(enc)
    assert url.startswith(f"http://127.0.0.1:{server.port}/v/")
    status, headers, body = _get(server, url.split(str(server.port), 1)[1] + "?k=4")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    np.testing.assert_array_equal(decode_stream(body, enc.shape, enc.dtype), data)


def test_foreign_host_and_origin_are_refused(server: VolumeServer) -> None:
    url = server.publish(EncodedVolume.from_array(np.zeros((2, 2, 2), np.int16)))
    path = url.split(str(server.port), 1)[1]
    status, _, body = _get(server, path, {"Host": f"evil.example:{server.port}"})
    assert status == 403 and b"loopback" in body
    status, _, _ = _get(server, path, {"Origin": "http://evil.example:8501"})
    assert status == 403
    status, headers, _ = _get(server, path, {"Origin": "http://127.0.0.1:8501"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8501"


def test_unknown_or_evicted_tokens_are_not_found(server: VolumeServer) -> None:
    first = server.publish(EncodedVolume.from_array(np.zeros((2, 2, 2), np.int16)))
    for _ in range(2):  # max_volumes=2: the first is dropped
        server.publish(EncodedVolume.from_array(np.zeros((2, 2, 2), np.int16)))
    assert _get(server, first.split(str(server.port), 1)[1])[0] == 404
    assert _get(server, "/v/" + "A" * 43)[0] == 404
    assert _get(server, "/etc/passwd")[0] == 404


def test_host_and_origin_rules() -> None:
    assert is_loopback_host("localhost:9000", 9000)
    assert not is_loopback_host("127.0.0.1:9001", 9000)
    assert not is_loopback_host(None, 9000)
    assert is_loopback_origin("http://localhost:8501")
    assert not is_loopback_origin("http://127.0.0.1.evil.example:8501")
    assert not is_loopback_origin("null")
