"""imaging-triage review viewer: the Streamlit page (widgets and layout only).

Run ``make run``, or ``streamlit run app.py -- --data DIR [--data DIR2] [--db FILE]``.
Data folders can also come from ``IMAGING_TRIAGE_DATA`` or a config file; see
docs/viewer.md. Everything else (rendering, windowing, worklist, review store) lives in
the ``imaging_triage`` package.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import streamlit as st

from imaging_triage.errors import ConfigError, PathOutsideRootError, TriageError
from imaging_triage.ingest import SeriesRecord
from imaging_triage.review.findings import (
    Confidence,
    Finding,
    FindingType,
    Laterality,
    Location,
    Outcome,
    ReviewStatus,
    Urgency,
    laterality_from_x,
)
from imaging_triage.review.store import ReviewStore
from imaging_triage.roots import DataRoots, resolve_settings
from imaging_triage.viewer import components
from imaging_triage.viewer.hanging import default_series
from imaging_triage.viewer.hostcheck import host_refusal
from imaging_triage.viewer.loader import OpenSeries, open_series
from imaging_triage.viewer.render import CONVENTION, Plane, fraction_to_voxel, render_slice
from imaging_triage.viewer.window import Preset, Window
from imaging_triage.viewer.worklist import (
    SortKey,
    Study,
    find_studies,
    neighbour,
    next_unread,
    worklist_rows,
)

APP_DIR = Path(__file__).resolve().parent
DISCLAIMER = (
    "For review by a qualified reader. Anything automated or derived shown here is a "
    "candidate for human review, never a diagnosis; the reader's findings and outcome are "
    "the record."
)
PLANES = (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)
#: session-state key of each plane's slice slider; together they are the crosshair voxel
SLIDER = {Plane.SAGITTAL: "sl_sagittal", Plane.CORONAL: "sl_coronal", Plane.AXIAL: "sl_axial"}
CUSTOM = "custom"
PERCENTILE = "percentile"
STUDY_STATE = ("series", "preset", "win_w", "win_l", *SLIDER.values())

logger = logging.getLogger("imaging_triage.app")


# -- cached resources ------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def get_store(db: str) -> ReviewStore:
    """One store per database file for the server process (one connection per thread)."""
    return ReviewStore(db)


@st.cache_resource(show_spinner="Scanning the data folders…", ttl=900)
def get_studies(roots: tuple[str, ...]) -> list[Study]:
    """Studies under the roots (headers only); rescanned on demand or every 15 minutes."""
    return find_studies(DataRoots.from_paths(list(roots)))


@st.cache_resource(show_spinner="Opening the series…", max_entries=4)
def get_series(cache_key: str, _record: SeriesRecord) -> OpenSeries:
    """A decoded, reoriented series; decoded once per server process."""
    return open_series(_record)


# -- state helpers (called from widget callbacks) ---------------------------------------


def _reset_study_state() -> None:
    for key in STUDY_STATE:
        st.session_state.pop(key, None)


def open_study(key: str | None) -> None:
    """Show study ``key`` (None: back to the worklist)."""
    _reset_study_state()
    st.session_state["study"] = key
    if key is None:
        st.query_params.pop("study", None)
    else:
        st.query_params["study"] = key


def set_reviewer() -> None:
    """Take the reviewer's name from the sidebar field."""
    name = str(st.session_state.get("reviewer_input", "")).strip()
    if name:
        st.session_state["reviewer"] = name
        st.query_params["reviewer"] = name


def clear_reviewer() -> None:
    """Forget the reviewer's name (asked again)."""
    st.session_state.pop("reviewer", None)
    st.query_params.pop("reviewer", None)


def set_crosshair(ijk: tuple[int, int, int]) -> None:
    """Move all three views to canonical voxel ``ijk``."""
    st.session_state[SLIDER[Plane.SAGITTAL]] = int(ijk[0])
    st.session_state[SLIDER[Plane.CORONAL]] = int(ijk[1])
    st.session_state[SLIDER[Plane.AXIAL]] = int(ijk[2])


