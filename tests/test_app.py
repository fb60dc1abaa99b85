"""The Streamlit page through ``streamlit.testing.v1.AppTest`` (no browser).

The image engine runs in the browser, so here its events are what they would set: the
clicked point (``session_state["point"]``). Everything else is driven as widgets.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from viewer.synthetic_studies import SyntheticStudy, write_study

from imaging_triage.review.findings import (
    Confidence,
    FindingType,
    Laterality,
    Outcome,
    ReviewStatus,
    Urgency,
)
from imaging_triage.review.store import ReviewStore
from imaging_triage.viewer.planes import DisplayVolume
from imaging_triage.volume import load_nifti

APP = Path(__file__).resolve().parents[1] / "app.py"
FLAG = "FormSubmitter:flag_finding-Flag finding"
SAVE = "FormSubmitter:outcome_form-Save outcome"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, SyntheticStudy]:
    data = tmp_path / "data"
    study = write_study(data)
    write_study(data, name="ct_normal", lesion_xyz=None)
    db = tmp_path / "reviews.sqlite"
    monkeypatch.setenv("IMAGING_TRIAGE_DATA", str(data))
    monkeypatch.setenv("IMAGING_TRIAGE_DB", str(db))
    monkeypatch.setenv("HOME", str(tmp_path))  # no user config file
    return db, study


def _start(reviewer: str | None = "Dr Test") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    if reviewer:
        at.sidebar.text_input[0].input(reviewer)
        next(b for b in at.sidebar.button if b.label == "Start reviewing").click().run()
        assert not at.exception
    return at


def _texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text] + [m.value for m in at.markdown]


def _open(at: AppTest, source: str) -> None:
    texts = [t.value for t in at.text]
    assert source in texts, f"{source} not in worklist: {texts}"
    open_buttons = [b for b in at.button if (b.key or "").startswith("open_")]
    order = [t for t in texts if t.startswith("data/")]
    open_buttons[order.index(source)].click().run()
    assert not at.exception


def _point_at_lesion(at: AppTest, study: SyntheticStudy) -> tuple[int, int, int]:
    dv = DisplayVolume.from_volume(load_nifti(study.nifti))
    ijk = dv.from_world(study.lesion_xyz)
    at.session_state["point"] = ijk  # what a click in the engine reports
    at.run()
    return ijk


def test_worklist_lists_every_study_with_status(env: tuple[Path, SyntheticStudy]) -> None:
    at = _start(reviewer=None)
    texts = _texts(at)
    assert "data/ct_sdh" in texts and "data/ct_normal" in texts
    assert texts.count("Unread") == 2
    assert any("never a diagnosis" in c.value for c in at.caption)
    assert any("Enter your name" in w.value for w in at.warning)
    assert "migraine" not in " ".join(texts + [c.value for c in at.caption]).lower()
    at.text_input(key="filter_text").input("normal").run()
    texts = _texts(at)
    assert "data/ct_normal" in texts and "data/ct_sdh" not in texts


def test_readers_page_is_computed_only_when_asked(
    env: tuple[Path, SyntheticStudy], monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging_triage.viewer import reading_panel

    calls: list[int] = []
    real = reading_panel.agreement.agreement
    monkeypatch.setattr(
        reading_panel.agreement, "agreement", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    at = _start()
    assert calls == []  # the worklist alone does not compute agreement
    at.toggle(key="readers_page").set_value(True).run()
    assert not at.exception
    assert calls and any("Agreement needs two readers" in c.value for c in at.caption)


def test_study_page_mounts_the_engine_with_the_series(env: tuple[Path, SyntheticStudy]) -> None:
    at = _start()
    _open(at, "data/ct_sdh")
    keys = [getattr(e, "key", None) for e in at.main]
    assert "engine" in keys and "series" in keys
    # opening with a reader's name marks the study in progress
    assert any("In progress" in c.value for c in at.caption)


def test_flag_needs_a_point_a_type_and_a_laterality(env: tuple[Path, SyntheticStudy]) -> None:
    db, study = env
    at = _start()
    _open(at, "data/ct_sdh")
    assert at.selectbox(key="f_type").value is None  # no default finding type
    assert at.selectbox(key="f_lat").value is None  # no default laterality
    at.button(key=FLAG).click().run()
    assert any("Not flagged" in i.value for i in at.info)
    _point_at_lesion(at, study)
    assert any("Suggested laterality from the point: Left" in c.value for c in at.caption)
    at.selectbox(key="f_type").select(FindingType.SDH)
    at.button(key=FLAG).click().run()  # laterality still missing
    assert any("Not flagged" in i.value for i in at.info)
    with ReviewStore(db) as store:
        assert store.findings() == []


def test_flag_finding_at_the_point_and_set_outcome(env: tuple[Path, SyntheticStudy]) -> None:
    db, study = env
    at = _start()
    _open(at, "data/ct_sdh")
    ijk = _point_at_lesion(at, study)
    at.selectbox(key="f_type").select(FindingType.SDH)
    at.selectbox(key="f_lat").select(Laterality.LEFT)
    at.radio(key="f_conf").set_value(Confidence.DEFINITE)
    at.text_input(key="f_note").input("left convexity crescent [x](http://e.vil)")
    at.button(key=FLAG).click().run()
    assert not at.exception
    listed = [t for t in _texts(at) if t.startswith("#1 Subdural hemorrhage (SDH) · Left")]
    assert listed and "[x](http://e.vil)" in listed[0]  # shown as plain text, not a link
    # the form is empty again: the next finding needs a new choice
    assert at.selectbox(key="f_type").value is None

    at.selectbox(key="o_outcome").select(Outcome.SECONDARY)
    at.selectbox(key="o_urgency").select(Urgency.CRITICAL)
    at.button(key=SAVE).click().run()
    assert any("Secondary cause suspected · Critical (minutes)" in s.value for s in at.success)

    with ReviewStore(db) as store:
        (key,) = [k for k, r in store.reviews().items() if r.outcome is not None]
        review = store.review(key)
    assert review.status is ReviewStatus.REVIEWED and review.reviewer == "Dr Test"
    (finding,) = review.findings
    dv = DisplayVolume.from_volume(load_nifti(study.nifti))
    assert finding.type is FindingType.SDH and finding.laterality is Laterality.LEFT
    assert finding.confidence is Confidence.DEFINITE
    assert finding.location.xyz_mm == pytest.approx(dv.world(ijk))
    assert finding.location.xyz_mm[0] < 0  # patient's left

    at.button(key="back").click().run()
    texts = _texts(at)
    assert "Reviewed" in texts and "Critical (minutes)" in texts


def test_writes_need_a_reviewer_name(env: tuple[Path, SyntheticStudy]) -> None:
    db, study = env
    at = _start(reviewer=None)
    _open(at, "data/ct_sdh")
    _point_at_lesion(at, study)
    at.selectbox(key="f_type").select(FindingType.SDH)
    at.selectbox(key="f_lat").select(Laterality.LEFT)
    at.button(key=FLAG).click().run()
    assert any("Not flagged" in i.value for i in at.info)
    with ReviewStore(db) as store:
        assert store.findings() == []


def test_next_unread_and_folder_outside_roots(env: tuple[Path, SyntheticStudy]) -> None:
    at = _start()
    at.button(key="next_unread").click().run()
    assert "engine" in [getattr(e, "key", None) for e in at.main]
    at.sidebar.text_input(key="folder").input("../../etc").run()
    assert any("Refused" in e.value and "outside the configured" in e.value for e in at.error)


def test_go_to_and_retract_a_finding(env: tuple[Path, SyntheticStudy]) -> None:
    db, study = env
    at = _start()
    _open(at, "data/ct_sdh")
    ijk = _point_at_lesion(at, study)
    at.selectbox(key="f_type").select(FindingType.SDH)
    at.selectbox(key="f_lat").select(Laterality.LEFT)
    at.button(key=FLAG).click().run()
    at.button(key="goto_1").click().run()
    assert at.session_state["command"]["ijk"] == list(ijk)  # sent to the engine once
    at.text_input(key="retract_reason_1").input("partial volume of bone")
    at.button(key="retract_1").click().run()
    assert not at.exception
    assert any("[retracted: partial volume of bone]" in t for t in _texts(at))
    assert "**Findings** (0 active)" in _texts(at)
    with ReviewStore(db) as store:
        (finding,) = store.findings()
        actions = [row["action"] for row in store.audit()]
    assert finding.retracted and finding.retraction_reason == "partial volume of bone"
    assert actions.count("finding.add") == 1 and actions.count("finding.retract") == 1


def _flag_sdh(at: AppTest, study: SyntheticStudy, note: str = "") -> None:
    _point_at_lesion(at, study)
    at.selectbox(key="f_type").select(FindingType.SDH)
    at.selectbox(key="f_lat").select(Laterality.LEFT)
    at.text_input(key="f_note").input(note)
    at.button(key=FLAG).click().run()
    assert not at.exception


def test_no_acute_with_active_hemorrhage_needs_a_recorded_confirmation(
    env: tuple[Path, SyntheticStudy],
) -> None:
    db, study = env
    at = _start()
    _open(at, "data/ct_sdh")
    _flag_sdh(at, study)
    at.selectbox(key="o_outcome").select(Outcome.NO_ACUTE)
    at.selectbox(key="o_urgency").select(Urgency.ROUTINE)
    at.button(key=SAVE).click().run()
    assert any("contradict" in w.value for w in at.warning)
    with ReviewStore(db) as store:
        assert all(r.outcome is None for r in store.reviews().values())
    at.button(key="confirm_outcome").click().run()
    assert any("No acute intracranial abnormality" in s.value for s in at.success)
    with ReviewStore(db) as store:
        (row,) = [
            a
            for a in store.audit()
            if a["action"] == "study.status" and "confirmed_despite_findings" in str(a["after"])
        ]
    assert "confirmed_despite_findings" in str(row["after"])


def test_outcome_saved_by_another_reader_meanwhile_is_not_replaced_silently(
    env: tuple[Path, SyntheticStudy],
) -> None:
    db, _ = env
    at = _start(reviewer="Dr Late")
    _open(at, "data/ct_sdh")
    at.selectbox(key="o_outcome").select(Outcome.NO_ACUTE)
    at.selectbox(key="o_urgency").select(Urgency.ROUTINE)
    # another reader, on another workstation, saves first
    with ReviewStore(db) as other:
        (key,) = list(other.reviews())
        other.set_status(
            key,
            ReviewStatus.REVIEWED,
            reviewer="Dr Early",
            outcome=Outcome.SECONDARY,
            urgency=Urgency.CRITICAL,
        )
    at.button(key=SAVE).click().run()
    warning = " ".join(w.value for w in at.warning)
    assert "Dr Early" in warning and "UTC" in warning
    with ReviewStore(db) as store:
        review = store.review(key)
    assert (review.outcome, review.reviewer) == (Outcome.SECONDARY, "Dr Early")
    at.button(key="confirm_outcome").click().run()  # "replace their outcome with mine"
    with ReviewStore(db) as store:
        review = store.review(key)
    assert (review.outcome, review.reviewer) == (Outcome.NO_ACUTE, "Dr Late")


def test_identifier_like_notes_are_refused(env: tuple[Path, SyntheticStudy]) -> None:
    db, study = env
    at = _start()
    _open(at, "data/ct_sdh")
    for note in ("DOE^JOHN left SDH", "born 1950-03-02", "MRN 12345678"):
        _flag_sdh(at, study, note)
        assert any("Not flagged" in i.value and "identif" in i.value for i in at.info), note
        assert note not in " ".join(i.value for i in at.info)  # never echoed back
    with ReviewStore(db) as store:
        assert store.findings() == []


def test_names_with_markdown_or_html_are_shown_as_text(env: tuple[Path, SyntheticStudy]) -> None:
    at = _start(reviewer="[x](http://e.vil) <b>bold</b>")
    assert "Reviewing as [x](http://e.vil) <b>bold</b>" in [t.value for t in at.sidebar.text]
    _open(at, "data/ct_sdh")
    at.selectbox(key="o_outcome").select(Outcome.SECONDARY)
    at.selectbox(key="o_urgency").select(Urgency.CRITICAL)
    at.button(key=SAVE).click().run()
    assert any("by [x](http://e.vil) <b>bold</b> at" in t for t in _texts(at))
    assert not any("http://e.vil" in m.value for m in at.markdown)


def test_a_measurement_is_stored_with_the_finding(env: tuple[Path, SyntheticStudy]) -> None:
    db, study = env
    at = _start()
    _open(at, "data/ct_sdh")
    # what the engine's ruler reports (recomputed by the page) lands in the list
    at.session_state["measurements"] = [
        {
            "id": 1,
            "kind": "distance",
            "where": "axial 5",
            "text": "12.6 mm",
            "quantities": [("distance", 12.6)],
        }
    ]
    _point_at_lesion(at, study)
    assert not at.exception, at.exception
    assert "#1 distance (axial 5): 12.6 mm" in [t.value for t in at.text]
    at.selectbox(key="f_type").select(FindingType.SDH)
    at.selectbox(key="f_lat").select(Laterality.LEFT)
    at.selectbox(key="f_measure").set_value(0)
    at.button(key=FLAG).click().run()
    assert not at.exception
    with ReviewStore(db) as store:
        (finding,) = store.findings()
    (measurement,) = finding.measurements
    assert measurement.quantities == (("distance", 12.6),) and measurement.tool == "distance"
    assert any("12.6 mm" in t for t in _texts(at) if t.startswith("#1 Subdural"))


def test_candidates_on_demand_are_labelled_and_listed(env: tuple[Path, SyntheticStudy]) -> None:
    at = _start()
    _open(at, "data/ct_sdh")
    assert any("not a diagnosis" in c.value for c in at.caption)
    at.button(key="run_candidates").click().run()
    assert not at.exception
    assert any(t.startswith("Candidate score") for t in _texts(at))
    assert at.session_state["overlay_url"] == at.session_state["candidates"]["url"]
    if at.session_state["candidates"]["regions"]:
        at.button(key="cand_goto_0").click().run()
        assert (
            at.session_state["command"]["ijk"]
            == at.session_state["candidates"]["regions"][0]["ijk"]
        )


# -- every widget of the study page, in every order that matters -----------------------

Action = Callable[[AppTest], None]


def _widget_actions() -> dict[str, Action]:
    def click(key: str) -> Action:
        def act(at: AppTest) -> None:
            buttons = [b for b in at.button if b.key == key]
            if buttons and not buttons[0].disabled:
                buttons[0].click().run()

        return act

    def select(key: str, pick: int) -> Action:
        def act(at: AppTest) -> None:
            boxes = [s for s in at.selectbox if s.key == key]
            if boxes and boxes[0].options:
                boxes[0].set_value(boxes[0].options[pick % len(boxes[0].options)]).run()

        return act

    def number(key: str, value: float) -> Action:
        def act(at: AppTest) -> None:
            fields = [n for n in at.number_input if n.key == key]
            if fields:
                fields[0].set_value(value).run()

        return act

    def point(at: AppTest) -> None:
        at.session_state["point"] = (3, 4, 2)
        at.run()

    def confirm(at: AppTest) -> None:
        for key in ("confirm_outcome", "cancel_outcome"):
            click(key)(at)

    return {
        "series": select("series", -1),
        "compare": select("compare", -1),
        "point": point,
        "type": select("f_type", 2),
        "laterality": select("f_lat", 1),
        "flag": click(FLAG),
        "outcome": select("o_outcome", 1),
        "urgency": select("o_urgency", -1),
        "save": click(SAVE),
        "confirm": confirm,
        "seed_range": number("seed_low", 20.0),
        "abc": number("abc_a", 30.0),
        "goto": click("goto_1"),
        "retract": click("retract_1"),
        "candidates": click("run_candidates"),
        "next_study": click("study_next_unread"),
        "back": click("back"),
    }


@pytest.fixture(scope="module")
def sample_env(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return sample_data / "dicom", tmp_path_factory.mktemp("apptest")


@pytest.mark.slow
@pytest.mark.parametrize(
    "study",
    ["02_ct_sdh", "05_mr_tumor", "06_ct_tilt_sdh", "stacks", "GE"],
)
def test_no_widget_order_raises(
    study: str,
    sample_env: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    data, _ = sample_env
    if study == "GE":  # the real GE head CT in two tilted segments (it crashed the old page)
        data = request.getfixturevalue("realdata") / "dcm_qa_ct" / "In"
    if study == "stacks":
        from dicomgen import SeriesSpec, write_series

        data = tmp_path / "data"
        axial = SeriesSpec(n=8, description="TWO STACKS")
        coronal = SeriesSpec(
            n=6,
            orientation="coronal",
            description="TWO STACKS",
            study_uid=axial.study_uid,
            series_uid=axial.series_uid,
            frame_uid=axial.frame_uid,
        )
        write_series(data / "stacks", axial)
        write_series(data / "stacks", coronal, names=lambda n: f"COR{n:04d}")
    monkeypatch.setenv("IMAGING_TRIAGE_DATA", str(data))
    monkeypatch.setenv("HOME", str(tmp_path))
    actions = _widget_actions()
    names = list(actions)
    orders = [names, names[::-1]]
    rng = random.Random(study)
    orders += [rng.sample(names, len(names)) for _ in range(2)]
    # the pairs whose order matters most, both ways round
    orders += [list(p) for p in itertools.permutations(["point", "series", "flag"], 3)]
    for n, order in enumerate(orders):
        monkeypatch.setenv("IMAGING_TRIAGE_DB", str(tmp_path / f"r{n}.sqlite"))
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.query_params["reviewer"] = "Dr Order"
        at.run()
        studies = [b for b in at.button if (b.key or "").startswith("open_")]
        source = study if study != "stacks" else "stacks"
        texts = [t.value for t in at.text if t.value.startswith(data.name + "/")]
        studies[next(i for i, t in enumerate(texts) if t.endswith(source))].click().run()
        assert not at.exception, (study, "open", at.exception)
        for name in order:
            actions[name](at)
            assert not at.exception, (study, order, name, at.exception)
