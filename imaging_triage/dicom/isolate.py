"""Native pixel decoders run in a worker process, so that an abort cannot take the
caller down.

The JPEG, JPEG-LS, JPEG 2000 and RLE decoders are C/C++ libraries: a hostile stream can
make one throw an uncaught C++ exception (``std::length_error``: SIGABRT) or allocate
past the machine's memory. In the viewer's server and in single-series runs the decoding
happens in one long-lived worker process (``spawn``), whose address space is limited
(``RLIMIT_AS``) and which writes no core file; when it dies, the caller gets a
:class:`~imaging_triage.errors.PixelDataError` for that file and the next decode starts a
fresh worker. Inside a process that is itself a worker (batch ``--jobs N``, Dask), the
decoders run inline: the batch already survives a dying worker.

Uncompressed pixel data never goes through the worker (numpy only; the fast path).
``IMAGING_TRIAGE_ISOLATE_DECODERS=0`` turns the isolation off, ``=1`` forces it on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from imaging_triage.errors import PixelDataError

logger = logging.getLogger(__name__)

#: the environment variable: "1" always isolate, "0" never, unset: isolate unless we
#: already are a worker process
ENV_VAR = "IMAGING_TRIAGE_ISOLATE_DECODERS"

#: seconds one decode may take in the worker before it is killed (a decoder stuck on a
#: hostile stream); ``IMAGING_TRIAGE_DECODE_TIMEOUT`` overrides
DECODE_TIMEOUT_S = float(os.environ.get("IMAGING_TRIAGE_DECODE_TIMEOUT", "300"))

#: address space granted to the worker on top of twice the memory limit (interpreter,
#: libraries, thread stacks)
WORKER_BASE_BYTES = 3 * 1024**3

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_limit: int | None = None


def enabled() -> bool:
    """Whether decoders should run in the isolated worker from this process."""
    setting = os.environ.get(ENV_VAR, "").strip()
    if setting in ("0", "1"):
        return setting == "1"
    return multiprocessing.parent_process() is None


def _limit_worker(address_space: int) -> None:
    """Initializer of the worker: cap its address space, no core dumps."""
    os.environ[ENV_VAR] = "0"  # never nest workers
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not POSIX
        logger.warning("decoder worker runs without a memory limit on this platform")


def _get_pool(max_bytes: int) -> ProcessPoolExecutor:
    global _pool, _pool_limit
    limit = 2 * max_bytes + WORKER_BASE_BYTES
    if _pool is None or _pool_limit != limit:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_limit_worker,
            initargs=(limit,),
        )
        _pool_limit = limit
    return _pool


def _discard_pool(kill: bool = False) -> None:
    global _pool
    if _pool is not None:
        if kill:  # a stuck decoder never returns: end the worker itself
            for process in list(getattr(_pool, "_processes", {}).values()):
                process.kill()
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def shutdown() -> None:
    """Stop the worker (it is started again on the next isolated decode)."""
    with _lock:
        _discard_pool()


def run(
    func: Callable[..., Any],
    *args: Any,
    path: str,
    max_bytes: int,
    timeout_s: float | None = None,
) -> Any:
    """Call ``func(*args)`` in the isolated worker and return its result.

    Parameters
    ----------
    func : callable
        A module-level (picklable) function.
    path : str
        The file being decoded, for the error message.
    max_bytes : int
        The memory limit; the worker's address space is derived from it.
    timeout_s : float, optional
        How long to wait (default :data:`DECODE_TIMEOUT_S`); then the worker is killed.

    Raises
    ------
    PixelDataError
        The worker died (decoder abort, memory limit) or took longer than the timeout;
        the worker is replaced.
    Exception
        Whatever ``func`` raised, re-raised here.
    """
    with _lock:
        pool = _get_pool(max_bytes)
        future = pool.submit(func, *args)
    limit = DECODE_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        return future.result(timeout=limit)
    except FutureTimeout as err:
        with _lock:
            if _pool is pool:
                _discard_pool(kill=True)
        raise PixelDataError(
            f"the pixel decoder did not finish within {limit:g} s on this file and was "
            "stopped; it is damaged or hostile: re-export the series from the archive",
            path=path,
        ) from err
    except BrokenProcessPool as err:
        with _lock:
            if _pool is pool:
                _discard_pool()
        raise PixelDataError(
            "the pixel decoder crashed (aborted or ran out of its memory limit) on this "
            "file; it is damaged or hostile: re-export the series from the archive",
            path=path,
        ) from err
