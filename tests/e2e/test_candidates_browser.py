"""Automated candidates in the browser: the worklist sorted by them, the overlay drawn.

Two sample CT studies (the normal head and the subdural hematoma) go through
``imaging-triage preprocess``; the viewer on its output lists them with the candidates
column (labelled "automated candidates, not a diagnosis") and, sorted by it, puts the
study with the higher score first; the default sort is not by candidates. On the SDH
study read from its DICOM files, the checks run on demand and the engine colours their
regions (``data-overlay``: the pixels coloured on the slice), ``o`` hides them, and each
region's *Go to* moves the view to it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import choose, chromium, settle

from imaging_triage.cli import main as cli_main
from imaging_triage.roots import DataRoots
from imaging_triage.viewer.launch import ViewerProcess
from imaging_triage.viewer.worklist import CANDIDATES_LABEL, SortKey, find_studies, worklist_rows

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _page(browser: Any) -> Any:
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    return page


def test_worklist_sorts_by_the_candidates_of_preprocess(
    browser: Any, sample_data: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    studies = tmp_path / "in"
    for name in ("01_ct_normal", "02_ct_sdh"):
        shutil.copytree(sample_data / "dicom" / name, studies / name)
    out = tmp_path / "out"
    assert cli_main(["preprocess", str(studies), "-o", str(out), "--jobs", "1"]) == 0
    found = find_studies(DataRoots.from_paths([out]))
    scores = {s.source: (s.candidates.score if s.candidates else None) for s in found}
    assert len(scores) == 2 and len(set(scores.values())) == 2, scores  # a sort to see
    expected = [r.source for r in worklist_rows(found, {}, sort=SortKey.CANDIDATES)]
    default = [r.source for r in worklist_rows(found, {}, sort=SortKey.URGENCY)]

    with ViewerProcess.start(
        ROOT / "app.py", data=out, db=tmp_path / "r.sqlite", home=tmp_path
    ) as viewer:
        page = _page(browser)
        page.goto(f"{viewer.url}/?reviewer=Dr%20Sort")
        expect(page.get_by_text(CANDIDATES_LABEL).first).to_be_visible()
        settle(page)

        def shown() -> list[str]:
            cells = page.locator('[data-testid="stHorizontalBlock"]').filter(
                has=page.locator("[class*=st-key-open_]")
            )
            names = [c.inner_text().split("\n")[0].strip() for c in cells.all()]
            return [n for n in names if n in scores]

        assert shown() == default
        choose(page, "Sort by", f"Candidates ({CANDIDATES_LABEL})")
        expect(page.get_by_text("2 of 2 studies shown.")).to_be_visible()
        assert shown() == expected
        top = max(scores, key=lambda k: scores[k] or -1)
        assert expected[0] == top


def test_candidate_overlay_is_drawn_hidden_and_navigated(
    browser: Any, sample_data: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    data = sample_data / "dicom"
    key = next(
        s.key for s in find_studies(DataRoots.from_paths([data])) if s.source.endswith("02_ct_sdh")
    )
    with ViewerProcess.start(
        ROOT / "app.py", data=data, db=tmp_path / "r.sqlite", home=tmp_path
    ) as viewer:
        page = _page(browser)
        page.goto(f"{viewer.url}/?study={key}&reviewer=Dr%20Overlay")
        view = page.locator(".it-view[data-view=axial]")
        page.wait_for_selector(".it-view[data-view=axial][data-loaded=true]")
        expect(view).to_have_attribute("data-overlay", "none")
        page.get_by_text("Automated candidates", exact=True).click()
        page.get_by_role("button", name="Run the candidate checks").click()
        expect(page.get_by_text(re.compile(r"^Candidate score \d+"))).to_be_visible()
        # the first region's Go to: the view moves to it, and the overlay colours it there
        page.get_by_role("button", name="Go to").first.click()
        expect(view).to_have_attribute("data-overlay", re.compile(r"^[1-9]\d*$"))
        lit = view.get_attribute("data-overlay")
        view.focus()
        page.keyboard.press("o")
        expect(view).to_have_attribute("data-overlay", "hidden")
        page.keyboard.press("o")
        expect(view).to_have_attribute("data-overlay", lit)
        page.keyboard.press("Home")  # the lowest slice, below the hematoma: nothing coloured
        expect(view).to_have_attribute("data-overlay", "0")
