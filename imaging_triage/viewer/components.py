"""Two small browser components for the viewer page (Streamlit custom components v2).

* :func:`clickable_image` shows a rendered slice and reports where it was clicked, as
  fractions of the image's width and height (so the page maps the click to a voxel
  whatever the image's on-screen size).
* :func:`keyboard` reports navigation keys pressed on the page (not while typing in a
  field): previous/next slice, previous/next study, next unread.

Both are inline HTML/JavaScript served by the local Streamlit server: nothing is fetched
from the network. They need Streamlit >= 1.50 (``st.components.v2``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

_IMAGE_JS = """
export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  let img = parentElement.querySelector("img.it-slice");
  if (!img) {
    img = document.createElement("img");
    img.className = "it-slice";
    img.style.cursor = "crosshair";
    img.style.display = "block";
    img.style.width = "100%";
    img.style.height = "auto";
    img.style.imageRendering = "auto";
    img.addEventListener("click", (event) => {
      const box = img.getBoundingClientRect();
      img.__send("click", {
        fx: (event.clientX - box.left) / box.width,
        fy: (event.clientY - box.top) / box.height,
        nonce: Date.now() + Math.random(),
      });
    });
    parentElement.appendChild(img);
  }
  img.__send = setTriggerValue;
  img.src = data.src;
  img.alt = data.alt;
  img.title = data.alt;
  img.dataset.plane = data.plane;
  img.dataset.index = String(data.index);
  img.style.maxWidth = data.width + "px";
}
"""

_KEYS_JS = """
export default function (component) {
  const { setTriggerValue } = component;
  window.__imagingTriageKeys = setTriggerValue;
  if (window.__imagingTriageKeysInstalled) { return; }
  window.__imagingTriageKeysInstalled = true;
  const actions = {
    ArrowUp: "next_slice", PageUp: "next_slice", k: "next_slice",
    ArrowDown: "prev_slice", PageDown: "prev_slice", j: "prev_slice",
    "]": "next_study", "[": "prev_study", n: "next_unread",
  };
  document.addEventListener("keydown", (event) => {
    const t = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    const typing = "input, textarea, select, [role=slider], [contenteditable=true]";
    if (t && t.closest && t.closest(typing)) { return; }
    const action = actions[event.key];
    if (!action || !window.__imagingTriageKeys) { return; }
    event.preventDefault();
    window.__imagingTriageKeys("key", { action: action, nonce: Date.now() + Math.random() });
  });
}
"""


@cache
def _image_component() -> Callable[..., Any]:
    import streamlit as st

    return st.components.v2.component("imaging_triage_slice", js=_IMAGE_JS, isolate_styles=False)


@cache
def _keys_component() -> Callable[..., Any]:
    import streamlit as st

    return st.components.v2.component("imaging_triage_keys", js=_KEYS_JS)


def png_data_url(png: bytes) -> str:
    """``data:`` URL of PNG bytes (the image travels inside the page, no file served)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def clickable_image(
    png: bytes,
    *,
    key: str,
    plane: str,
    index: int,
    width: int,
    alt: str,
    on_click: Callable[[], None],
) -> None:
    """Show an image; ``on_click`` runs (before the rerun) when it is clicked.

    Read the click inside ``on_click`` with :func:`event_value` ``(key, "click")``:
    ``{"fx": ..., "fy": ...}``, fractions of the width and height from the top left.
    """
    _image_component()(
        key=key,
        data={"src": png_data_url(png), "plane": plane, "index": index, "width": width, "alt": alt},
        on_click_change=on_click,
        height="content",
    )


def keyboard(*, key: str, on_key: Callable[[], None]) -> None:
    """Listen for navigation keys; ``on_key`` reads the action with :func:`event_value`.

    Actions: ``next_slice`` (Up, PageUp, k), ``prev_slice`` (Down, PageDown, j),
    ``next_study`` (]), ``prev_study`` ([), ``next_unread`` (n).
    """
    _keys_component()(key=key, on_key_change=on_key, height=0)


def event_value(state: Any, event: str) -> Any:
    """The payload of ``event`` in a component's session-state value, or None."""
    if state is None:
        return None
    value = getattr(state, event, None)
    if value is None and isinstance(state, Mapping):
        value = state.get(event)
    return value
