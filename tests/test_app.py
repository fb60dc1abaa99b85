"""The Streamlit page's logic through ``streamlit.testing.v1.AppTest`` (no browser)."""

from __future__ import annotations

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
from imaging_triage.viewer.render import DisplayVolume
from imaging_triage.volume import load_nifti

APP = Path(__file__).resolve().parents[1] / "app.py"


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


def _open(at: AppTest, source: str) -> None:
    texts = [m.value for m in at.markdown]
    assert source in texts, f"{source} not in worklist: {texts}"
    open_buttons = [b for b in at.button if (b.key or "").startswith("open_")]
    order = [t for t in texts if t.startswith("data/")]
    open_buttons[order.index(source)].click().run()
    assert not at.exception


def test_worklist_lists_every_study_with_status(env: tuple[Path, SyntheticStudy]) -> None:
    at = _start(reviewer=None)
    texts = [m.value for m in at.markdown]
    assert "data/ct_sdh" in texts and "data/ct_normal" in texts
    assert texts.count("Unread") == 2
    assert any("never a diagnosis" in c.value for c in at.caption)
    assert any("Enter your name" in w.value for w in at.warning)
    assert "migraine" not in " ".join(texts + [c.value for c in at.caption]).lower()
    # filter by folder text
    at.text_input(key="filter_text").input("normal").run()
    texts = [m.value for m in at.markdown]
    assert "data/ct_normal" in texts and "data/ct_sdh" not in texts


def test_preset_change_sets_width_and_level(env: tuple[Path, SyntheticStudy]) -> None:
    at = _start()
    _open(at, "data/ct_sdh")
    assert at.selectbox(key="preset").value == "brain"
    assert (at.number_input(key="win_w").value, at.number_input(key="win_l").value) == (80.0, 40.0)
    at.selectbox(key="preset").select("subdural").run()
    assert (at.number_input(key="win_w").value, at.number_input(key="win_l").value) == (200.0, 75.0)
    at.selectbox(key="preset").select("bone").run()
    assert (at.number_input(key="win_w").value, at.number_input(key="win_l").value) == (
        2800.0,
        600.0,
    )
    at.number_input(key="win_w").set_value(150.0).run()
    assert at.selectbox(key="preset").value == "custom"
    labels = [c.value for c in at.caption]
    assert "Axial · left R · right L · top A · bottom P" in labels
    assert any("patient's right is on the screen's left" in i.value for i in at.info)


def test_flag_finding_at_crosshair_and_set_outcome(env: tuple[Path, SyntheticStudy]) -> None:
    db, study = env
    at = _start()
    _open(at, "data/ct_sdh")
    dv = DisplayVolume.from_volume(load_nifti(study.nifti))
    i, j, k = dv.from_world(study.lesion_xyz)
    at.slider(key="sl_axial").set_value(k).run()
    at.slider(key="sl_coronal").set_value(j).run()
    at.slider(key="sl_sagittal").set_value(i).run()
    readout = next(m.value for m in at.markdown if m.value.startswith("**Crosshair**"))
    assert "75 HU" in readout  # the lesion's value
    at.selectbox(key="f_type").select(FindingType.SDH)
    at.radio(key="f_conf").set_value(Confidence.DEFINITE)
    at.text_input(key="f_note").input("left convexity crescent")
    # laterality is suggested from the crosshair: the lesion is on the patient's left
    lat = next(s for s in at.selectbox if (s.key or "").startswith("f_lat_"))
    assert lat.value is Laterality.LEFT
    at.button(key="FormSubmitter:flag_finding-Flag finding").click().run()
    assert not at.exception
    assert any("#1 Subdural hemorrhage (SDH) · Left · Definite" in m.value for m in at.markdown)

    at.selectbox(key="o_outcome").select(Outcome.SECONDARY)
    at.selectbox(key="o_urgency").select(Urgency.CRITICAL)
    at.button(key="FormSubmitter:outcome_form-Save outcome").click().run()
    assert any("Secondary cause suspected · Critical (minutes)" in s.value for s in at.success)

    with ReviewStore(db) as store:
        (key,) = [k for k, r in store.reviews().items() if r.outcome is not None]
        review = store.review(key)
    assert review.status is ReviewStatus.REVIEWED and review.reviewer == "Dr Test"
    assert (review.outcome, review.urgency) == (Outcome.SECONDARY, Urgency.CRITICAL)
    (finding,) = review.findings
    assert finding.type is FindingType.SDH and finding.note == "left convexity crescent"
    assert finding.laterality is Laterality.LEFT and finding.confidence is Confidence.DEFINITE
    assert finding.location.xyz_mm == pytest.approx(dv.world((i, j, k)))
    assert finding.location.xyz_mm[0] < 0  # patient's left
    assert finding.reviewer == "Dr Test"

    # back in the worklist the study shows as reviewed with its outcome and urgency
    at.button(key="back").click().run()
    texts = [m.value for m in at.markdown]
    assert "Reviewed" in texts and "Secondary cause suspected" in texts
    assert "Critical (minutes)" in texts


def test_writes_need_a_reviewer_name(env: tuple[Path, SyntheticStudy]) -> None:
    db, _ = env
    at = _start(reviewer=None)
    _open(at, "data/ct_sdh")
    at.button(key="FormSubmitter:flag_finding-Flag finding").click().run()
    assert any("Enter your name" in i.value for i in at.info)
    with ReviewStore(db) as store:
        assert store.findings() == []


def test_next_unread_and_folder_outside_roots(env: tuple[Path, SyntheticStudy]) -> None:
    at = _start()
    at.button(key="next_unread").click().run()
    assert any(h.value.startswith("Study data/") for h in at.subheader)
    at.sidebar.text_input(key="folder").input("../../etc").run()
    assert any("Refused" in e.value and "outside the configured" in e.value for e in at.error)


def test_go_to_and_retract_a_finding(env: tuple[Path, SyntheticStudy]) -> None:
    db, study = env
    at = _start()
    _open(at, "data/ct_sdh")
    dv = DisplayVolume.from_volume(load_nifti(study.nifti))
    i, j, k = dv.from_world(study.lesion_xyz)
    for key, value in (("sl_axial", k), ("sl_coronal", j), ("sl_sagittal", i)):
        at.slider(key=key).set_value(value).run()
    at.button(key="FormSubmitter:flag_finding-Flag finding").click().run()
    at.slider(key="sl_axial").set_value(0).run()
    at.slider(key="sl_sagittal").set_value(0).run()
    at.button(key="goto_1").click().run()
    assert (at.slider(key="sl_sagittal").value, at.slider(key="sl_axial").value) == (i, k)
    at.text_input(key="retract_reason_1").input("partial volume of bone")
    at.button(key="retract_1").click().run()
    assert not at.exception
    assert any("(retracted: partial volume of bone)" in m.value for m in at.markdown)
    assert any(m.value == "**Findings** (0 active)" for m in at.markdown)
    with ReviewStore(db) as store:
        (finding,) = store.findings()
        actions = [row["action"] for row in store.audit()]
    assert finding.retracted and finding.retraction_reason == "partial volume of bone"
    assert actions.count("finding.add") == 1 and actions.count("finding.retract") == 1
