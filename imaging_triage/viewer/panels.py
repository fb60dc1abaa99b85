"""The parts of the review page around the image engine (Streamlit widgets).

``app.py`` lays the page out; these functions draw its panels and handle their
callbacks. The rules they apply (who may save what, confirmations, conflicts, which text
is refused) come from :mod:`imaging_triage.review.workflow`; measurements from
:mod:`imaging_triage.viewer.measure`; session keys are those of
:mod:`imaging_triage.viewer.session`. Text typed by readers (names, notes) is always
shown as plain text (``st.text``) or escaped (:func:`plain`), never as Markdown or HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from imaging_triage.errors import (
    ConfirmationRequiredError,
    OutcomeConflictError,
    PathOutsideRootError,
    TriageError,
)
from imaging_triage.markdownsafe import markdown_safe
from imaging_triage.records import SeriesRecord, SourceKind, VolumeRole
from imaging_triage.review import workflow
from imaging_triage.review.findings import (
    Confidence,
    FindingType,
    Laterality,
    Location,
    Measurement,
    Outcome,
    ReviewStatus,
    StudyReview,
    Urgency,
)
from imaging_triage.review.store import ReviewStore
from imaging_triage.roots import DataRoots
from imaging_triage.viewer import components, reading_panel
from imaging_triage.viewer import measure as m
from imaging_triage.viewer.engine import EngineSeries, Marker
from imaging_triage.viewer.loader import OpenSeries
from imaging_triage.viewer.planes import Plane
from imaging_triage.viewer.reading_panel import ReadSetup
from imaging_triage.viewer.transfer import EncodedVolume
from imaging_triage.viewer.volume_server import VolumeServer
from imaging_triage.viewer.worklist import (
    CANDIDATES_LABEL,
    SortKey,
    Study,
    next_unread,
    same_patient,
    worklist_rows,
)

S = st.session_state
DISCLAIMER = (
    "For review by a qualified reader. Anything automated or derived shown here is a "
    "candidate for human review, never a diagnosis; the reader's findings and outcome are "
    "the record."
)
KEYS_HELP = (
    "Keys in the image: ↑/↓ (k/j) slice, PageUp/PageDown ±10, Home/End, wheel scrolls, "
    "Ctrl+wheel zooms, 1-5 CT presets, 0 reset, l layout, a/c/s plane, p cine, "
    "w/d/e/f/g tools, m markers, o overlay. Study: [ / ] previous/next, n next unread."
)


def plain(text: object) -> str:
    """User or file text made safe inside Markdown (no links, no HTML, one line)."""
    return markdown_safe(str(text).replace("\n", " "))


def series_label(record: SeriesRecord) -> str:
    """One line naming a series: number, description, what tells its stacks apart, shape.

    >>> series_label(SeriesRecord("a", [], series_number=3, description="DWI", modality="MR",
    ...              role=VolumeRole.TRACE, shape=(128, 128, 24)))
    '#3 DWI · trace · MR · 128×128×24'
    """
    number = f"#{record.series_number} " if record.series_number is not None else ""
    shape = "×".join(str(s) for s in record.shape) if record.shape else "?"
    parts = [f"{number}{record.description or record.input}"]
    if record.role is not VolumeRole.IMAGE:
        parts.append(record.role.value)
    if record.stack_label:
        parts.append(record.stack_label)
    if record.joined_stacks > 1:
        parts.append(f"{record.joined_stacks} segments joined")
    parts += [record.modality or "NIfTI", shape]
    return " · ".join(parts)


# -- sidebar and worklist ---------------------------------------------------------------


def _set_reviewer() -> None:
    name = str(S.get("reviewer_input", "")).strip()[:80]
    if name:
        S["reviewer"] = name
        st.query_params["reviewer"] = name


def _clear_reviewer() -> None:
    S["reviewer"] = ""
    st.query_params.pop("reviewer", None)


def sidebar(
    roots: DataRoots, source: str, db: Path | str, *, rescan: Callable[[], None]
) -> DataRoots:
    """Reader name, folder choice and settings; returns the roots to list."""
    with st.sidebar:
        st.header("Reader")
        if S["reviewer"]:
            st.text(f"Reviewing as {S['reviewer']}")
            st.button("Change reader", on_click=_clear_reviewer)
        else:
            st.text_input("Your name (stamped on every finding and outcome)", key="reviewer_input")
            st.button("Start reviewing", on_click=_set_reviewer, type="primary")
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
                st.error(f"Refused: {plain(err.reason)}")
        if st.button("Rescan folders"):
            rescan()
        st.caption(
            "Data folders: "
            + ", ".join(plain(r) for r in roots.roots)
            + f" (from {plain(source)}). Review database: {plain(db)}."
        )
        st.caption(KEYS_HELP)
    return shown


def worklist_view(
    studies: list[Study],
    reviews: dict[str, StudyReview],
    open_study: Callable[[str | None], None],
    *,
    reads: dict[str, str] | None = None,
) -> None:
    """The table of studies with filters, sort and 'next unread'.

    ``reviews`` is what this reader may see (blinded on double-read worklists); ``reads``
    the double-reading cell of each double-read study (a "Reads" column when any).
    """
    st.subheader("Worklist")
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
        "Sort by",
        list(SortKey),
        format_func=lambda s: (
            f"Candidates ({CANDIDATES_LABEL})" if s is SortKey.CANDIDATES else s.value.capitalize()
        ),
        key="sort",
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
    widths = [3.5, 1, 0.8, 1.2, 2.6, 1.4, 1.4]
    names = ["Study", "Modality", "Series", "Status", "Outcome", "Urgency", "Reader"]
    if reads:
        widths, names = [*widths, 1.6], [*names, "Reads"]
    widths, names = [*widths, 1.3, 0.9], [*names, "Candidates", "Open"]
    for col, name in zip(st.columns(widths), names, strict=True):
        col.markdown(f"**{name}**")
        if name == "Candidates":
            col.caption(CANDIDATES_LABEL)
    for row in rows:
        cols = st.columns(widths)
        cells = [row.source, row.modality, str(row.series), row.status.label]
        cells += [row.outcome or "–", row.urgency or "–", row.reviewer or "–"]
        if reads:
            cells.append(reads.get(row.key, "–"))
        for col, cell in zip(cols, cells, strict=False):
            col.text(cell)
        cols[-2].text(
            row.candidates_text,
            help="; ".join(row.candidate_reasons) or None,
        )
        cols[-1].button(
            "Open",
            key=f"open_{row.key}",
            on_click=open_study,
            args=(row.key,),
            disabled=not row.series,
        )


# -- the study page -----------------------------------------------------------------------


def compare_picker(
    where: Any, study: Study, studies: list[Study], get_series: Callable[..., Any]
) -> EngineSeries | None:
    """A choice of another study of the same patient (by date) to show side by side."""
    others = same_patient(studies, study)
    if not others:
        return None
    by_key = {s.key: s for s in others}
    options: list[str | None] = [None, *by_key]
    choice = where.selectbox(
        "Compare with another study of this patient",
        options,
        format_func=lambda k: (
            "— none —" if k is None else f"{by_key[k].study_date or '?'} · {by_key[k].modality}"
        ),
        key="compare",
        placeholder="none",
    )
    if choice is None:
        return None
    from imaging_triage.viewer.hanging import default_series

    other = by_key[choice]
    record = default_series(other.usable)
    if record is None:
        return None
    try:
        opened, url = get_series(f"{record.key}|{record.files[0]}", record)
    except TriageError as err:
        st.error(f"The comparison series cannot be shown: {plain(err.reason)}")
        return None
    label = f"{other.study_date or 'other study'} · {record.description or ''}"
    return EngineSeries(record.key, label, url, opened)


def qc_warning(record: SeriesRecord) -> str | None:
    """The brain-mask QC warning of a preprocessed series (a NIfTI output of ``preprocess``
    viewed from its output folder), or None: shown on the series, never hidden."""
    if record.kind is not SourceKind.NIFTI or not record.files:
        return None
    from imaging_triage.preprocess.qc import Verdict, read_qc

    qc = read_qc(record.files[0])
    if qc is None or qc.verdict is not Verdict.WARN:
        return None
    return "Preprocessing QC warns: " + "; ".join(qc.reasons)


def markers(review: StudyReview, record: SeriesRecord, opened: OpenSeries) -> list[Marker]:
    """Markers of the active findings flagged on this series."""
    return [
        Marker(opened.volume.from_world(f.location.xyz_mm), f"#{f.id} {f.type.value.upper()}")
        for f in review.findings
        if not f.retracted and f.location.series_uid in (record.series_uid, record.key)
    ]


def _engine_event(name: str) -> dict[str, Any] | None:
    value = components.event_value(S.get("engine"), name)
    return value if isinstance(value, dict) else None


def _ijk(value: Any, opened: OpenSeries) -> tuple[int, int, int] | None:
    try:
        i, j, k = (int(v) for v in value)
    except (TypeError, ValueError):
        return None
    return opened.volume.clamp((i, j, k))


def on_point() -> None:
    """A point was clicked in the engine: it becomes the finding location."""
    event = _engine_event("point")
    if event and isinstance(event.get("ijk"), list):
        S["point"] = tuple(int(v) for v in event["ijk"][:3])


def on_measure(opened: OpenSeries) -> Callable[[], None]:
    """Handler for a finished measurement: recomputed here, kept in the session."""

    def handler() -> None:
        event = _engine_event("measure")
        if not event:
            return
        try:
            kind = m.MeasureKind(event["kind"])
            plane = Plane(event["plane"])
            points = [tuple(float(c) for c in p) for p in event["points"]]
            index = int(event["slice"])
        except (KeyError, TypeError, ValueError):
            return
        dv = opened.volume
        where = f"{plane.value} {index + 1}"
        if kind is m.MeasureKind.DISTANCE:
            mm = m.distance_mm(points, dv.spacing)
            _add_measurement(kind.value, where, f"{mm:.1f} mm", [("distance", mm)])
        else:
            stats = m.roi_stats(dv.data, dv.spacing, plane, index, kind, points)
            quantities = [("area", stats.size)]
            if opened.is_ct and stats.n_voxels:
                quantities.append(("mean_hu", stats.mean))
            _add_measurement(
                kind.value, where, stats.text("HU" if opened.is_ct else ""), quantities
            )

    return handler


def _add_measurement(tool: str, where: str, text: str, quantities: list[tuple[str, float]]) -> None:
    """Keep a measurement of this session (listed, and attachable to a finding)."""
    item = {
        "id": len(S["measurements"]) + 1,
        "kind": tool,
        "where": where,
        "text": text,
        "quantities": [(k, round(float(v), 3)) for k, v in quantities],
    }
    S["measurements"] = [*S["measurements"], item]


def on_seed(opened: OpenSeries) -> Callable[[], None]:
    """Handler for a seed click: the connected region within the value range."""

    def handler() -> None:
        event = _engine_event("seed")
        seed = _ijk(event.get("ijk") if event else None, opened)
        if seed is None:
            return
        dv = opened.volume
        try:
            low, high = m.seed_range(
                dv.data,
                seed,
                is_ct=opened.is_ct,
                ct_range=(float(S.get("seed_low", 40.0)), float(S.get("seed_high", 100.0))),
                tolerance=float(S.get("seed_tolerance", 10.0)) / 100.0,
            )
            region = m.region_grow(dv.data, seed, low, high)
        except ValueError as err:
            S["flash"] = str(err)
            return
        stats = m.region_stats(dv.data, dv.spacing, region)
        url = VolumeServer.start().publish(EncodedVolume.from_array(region.astype(np.uint8)))
        text = f"region {low:g}..{high:g}: " + stats.text("HU" if opened.is_ct else "", volume=True)
        S["region"] = {"url": url, "text": text, "ml": stats.size}
        S["overlay_url"] = url
        S["point"] = seed
        quantities = [("volume", stats.size)]
        if opened.is_ct:
            quantities.append(("mean_hu", stats.mean))
        _add_measurement("region", f"seed {seed}", text, quantities)

    return handler


def measurements_panel(opened: OpenSeries) -> None:
    """Measurements of this session on the series, the region tool and ABC/2."""
    st.markdown("**Measurements**")
    for item in S["measurements"]:
        st.text(f"#{item['id']} {item['kind']} ({item['where']}): {item['text']}")
    if not S["measurements"]:
        st.caption("Distance (d), ellipse (e) or freehand (f) in the image; results appear here.")
    if opened.is_ct:
        c1, c2 = st.columns(2)
        c1.number_input("Seed range low (HU)", value=m.CT_SEED_RANGE[0], step=5.0, key="seed_low")
        c2.number_input("Seed range high (HU)", value=m.CT_SEED_RANGE[1], step=5.0, key="seed_high")
    else:
        st.number_input(
            "Seed tolerance (% of the series' intensity range, either side of the seed)",
            min_value=1.0,
            max_value=100.0,
            value=m.MR_SEED_TOLERANCE * 100,
            step=1.0,
            key="seed_tolerance",
            help="MR has no units: the region grows within the seed's own value ± this share "
            "of the series' 1st-99th percentile range.",
        )
    if S["region"]:
        st.text(S["region"]["text"])
    with st.popover("ABC/2 hematoma volume"):
        a = st.number_input("A: largest diameter (mm)", min_value=0.0, key="abc_a")
        b = st.number_input("B: perpendicular to A (mm)", min_value=0.0, key="abc_b")
        c = st.number_input("C: craniocaudal extent (mm)", min_value=0.0, key="abc_c")
        ml = m.abc_over_2(a, b, c)
        st.text(f"ABC/2 = {ml:.1f} mL")
        st.button(
            "Add to the measurements",
            key="abc_add",
            disabled=ml <= 0,
            on_click=_add_measurement,
            args=("abc2", f"A {a:g} B {b:g} C {c:g} mm", f"ABC/2 {ml:.1f} mL", [("volume", ml)]),
        )


def finding_form(
    study: Study, record: SeriesRecord, opened: OpenSeries, store: ReviewStore, setup: ReadSetup
) -> None:
    """Flag a finding at the clicked point: type and laterality must be chosen."""
    dv = opened.volume
    point = S["point"]
    st.markdown("**Flag a finding**" + (" (consensus read)" if setup.consensus else ""))
    if point is None:
        st.caption("Click the finding's location in a view first (the crosshair moves there).")
    else:
        xyz = dv.world(point)
        hint = workflow.suggest_laterality(xyz[0], dv.world(dv.center())[0])
        st.caption(
            f"At RAS ({xyz[0]:.1f}, {xyz[1]:.1f}, {xyz[2]:.1f}) mm, value "
            f"{dv.value(point):.0f}{' HU' if opened.is_ct else ''}. Suggested laterality from "
            f"the point: {hint.label} (a suggestion: choose below)."
        )
    texts = [str(item["text"]) for item in S["measurements"]]
    measures = [None, *range(len(texts))]
    with st.form("flag_finding"):
        c1, c2, c3 = st.columns([2.5, 1.5, 1.6])
        c1.selectbox(
            "Finding",
            list(FindingType),
            index=None,
            format_func=lambda t: t.label,
            placeholder="choose the finding",
            key="f_type",
        )
        c2.selectbox(
            "Laterality (patient's side)",
            list(Laterality),
            index=None,
            format_func=lambda v: v.label,
            placeholder="choose",
            key="f_lat",
        )
        c3.radio(
            "Confidence",
            list(Confidence),
            index=None,
            format_func=lambda v: v.label,
            horizontal=True,
            key="f_conf",
        )
        st.selectbox(
            "Attach a measurement",
            measures,
            key="f_measure",
            format_func=lambda n: "none" if n is None else texts[n],
        )
        st.text_input("Note (no patient identifiers)", key="f_note")
        st.form_submit_button(
            "Flag finding",
            on_click=_flag,
            args=(study, record, opened, store, setup),
            type="primary",
        )


def _flag(
    study: Study, record: SeriesRecord, opened: OpenSeries, store: ReviewStore, setup: ReadSetup
) -> None:
    dv, point = opened.volume, S["point"]
    if point is None:
        S["flash"] = "Not flagged: click the finding's location in a view first."
        return
    n = S.get("f_measure")
    note = str(S.get("f_note") or "").strip()
    attached: tuple[Measurement, ...] = ()
    if isinstance(n, int) and n < len(S["measurements"]):
        item = S["measurements"][n]
        quantities = tuple((str(k), float(v)) for k, v in item["quantities"])
        attached = (Measurement(item["kind"], item["text"], quantities),)
    location = Location(
        xyz_mm=dv.world(point),
        ijk=dv.source_index(point),
        series_uid=record.series_uid or record.key,
    )
    draft = workflow.draft_finding(study.key, location, midline_x_mm=dv.world(dv.center())[0])
    draft = draft.choose(
        type=S.get("f_type"),
        laterality=S.get("f_lat"),
        confidence=S.get("f_conf"),
        note=note,
        measurements=attached,
    )
    try:
        stored = reading_panel.flag(store, draft, study, S["reviewer"], setup)
    except TriageError as err:
        S["flash"] = f"Not flagged: {err.reason}"
        return
    # the next finding needs its own choices (kept when the save was refused)
    S["f_type"], S["f_lat"], S["f_conf"], S["f_measure"], S["f_note"] = None, None, None, None, ""
    S["flash"] = f"Finding {stored.id} flagged: {stored.type.label}."


def findings_list(review: StudyReview, opened: OpenSeries, store: ReviewStore) -> None:
    """The findings this reader may see, with go-to and retract."""
    from imaging_triage.viewer import session

    st.markdown(f"**Findings** ({sum(not f.retracted for f in review.findings)} active)")
    if not review.findings:
        st.caption("No finding flagged yet.")
    for f in review.findings:
        x, y, z = f.location.xyz_mm
        role = "[consensus] " if f.read_role else ""
        text = role + (
            f"#{f.id} {f.type.label} · {f.laterality.label} · {f.confidence.label} · "
            f"RAS ({x:.1f}, {y:.1f}, {z:.1f}) mm · {f.note or 'no note'} · {f.reviewer}"
        )
        if f.measurements:
            text += " · " + "; ".join(m.text for m in f.measurements)
        if f.retracted:
            text = f"[retracted: {f.retraction_reason or 'no reason'}] {text}"
        cols = st.columns([6, 1, 1.2])
        cols[0].text(text)
        ijk = opened.volume.from_world(f.location.xyz_mm)
        cols[1].button(
            "Go to",
            key=f"goto_{f.id}",
            on_click=session.next_command,
            args=(S,),
            kwargs={"ijk": list(ijk)},
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
    reason = str(S.get(f"retract_reason_{finding_id}", "")).strip()
    try:
        workflow.retract_finding(store, finding_id, reviewer=S["reviewer"], reason=reason)
    except TriageError as err:
        S["flash"] = f"Not retracted: {err.reason}"
        return
    S["flash"] = f"Finding {finding_id} retracted (kept in the audit trail)."


def outcome_panel(study: Study, store: ReviewStore, review: StudyReview, setup: ReadSetup) -> None:
    """The study's triage outcome and urgency, with confirmation and conflict handling."""
    st.markdown("**Study outcome**" + (" (consensus read)" if setup.consensus else ""))
    if review.outcome is not None:
        urgency = review.urgency.label if review.urgency else "no urgency set"
        st.success(f"{review.status.label}: {review.outcome.label} · {urgency}")
        st.text(f"by {review.reviewer} at {review.updated_at[:16].replace('T', ' ')} UTC")
    else:
        st.caption(f"Status: {review.status.label}; no outcome recorded yet.")
    pending = S["pending_outcome"]
    if pending:
        st.warning(pending["question"])
        c1, c2 = st.columns(2)
        c1.button(
            pending["confirm_label"],
            on_click=_save_outcome,
            args=(study, store, setup),
            kwargs={"pending": pending},
            type="primary",
            key="confirm_outcome",
        )
        c2.button(
            "Cancel", on_click=S.__setitem__, args=("pending_outcome", None), key="cancel_outcome"
        )
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
        # the outcome this page shows: a save over a later one by someone else is refused
        st.form_submit_button(
            "Save outcome",
            on_click=_save_outcome,
            args=(study, store, setup),
            kwargs={"seen": review.status_id},
        )


