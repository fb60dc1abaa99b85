"""Minimum versions of the dependencies, with the reason for each: the one table.

``pyproject.toml`` pins exactly these minimums and ``tests/test_pins.py`` checks both the
pins and the installed versions against this table. Raise a minimum here (and in
``pyproject.toml``) when an advisory is published for an older version.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Minimum:
    """The oldest version allowed of one distribution, and why."""

    distribution: str
    version: str
    reason: str


#: distribution name -> minimum; the pins of pyproject.toml match these exactly
MINIMUM_VERSIONS: dict[str, Minimum] = {
    m.distribution: m
    for m in (
        Minimum("pydicom", "3.0.2", "older versions have a published advisory (issue 11)"),
        Minimum("pillow", "10.3.0", "advisory CVE-2024-28219 (buffer overflow), fixed in 10.3.0"),
        Minimum(
            "dask",
            "2026.1.0",
            "older versions have a published advisory (issue 11)",
        ),
        Minimum("streamlit", "1.54", "1.54.0 fixes path traversal (SSRF) in component files"),
        Minimum("numpy", "1.26", "oldest version tested"),
        Minimum("nibabel", "5.2", "oldest version tested"),
    )
}


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or ``None`` when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
