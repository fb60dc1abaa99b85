"""The viewer end to end: a real ``streamlit run app.py`` server, and a real Chromium.

* the server listens on 127.0.0.1 alone (checked on the server process's own sockets);
* a reader opens the sample SDH study, switches to the subdural window, moves through
  slices, clicks on the hematoma, flags it, sets the outcome, reloads, finds it all
  again, and ``imaging-triage export`` holds the finding with its location.

The browser is Debian's ``/usr/bin/chromium`` (never downloaded). Without it the browser
test skips, unless ``IMAGING_TRIAGE_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import pytest

from imaging_triage.cli import main as cli_main
from imaging_triage.viewer.render import DisplayVolume, Plane, voxel_to_pixel
from imaging_triage.volume import load_nifti

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SDH_STUDY = "02_ct_sdh"


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    db: Path
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> Iterator[Server]:
    data = sample_data / "dicom"
    if not (data / SDH_STUDY).is_dir():
        pytest.skip(
            f"sample study {SDH_STUDY} not found under {data}; run `imaging-triage samples`"
        )
    tmp = tmp_path_factory.mktemp("viewer")
    db, log = tmp / "reviews.sqlite", tmp / "server.log"
    port = _free_port()
    env = {
        **os.environ,
        "HOME": str(tmp),  # no user config file
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    for name in ("IMAGING_TRIAGE_DATA", "IMAGING_TRIAGE_DB", "IMAGING_TRIAGE_CONFIG"):
        env.pop(name, None)
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app.py"),
        "--server.port",
        str(port),
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
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"streamlit exited: {log.read_text()[-2000:]}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"streamlit did not start within 60 s: {log.read_text()[-2000:]}")
        yield Server(f"http://127.0.0.1:{port}", port, proc, db, log)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)


def test_viewer_listens_on_loopback_only(server: Server) -> None:
    procs = [psutil.Process(server.process.pid)]
    procs += procs[0].children(recursive=True)
    listening = [
        c for p in procs for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
    ]
    assert any(c.laddr.port == server.port for c in listening), listening
    addresses = {c.laddr.ip for c in listening}
    assert addresses == {"127.0.0.1"}, f"viewer listens on {addresses}"


def _hematoma_target(sample_data: Path) -> tuple[tuple[float, float, float], dict[str, object]]:
    """RAS mm of the deepest voxel of the SDH label, and the study's truth."""
    from scipy import ndimage

    truth_dir = sample_data / "ground_truth" / SDH_STUDY
    truth = json.loads((truth_dir / "truth.json").read_text())
    sdh = next(f for f in truth["findings"] if f["type"] == "sdh")
    label = DisplayVolume.from_volume(load_nifti(next(truth_dir.glob("label_series*.nii*"))))
    mask = np.asarray(label.data) == sdh["label_value"]
    depth = ndimage.distance_transform_edt(mask, sampling=label.spacing)
    ijk = np.unravel_index(int(np.argmax(depth)), mask.shape)
    return label.world((int(ijk[0]), int(ijk[1]), int(ijk[2]))), {"truth": truth, "label": label}


def _click_voxel(page: object, dv: DisplayVolume, plane: Plane, ijk: tuple[int, int, int]) -> None:
    img = page.locator(f"img[data-plane={plane.value}]")  # type: ignore[attr-defined]
    box = img.bounding_box()
    rows, cols = {
        Plane.AXIAL: (dv.shape[1], dv.shape[0]),
        Plane.CORONAL: (dv.shape[2], dv.shape[0]),
        Plane.SAGITTAL: (dv.shape[2], dv.shape[1]),
    }[plane]
    row, col = voxel_to_pixel(dv, plane, ijk)
    img.click(
        position={"x": (col + 0.5) / cols * box["width"], "y": (row + 0.5) / rows * box["height"]}
    )


def _settle(page: object) -> None:
    """Wait until Streamlit has finished rerunning the script."""
    page.wait_for_timeout(300)  # type: ignore[attr-defined]
    running = page.locator('[data-testid="stStatusWidget"]')  # type: ignore[attr-defined]
    running.first.wait_for(state="hidden", timeout=30_000)


