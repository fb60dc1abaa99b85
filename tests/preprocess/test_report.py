"""report.html: a contact sheet, one card per manifest row (failures first), images are
real renderings of the outputs with the mask outline and the candidate overlay."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from imaging_triage.batch import read_manifest, run_batch
from imaging_triage.display import Window, apply_window
from imaging_triage.preprocess.config import default_config, merge
from imaging_triage.preprocess.phantom import ct_head_phantom, mr_head_phantom
from imaging_triage.preprocess.report import (
    CANDIDATE_RGB,
    OUTLINE_RGB,
    candidate_centre,
    card_order,
    mid_slices,
    render_views,
    write_report,
)
from imaging_triage.volume import Volume, load_nifti, save_nifti

CONFIG = {
    # the candidate overlay has its own test: here the views are the plain mid-slices
    "candidates": {"enabled": False},
    "ct": {"resample": {"spacing_mm": [3.0, 3.0, 3.0]}},
    "mr": {
        "resample": {"spacing_mm": [3.0, 3.0, 3.0]},
        "n4": {"shrink_factor": 2, "iterations": [5]},
    },
}


def _decode(src: str) -> np.ndarray:
    assert src.startswith("data:image/png;base64,")
    png = base64.b64decode(src.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_report_rows_and_images(tmp_path: Path) -> None:
    src = tmp_path / "in"
    save_nifti(ct_head_phantom((3.0, 3.0, 4.0)).volume, src / "a" / "ct.nii.gz")
    save_nifti(mr_head_phantom((3.0, 3.0, 4.0)).volume, src / "b" / "mr.nii.gz")
    (src / "bad.nii").write_bytes(b"\0" * 10)
    out = tmp_path / "out"
    summary = run_batch(src, out, merge(default_config(), CONFIG), jobs=1)
    rows = read_manifest(out / "manifest.csv")
    report = write_report(out, rows)  # renders from the files on disk
    text = report.read_text()
    # the workers' renderings of the arrays they wrote are the same images
    worker_views = {r.output: r.views for r in summary.rows if r.views}
    assert len(worker_views) == 2
    again = write_report(out, rows, views=worker_views).read_text()
    assert again == text

    # one card per manifest row, with status and reason; the failure first
    cards = re.findall(r"<section class='card (\w+)' data-row='(\d+)'[^>]*>", text)
    assert len(cards) == len(rows) == 3
    assert cards[0][0] == "failed" and rows[int(cards[0][1]) - 1]["input"] == "bad.nii"
    assert "cannot read as NIfTI" in text and "3 series</b>: 1 failed, 2 ok" in text
    # self-contained: no external references
    assert "src='http" not in text and "href=" not in text
    # 3 views for each of the 2 ok series
    assert len(re.findall(r"data:image/png;base64,", text)) == 6

    ct_row = next(r for r in rows if r["input"] == "a/ct.nii.gz")
    number = rows.index(ct_row) + 1
    row_html = re.search(rf"data-row='{number}'>(.*?)</section>", text, re.S)
    assert row_html is not None
    srcs = dict(re.findall(r"data-view='(\w+)' src='([^']+)'", row_html.group(1)))
    axial = _decode(srcs["axial"])

    image = load_nifti(out / ct_row["output"])
    mask = load_nifti(out / ct_row["output"].replace(".nii.gz", "_mask.nii.gz")).data.astype(bool)
    expected = apply_window(mid_slices(image.data)["axial"], Window(80, 40))
    outline = mid_slices(mask)["axial"]
    outline = outline & ~ndimage.binary_erosion(outline)
    assert axial.shape[:2] == expected.shape
    red = np.all(axial == OUTLINE_RGB, axis=2)
    assert np.array_equal(red, outline)
    assert outline.sum() > 20
    grey = ~red
    assert np.array_equal(axial[grey][:, 0], expected[grey])
    assert np.array_equal(axial[grey][:, 1], expected[grey])


def test_anisotropic_views_are_resized_to_square_mm() -> None:
    data = np.zeros((10, 20, 5), dtype=np.float32)
    vol = Volume(data, np.diag([1.0, 1.0, 4.0, 1.0]))
    pngs = render_views(vol.data, vol.affine, None, ct=False)
    coronal = Image.open(io.BytesIO(pngs["coronal"]))
    axial = Image.open(io.BytesIO(pngs["axial"]))
    assert axial.size == (10, 20)  # (width i, height j)
    assert coronal.size == (10, 20)  # 5 slices of 4 mm shown 20 px high


def test_candidate_overlay_and_slices_through_the_first_region() -> None:
    shape = (40, 50, 30)
    image = np.full(shape, 30.0, dtype=np.float32)
    labels = np.zeros(shape, dtype=np.uint8)
    labels[5:9, 30:34, 20:23] = 1  # the first region: the slices cross at its centre
    labels[25:27, 10:12, 5:7] = 2  # another, elsewhere
    pngs = render_views(image, np.eye(4), None, ct=True, labels=labels)
    views = {v: np.asarray(Image.open(io.BytesIO(p)).convert("RGB")) for v, p in pngs.items()}
    at = candidate_centre(labels)
    assert at is not None and labels[at] == 1
    for view, plane in mid_slices(labels > 0, at).items():
        amber = np.all(views[view] == CANDIDATE_RGB, axis=2)
        assert np.array_equal(amber, plane), view
        assert amber.any()
    assert candidate_centre(np.zeros(shape, dtype=np.uint8)) is None


def test_cards_order_failures_then_qc_warnings_then_candidates() -> None:
    rows = [
        {"status": "ok", "candidates": "0"},
        {"status": "ok", "candidates": "55"},
        {"status": "dropped"},
        {"status": "ok", "qc": "warn: small"},
        {"status": "failed"},
        {"status": "ok"},
    ]
    assert card_order(rows) == [4, 3, 1, 0, 2, 5]
