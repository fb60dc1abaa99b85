"""The browser components' Python side: payload decoding and inline images."""

from __future__ import annotations

import base64

from imaging_triage.viewer.components import event_value, png_data_url


class _Result:
    def __init__(self) -> None:
        self.click = {"fx": 0.25, "fy": 0.5}


def test_event_value_reads_attribute_or_mapping() -> None:
    assert event_value(_Result(), "click") == {"fx": 0.25, "fy": 0.5}
    assert event_value({"key": {"action": "next_slice"}}, "key") == {"action": "next_slice"}
    assert event_value(None, "click") is None
    assert event_value({}, "click") is None


def test_png_travels_inline() -> None:
    url = png_data_url(b"\x89PNG\r\n\x1a\nrest")
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == b"\x89PNG\r\n\x1a\nrest"
