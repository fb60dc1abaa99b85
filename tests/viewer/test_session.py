"""Session state: one owner per key; the view read back from the address."""

from __future__ import annotations

from typing import Any

import pytest

from imaging_triage.viewer import session


def test_ensure_sets_every_declared_key_and_keeps_existing_values() -> None:
    state: dict[str, Any] = {"reviewer": "Dr A"}
    session.ensure(state)
    assert {k.name for k in session.KEYS} <= set(state)
    assert state["reviewer"] == "Dr A" and state["measurements"] == []
    state["measurements"].append({"id": 1})
    other: dict[str, Any] = {}
    session.ensure(other)
    assert other["measurements"] == []  # a fresh default, not a shared list


def test_reset_study_keeps_the_reader_and_clears_the_view() -> None:
    state: dict[str, Any] = {}
    session.ensure(state)
    state.update(reviewer="Dr A", study="s1", series="x", point=(1, 2, 3), compare="s2")
    session.reset_study(state)
    assert state["reviewer"] == "Dr A" and state["study"] == "s1"
    assert state["series"] is None and state["point"] is None and state["compare"] is None


def test_commands_get_new_ids() -> None:
    state: dict[str, Any] = {}
    session.ensure(state)
    session.next_command(state, ijk=[1, 2, 3])
    first = state["command"]
    session.next_command(state, ijk=[4, 5, 6])
    assert state["command"]["id"] == first["id"] + 1 and state["command"]["ijk"] == [4, 5, 6]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"layout": "9x9", "plane": "oblique", "ijk": "a,b,c", "wl": "-5,40", "zoom": "inf"},
        {"ijk": "1,2", "wl": "nan,3", "zoom": "100"},
    ],
)
def test_malformed_view_parameters_fall_back_to_defaults(params: dict[str, str]) -> None:
    view = session.view_from_params(params, (10, 10, 10))
    assert (view.layout, view.plane, view.ijk, view.window, view.zoom) == (
        "1x1",
        "axial",
        None,
        None,
        None,
    )


def test_view_parameters_are_clamped_into_the_series() -> None:
    view = session.view_from_params(
        {
            "layout": "1x3",
            "plane": "coronal",
            "ijk": "-4,5.6,99",
            "wl": "200,75",
            "wn": "subdural",
            "zoom": "2.5",
        },
        (10, 10, 10),
    )
    assert view.ijk == (0, 6, 9) and view.layout == "1x3" and view.plane == "coronal"
    assert view.window is not None and view.window.width == 200 and view.window_name == "subdural"
    assert view.spec()["zoom"] == 2.5
