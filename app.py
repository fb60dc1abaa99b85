"""imaging-triage review viewer: the Streamlit page (widgets and layout only).

Run ``make run``, or ``streamlit run app.py -- --data DIR [--data DIR2] [--db FILE]``.
Images are drawn by the in-browser engine (``imaging_triage/viewer/engine.js``); the
rules (review workflow, session state, measurements) live in the ``imaging_triage``
package. See docs/viewer.md.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import streamlit as st

from imaging_triage.errors import ConfigError, TriageError
from imaging_triage.review.store import ReviewStore
from imaging_triage.roots import DataRoots, resolve_settings
from imaging_triage.viewer import components, reading_panel, session, warmup
from imaging_triage.viewer import panels as ui
from imaging_triage.viewer.candidates_panel import candidates_panel, prior_series
from imaging_triage.viewer.engine import EngineData, EngineSeries, image_engine
from imaging_triage.viewer.hanging import default_series
from imaging_triage.viewer.hostcheck import host_refusal
from imaging_triage.viewer.loader import OpenSeries, open_series
from imaging_triage.viewer.pacs_panel import pacs_panel
from imaging_triage.viewer.volume_server import VolumeServer
from imaging_triage.viewer.worklist import Study, find_studies, neighbour, next_unread

APP_DIR = Path(__file__).resolve().parent
logger = logging.getLogger("imaging_triage.app")
S = st.session_state


@st.cache_resource(show_spinner=False)
def get_store(db: str) -> ReviewStore:
    """One store per database for the server process (one connection per thread)."""
    return ReviewStore(db)


@st.cache_resource(show_spinner=False)
def warm_up() -> object:
    """Import what a study open needs, once per server process, in the background."""
    return warmup.start()


@st.cache_resource(show_spinner="Scanning the data folders…", ttl=900)
def get_studies(roots: tuple[str, ...]) -> list[Study]:
    """Studies under the roots (headers only); rescanned on demand or every 15 minutes."""
    return find_studies(DataRoots.from_paths(list(roots)))


@st.cache_resource(show_spinner="Opening the series…", max_entries=6)
def get_series(cache_key: str, _record: object) -> tuple[OpenSeries, str]:
    """A decoded, reoriented series and the URL the engine streams it from."""
    opened = open_series(_record)  # type: ignore[arg-type]
    return opened, VolumeServer.start().publish(opened.wire)


def open_study(key: str | None) -> None:
    """Show study ``key`` (None: back to the worklist); the view starts afresh."""
    session.reset_study(S)
    S["study"] = key
    for name in session.VIEW_PARAMS:
        st.query_params.pop(name, None)
    if key is None:
        st.query_params.pop("study", None)
    else:
        st.query_params["study"] = key


def on_nav_key() -> None:
    """Study navigation keys ([ ] n) from the keyboard component."""
    event = components.event_value(S.get("keys"), "key")
    action = event.get("action") if isinstance(event, dict) else None
    studies: list[Study] = S.get("_studies", [])
    if action in ("next_study", "prev_study") and studies:
        target = neighbour(studies, S["study"], 1 if action == "next_study" else -1)
        open_study(target.key if target else None)
    elif action == "next_unread":
        target = next_unread(studies, S["_store"].reviews(), after=S["study"])
        if target is None:
            S["flash"] = "No unread study left."
        else:
            open_study(target.key)


def study_view(
    study: Study,
    studies: list[Study],
    store: ReviewStore,
    reading: dict[str, object],
    teaching: reading_panel.TeachingSetup,
) -> None:
    """One study: navigation, series, the engine, findings, measurements and outcome."""
    nav = st.columns([1, 1.1, 1, 1.2, 5])
    nav[0].button("← Worklist", on_click=open_study, args=(None,), key="back")
    prev_s, next_s = neighbour(studies, study.key, -1), neighbour(studies, study.key, 1)
    nav[1].button("◀ Previous", on_click=open_study, args=(prev_s.key if prev_s else None,))
    nav[2].button("Next ▶", on_click=open_study, args=(next_s.key if next_s else None,))
    unread = next_unread(studies, store.reviews(), after=study.key)
    nav[3].button(
        "Next unread (n)",
        on_click=open_study,
        args=(unread.key if unread else None,),
        disabled=unread is None,
        key="study_next_unread",
    )
    nav[4].markdown(f"**{ui.plain(study.source)}** · {study.modality}")
    usable = study.usable
    if not usable:
        st.warning("This study has no series that can be shown as a volume.")
        return
    by_key = {r.key: r for r in usable}
    if S["series"] not in by_key:
        wanted = st.query_params.get("series")
        best = default_series(usable)
        S["series"] = wanted if wanted in by_key else (best.key if best else usable[0].key)
    cols = st.columns([3, 2])
    cols[0].selectbox(
        "Series (default chosen by the hanging protocol)",
        list(by_key),
        format_func=lambda k: ui.series_label(by_key[k]),
        key="series",
        on_change=session.reset_series,
        args=(S,),
    )
    record = by_key[S["series"]]
    try:
        opened, url = get_series(f"{record.key}|{record.files[0]}", record)
    except TriageError as err:
        st.error(f"This series cannot be shown: {ui.plain(err.reason)}")
        return
    compare = ui.compare_picker(cols[1], study, studies, get_series)
    mode = reading_panel.study_mode(study, reading)
    setup = reading_panel.open_study_read(store, study, S["reviewer"], mode)
    if S["initial_view"] is None:
        S["initial_view"] = session.view_from_params(st.query_params, opened.volume.shape)
    for note in opened.volume.notes + list(opened.volume.info.corrections):
        st.caption(f"Note: {ui.plain(note)}")
    warning = ui.qc_warning(record)
    if warning:
        st.warning(ui.plain(warning))
    if setup.refusal:
        st.warning(setup.refusal)
    review = setup.review
    data = EngineData(
        series=EngineSeries(record.key, ui.series_label(record), url, opened),
        view=S["initial_view"],
        markers=ui.markers(review, record, opened),
        compare=compare,
        overlay_url=S["overlay_url"],
        command=S["command"],
    )
    image_engine(
        data,
        key="engine",
        on_point=ui.on_point,
        on_measure=ui.on_measure(opened),
        on_seed=ui.on_seed(opened),
    )
    left, right = st.columns([3, 2])
    with left:
        if not setup.refusal:
            ui.finding_form(study, record, opened, store, setup)
        ui.findings_list(review, opened, store)
    with right:
        other = next((s for s in studies if s.key == S.get("compare")), None)
        prior = prior_series(
            study.study_date,
            other.study_date if other is not None else "",
            compare.opened if compare is not None else None,
        )
        candidates_panel(opened, record, prior)
        ui.measurements_panel(opened)
        reading_panel.double_read_panel(setup)
        if not setup.refusal:
            ui.outcome_panel(study, store, review, setup)
        reading_panel.teaching_panel(store, study, S["reviewer"], teaching)


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
    st.html("<style>.block-container{padding-top:1.2rem;padding-bottom:1rem}</style>")
    session.ensure(S)
    warm_up()
    try:
        settings = resolve_settings(sys.argv[1:], os.environ, default_data=default_data())
        roots = DataRoots.from_paths(settings.data)
    except ConfigError as err:
        st.error(str(err))
        st.stop()
    assert settings.db is not None
    db = settings.db.resolve() if isinstance(settings.db, Path) else settings.db
    store = get_store(str(db))
    S["_store"] = store
    if not S["reviewer"] and st.query_params.get("reviewer"):
        S["reviewer"] = str(st.query_params["reviewer"])[:80]
    if S["study"] is None and st.query_params.get("study"):
        S["study"] = st.query_params["study"]
    samples = {(APP_DIR / "sample_data").resolve(), (APP_DIR / "sample_data" / "dicom").resolve()}
    on_samples = any(root.resolve() in samples for root in roots.roots)
    sample_truth = APP_DIR / "sample_data" / "ground_truth"
    teaching = reading_panel.TeachingSetup(
        truth=settings.teaching_truth or (sample_truth if on_samples else None),
        reference=settings.teaching_reference,
    )
    shown = ui.sidebar(roots, settings.source, store.where, rescan=get_studies.clear)
    studies = get_studies(tuple(str(r) for r in shown.roots))
    S["_studies"] = studies
    components.keyboard(key="keys", on_key=on_nav_key)
    current = {s.key: s for s in studies}.get(S["study"] or "")
    if current is None:
        st.title("Headache imaging triage: review")
    st.caption(ui.DISCLAIMER)
    if not S["reviewer"]:
        st.warning("Enter your name in the sidebar: it is stamped on every finding and outcome.")
    flash = S["flash"]
    if flash:
        S["flash"] = None
        st.info(flash)
    if current is None:
        if S["study"]:
            st.warning("That study is not under the data folders any more; back to the worklist.")
            open_study(None)
        if settings.pacs_url:
            pacs_panel(settings.pacs_url, roots, get_studies.clear)
        reviews, reads = reading_panel.worklist_reading(
            store, store.reviews(), studies, S["reviewer"], settings.reading
        )
        ui.worklist_view(studies, reviews, open_study, reads=reads)
        # computed over the whole database only when asked (an expander's body runs
        # on every rerun even when closed)
        if st.toggle("Readers: agreement and teaching", key="readers_page"):
            reading_panel.readers_page(store, teaching)
    else:
        study_view(current, studies, store, settings.reading, teaching)


main()
