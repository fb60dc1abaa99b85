"""The viewer page's session state: one owner per key, and the view kept in the address.

Every key the page reads is declared in :data:`KEYS` with the value it starts with, and
:func:`ensure` sets each missing one at the top of every run, so no widget order can
make the page read a key that is not there (the ``KeyError: 'sl_sagittal'`` class of
crash). Keys are grouped by lifetime: ``session`` keys live as long as the browser tab,
``study`` keys are reset when another study is opened, ``series`` keys also when another
series of the study is shown.

The view (series, layout, plane, crosshair, window, zoom) lives in the page address:
the engine writes it there as the reader scrolls, and :func:`view_from_params` reads it
back, validated and clamped, when the page is loaded again (a reload or a shared link).

Examples
--------
>>> state = {}
>>> ensure(state)
>>> state["study"] is None, state["measurements"]
(True, [])
>>> view = view_from_params({"layout": "2x2", "ijk": "10,20,999", "wl": "200,75"}, (64, 64, 30))
>>> view.layout, view.ijk, (view.window.width, view.window.level)
('2x2', (10, 20, 29), (200.0, 75.0))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from imaging_triage.display import Window
from imaging_triage.viewer.engine import EngineView


@dataclass(frozen=True)
class Key:
    """A session-state key: its default (made fresh each time) and its lifetime."""

    name: str
    default: Callable[[], Any]
    #: "session" keys survive opening another study; "study" keys do not; "series" keys
    #: are also reset when another series of the study is shown
    lifetime: str = "study"


def _none() -> Any:
    return None


KEYS: tuple[Key, ...] = (
    Key("reviewer", str, "session"),
    Key("study", _none, "session"),
    Key("flash", _none, "session"),
    #: series key shown (the hanging protocol's choice until the reader picks another)
    Key("series", _none),
    #: canonical voxel of the last point clicked in the engine (None: none yet)
    Key("point", _none, "series"),
    #: measurements made on the current series: list of dicts (see app.py)
    Key("measurements", list, "series"),
    #: the last grown region: dict with its statistics, or None
    Key("region", _none, "series"),
    #: the automated candidates of the shown series (viewer/candidates_panel.py), or None
    Key("candidates", _none, "series"),
    #: URL of the overlay the engine draws (the last region or the candidates)
    Key("overlay_url", _none, "series"),
    #: one-shot engine command counter and payload ("Go to" a finding)
    Key("command", _none, "series"),
    Key("command_id", int),
    #: the view read from the address when the study opened (applied once)
    Key("initial_view", _none, "series"),
    #: an outcome save waiting for a confirmation: dict, or None
    Key("pending_outcome", _none),
    #: comparison study key (None: no comparison)
    Key("compare", _none),
)
_BY_NAME = {k.name: k for k in KEYS}
#: address parameters that describe the view (dropped when the study changes)
VIEW_PARAMS = ("series", "layout", "plane", "ijk", "wl", "wn", "zoom")
LAYOUTS = ("1x1", "1x3", "2x2")
PLANES = ("axial", "coronal", "sagittal")


def ensure(state: MutableMapping[str, Any]) -> None:
    """Set every declared key that is missing to its default."""
    for key in KEYS:
        if key.name not in state:
            state[key.name] = key.default()


def reset_study(state: MutableMapping[str, Any]) -> None:
    """Forget everything that belongs to the open study (keeps the reader)."""
    for key in KEYS:
        if key.lifetime in ("study", "series"):
            state[key.name] = key.default()


def reset_series(state: MutableMapping[str, Any]) -> None:
    """Forget what belongs to the shown series (measurements, point, region, ...)."""
    for key in KEYS:
        if key.lifetime == "series":
            state[key.name] = key.default()


def next_command(state: MutableMapping[str, Any], **payload: Any) -> None:
    """Queue a one-shot command for the engine (a new id, so it is applied once)."""
    state["command_id"] = int(state.get("command_id") or 0) + 1
    state["command"] = {"id": state["command_id"], **payload}


def _floats(text: str, n: int) -> list[float] | None:
    parts = str(text).split(",")
    if len(parts) != n:
        return None
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


def view_from_params(params: Mapping[str, Any], shape: tuple[int, int, int]) -> EngineView:
    """The view described by address parameters, validated against a series of ``shape``.

    Unknown or malformed values fall back to defaults; the crosshair is clamped into the
    volume. Never raises.
    """
    view = EngineView()
    layout = str(params.get("layout", ""))
    if layout in LAYOUTS:
        view.layout = layout
    plane = str(params.get("plane", ""))
    if plane in PLANES:
        view.plane = plane
    ijk = _floats(params.get("ijk", ""), 3)
    if ijk is not None:
        view.ijk = (
            min(max(round(ijk[0]), 0), shape[0] - 1),
            min(max(round(ijk[1]), 0), shape[1] - 1),
            min(max(round(ijk[2]), 0), shape[2] - 1),
        )
    wl = _floats(params.get("wl", ""), 2)
    if wl is not None and wl[0] > 0:
        view.window = Window(wl[0], wl[1])
        view.window_name = str(params.get("wn", ""))[:40]
    zoom = _floats(params.get("zoom", ""), 1)
    if zoom is not None and 0.25 <= zoom[0] <= 20:
        view.zoom = zoom[0]
    return view
