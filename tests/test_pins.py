"""Dependency minimums: pyproject.toml pins the table's versions, and the environment
holds at least those (no version with a published advisory)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from imaging_triage.pins import MINIMUM_VERSIONS, installed_version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _pins() -> dict[str, Requirement]:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    reqs = [Requirement(r) for r in data["project"]["dependencies"]]
    return {r.name.lower(): r for r in reqs}


@pytest.mark.parametrize("name", sorted(MINIMUM_VERSIONS))
def test_pyproject_pins_the_table_minimum(name: str) -> None:
    requirement = _pins()[name]
    (spec,) = list(requirement.specifier)
    assert (spec.operator, Version(spec.version)) == (
        ">=",
        Version(MINIMUM_VERSIONS[name].version),
    )


@pytest.mark.parametrize("name", sorted(MINIMUM_VERSIONS))
def test_installed_version_meets_the_minimum(name: str) -> None:
    found = installed_version(name)
    assert found is not None, f"{name} is not installed"
    assert Version(found) >= Version(MINIMUM_VERSIONS[name].version), (name, found)


def test_versions_with_advisories_are_refused() -> None:
    for name, bad in (("pydicom", "3.0.1"), ("pillow", "10.2.0"), ("dask", "2025.12.0")):
        assert not _pins()[name].specifier.contains(bad)
