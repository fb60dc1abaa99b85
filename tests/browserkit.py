"""What the browser tests share: Debian's Chromium under Playwright, waiting for Streamlit,
choosing in a select box, and the page position of a voxel in the engine's axial view."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from imaging_triage.viewer.launch import CHROMIUM, CHROMIUM_ARGS
from imaging_triage.viewer.planes import DisplayVolume, Plane, voxel_to_pixel


def require_chromium() -> None:
    """Skip without Debian's Chromium, or fail where CI requires the browser tests."""
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("IMAGING_TRIAGE_REQUIRE_BROWSER") == "1":
            pytest.fail(message + "; IMAGING_TRIAGE_REQUIRE_BROWSER=1 makes this a failure")
        pytest.skip(message)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium launched by Playwright (see :func:`require_chromium` when absent),
    closed at the end."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def screen_point(
    page: Any, view: Any, dv: DisplayVolume, ijk: tuple[float, float, float]
) -> tuple[float, float]:
    """Page coordinates of the centre of canonical voxel ``ijk`` in an axial view."""
    box = view.bounding_box()
    ox, oy = (float(v) for v in view.get_attribute("data-origin").split(","))
    sx, sy = (float(v) for v in view.get_attribute("data-scale").split(","))
    plane = Plane(view.get_attribute("data-plane"))
    row, col = voxel_to_pixel(dv, plane, (int(ijk[0]), int(ijk[1]), int(ijk[2])))
    return box["x"] + ox + (col + 0.5) * sx, box["y"] + oy + (row + 0.5) * sy


def settle(page: Any) -> None:
    """Wait until Streamlit has finished rerunning the script."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').first.wait_for(state="hidden", timeout=30_000)


def choose(page: Any, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (retried across reruns)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _attempt in range(5):
        settle(page)
        box = page.get_by_role("combobox", name=label, exact=True)
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=3_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    else:
        raise AssertionError(f"could not choose {option!r} in {label!r}")
    settle(page)
