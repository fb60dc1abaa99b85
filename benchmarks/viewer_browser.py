"""Reading speed in a real browser: the in-browser engine driven by Playwright.

Usage::

    .venv/bin/python benchmarks/viewer_browser.py [--slices 300] [--steps 60] [--json]

Writes a synthetic CT series (512 x 512 x N, 12-bit DICOM, rescaled to HU), starts the
viewer (``streamlit run app.py``) on it at 127.0.0.1, drives Debian's Chromium
(``/usr/bin/chromium``, headless) and prints, in one run:

* **open**: until the first axial image is drawn (``data-ready=true``), on the page's
  own clock (``performance.now()``: what the reader sees, without the test driver's
  own latency, which is printed beside it): cold, from the click on *Open* in the
  worklist (the server decodes the series; the folder was scanned when the worklist was
  shown), and warm, from the start of the navigation to the study's address (a reload:
  the page boots again, the decoded series is cached by the server, the browser fetches
  it again); also until the whole series has arrived (``data-loaded=true``), and the
  engine's own timing (mount, response, first image, complete);
* **step latency**: from the key press (or wheel event) reaching the page to the change
  of the view's ``data-slice`` (median and p90 over ``--steps`` single steps, each
  waited for), measured inside the page with ``performance.now()``;
* **steps lost**: ``--steps`` key presses, then ``--steps`` wheel events, sent at 30 per
  second without waiting; the final ``data-slice`` must equal start +/- steps (clamped);
* **window drag** latency (pointer move to ``data-window`` change) and **preset change**
  latency (key ``2`` to ``data-window`` change).

The old server-rendered path (one Streamlit rerun and one PNG per step) no longer
exists: every step is drawn in the browser. The renderer is whatever this Chromium uses
for 2-D canvas (printed; headless Chromium rasterises on the CPU).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

#: in-page probe: time of the last input event and of every data-slice/data-window change
PROBE = """
() => {
  window.__probe = { input: 0, changes: [] };
  for (const type of ["keydown", "wheel", "pointermove"]) {
    window.addEventListener(type, () => { window.__probe.input = performance.now(); }, true);
  }
  const obs = new MutationObserver((records) => {
    for (const r of records) {
      window.__probe.changes.push({ attr: r.attributeName, view: r.target.dataset.view,
        value: r.target.getAttribute(r.attributeName), t: performance.now(),
        since: performance.now() - window.__probe.input });
    }
  });
  for (const el of document.querySelectorAll(".it-view")) {
    obs.observe(el, { attributes: true, attributeFilter: ["data-slice", "data-window"] });
  }
  return document.querySelectorAll(".it-view").length;
}
"""


#: installed before every navigation: the page's own clock at the last click (or the
#: navigation start, 0) and when the axial view first said ``data-ready=true`` after it
READY_PROBE = """
window.__it = { click: 0, ready: null };
document.addEventListener("click", () => {
  window.__it = { click: performance.now(), ready: null };
}, true);
new MutationObserver(() => {
  if (window.__it.ready === null &&
      document.querySelector(".it-view[data-view=axial][data-ready=true]")) {
    window.__it.ready = performance.now();
  }
}).observe(document, { subtree: true, childList: true, attributes: true,
                       attributeFilter: ["data-ready"] });
