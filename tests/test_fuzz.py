"""Hostile input: every file ends in a volume or a typed error; no crash, no hang, no huge
allocation. Bounded and deterministic (fixed seeds); the longer run is
``python benchmarks/fuzz_long.py --seconds N`` (see its docstring).

Each case runs in a worker subprocess with a per-case time bound and a memory cap, so a hang
or a runaway allocation fails the test instead of the machine.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: per-case bound (s): generous for 2 busy CI cores; a hang is a real bug
TIMEOUT = 30.0


def _harness() -> ModuleType:
    loaded = sys.modules.get("fuzz_long")
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location("fuzz_long", ROOT / "benchmarks" / "fuzz_long.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_long"] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


fuzz = _harness()


def run(cases: list[Any], tmp_path: Path) -> list[Any]:
    results: list[Any] = fuzz.run_cases(cases, jobs=2, timeout=TIMEOUT, workdir=tmp_path / "cases")
    assert len(results) == len(cases)
    return results


def assert_no_problem(results: list[Any]) -> None:
    """Every case ok or typed; on failure, show each problem with its traceback."""
    problems = [r for r in results if r.outcome not in ("ok", "typed")]
    report = "\n\n".join(
        f"{r.outcome}: {r.case.corpus}:{r.case.label} ({r.case.size} bytes): {r.detail}\n"
        f"{r.traceback}"
        for r in problems
    )
    if problems:
        pytest.fail(f"{len(problems)} of {len(results)} inputs misbehaved:\n{report}")


@pytest.mark.slow
def test_pydicom_malformed_files(tmp_path: Path) -> None:
    cases = list(fuzz.pydicom_cases())
    names = {c.label for c in cases}
    assert len(cases) >= 8, names
    assert {"no_meta.dcm", "badVR.dcm", "rtplan_truncated.dcm"} <= names
    results = run(cases, tmp_path)
    assert_no_problem(results)


#: header cases exposing ingest bugs reported to the ingest's owner (label -> bug). They are
#: left out of test_header_mutations and asserted in test_known_ingest_bugs, an expected
#: failure (strict): when the bug is fixed that test passes, fails as XPASS, and the entry
#: must be removed here.
KNOWN_INGEST_BUGS: dict[str, str] = {}


@pytest.mark.slow
def test_header_mutations(tmp_path: Path) -> None:
    cases = [c for c in fuzz.header_cases() if c.label not in KNOWN_INGEST_BUGS]
    assert len(cases) > 90
    results = run(cases, tmp_path)
    assert_no_problem(results)
    by_label = {r.case.label: r for r in results}
    # declared 65535 x 65535 x 2**31 frames: refused before allocating, with a typed error
    for label in ("huge-matrix", "huge-matrix-1frame", "huge-frames", "huge-samples"):
        assert by_label[label].outcome == "typed", (label, by_label[label].detail)
    # the untouched slices of a series still give a volume, or the series fails typed
    assert by_label["spacing-nan-in-series"].outcome in ("ok", "typed")


@pytest.mark.slow
def test_byte_mutations(tmp_path: Path) -> None:
    seeds = fuzz.seeds(None)
    assert len(seeds) >= 4
    cases = list(fuzz.mutated_cases(seeds, 300, random.Random(20261124)))
    results = run(cases, tmp_path)
    assert_no_problem(results)
    outcomes = {r.outcome for r in results}
    assert "typed" in outcomes  # the mutations really broke files


@pytest.mark.realdata
@pytest.mark.slow
def test_realdata_truncated(realdata: Path, tmp_path: Path) -> None:
    """Real files cut at many offsets: typed errors, or (cut in trailing delimiters only)
    exactly the volume of the whole file: never a silently different image."""
    whole = [
        fuzz.Case("whole", str(p.relative_to(realdata)), {"x.dcm": p.read_bytes()})
        for p in fuzz._real_files(realdata)
    ]
    assert len(whole) >= 5
    cases = list(fuzz.truncated_cases(realdata, 24, random.Random(6)))
    assert len(cases) > 100
    results = run(whole + cases, tmp_path)
    assert_no_problem(results)
    reference = {r.case.label: r.digest for r in results if r.case.corpus == "whole"}
    assert all(r.outcome == "ok" for r in results if r.case.corpus == "whole")
    for r in results:
        if r.case.corpus == "truncated" and r.outcome == "ok":
            source = r.case.label.rsplit("@", 1)[0]
            assert r.digest == reference[source], f"{r.case.label} decoded to a different volume"


@pytest.mark.realdata
@pytest.mark.slow
def test_realdata_mutations(realdata: Path, tmp_path: Path) -> None:
    seeds = [s for s in fuzz.seeds(realdata) if not s[0].endswith(".dcm") or "/" in s[0]]
    real = [s for s in seeds if "/" in s[0]]
    assert len(real) >= 3
    cases = list(fuzz.mutated_cases(real, 120, random.Random(7)))
    results = run(cases, tmp_path)
    assert_no_problem(results)
