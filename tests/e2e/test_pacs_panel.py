"""The viewer's PACS panel in a real browser against a real Orthanc (issue 12, item 3).

Orthanc (Debian's package) holds one sample study; the viewer starts on an empty data
folder with the PACS URL and the test user's credentials in its environment. The reader
searches the PACS, pulls the study with the progress bar, and finds it in the worklist.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import chromium, require_chromium
from orthancserver import OrthancServer, running_orthanc, sample_files

from imaging_triage.viewer.launch import ViewerProcess

ROOT = Path(__file__).resolve().parents[2]
STUDY = "01_ct_normal"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    yield from running_orthanc(tmp_path_factory, sample_files(STUDY))


def test_pull_a_study_from_the_pacs_into_the_worklist(
    orthanc: OrthancServer, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import expect

    data = tmp_path / "data"
    data.mkdir()
    env = {
        "IMAGING_TRIAGE_PACS_URL": orthanc.dicomweb_url,
        "IMAGING_TRIAGE_PACS_USER": orthanc.username,
        "IMAGING_TRIAGE_PACS_PASSWORD": orthanc.password,
    }
    with (
        ViewerProcess.start(
            ROOT / "app.py", data=data, db=tmp_path / "r.sqlite", home=tmp_path, extra_env=env
        ) as viewer,
        chromium() as browser,
    ):
        page: Any = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(f"{viewer.url}/?reviewer=Dr%20Pacs")
        expect(page.get_by_text("0 of 0 studies shown.")).to_be_visible()
        page.get_by_text("PACS: find and pull studies").click()
        page.get_by_label("Modality").last.click()
        page.get_by_role("option", name="CT", exact=True).click()
        page.get_by_role("button", name="Search the PACS").click()
        pull = page.get_by_role("button", name="Pull")
        expect(pull).to_have_count(1)
        pull.click()
        expect(page.get_by_text("the study is in the worklist")).to_be_visible()
        expect(page.get_by_text("1 of 1 studies shown.")).to_be_visible()
        row = page.locator('[data-testid="stHorizontalBlock"]').filter(has_text="pacs")
        row.last.get_by_role("button", name="Open", exact=True).click()
        page.wait_for_selector(".it-view[data-view=axial][data-loaded=true]")
    pulled = list((data / "pacs").rglob("*.dcm")) or [
        p for p in (data / "pacs").rglob("*") if p.is_file() and p.suffix != ".json"
    ]
    assert len(pulled) >= 28, "the pulled study's images are in the data folder"
    assert orthanc.password not in (tmp_path / "viewer-server.log").read_text()