def crosshair() -> tuple[int, int, int]:
    """The current crosshair voxel (canonical indices)."""
    return (
        int(st.session_state[SLIDER[Plane.SAGITTAL]]),
        int(st.session_state[SLIDER[Plane.CORONAL]]),
        int(st.session_state[SLIDER[Plane.AXIAL]]),
    )


def apply_preset() -> None:
    """Copy the chosen preset's width/level into the W/L fields."""
    preset = st.session_state.get("preset")
    if preset in {p.value for p in Preset}:
        window = Preset(preset).window
        st.session_state["win_w"], st.session_state["win_l"] = window.width, window.level
    elif preset == PERCENTILE and "default_window" in st.session_state:
        window = st.session_state["default_window"]
        st.session_state["win_w"], st.session_state["win_l"] = window.width, window.level


def custom_window() -> None:
    """W or L typed by hand: the window is now custom."""
    st.session_state["preset"] = CUSTOM


# -- page parts ---------------------------------------------------------------------------


def sidebar(roots: DataRoots, settings_source: str, db: Path) -> DataRoots:
    """Reviewer name, folder choice and settings; returns the roots to list."""
    with st.sidebar:
        st.header("Reader")
        reviewer = st.session_state.get("reviewer")
        if reviewer:
            st.write(f"Reviewing as **{reviewer}**")
            st.button("Change reader", on_click=clear_reviewer)
        else:
            st.text_input("Your name (stamped on every finding and outcome)", key="reviewer_input")
            st.button("Start reviewing", on_click=set_reviewer, type="primary")
        st.header("Data")
        folder = st.text_input(
            "Folder (inside the data folders)",
            key="folder",
            help="Narrow the worklist to one folder; paths outside the data folders are refused.",
        )
        shown = roots
        if folder.strip():
            try:
                chosen = roots.resolve(folder.strip())
                if not chosen.is_dir():
                    raise PathOutsideRootError(
                        "not a folder under the data folders; type an existing folder",
                        path=folder.strip(),
                    )
                shown = DataRoots((chosen,))
            except PathOutsideRootError as err:
                st.error(f"Refused: {err.reason}")
        if st.button("Rescan folders"):
            get_studies.clear()
        st.caption(
            "Data folders: "
            + ", ".join(f"`{r}`" for r in roots.roots)
            + f" (from {settings_source}). Review database: `{db}`."
        )
        st.caption(
            "Keys: ↑/↓ or k/j previous/next slice, [ / ] previous/next study, n next unread."
        )
    return shown


def on_key() -> None:
    """Keyboard navigation (runs before the rerun)."""
    event = components.event_value(st.session_state.get("keys"), "key")
    action = event.get("action") if isinstance(event, dict) else None
    studies: list[Study] = st.session_state.get("_studies", [])
    current = st.session_state.get("study")
    if action in ("next_slice", "prev_slice") and SLIDER[Plane.AXIAL] in st.session_state:
        limit = int(st.session_state.get("_n_axial", 1)) - 1
        step = 1 if action == "next_slice" else -1
        value = int(st.session_state[SLIDER[Plane.AXIAL]]) + step
        st.session_state[SLIDER[Plane.AXIAL]] = min(max(value, 0), limit)
    elif action in ("next_study", "prev_study") and studies:
        target = neighbour(studies, current, 1 if action == "next_study" else -1)
        open_study(target.key if target else None)
    elif action == "next_unread":
        store: ReviewStore = st.session_state["_store"]
        target = next_unread(studies, store.reviews(), after=current)
        if target is not None:
            open_study(target.key)
        else:
            st.session_state["flash"] = "No unread study left."