"""


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _wait_change(page: Any, attr: str, before: int, timeout_s: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        changes = page.evaluate("() => window.__probe.changes")
        new = [c for c in changes[before:] if c["attr"] == attr]
        if new:
            return dict(new[0])
        time.sleep(0.002)
    raise TimeoutError(f"no {attr} change within {timeout_s} s")


def measure(url: str, steps: int) -> dict[str, Any]:
    """Open ``url`` (a study page) and run every measurement."""
    from playwright.sync_api import sync_playwright

    from imaging_triage.viewer.launch import CHROMIUM, CHROMIUM_ARGS

    out: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True
        )
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.add_init_script(READY_PROBE)
        # the worklist first: the server scans the folders once (headers), as at start-up
        page.goto(url.split("?", 1)[0])
        page.get_by_text("Worklist", exact=True).wait_for(timeout=120_000)
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            if label == "cold":  # a reader opens the study from the worklist
                page.locator("[class*=st-key-open_] button").first.click()
            else:  # a reload (or a shared link) of the study's address
                page.goto(url)
            page.wait_for_selector(".it-view[data-view=axial][data-ready=true]", timeout=120_000)
            out[f"open_{label}_driver_s"] = round(time.perf_counter() - t0, 3)
            page.wait_for_function("() => window.__it.ready !== null")
            seen = page.evaluate("() => window.__it")
            out[f"open_{label}_s"] = round((seen["ready"] - seen["click"]) / 1000, 3)
            page.wait_for_selector(".it-view[data-view=axial][data-loaded=true]", timeout=120_000)
            out[f"open_{label}_complete_s"] = round(time.perf_counter() - t0, 3)
            out[f"open_{label}_timing_ms"] = page.locator(".it-engine").get_attribute("data-timing")
        out["renderer"] = page.evaluate(
            "() => { const c = document.createElement('canvas').getContext('webgl2');"
            " if (!c) return '2-D canvas (no WebGL2)';"
            " const i = c.getExtension('WEBGL_debug_renderer_info');"
            " return '2-D canvas; WebGL2 renderer: ' +"
            " (i ? c.getParameter(i.UNMASKED_RENDERER_WEBGL) : 'unknown'); }"
        )
        axial = page.locator(".it-view[data-view=axial]")
        box = axial.bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)
        page.evaluate(PROBE)
        n = int(axial.get_attribute("data-slices") or 0)

        def slice_now() -> int:
            return int(axial.get_attribute("data-slice") or 0)

        def go_to(k: int) -> None:
            page.keyboard.press("Home")
            for _ in range(k):
                page.keyboard.press("ArrowUp")
            page.wait_for_function(
                f"() => document.querySelector('.it-view[data-view=axial]').dataset.slice === '{k}'"
            )

        # single steps, each waited for
        go_to(n // 2 - steps // 2)
        key_ms = []
        for s in range(steps):
            before = len(page.evaluate("() => window.__probe.changes"))
            page.keyboard.press("ArrowUp" if s % 2 == 0 else "ArrowDown")
            key_ms.append(_wait_change(page, "data-slice", before)["since"])
        wheel_ms = []
        for s in range(steps):
            before = len(page.evaluate("() => window.__probe.changes"))
            page.mouse.wheel(0, -100 if s % 2 == 0 else 100)
            wheel_ms.append(_wait_change(page, "data-slice", before)["since"])
        out["key_step_ms_median"] = round(statistics.median(key_ms), 1)
        out["key_step_ms_p90"] = round(_pct(key_ms, 90), 1)
        out["wheel_step_ms_median"] = round(statistics.median(wheel_ms), 1)
        out["wheel_step_ms_p90"] = round(_pct(wheel_ms, 90), 1)

        # bursts at 30 per second, nothing waited for
        go_to(max(0, n // 2 - steps // 2))
        start = slice_now()
        for _ in range(steps):
            page.keyboard.press("ArrowUp")
            time.sleep(1 / 30)
        time.sleep(0.5)
        expected = min(start + steps, n - 1)
        out["keys_sent"], out["keys_lost"] = steps, abs(expected - slice_now())
        start = slice_now()
        for _ in range(steps):
            page.mouse.wheel(0, 100)
            time.sleep(1 / 30)
        time.sleep(0.5)
        expected = max(start - steps, 0)
        out["wheel_sent"], out["wheel_lost"] = steps, abs(expected - slice_now())

        # window drag (W/L tool is the default) and preset change
        drag_ms = []
        page.mouse.move(cx, cy)
        page.mouse.down()
        for s in range(1, 21):
            before = len(page.evaluate("() => window.__probe.changes"))
            page.mouse.move(cx + 5 * s, cy + 3 * s)
            if s > 1:  # the first moves pass the 3-pixel click tolerance
                drag_ms.append(_wait_change(page, "data-window", before)["since"])
        page.mouse.up()
        out["window_drag_ms_median"] = round(statistics.median(drag_ms), 1)
        out["window_drag_ms_p90"] = round(_pct(drag_ms, 90), 1)
        preset_ms = []
        for key in ["2", "1"] * 5:
            before = len(page.evaluate("() => window.__probe.changes"))
            page.keyboard.press(key)
            preset_ms.append(_wait_change(page, "data-window", before)["since"])
        out["preset_ms_median"] = round(statistics.median(preset_ms), 1)
        out["preset_ms_p90"] = round(_pct(preset_ms, 90), 1)
        browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from viewer import write_ct_series  # benchmarks/viewer.py

    from imaging_triage.roots import DataRoots
    from imaging_triage.viewer.launch import ViewerProcess
    from imaging_triage.viewer.worklist import find_studies

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_ct_series(data / "bench_ct", args.slices)
        (study,) = find_studies(DataRoots.from_paths([data]))
        with ViewerProcess.start(
            ROOT / "app.py", data=data, db=Path(tmp) / "r.sqlite", home=Path(tmp)
        ) as viewer:
            url = f"{viewer.url}/?study={study.key}&reviewer=bench"
            result = {"shape": [512, 512, args.slices], **measure(url, args.steps)}
    r = result
    print(f"series 512 x 512 x {args.slices} int16 CT; renderer: {r['renderer']}")
    print(
        f"open to first image: click Open (cold, the server decodes) {r['open_cold_s']} s, "
        f"reload (warm) {r['open_warm_s']} s; measured by the driver "
        f"{r['open_cold_driver_s']} / {r['open_warm_driver_s']} s "
        f"(whole series in the browser, driver: {r['open_cold_complete_s']} / "
        f"{r['open_warm_complete_s']} s)   target < 1.5 s"
    )
    print(
        f"step latency (key): median {r['key_step_ms_median']} ms, p90 {r['key_step_ms_p90']} ms"
        f"; (wheel): median {r['wheel_step_ms_median']} ms, p90 {r['wheel_step_ms_p90']} ms"
        "   target p90 < 50 ms"
    )
    print(
        f"steps lost at 30/s: keys {r['keys_lost']} of {r['keys_sent']}, "
        f"wheel {r['wheel_lost']} of {r['wheel_sent']}   target 0"
    )
    print(
        f"window drag: median {r['window_drag_ms_median']} ms, p90 {r['window_drag_ms_p90']} ms;"
        f" preset key: median {r['preset_ms_median']} ms, p90 {r['preset_ms_p90']} ms"
        "   target < 100 ms"
    )
    print("old server-rendered path: removed (no rerun or PNG per step any more)")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
