"""Start the viewer in a child process on a free loopback port (tests and benchmarks).

Users start the viewer with ``make run``; this is for code that needs a real server for
a while: the browser tests and ``benchmarks/viewer_browser.py``.

Examples
--------
>>> with ViewerProcess.start(app, data=folder, db=db, home=tmp) as viewer:   # doctest: +SKIP
...     page.goto(viewer.url)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from imaging_triage.errors import TriageError

#: Debian's Chromium (never downloaded by a test tool)
CHROMIUM = Path("/usr/bin/chromium")
#: headless, and quiet on a machine without a network (no background connections)
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)

#: variables that would point the child at other folders than the ones given
_CLEARED = ("IMAGING_TRIAGE_DATA", "IMAGING_TRIAGE_DB", "IMAGING_TRIAGE_CONFIG")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ViewerProcess:
    """A running ``streamlit run app.py`` child bound to 127.0.0.1."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls,
        app: Path,
        *,
        data: Path,
        db: Path,
        home: Path,
        timeout_s: float = 60.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> ViewerProcess:
        """Start the viewer on ``data`` with review database ``db``; wait until it listens.

        ``home`` becomes the child's ``HOME`` (no user config file is read) and holds
        the server log; ``extra_env`` is added to the child's environment (e.g. the PACS
        URL and credentials, which never go on a command line).

        Raises
        ------
        TriageError
            If the server exits or does not listen within ``timeout_s``; the message
            ends with the tail of its log.
        """
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
        env.update(HOME=str(home), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
        env.update(extra_env or {})
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--",
            "--data",
            str(data),
            "--db",
            str(db),
        ]
        log = home / "viewer-server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=app.parent, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        viewer = cls(f"http://127.0.0.1:{port}", port, proc, log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise TriageError(f"the viewer exited: {log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return viewer
            except OSError:
                time.sleep(0.2)
        viewer.stop()
        raise TriageError(
            f"the viewer did not listen within {timeout_s:g} s: {log.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        """Terminate the server (killed if it does not stop within 15 s)."""
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(15)

    def __enter__(self) -> ViewerProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
