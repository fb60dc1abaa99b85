"""The in-browser image engine: what the page sends it, and the component that mounts it.

The engine (``engine.js`` beside this file, plain JavaScript, no build step) is a
Streamlit components-v2 component that draws every view on a 2-D canvas in the browser.
The page gives it a JSON description of the series (shape, spacing, affine, window
presets) and the URL of the voxels on the loopback :mod:`volume server
<imaging_triage.viewer.volume_server>`; scrolling, windowing, zoom, pan, cine and
measurements then run without a server round trip. The engine reports back only
deliberate acts: a clicked point (``point``), a finished measurement (``measure``) and a
seed for region growing (``seed``).

Why not NiiVue: ``niivue-streamlit`` (0.3) is a components-v1 iframe that ships the
whole NIfTI through Streamlit on every rerun, cannot be told the crosshair, window or
slice from Python and exposes no per-view state to the page; NiiVue itself needs WebGL2,
which headless and remote-desktop browsers have only in software. A 2-D canvas does MPR
of one volume at well under a frame per step on any browser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from imaging_triage.viewer.loader import OpenSeries
from imaging_triage.viewer.window import Preset, Window

_JS = Path(__file__).with_name("engine.js")


@dataclass(frozen=True)
class WindowPreset:
    """A named window the engine offers on a number key (1-9), in list order."""

    name: str
    window: Window


def presets_for(opened: OpenSeries) -> list[WindowPreset]:
    """CT: the presets of DESIGN.md section 3 (keys 1-5); MR: its percentile window."""
    if opened.is_ct:
        return [WindowPreset(p.value.replace("_", " "), p.window) for p in Preset]
    return [WindowPreset("percentile 1-99", opened.window)]


@dataclass
class EngineSeries:
    """What the engine needs to draw one series."""

    key: str
    label: str
    url: str
    opened: OpenSeries

    def spec(self) -> dict[str, Any]:
        """JSON-ready description (no patient identifiers)."""
        dv = self.opened.volume
        presets = presets_for(self.opened)
        default = presets[0]  # CT: brain; MR: its percentile window
        return {
            "key": self.key,
            "label": self.label,
            "url": self.url,
            "shape": list(dv.shape),
            "spacing": [round(s, 6) for s in dv.spacing],
            "affine": np.round(dv.affine, 6).tolist(),
            "dtype": str(self.opened.wire.dtype),
            "unit": "HU" if self.opened.is_ct else "",
            "window": {"w": default.window.width, "l": default.window.level},
            "windowName": default.name,
            "presets": [
                {"name": p.name, "w": p.window.width, "l": p.window.level} for p in presets
            ],
        }


@dataclass
class EngineView:
    """The view a page asks the engine to open with (from the address or defaults)."""

    layout: str = "1x1"
    plane: str = "axial"
    ijk: tuple[int, int, int] | None = None
    window: Window | None = None
    window_name: str = ""
    zoom: float | None = None

    def spec(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {"layout": self.layout, "plane": self.plane}
        if self.ijk is not None:
            out["ijk"] = list(self.ijk)
        if self.window is not None:
            out["window"] = {"w": self.window.width, "l": self.window.level}
            out["windowName"] = self.window_name
        if self.zoom is not None:
            out["zoom"] = self.zoom
        return out


@dataclass
class Marker:
    """A finding marker: canonical voxel and a short label (``#id type``)."""

    ijk: tuple[int, int, int]
    label: str


@dataclass
class EngineData:
    """Everything the page passes to the engine on one run."""

    series: EngineSeries
    view: EngineView = field(default_factory=EngineView)
    markers: Sequence[Marker] = ()
    compare: EngineSeries | None = None
    overlay_url: str | None = None
    #: a one-shot command (``{"id": n, "ijk": [...]}``): applied once per new id
    command: Mapping[str, Any] | None = None

    def spec(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "series": self.series.spec(),
            "view": self.view.spec(),
            "markers": [{"ijk": list(m.ijk), "label": m.label} for m in self.markers],
        }
        if self.compare is not None:
            out["compare"] = self.compare.spec()
        if self.overlay_url is not None:
            shape = list(self.series.opened.volume.shape)
            out["overlay"] = {
                "key": "overlay",
                "url": self.overlay_url,
                "shape": shape,
                "spacing": list(self.series.opened.volume.spacing),
                "affine": np.round(self.series.opened.volume.affine, 6).tolist(),
                "dtype": "uint8",
            }
        if self.command is not None:
            out["command"] = dict(self.command)
        return out


@cache
def _component() -> Callable[..., Any]:
    import streamlit as st

    return st.components.v2.component(
        "imaging_triage_engine", js=_JS.read_text(encoding="utf-8"), isolate_styles=False
    )


def image_engine(
    data: EngineData,
    *,
    key: str,
    on_point: Callable[[], None],
    on_measure: Callable[[], None],
    on_seed: Callable[[], None],
) -> None:
    """Mount the engine; the callbacks run (before the rerun) on the engine's events.

    Read an event's payload inside its callback with
    :func:`imaging_triage.viewer.components.event_value` ``(st.session_state[key], name)``.
    """
    _component()(
        key=key,
        data=data.spec(),
        on_point_change=on_point,
        on_measure_change=on_measure,
        on_seed_change=on_seed,
        height="content",
    )
