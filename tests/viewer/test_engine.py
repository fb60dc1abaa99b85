"""What the page sends the image engine: series description, presets, view, markers."""

from __future__ import annotations

import json

import numpy as np
from viewer.synthetic_studies import make_head

from imaging_triage.display import Preset, Window
from imaging_triage.viewer.engine import (
    EngineData,
    EngineSeries,
    EngineView,
    Marker,
    presets_for,
)
from imaging_triage.viewer.loader import OpenSeries
from imaging_triage.viewer.planes import DisplayVolume
from imaging_triage.volume import SeriesInfo, Volume


def _opened(is_ct: bool) -> OpenSeries:
    head = make_head()
    if not is_ct:
        head = Volume(np.abs(head.data) + 10, head.affine, SeriesInfo(modality="MR"))
    window = Preset.BRAIN.window if is_ct else Window(500.0, 400.0)
    return OpenSeries("k1", DisplayVolume.from_volume(head), window, is_ct, 0.0)


def test_ct_offers_the_design_presets_on_keys_1_to_5_and_opens_on_brain() -> None:
    presets = presets_for(_opened(True))
    assert [(p.name, p.window.width, p.window.level) for p in presets] == [
        ("brain", 80.0, 40.0),
        ("subdural", 200.0, 75.0),
        ("stroke", 40.0, 40.0),
        ("bone", 2800.0, 600.0),
        ("soft tissue", 400.0, 40.0),
    ]
    spec = EngineSeries("k1", "#2 HEAD", "http://127.0.0.1:1/v/x", _opened(True)).spec()
    assert spec["window"] == {"w": 80.0, "l": 40.0} and spec["unit"] == "HU"


def test_mr_opens_on_its_percentile_window_without_units() -> None:
    spec = EngineSeries("k2", "T1", "http://127.0.0.1:1/v/y", _opened(False)).spec()
    assert spec["window"] == {"w": 500.0, "l": 400.0} and spec["unit"] == ""
    assert [p["name"] for p in spec["presets"]] == ["percentile 1-99"]


def test_spec_is_json_with_canonical_geometry() -> None:
    opened = _opened(True)
    dv = opened.volume
    data = EngineData(
        series=EngineSeries("k1", "#2 HEAD", "http://127.0.0.1:1/v/x", opened),
        view=EngineView(layout="1x3", ijk=(1, 2, 3), window=Window(200, 75), zoom=2.0),
        markers=[Marker((4, 5, 6), "#1 SDH")],
        overlay_url="http://127.0.0.1:1/v/o",
        command={"id": 3, "ijk": [7, 8, 9]},
    )
    spec = json.loads(json.dumps(data.spec()))
    series = spec["series"]
    assert series["shape"] == list(dv.shape) and series["dtype"] == "float32"
    assert np.allclose(series["affine"], dv.affine, atol=1e-6)
    # canonical RAS: the affine's diagonal is positive (the engine's screen mapping needs it)
    assert all(np.diag(np.asarray(series["affine"]))[:3] > 0)
    assert spec["view"] == {
        "layout": "1x3",
        "plane": "axial",
        "ijk": [1, 2, 3],
        "window": {"w": 200.0, "l": 75.0},
        "windowName": "",
        "zoom": 2.0,
    }
    assert spec["markers"] == [{"ijk": [4, 5, 6], "label": "#1 SDH"}]
    assert spec["overlay"]["dtype"] == "uint8" and spec["overlay"]["shape"] == list(dv.shape)
    assert spec["command"] == {"id": 3, "ijk": [7, 8, 9]}
