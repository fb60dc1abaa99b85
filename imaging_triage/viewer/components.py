"""The study-navigation keyboard component, and reading component events.

* :func:`keyboard` reports study-navigation keys pressed on the page (not while typing in
  a field): previous/next study, next unread. Image keys belong to the image engine
  (:mod:`imaging_triage.viewer.engine`).
* :func:`event_value` reads an event's payload from a component's state.

The component is inline JavaScript served by the local Streamlit server: nothing is fetched
from the network. They need Streamlit >= 1.50 (``st.components.v2``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

_KEYS_JS = """
export default function (component) {
  const { setTriggerValue } = component;
  window.__imagingTriageKeys = setTriggerValue;
  if (window.__imagingTriageKeysInstalled) { return; }
  window.__imagingTriageKeysInstalled = true;
  const actions = { "]": "next_study", "[": "prev_study", n: "next_unread" };
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
def _keys_component() -> Callable[..., Any]:
    import streamlit as st

    return st.components.v2.component("imaging_triage_keys", js=_KEYS_JS)


def keyboard(*, key: str, on_key: Callable[[], None]) -> None:
    """Listen for navigation keys; ``on_key`` reads the action with :func:`event_value`.

    Actions: ``next_study`` (]), ``prev_study`` ([), ``next_unread`` (n). Slice and
    window keys belong to the image engine (:mod:`imaging_triage.viewer.engine`).
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