def worklist_view(studies: list[Study], store: ReviewStore) -> None:
    """The table of studies with filters, sort and 'next unread'."""
    st.subheader("Worklist")
    reviews = store.reviews()
    c1, c2, c3, c4 = st.columns([3, 1.2, 2, 1.5])
    statuses = c1.multiselect(
        "Status",
        list(ReviewStatus),
        default=list(ReviewStatus),
        format_func=lambda s: s.label,
        key="filter_status",
    )
    modality = c2.selectbox("Modality", ["All", "CT", "MR"], key="filter_modality")
    text = c3.text_input("Folder contains", key="filter_text")
    sort = c4.selectbox(
        "Sort by", list(SortKey), format_func=lambda s: s.value.capitalize(), key="sort"
    )
    rows = worklist_rows(
        studies,
        reviews,
        sort=sort or SortKey.URGENCY,
        statuses=statuses,
        modality=None if modality == "All" else modality,
        text=text,
    )
    target = next_unread(studies, reviews)
    st.button(
        "Next unread study (n)",
        on_click=open_study,
        args=(target.key if target else None,),
        disabled=target is None,
        type="primary",
        key="next_unread",
    )
    st.caption(f"{len(rows)} of {len(studies)} studies shown.")
    widths = [3.5, 1, 0.8, 1.2, 2.6, 1.4, 1.4, 0.9]
    head = st.columns(widths)
    for col, name in zip(
        head,
        ["Study", "Modality", "Series", "Status", "Outcome", "Urgency", "Reader", "Open"],
        strict=True,
    ):
        col.markdown(f"**{name}**")
    for row in rows:
        cols = st.columns(widths)
        cols[0].write(row.source)
        cols[1].write(row.modality)
        cols[2].write(str(row.series))
        cols[3].write(row.status.label)
        cols[4].write(row.outcome or "–")
        cols[5].write(row.urgency or "–")
        cols[6].write(row.reviewer or "–")
        cols[7].button(
            "Open",
            key=f"open_{row.key}",
            on_click=open_study,
            args=(row.key,),
            disabled=not row.series,
        )


def _series_changed() -> None:
    for key in STUDY_STATE:
        if key != "series":
            st.session_state.pop(key, None)


def series_label(record: SeriesRecord) -> str:
    """One line naming a series (number, description, modality, shape)."""
    number = f"#{record.series_number} " if record.series_number is not None else ""
    shape = "×".join(str(s) for s in record.shape) if record.shape else "?"
    return f"{number}{record.description or record.input} · {record.modality or 'NIfTI'} · {shape}"


def study_view(study: Study, studies: list[Study], store: ReviewStore) -> None:
    """One study: navigation, series, the three views, findings and outcome."""
    reviewer = st.session_state.get("reviewer", "")
    nav = st.columns([1.2, 1.2, 1.2, 1.4, 4])
    nav[0].button("← Worklist", on_click=open_study, args=(None,), key="back")
    prev_s, next_s = neighbour(studies, study.key, -1), neighbour(studies, study.key, 1)
    nav[1].button("◀ Previous study", on_click=open_study, args=(prev_s.key if prev_s else None,))
    nav[2].button("Next study ▶", on_click=open_study, args=(next_s.key if next_s else None,))
    unread = next_unread(studies, store.reviews(), after=study.key)
    nav[3].button(
        "Next unread (n)",
        on_click=open_study,
        args=(unread.key if unread else None,),
        disabled=unread is None,
        key="study_next_unread",
    )
    st.subheader(f"Study {study.source}")
    st.caption(f"Key `{study.key}` · {study.modality} · {len(study.usable)} series")
    usable = study.usable
    if not usable:
        st.warning("This study has no series that can be shown as a volume.")
        return
    keys = [r.key for r in usable]
    if st.session_state.get("series") not in keys:
        best = default_series(usable)
        st.session_state["series"] = best.key if best else keys[0]
    by_key = {r.key: r for r in usable}

    def label(key: str) -> str:
        return series_label(by_key[key])

    st.selectbox(
        "Series (default chosen by the hanging protocol)",
        keys,
        format_func=label,
        key="series",
        on_change=_series_changed,
    )
    record = by_key[st.session_state["series"]]
    try:
        opened = get_series(f"{record.key}|{record.files[0]}", record)
    except TriageError as err:
        st.error(f"This series cannot be shown: {err.reason}")
        return
    dv = opened.volume
    if SLIDER[Plane.AXIAL] not in st.session_state:
        set_crosshair(dv.center())
        st.session_state["default_window"] = opened.window
        st.session_state["preset"] = Preset.BRAIN.value if opened.is_ct else PERCENTILE
        st.session_state["win_w"], st.session_state["win_l"] = (
            opened.window.width,
            opened.window.level,
        )
    st.session_state["_n_axial"] = dv.n_slices(Plane.AXIAL)
    for note in dv.notes + list(dv.info.corrections):
        st.caption(f"Note: {note}")
    if reviewer and store.review(study.key).status is ReviewStatus.UNREAD:
        store.register_study(study.key, study_uid=study.study_uid, source=study.source)
        store.set_status(study.key, ReviewStatus.IN_PROGRESS, reviewer=reviewer)
    image_panel(study, record, opened, store)
    outcome_panel(study, store)


