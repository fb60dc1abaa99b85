"""Automated candidates on demand in the viewer: run the checks, overlay, jump to each.

The checks of :mod:`imaging_triage.candidates` (CT hyperdensity, midline shift,
ventricles, hypodensity asymmetry) run on the shown series with the pipeline's own CT
intracranial mask; their regions are drawn by the engine as an overlay and listed with a
*Go to*. A series viewed from a ``preprocess`` output folder shows the candidates the
pipeline wrote beside it (its JSON and label NIfTI) instead of running them again. When
the reader compares the study with an earlier CT of the same patient, the checks also
measure the sites of that prior's hyperdense candidates on the shown series
(:mod:`imaging_triage.candidates.prior`).
Everything here is a **candidate for the reader to judge, never a diagnosis**, and the
checks are not validated on patients: the panel says so above its results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import streamlit as st

from imaging_triage.candidates.findings import CheckResult, Region
from imaging_triage.candidates.score import CandidateScore
from imaging_triage.candidates.stored import StoredCandidates, read_candidates
from imaging_triage.ingest import SeriesRecord, SourceKind
from imaging_triage.viewer import session
from imaging_triage.viewer.loader import OpenSeries
from imaging_triage.viewer.planes import DisplayVolume
from imaging_triage.viewer.transfer import EncodedVolume
from imaging_triage.viewer.volume_server import VolumeServer
from imaging_triage.volume import Volume

S = st.session_state


@dataclass(frozen=True)
class PriorSeries:
    """An earlier CT of the same patient shown beside the study, and how to name it."""

    opened: OpenSeries
    name: str


def prior_series(
    study_date: str, other_date: str, compare: OpenSeries | None
) -> PriorSeries | None:
    """The compared series as a prior for the candidate checks: a CT of a study dated
    strictly before the shown one (``YYYY-MM-DD`` dates); otherwise None."""
    if compare is None or not compare.is_ct or not study_date or not other_date:
        return None
    if not other_date < study_date:
        return None
    return PriorSeries(compare, f"the compared study of {other_date}")


def _listing(
    dv: DisplayVolume,
    labels: npt.NDArray[Any],
    regions: Sequence[Region],
    results: Sequence[CheckResult],
    score: CandidateScore,
    source: str,
) -> dict[str, Any]:
    """What the panel lists (JSON-ready), the labels (display grid) published as overlay."""
    from imaging_triage.candidates import DISCLAIMER

    url = VolumeServer.start().publish(EncodedVolume.from_array(np.asarray(labels) > 0))
    return {
        "url": url,
        "source": source,
        "disclaimer": DISCLAIMER,
        "score": score.score,
        "reasons": list(score.reasons),
        "regions": [
            {
                "text": f"{r.check.value.replace('_', ' ')}: {r.describe()}",
                "ijk": list(dv.from_world(r.centroid_ras_mm)),
            }
            for r in regions
        ],
        "checks": [
            f"{res.check.value.replace('_', ' ')}: {res.status.value}"
            + (f" ({'; '.join(res.reasons)})" if res.reasons else "")
            for res in results
        ],
    }


def _checked(opened: OpenSeries) -> tuple[Volume, npt.NDArray[np.bool_]]:
    """The shown CT series as a volume, with the pipeline's intracranial mask."""
    from imaging_triage.preprocess.ct_brain_mask import CTBrainMask

    dv = opened.volume
    volume = Volume(data=dv.data, affine=dv.affine, info=dv.info)
    return volume, CTBrainMask().mask(np.asarray(dv.data, dtype=np.float32), dv.spacing)


def run_candidates(opened: OpenSeries, prior: PriorSeries | None = None) -> dict[str, Any]:
    """Run every check on the shown series (and, with a ``prior``, measure the sites of its
    hyperdense candidates); what the panel lists (JSON-ready)."""
    from imaging_triage.candidates import CandidateConfig, Check, Prior, run_checks

    dv = opened.volume
    volume, mask = _checked(opened)
    earlier = None
    if prior is not None:
        prior_volume, prior_mask = _checked(prior.opened)
        only = CandidateConfig(checks=(Check.HYPERDENSITY.value,))
        found = run_checks(prior_volume, prior_mask, only)
        earlier = Prior(prior_volume, found.labels, found.regions, prior.name)
    report = run_checks(volume, mask, prior=earlier)
    return _listing(
        dv, report.labels, report.regions, report.results, report.score, "run in the viewer"
    )


def stored_candidates(record: SeriesRecord) -> StoredCandidates | None:
    """The candidates ``preprocess`` wrote beside the shown NIfTI output, or None."""
    if record.kind is not SourceKind.NIFTI or not record.files:
        return None
    return read_candidates(record.files[0])


def show_stored(opened: OpenSeries, stored: StoredCandidates) -> dict[str, Any] | None:
    """What the panel lists from the stored candidates; None when their label volume is
    missing or not on the shown grid (the checks then run in the viewer)."""
    from imaging_triage.volume import load_nifti

    if stored.labels_path is None:
        return None
    labels = DisplayVolume.from_volume(load_nifti(stored.labels_path)).data
    if labels.shape != opened.volume.shape:
        return None
    return _listing(
        opened.volume,
        labels,
        stored.regions,
        stored.results,
        stored.score,
        "written by preprocess",
    )


def _run(
    opened: OpenSeries, record: SeriesRecord | None = None, prior: PriorSeries | None = None
) -> None:
    stored = stored_candidates(record) if record is not None else None
    shown = show_stored(opened, stored) if stored is not None else None
    S["candidates"] = shown if shown is not None else run_candidates(opened, prior)
    S["overlay_url"] = S["candidates"]["url"]


def candidates_panel(
    opened: OpenSeries, record: SeriesRecord | None = None, prior: PriorSeries | None = None
) -> None:
    """The button, the disclaimer, the score with its reasons and the regions.

    With the ``record`` of a ``preprocess`` output, the button shows the candidates the
    pipeline wrote instead of running the checks. With a ``prior`` (an earlier CT of the
    patient, compared side by side) the checks also measure the sites of its candidates.
    """
    stored = record is not None and stored_candidates(record) is not None
    if not opened.is_ct and not stored:  # on demand: CT only (MR needs its pipeline's mask)
        return
    with st.expander("Automated candidates", expanded=S["candidates"] is not None):
        st.caption(
            "Automated candidates, not a diagnosis: explainable checks for the reader to "
            "judge; not validated on patients (README, Candidates). A study without a "
            "candidate is not normal."
        )
        if prior is not None and not stored:
            st.caption(f"With the sites of the candidates of {prior.name}.")
        st.button(
            "Show the candidates of preprocess" if stored else "Run the candidate checks",
            key="run_candidates",
            on_click=_run,
            args=(opened, record, prior),
        )
        found = S["candidates"]
        if not found:
            return
        st.caption(f"Candidates {found['source']}.")
        st.text(f"Candidate score {found['score']}: " + "; ".join(found["reasons"] or ["none"]))
        for line in found["checks"]:
            st.text(line)
        for n, region in enumerate(found["regions"]):
            cols = st.columns([6, 1])
            cols[0].text(f"#{n + 1} {region['text']}")
            cols[1].button(
                "Go to",
                key=f"cand_goto_{n}",
                on_click=session.next_command,
                args=(S,),
                kwargs={"ijk": region["ijk"]},
            )
