"""The keyboard component's Python side: payload decoding."""

from __future__ import annotations

from imaging_triage.viewer.components import event_value


class _Result:
    def __init__(self) -> None:
        self.click = {"fx": 0.25, "fy": 0.5}


def test_event_value_reads_attribute_or_mapping() -> None:
    assert event_value(_Result(), "click") == {"fx": 0.25, "fy": 0.5}
    assert event_value({"key": {"action": "next_slice"}}, "key") == {"action": "next_slice"}
    assert event_value(None, "click") is None
    assert event_value({}, "click") is None
