"""Decoder isolation: an abort, a memory blow-up or a hang in the worker becomes a typed
error for that file, and the next decode gets a fresh worker."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from imaging_triage.dicom import isolate
from imaging_triage.errors import PixelDataError


def _abort() -> None:
    os.abort()  # what a C++ decoder does on an uncaught std::length_error


def _allocate(n_bytes: int) -> int:
    return int(np.ones(n_bytes, dtype=np.uint8).sum())


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def _pid() -> int:
    return os.getpid()


@pytest.fixture(autouse=True)
def _fresh_worker() -> object:
    isolate.shutdown()
    yield
    isolate.shutdown()


def test_abort_in_the_worker_is_a_typed_error_and_the_worker_is_replaced() -> None:
    first = isolate.run(_pid, path="x.dcm", max_bytes=64 * 1024**2)
    assert first != os.getpid()
    with pytest.raises(PixelDataError, match="decoder crashed") as info:
        isolate.run(_abort, path="bad.dcm", max_bytes=64 * 1024**2)
    assert info.value.path == "bad.dcm"
    second = isolate.run(_pid, path="x.dcm", max_bytes=64 * 1024**2)
    assert second not in (first, os.getpid())


def test_worker_address_space_is_limited() -> None:
    limit = 64 * 1024**2
    over = 2 * limit + isolate.WORKER_BASE_BYTES + 1024**3
    with pytest.raises((PixelDataError, MemoryError)):
        isolate.run(_allocate, over, path="big.dcm", max_bytes=limit)
    assert isolate.run(_allocate, 1024, path="ok.dcm", max_bytes=limit) == 1024


def test_stuck_decoder_is_killed_after_the_timeout() -> None:
    with pytest.raises(PixelDataError, match="did not finish within"):
        isolate.run(_sleep, 60.0, path="slow.dcm", max_bytes=64 * 1024**2, timeout_s=1.0)
    assert isolate.run(_sleep, 0.0, path="x.dcm", max_bytes=64 * 1024**2) == "woke"


def test_setting_forces_or_disables_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(isolate.ENV_VAR, "0")
    assert not isolate.enabled()
    monkeypatch.setenv(isolate.ENV_VAR, "1")
    assert isolate.enabled()
    monkeypatch.delenv(isolate.ENV_VAR)
    assert isolate.enabled()  # the test process is not a multiprocessing worker
