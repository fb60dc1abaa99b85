"""A loopback HTTP server that hands encoded volumes to the in-browser engine.

Streamlit's websocket carries widgets and small messages; a head CT (512 x 512 x 300
int16 is 150 MB before compression) is better sent once over plain HTTP, streamed, so
the engine can show the first slab while the rest arrives. This server:

* listens on ``127.0.0.1`` only, on a free port, in a daemon thread of the Streamlit
  server process;
* serves ``GET /v/<token>?k=<slice>`` where ``token`` is 32 random bytes (URL-safe) made
  per published volume: unguessable, so another local page cannot enumerate volumes;
* answers only when the ``Host`` header names the loopback address or ``localhost`` with
  this port (a DNS-rebinding page cannot read it) and, for cross-origin requests, only
  loopback origins get the CORS header;
* keeps a bounded number of volumes (least recently published dropped first).

Examples
--------
>>> server = VolumeServer.start()                                   # doctest: +SKIP
>>> url = server.publish(EncodedVolume.from_array(array))           # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from imaging_triage.viewer.transfer import EncodedVolume

logger = logging.getLogger(__name__)

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_ORIGIN = re.compile(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$")


def is_loopback_host(host_header: str | None, port: int) -> bool:
    """Whether a ``Host`` header names this machine's loopback at ``port``.

    >>> is_loopback_host("127.0.0.1:8600", 8600), is_loopback_host("evil.example:8600", 8600)
    (True, False)
    """
    if not host_header:
        return False
    return host_header.strip().lower() in {f"{h}:{port}" for h in _LOOPBACK_HOSTS}


def is_loopback_origin(origin: str | None) -> bool:
    """Whether an ``Origin`` header is a loopback page (any port).

    >>> is_loopback_origin("http://127.0.0.1:8501"), is_loopback_origin("http://a.b:8501")
    (True, False)
    """
    return bool(origin) and _ORIGIN.match(origin.strip().lower()) is not None  # type: ignore[union-attr]


class VolumeServer:
    """The process's volume server (use :meth:`start`, one per process)."""

    _instance: ClassVar[VolumeServer | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, max_volumes: int = 6) -> None:
        self._volumes: OrderedDict[str, EncodedVolume] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_volumes
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, name="imaging-triage-volumes", daemon=True
        )
        self._thread.start()
        logger.info("volume server on 127.0.0.1:%d", self.port)

    @classmethod
    def start(cls) -> VolumeServer:
        """The process's server, started on first use."""
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def publish(self, volume: EncodedVolume) -> str:
        """Make ``volume`` available; returns its URL (without the slice parameter)."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._volumes[token] = volume
            while len(self._volumes) > self._max:
                self._volumes.popitem(last=False)
        return f"http://127.0.0.1:{self.port}/v/{token}"

    def get(self, token: str) -> EncodedVolume | None:
        """The volume published under ``token``, if still kept."""
        with self._lock:
            return self._volumes.get(token)

    def stop(self) -> None:
        """Stop serving (tests)."""
        self._server.shutdown()
        self._server.server_close()


def _handler_for(owner: VolumeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "imaging-triage"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            return  # URLs carry tokens: never logged

        def _refuse(self, code: int, reason: str) -> None:
            body = reason.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _cors(self) -> bool:
            origin = self.headers.get("Origin")
            if origin is None:
                return True
            if not is_loopback_origin(origin):
                return False
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")
            return True

        def do_GET(self) -> None:
            if not is_loopback_host(self.headers.get("Host"), owner.port):
                self._refuse(403, "refused: this server answers loopback requests only")
                return
            if self.headers.get("Origin") and not is_loopback_origin(self.headers["Origin"]):
                self._refuse(403, "refused: cross-origin request from a non-loopback page")
                return
            parts = urlsplit(self.path)
            match = re.fullmatch(r"/v/([A-Za-z0-9_\-]{20,100})", parts.path)
            volume = owner.get(match.group(1)) if match else None
            if volume is None:
                self._refuse(404, "no such volume (it may have been replaced; reopen the series)")
                return
            try:
                start = int(parse_qs(parts.query).get("k", ["0"])[0])
            except ValueError:
                start = 0
            self.send_response(200)
            self._cors()
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            try:
                for frame in volume.stream(start):
                    self.wfile.write(frame)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return  # the page went away

    return Handler
