"""Blinded double reading in the browser: two readers on one study, then the consensus.

A viewer whose config sets ``reading_mode = "double_blind"``; readers A and B read the
SDH sample study in two browser contexts. Neither sees the other's findings or outcome
before both have saved; a third reader is refused meanwhile; once both are saved the
disagreements are listed, and a consensus read saved by a third reader is stored with
the read role ``consensus`` and that reader's name. The config also turns teaching mode
on (the sample studies' ground truth): a reader sees the comparison only after saving.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import choose, chromium, require_chromium, settle

from imaging_triage.review.reading import double_read_state
from imaging_triage.review.store import ReviewStore
from imaging_triage.roots import DataRoots
from imaging_triage.viewer.launch import ViewerProcess
from imaging_triage.viewer.worklist import find_studies

ROOT = Path(__file__).resolve().parents[2]
STUDY = "02_ct_sdh"
pytestmark = [pytest.mark.browser, pytest.mark.slow]
FLAGGED = re.compile(r"#\d+ Subdural hemorrhage \(SDH\) · Left")


@pytest.fixture(scope="module")
def viewer(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> Iterator[Any]:
    require_chromium()
    data = sample_data / "dicom"
    tmp = tmp_path_factory.mktemp("double")
    config = tmp / "viewer.toml"
    truth = sample_data / "ground_truth"
    config.write_text(f'reading_mode = "double_blind"\nteaching_truth = "{truth}"\n')
    with ViewerProcess.start(
        ROOT / "app.py",
        data=data,
        db=tmp / "reviews.sqlite",
        home=tmp,
        extra_env={"IMAGING_TRIAGE_CONFIG": str(config)},
    ) as server:
        key = next(
            s.key for s in find_studies(DataRoots.from_paths([data])) if s.source.endswith(STUDY)
        )
        yield server, key, tmp / "reviews.sqlite"


def _page(browser: Any) -> Any:
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.set_default_timeout(30_000)
    return page


def _open(page: Any, url: str, key: str, reader: str) -> Any:
    page.goto(f"{url}/?study={key}&reviewer={reader.replace(' ', '%20')}")
    view = page.locator(".it-view[data-view=axial]")
    page.wait_for_selector(".it-view[data-view=axial][data-loaded=true]")
    return view


def _save_outcome(page: Any, outcome: str, urgency: str) -> None:
    choose(page, "Outcome", outcome)
    choose(page, "Urgency", urgency)
    page.get_by_role("button", name="Save outcome").click()
    settle(page)


def test_two_blinded_readers_then_a_consensus(viewer: Any) -> None:
    from playwright.sync_api import expect

    server, key, db = viewer
    with chromium() as browser:
        a, b, c = _page(browser), _page(browser), _page(browser)

        # reader A flags a left SDH at the centre of the image, nothing saved yet
        view = _open(a, server.url, key, "Dr A")
        box = view.bounding_box()
        a.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
        settle(a)
        choose(a, "Finding", "Subdural hemorrhage (SDH)")
        choose(a, "Laterality (patient's side)", "Left")
        a.get_by_role("button", name="Flag finding").click()
        expect(a.get_by_text(FLAGGED)).to_be_visible()

        # reader B opens the same study: A's finding is not shown
        _open(b, server.url, key, "Dr B")
        expect(b.get_by_text("Blinded double reading")).to_be_visible()
        expect(b.get_by_text("No finding flagged yet.")).to_be_visible()
        expect(b.get_by_text(FLAGGED)).to_have_count(0)
        # teaching mode: nothing of the reference before the reader has saved
        expect(b.get_by_text("After you save your outcome, your read is compared")).to_be_visible()
        expect(b.get_by_text(re.compile(r"^Compared with the ground truth"))).to_have_count(0)

        # A saves; B still sees neither A's finding nor A's outcome
        _save_outcome(a, "Secondary cause suspected", "Critical (minutes)")
        expect(a.get_by_text("Reads saved: 1 of 2", exact=False)).to_be_visible()
        teaching = a.get_by_text("Compared with the ground truth of the sample studies")
        expect(teaching).to_be_visible()
        expect(teaching).to_contain_text("outcome: matches")
        b.reload()
        b.wait_for_selector(".it-view[data-view=axial][data-loaded=true]")
        expect(b.get_by_text(FLAGGED)).to_have_count(0)
        expect(b.get_by_text("no outcome recorded yet", exact=False)).to_be_visible()
        expect(b.get_by_text("Secondary cause suspected", exact=False)).to_have_count(0)

        # a third reader is refused while the two reads are open
        _open(c, server.url, key, "Dr C")
        expect(c.get_by_text("two readers are already reading", exact=False)).to_be_visible()
        expect(c.get_by_role("button", name="Flag finding")).to_have_count(0)
        expect(c.get_by_text(FLAGGED)).to_have_count(0)

        # B saves a different read: the disagreements are listed to both
        _save_outcome(b, "No acute intracranial abnormality", "Routine")
        expect(b.get_by_text("they disagree on", exact=False)).to_be_visible()
        expect(
            b.get_by_text(re.compile(r"finding: Subdural hemorrhage \(SDH\), left: only Dr A"))
        ).to_be_visible()
        expect(
            b.get_by_text(re.compile(r"^outcome: Dr A Secondary cause suspected; Dr B No acute"))
        ).to_be_visible()
        expect(b.get_by_text(FLAGGED)).to_be_visible()  # now visible: both are saved

        # the consensus by a third reader is stored with its reader and role
        c.reload()
        c.wait_for_selector(".it-view[data-view=axial][data-loaded=true]")
        expect(c.get_by_text("A consensus read is pending", exact=False)).to_be_visible()
        expect(c.get_by_text("Study outcome (consensus read)")).to_be_visible()
        _save_outcome(c, "Secondary cause suspected", "Critical (minutes)")
        expect(c.get_by_text("Consensus saved by Dr C", exact=False)).to_be_visible()

        # the worklist shows where the study stands
        c.goto(f"{server.url}/?reviewer=Dr%20C")
        expect(c.get_by_text("2/2 · consensus saved")).to_be_visible()

    with ReviewStore(db) as store:
        state = double_read_state(store, key)
        assert state.readers == ("Dr A", "Dr B") and state.both_saved
        assert {d.about for d in state.disagreements} == {"outcome", "urgency", "finding"}
        assert state.consensus is not None and state.consensus.reader == "Dr C"
        assert state.consensus.outcome is not None
        assert state.consensus.outcome.value == "secondary_cause_suspected"