def _save_outcome(
    study: Study,
    store: ReviewStore,
    setup: ReadSetup,
    *,
    seen: int | None = None,
    pending: dict | None = None,
) -> None:
    S["pending_outcome"] = None
    if pending:
        outcome, urgency, seen = pending["outcome"], pending["urgency"], pending["seen"]
        confirmed, replace = pending["confirmed"], pending["replace"]
    else:
        outcome, urgency = S.get("o_outcome"), S.get("o_urgency")
        confirmed, replace = (), False
    ask = {
        "outcome": outcome,
        "urgency": urgency,
        "seen": seen,
        "confirmed": confirmed,
        "replace": replace,
    }
    try:
        reading_panel.save(
            store,
            study,
            setup,
            reviewer=S["reviewer"],
            outcome=outcome,
            urgency=urgency,
            seen=seen,
            confirmed=confirmed,
            replace=replace,
        )
    except ConfirmationRequiredError as err:
        S["pending_outcome"] = {
            **ask,
            "question": err.reason,
            "confirmed": err.finding_ids,
            "confirm_label": "Confirm this outcome despite them",
        }
        return
    except OutcomeConflictError as err:
        question = (
            f"{err.reason}. Saved by {err.reviewer} at {err.saved_at[:16].replace('T', ' ')} "
            "UTC, after this page showed the study. Replace it with yours, or cancel and read "
            "their outcome first."
        )
        S["pending_outcome"] = {
            **ask,
            "question": question,
            "replace": True,
            "confirm_label": "Replace their outcome with mine",
        }
        return
    except TriageError as err:
        S["flash"] = f"Not saved: {err.reason}"
        return
    S["flash"] = "Outcome saved."
