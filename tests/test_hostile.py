"""Hostile inputs of the trust round 2 (issue 11), end to end: for each case ``scan``,
``convert``, ``deidentify`` and opening every series as the viewer does end in ``ok`` or a
typed failure (never a traceback, an abort or a hang), with the peak resident memory of
each process (its own VmHWM) under ``IMAGING_TRIAGE_MAX_BYTES`` plus a stated overhead. A
decoder worker is a process of its own, capped by ``RLIMIT_AS`` (``tests/dicom/test_isolate.py``).

The cases are generated from small seeds (pydicom's bundled test files and a synthetic
slice) by ``hostile_cases`` of ``benchmarks/fuzz_long.py``; nothing large is committed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_fuzz import fuzz

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").is_file(), reason="peak memory read from /proc (Linux)"
)

#: the memory limit the processes run with
MAX_BYTES = 64 * 1024**2
#: what a process may hold on top: the interpreter with numpy, pydicom, nibabel, SimpleITK
#: and the decoders (about 250 MB), plus one limit-sized buffer held twice while parsed
OVERHEAD = 300 * 1024**2 + MAX_BYTES
#: a process must finish in this time (s); longer is a hang
TIMEOUT = 120.0

#: run first in every measured process: at exit, write the process's own peak resident
#: memory (VmHWM). Not ``ru_maxrss``: after fork+exec Linux counts the parent's (pytest's)
#: resident memory at the fork into it.
_PEAK = """
import atexit, os, sys
def _write_peak():
    with open("/proc/self/status") as status, open(os.environ["PEAK_FILE"], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(_write_peak)
"""
#: the console script, run under _PEAK
_CLI = (
    _PEAK
    + """
import runpy
sys.argv = ["imaging-triage", *sys.argv[1:]]
runpy.run_module("imaging_triage", run_name="__main__")
"""
)

_VIEW = (
    _PEAK
    + """
import json, sys
from imaging_triage.errors import TriageError
from imaging_triage.ingest import scan
from imaging_triage.viewer.loader import open_series
out = []
for record in scan(sys.argv[1]).series:
    if record.status.value != "ok":
        out.append("record-" + record.status.value)
        continue
    try:
        open_series(record)
        out.append("opened")
    except TriageError as err:
        out.append("typed-" + err.code)
print(json.dumps(out))
"""
)


@dataclass
class Run:
    """One finished process."""

    rc: int
    out: str
    err: str
    peak_bytes: int


def run_measured(argv: list[str], cwd: Path) -> Run:
    """Run ``python argv`` with the limit; its exit code, output and peak RSS (VmHWM)."""
    peak_file = cwd / f"peak{time.monotonic_ns()}.txt"
    env = {
        **os.environ,
        "IMAGING_TRIAGE_MAX_BYTES": str(MAX_BYTES),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "PEAK_FILE": str(peak_file),
    }
    env.pop("IMAGING_TRIAGE_ISOLATE_DECODERS", None)
    out_path, err_path = cwd / "stdout.txt", cwd / "stderr.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, *argv], cwd=cwd, env=env, stdout=out, stderr=err)
    deadline = time.monotonic() + TIMEOUT
    while True:
        pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(f"hang: {argv}")
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Run(
        proc.returncode,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
        int(peak_file.read_text()) * 1024 if peak_file.exists() else -1,
    )


@pytest.fixture(scope="module")
def cases() -> dict[str, object]:
    return {c.label: c for c in fuzz.hostile_cases(bomb_bytes=4 * MAX_BYTES)}


EXPECTED = (
    "deflate-bomb",
    "gz-deflate-bomb",
    "gzip-bomb",
    "deflate-small-ok",
    "j2k-siz-60000",
    "j2k-damaged-body",
    "jpegls-sof55-65535",
    "jpeg-sof-huge",
    "rle-bad-offset",
    "nifti-gz-8gib",
    "nifti-16gib",
    "nifti-short",
    "latin1-folder",
    "description-200k",
    "control-characters",
)

#: cases whose every series must fail typed (the others may also convert)
MUST_FAIL = frozenset(EXPECTED) - {
    "deflate-small-ok",
    "latin1-folder",
    "description-200k",
    "control-characters",
}


def test_family_is_complete(cases: dict[str, object]) -> None:
    assert set(cases) == set(EXPECTED)


@pytest.mark.slow
@pytest.mark.parametrize("label", EXPECTED)
def test_hostile_case_ends_typed_or_ok_within_memory(
    label: str, cases: dict[str, object], tmp_path: Path
) -> None:
    case = cases[label]
    src = tmp_path / "in"
    for name, payload in case.files.items():  # type: ignore[attr-defined]
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(payload)
    runs = {
        "scan": run_measured(["-c", _CLI, "scan", str(src)], tmp_path),
        "convert": run_measured(
            ["-c", _CLI, "convert", str(src), "-o", str(tmp_path / "c"), "--quiet"], tmp_path
        ),
        "deidentify": run_measured(
            ["-c", _CLI, "deidentify", str(src), "-o", str(tmp_path / "d")], tmp_path
        ),
        "viewer": run_measured(["-c", _VIEW, str(src)], tmp_path),
    }
    for name, run in runs.items():
        assert "Traceback" not in run.err, (name, run.err[-2000:])
        assert run.rc in (0, 3, 4), (name, run.rc, run.err[-2000:])
        assert 0 < run.peak_bytes < MAX_BYTES + OVERHEAD, (name, run.peak_bytes / 2**20)
    opened = json.loads(runs["viewer"].out)
    manifest = (tmp_path / "c" / "manifest.csv").read_text(encoding="utf-8")
    if label in MUST_FAIL:
        assert "opened" not in opened, opened
        assert runs["convert"].rc in (3, 4) or ",ok," not in manifest, manifest
    else:
        assert opened and set(opened) == {"opened"}, opened
        assert runs["convert"].rc == 0, runs["convert"].err[-2000:]
    if label == "latin1-folder":
        assert "M\\xfcller" in manifest  # the documented escaped form
    if label == "control-characters":
        assert "\x1b" not in runs["scan"].out
