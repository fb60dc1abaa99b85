"""The viewer's PACS panel: search a DICOMweb server, pull a study into the data roots.

Shown only when a PACS URL is configured (``IMAGING_TRIAGE_PACS_URL`` or ``pacs_url`` in
the viewer config): ``make run`` stays offline. Credentials come from the environment
or the PACS config file (:mod:`imaging_triage.pacs.config`), never from the page. A
pulled study lands in ``<first data root>/pacs/`` (inside the data roots, like every
path the viewer reads) and joins the worklist after a rescan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import streamlit as st

from imaging_triage.errors import TriageError
from imaging_triage.markdownsafe import markdown_safe
from imaging_triage.roots import DataRoots

S = st.session_state


def pacs_panel(url: str, roots: DataRoots, rescan: Callable[[], None]) -> None:
    """Search form, the matching studies, and a *Pull* button per study."""
    from imaging_triage.pacs.api import StudyQuery, list_studies

    with st.expander("PACS: find and pull studies", expanded=bool(S.get("pacs_results"))):
        st.caption(f"DICOMweb server {markdown_safe(url)}. Pulled studies go to the data folder.")
        with st.form("pacs_search"):
            c1, c2, c3 = st.columns([1.2, 1, 2])
            since = c1.date_input("Since", value=None, key="pacs_since")
            modality = c2.selectbox("Modality", ["", "CT", "MR"], key="pacs_modality")
            text = c3.text_input("Description contains (e.g. HEAD)", key="pacs_text")
            searched = st.form_submit_button("Search the PACS")
        if searched:
            query = StudyQuery(
                since=since if isinstance(since, dt.date) else None,
                modality=str(modality or ""),
                description=str(text or "").strip(),
            )
            try:
                S["pacs_results"] = [s.as_dict() for s in list_studies(url, query)]
            except TriageError as err:
                S["pacs_results"] = []
                st.error(f"PACS search failed: {markdown_safe(err.reason)}")
        results = S.get("pacs_results") or []
        if searched and not results:
            st.caption("No study matches.")
        for n, study in enumerate(results):
            cols = st.columns([1.2, 3, 1, 1.2, 1])
            cols[0].text(str(study.get("date", "")))
            cols[1].text(str(study.get("description", "")) or "(no description)")
            cols[2].text("/".join(study.get("modalities", ())))
            cols[3].text(f"{study.get('series', 0)} series, {study.get('instances', 0)} images")
            if cols[4].button("Pull", key=f"pacs_pull_{n}"):
                _pull(url, str(study["study_uid"]), roots, rescan)


def _pull(url: str, study_uid: str, roots: DataRoots, rescan: Callable[[], None]) -> None:
    """Pull one study with a progress bar, then rescan so it joins the worklist."""
    from imaging_triage.pacs.api import pull_into_root

    bar = st.progress(0.0, text="Pulling…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{done} of {total} images")

    try:
        pulled = pull_into_root(url, study_uid, roots, progress=progress)
    except TriageError as err:
        st.error(f"Pull failed: {markdown_safe(err.reason)}")
        return
    bar.progress(1.0, text="Pulled.")
    rescan()
    S["flash"] = (
        f"Pulled {pulled.fetched} new image(s), {pulled.already_present} already here; "
        "the study is in the worklist."
    )
    st.rerun()