@st.fragment
def image_panel(study: Study, record: SeriesRecord, opened: OpenSeries, store: ReviewStore) -> None:
    """Window controls, three linked views, the crosshair read-out and the findings."""
    dv = opened.volume
    flash = st.session_state.pop("flash", None)
    if flash:
        st.info(flash)
    st.info(CONVENTION)
    presets = [p.value for p in Preset] if opened.is_ct else [PERCENTILE]
    c1, c2, c3 = st.columns([2, 1, 1])
    c1.selectbox(
        "Window",
        [*presets, CUSTOM],
        format_func=lambda v: (
            Preset(v).label
            if v in {p.value for p in Preset}
            else "Percentile 1–99 (MR default)"
            if v == PERCENTILE
            else "Custom"
        ),
        key="preset",
        on_change=apply_preset,
    )
    c2.number_input("Width", min_value=1.0, step=10.0, key="win_w", on_change=custom_window)
    c3.number_input("Level", step=5.0, key="win_l", on_change=custom_window)
    window = Window(float(st.session_state["win_w"]), float(st.session_state["win_l"]))
    review = store.review(study.key)
    markers = [
        dv.from_world(f.location.xyz_mm)
        for f in review.findings
        if not f.retracted and f.location.series_uid in (record.series_uid, record.key)
    ]
    cross = crosshair()
    columns = st.columns(3)
    for plane, col in zip(PLANES, columns, strict=True):
        with col:
            n = dv.n_slices(plane)
            st.slider(
                f"{plane.value.capitalize()} slice (of {n})",
                min_value=0,
                max_value=max(n - 1, 1),
                key=SLIDER[plane],
                disabled=n <= 1,
            )
            index = int(st.session_state[SLIDER[plane]])
            image = render_slice(dv, plane, index, window, crosshair=cross, markers=markers)
            labels = image.labels
            components.clickable_image(
                image.png(),
                key=f"view_{plane.value}",
                plane=plane.value,
                index=index,
                width=image.rgb.shape[1],
                alt=f"{plane.value} slice {index}: screen left {labels['left']}, "
                f"right {labels['right']}, top {labels['top']}, bottom {labels['bottom']}",
                on_click=_click_handler(opened, plane),
            )
            st.caption(
                f"{plane.value.capitalize()} · left {labels['left']} · right {labels['right']}"
                f" · top {labels['top']} · bottom {labels['bottom']}"
            )
    xyz = dv.world(cross)
    src = dv.source_index(cross)
    unit = " HU" if opened.is_ct else ""
    st.markdown(
        f"**Crosshair** voxel ({src[0]}, {src[1]}, {src[2]}) · RAS "
        f"({xyz[0]:.1f}, {xyz[1]:.1f}, {xyz[2]:.1f}) mm · value **{dv.value(cross):.0f}{unit}**"
    )
    findings_form(study, record, opened, store)
    findings_list(study, opened, store)


def _click_handler(opened: OpenSeries, plane: Plane) -> Any:
    def handler() -> None:
        click = components.event_value(st.session_state.get(f"view_{plane.value}"), "click")
        if not isinstance(click, dict):
            return
        index = int(st.session_state[SLIDER[plane]])
        ijk = fraction_to_voxel(opened.volume, plane, index, float(click["fx"]), float(click["fy"]))
        set_crosshair(ijk)

    return handler


