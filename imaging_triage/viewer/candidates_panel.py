"""Automated candidates on demand in the viewer: run the checks, overlay, jump to each.

The checks of :mod:`imaging_triage.candidates` (CT hyperdensity, midline shift,
ventricles, hypodensity asymmetry) run on the shown series with the pipeline's own CT
intracranial mask; their regions are drawn by the engine as an overlay and listed with a
*Go to*. Everything here is a **candidate for the reader to judge, never a diagnosis**,
and the checks are not validated on patients: the panel says so above its results.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from imaging_triage.viewer import session
from imaging_triage.viewer.loader import OpenSeries
from imaging_triage.viewer.transfer import EncodedVolume
from imaging_triage.viewer.volume_server import VolumeServer
from imaging_triage.volume import Volume

S = st.session_state


def run_candidates(opened: OpenSeries) -> dict[str, Any]:
    """Run every check on the shown series; what the panel lists (JSON-ready)."""
    from imaging_triage.candidates import DISCLAIMER, run_checks
    from imaging_triage.preprocess.ct_brain_mask import CTBrainMask

    dv = opened.volume
    volume = Volume(data=dv.data, affine=dv.affine, info=dv.info)
    mask = CTBrainMask().mask(np.asarray(dv.data, dtype=np.float32), dv.spacing)
    report = run_checks(volume, mask)
    url = VolumeServer.start().publish(EncodedVolume.from_array(report.labels > 0))
    regions = [
        {
            "text": f"{r.check.value.replace('_', ' ')}: {r.describe()}",
            "ijk": list(dv.from_world(r.centroid_ras_mm)),
        }
        for r in report.regions
    ]
    measures = [
        f"{res.check.value.replace('_', ' ')}: {res.status.value}"
        + (f" ({'; '.join(res.reasons)})" if res.reasons else "")
        for res in report.results
    ]
    return {
        "url": url,
        "disclaimer": DISCLAIMER,
        "score": report.score.score,
        "reasons": list(report.score.reasons),
        "regions": regions,
        "checks": measures,
    }


def _run(opened: OpenSeries) -> None:
    S["candidates"] = run_candidates(opened)
    S["overlay_url"] = S["candidates"]["url"]


def candidates_panel(opened: OpenSeries) -> None:
    """The button, the disclaimer, the score with its reasons and the regions."""
    if not opened.is_ct:
        return
    with st.expander("Automated candidates (CT)", expanded=S["candidates"] is not None):
        st.caption(
            "Automated candidates, not a diagnosis: explainable checks for the reader to "
            "judge; not validated on patients (README, Candidates). A study without a "
            "candidate is not normal."
        )
        st.button("Run the candidate checks", key="run_candidates", on_click=_run, args=(opened,))
        found = S["candidates"]
        if not found:
            return
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