def _choose(page: object, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (retried across reruns)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _attempt in range(5):
        _settle(page)
        box = page.get_by_role("combobox", name=label, exact=True)  # type: ignore[attr-defined]
        box.locator("xpath=..").get_by_role("button", name="Open").click()
        item = page.get_by_role("option", name=option, exact=True)  # type: ignore[attr-defined]
        try:
            item.click(timeout=3_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")  # type: ignore[attr-defined]
    else:
        raise AssertionError(f"could not choose {option!r} in {label!r}")
    _settle(page)


@pytest.mark.browser
@pytest.mark.slow
def test_review_sdh_study_in_a_real_browser(
    server: Server, sample_data: Path, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("IMAGING_TRIAGE_REQUIRE_BROWSER") == "1":
            pytest.fail(message + "; IMAGING_TRIAGE_REQUIRE_BROWSER=1 makes this a failure")
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    from imaging_triage.ingest import scan
    from imaging_triage.viewer.hanging import default_series
    from imaging_triage.viewer.loader import open_series

    target_xyz, extra = _hematoma_target(sample_data)
    record = default_series(
        [r for r in scan(sample_data / "dicom" / SDH_STUDY).series if r.status.value == "ok"]
    )
    assert record is not None
    dv = open_series(record).volume
    target = dv.from_world(target_xyz)
    assert 55.0 <= dv.value(target) <= 90.0, "target voxel is not in the hematoma"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1200})
            page.set_default_timeout(30_000)
            page.goto(server.url)
            expect(page.get_by_text("Worklist", exact=True)).to_be_visible()

            page.get_by_label("Your name (stamped on every finding and outcome)").fill("Dr E2E")
            page.get_by_role("button", name="Start reviewing").click()
            expect(page.get_by_text("Reviewing as")).to_be_visible()

            row = page.locator('[data-testid="stHorizontalBlock"]').filter(has_text=SDH_STUDY)
            row.first.get_by_role("button", name="Open").click()
            axial = page.locator("img[data-plane=axial]")
            expect(axial).to_be_visible()

            _choose(page, "Window", "Subdural (W 200 / L 75)")
            expect(page.get_by_label("Width")).to_have_value("200.00")
            expect(page.get_by_label("Level")).to_have_value("75.00")

            # move through slices with the keyboard: two up, one down
            start = int(axial.get_attribute("data-index") or 0)
            page.get_by_text("Radiological convention").click()  # focus the page, not a field
            page.keyboard.press("ArrowUp")
            expect(axial).to_have_attribute("data-index", str(start + 1))
            page.keyboard.press("ArrowUp")
            expect(axial).to_have_attribute("data-index", str(start + 2))
            page.keyboard.press("ArrowDown")
            expect(axial).to_have_attribute("data-index", str(start + 1))

            # linked crosshair: the coronal click picks the slice, the axial click the point
            coronal_j = int(
                page.locator("img[data-plane=coronal]").get_attribute("data-index") or 0
            )
            _click_voxel(page, dv, Plane.CORONAL, (target[0], coronal_j, target[2]))
            expect(axial).to_have_attribute("data-index", str(target[2]))
            _click_voxel(page, dv, Plane.AXIAL, target)
            expect(page.locator("img[data-plane=coronal]")).to_have_attribute(
                "data-index", str(target[1])
            )
            readout = page.locator("p", has_text="RAS (").first
            expect(readout).to_contain_text(f"{dv.value(target):.0f} HU")

            _choose(page, "Finding", "Subdural hemorrhage (SDH)")
            page.get_by_label("Note (no patient identifiers)").fill("acute left convexity SDH")
            page.get_by_role("button", name="Flag finding").click()
            flagged = page.get_by_text("#1 Subdural hemorrhage (SDH) · Left")
            expect(flagged).to_be_visible()

            _choose(page, "Outcome", "Secondary cause suspected")
            _choose(page, "Urgency", "Critical (minutes)")
            page.get_by_role("button", name="Save outcome").click()
            saved = page.get_by_text("Secondary cause suspected · Critical (minutes) · by Dr E2E")
            expect(saved).to_be_visible()

            page.reload()
            expect(page.locator("img[data-plane=axial]")).to_be_visible()
            expect(page.get_by_text("#1 Subdural hemorrhage (SDH) · Left")).to_be_visible()
            expect(page.get_by_text("acute left convexity SDH", exact=False)).to_be_visible()
            expect(saved).to_be_visible()
            page.screenshot(path=str(tmp_path / "viewer_study.png"), full_page=True)

            page.get_by_role("button", name="← Worklist").click()
            row = page.locator('[data-testid="stHorizontalBlock"]').filter(has_text=SDH_STUDY)
            expect(row.first).to_contain_text("Reviewed")
            expect(row.first).to_contain_text("Critical (minutes)")
            page.screenshot(path=str(tmp_path / "viewer_worklist.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "viewer_study.png").stat().st_size > 10_000

    out = tmp_path / "export.csv"
    assert cli_main(["export", "--db", str(server.db), "-o", str(out), "--include-notes"]) == 0
    rows = list(csv.DictReader(out.open()))
    (finding,) = [r for r in rows if r["record"] == "finding"]
    assert finding["type"] == "sdh" and finding["laterality"] == "left"
    assert finding["note"] == "acute left convexity SDH" and finding["reviewer"] == "Dr E2E"
    xyz = (float(finding["x_mm"]), float(finding["y_mm"]), float(finding["z_mm"]))
    assert np.allclose(xyz, dv.world(target), atol=0.01)
    label: DisplayVolume = extra["label"]  # type: ignore[assignment]
    assert label.data[label.from_world(xyz)] == 1, "exported location is not on the hematoma"
    (study,) = [r for r in rows if r["record"] == "study"]
    assert study["outcome"] == "secondary_cause_suspected" and study["urgency"] == "critical"
    truth = extra["truth"]
    assert truth["study_instance_uid"] not in out.read_text()  # type: ignore[index]