def findings_form(
    study: Study, record: SeriesRecord, opened: OpenSeries, store: ReviewStore
) -> None:
    """Flag a finding at the crosshair."""
    dv = opened.volume
    cross = crosshair()
    xyz = dv.world(cross)
    centre_x = dv.world(dv.center())[0]
    suggested = laterality_from_x(xyz[0] - centre_x)
    lateralities = list(Laterality)
    with st.form("flag_finding", clear_on_submit=True):
        st.markdown(f"**Flag a finding** at RAS ({xyz[0]:.1f}, {xyz[1]:.1f}, {xyz[2]:.1f}) mm")
        c1, c2, c3 = st.columns([2.5, 1.2, 1.6])
        c1.selectbox("Finding", list(FindingType), format_func=lambda t: t.label, key="f_type")
        c2.selectbox(
            "Laterality (patient's side)",
            lateralities,
            index=lateralities.index(suggested),
            format_func=lambda v: v.label,
            key=f"f_lat_{suggested.value}",
        )
        c3.radio(
            "Confidence",
            list(Confidence),
            format_func=lambda v: v.label,
            horizontal=True,
            key="f_conf",
        )
        st.text_input("Note (no patient identifiers)", key="f_note")
        st.form_submit_button(
            "Flag finding",
            on_click=_flag,
            args=(study, record, opened, f"f_lat_{suggested.value}", store),
            type="primary",
        )


def _flag(
    study: Study, record: SeriesRecord, opened: OpenSeries, lat_key: str, store: ReviewStore
) -> None:
    reviewer = st.session_state.get("reviewer", "")
    if not reviewer:
        st.session_state["flash"] = "Enter your name in the sidebar before flagging findings."
        return
    dv = opened.volume
    cross = crosshair()
    finding = Finding(
        study_key=study.key,
        type=st.session_state["f_type"],
        location=Location(
            xyz_mm=dv.world(cross),
            ijk=dv.source_index(cross),
            series_uid=record.series_uid or record.key,
        ),
        laterality=st.session_state[lat_key],
        confidence=st.session_state["f_conf"],
        note=str(st.session_state.get("f_note", "")).strip(),
        reviewer=reviewer,
    )
    store.register_study(study.key, study_uid=study.study_uid, source=study.source)
    stored = store.add_finding(finding)
    st.session_state["flash"] = f"Finding {stored.id} flagged: {stored.type.label}."


def findings_list(study: Study, opened: OpenSeries, store: ReviewStore) -> None:
    """The study's findings, with jump-to and retract."""
    review = store.review(study.key)
    st.markdown(f"**Findings** ({sum(not f.retracted for f in review.findings)} active)")
    if not review.findings:
        st.caption("No finding flagged yet.")
    for f in review.findings:
        x, y, z = f.location.xyz_mm
        text = (
            f"#{f.id} {f.type.label} · {f.laterality.label} · {f.confidence.label} · "
            f"RAS ({x:.1f}, {y:.1f}, {z:.1f}) mm · {f.note or 'no note'} · {f.reviewer}"
        )
        cols = st.columns([6, 1, 1.2])
        if f.retracted:
            cols[0].markdown(f"~~{text}~~ (retracted: {f.retraction_reason or 'no reason'})")
        else:
            cols[0].write(text)
        cols[1].button(
            "Go to",
            key=f"goto_{f.id}",
            on_click=set_crosshair,
            args=(opened.volume.from_world(f.location.xyz_mm),),
        )
        if not f.retracted:
            with cols[2].popover("Retract"):
                st.text_input("Reason", key=f"retract_reason_{f.id}")
                st.button(
                    "Confirm retraction",
                    key=f"retract_{f.id}",
                    on_click=_retract,
                    args=(f.id, store),
                )


def _retract(finding_id: int, store: ReviewStore) -> None:
    reviewer = st.session_state.get("reviewer", "")
    if not reviewer:
        st.session_state["flash"] = "Enter your name in the sidebar before retracting."
        return
    reason = str(st.session_state.get(f"retract_reason_{finding_id}", "")).strip()
    store.retract_finding(finding_id, reviewer=reviewer, reason=reason)
    st.session_state["flash"] = f"Finding {finding_id} retracted (kept in the audit trail)."


def outcome_panel(study: Study, store: ReviewStore) -> None:
    """The study's triage outcome and urgency."""
    review = store.review(study.key)
    st.markdown("**Study outcome**")
    status = review.status.label
    if review.outcome is not None:
        urgency = review.urgency.label if review.urgency else "no urgency set"
        st.success(
            f"{status}: {review.outcome.label} · {urgency} · by {review.reviewer}"
            f" at {review.updated_at[:16].replace('T', ' ')} UTC"
        )
    else:
        st.caption(f"Status: {status}; no outcome recorded yet.")
    outcomes: list[Outcome | None] = [None, *Outcome]
    urgencies: list[Urgency | None] = [None, *Urgency]
    with st.form("outcome_form"):
        c1, c2 = st.columns([2, 1])
        c1.selectbox(
            "Outcome",
            outcomes,
            index=outcomes.index(review.outcome),
            format_func=lambda o: o.label if o else "— choose —",
            key="o_outcome",
        )
        c2.selectbox(
            "Urgency",
            urgencies,
            index=urgencies.index(review.urgency),
            format_func=lambda u: u.label if u else "— choose —",
            key="o_urgency",
        )
        st.form_submit_button("Save outcome", on_click=_save_outcome, args=(study, store))


def _save_outcome(study: Study, store: ReviewStore) -> None:
    reviewer = st.session_state.get("reviewer", "")
    outcome, urgency = st.session_state.get("o_outcome"), st.session_state.get("o_urgency")
    if not reviewer:
        st.session_state["flash"] = "Enter your name in the sidebar before saving an outcome."
        return
    if outcome is None or urgency is None:
        st.session_state["flash"] = "Choose both an outcome and an urgency."
        return
    store.register_study(study.key, study_uid=study.study_uid, source=study.source)
    store.set_status(
        study.key, ReviewStatus.REVIEWED, reviewer=reviewer, outcome=outcome, urgency=urgency
    )
    st.session_state["flash"] = "Outcome saved."


def default_data() -> Path:
    """``sample_data/dicom`` beside this file (the sample studies without their truth)."""
    dicom = APP_DIR / "sample_data" / "dicom"
    return dicom if dicom.is_dir() else APP_DIR / "sample_data"


def main() -> None:
    """Lay out the page."""
    st.set_page_config(page_title="imaging-triage review", layout="wide")
    refusal = host_refusal(st.context.headers, st.get_option("server.address"))
    if refusal:  # DNS rebinding: nothing but the refusal (SECURITY.md)
        st.error(refusal)
        st.stop()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    st.title("Headache imaging triage: review")
    st.caption(DISCLAIMER)
    try:
        settings = resolve_settings(sys.argv[1:], os.environ, default_data=default_data())
        roots = DataRoots.from_paths(settings.data)
    except ConfigError as err:
        st.error(str(err))
        st.stop()
    assert settings.db is not None
    db = settings.db.resolve()
    store = get_store(str(db))
    st.session_state["_store"] = store
    params = st.query_params
    if "reviewer" not in st.session_state and params.get("reviewer"):
        st.session_state["reviewer"] = params["reviewer"]
    if "study" not in st.session_state:
        st.session_state["study"] = params.get("study")

    shown = sidebar(roots, settings.source, db)
    studies = get_studies(tuple(str(r) for r in shown.roots))
    st.session_state["_studies"] = studies
    components.keyboard(key="keys", on_key=on_key)
    if not st.session_state.get("reviewer"):
        st.warning("Enter your name in the sidebar: it is stamped on every finding and outcome.")
    flash = st.session_state.pop("flash", None)
    if flash:
        st.toast(flash)
        st.info(flash)
    current = {s.key: s for s in studies}.get(st.session_state.get("study") or "")
    if current is None:
        if st.session_state.get("study"):
            st.warning("That study is not under the data folders any more; back to the worklist.")
            open_study(None)
        worklist_view(studies, store)
    else:
        study_view(current, studies, store)


main()
