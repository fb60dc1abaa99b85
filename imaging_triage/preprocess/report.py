"""Visual QC report: ``OUT/report.html``, self-contained (PNG images embedded as base64).

One table row per manifest row (status and reason always shown); for every series with
an output, axial, coronal and sagittal mid-slices of the output image with the brain-mask
outline in red, so a reader checks a hundred series at a glance.

Display conventions (:func:`mid_slices`): volumes are brought to RAS order first;
axial and coronal views are radiological (patient's right on the viewer's left), anterior
is at the top of axial views and on the left of sagittal views, superior at the top of
coronal and sagittal views. Pixels are resized (nearest neighbour) to square millimetres
when the spacing is anisotropic. CT uses the brain window (80/40 HU); other images the
1st-99th percentile of the brain (or non-zero) voxels.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.display import PRESET_WINDOWS, Preset
from imaging_triage.preprocess.reorient import reorient_array
from imaging_triage.preprocess.window import apply_window
from imaging_triage.volume import atomic_write_bytes, load_nifti

logger = logging.getLogger(__name__)

VIEWS = ("axial", "coronal", "sagittal")
OUTLINE_RGB = (255, 0, 0)
#: candidate regions (automated, not a diagnosis) drawn over the image
CANDIDATE_RGB = (255, 200, 0)


def mid_slices(data: npt.NDArray[Any]) -> dict[str, npt.NDArray[Any]]:
    """The three mid-slices of a RAS-ordered 3-D array, as 2-D display arrays (rows, cols)."""
    ni, nj, nk = data.shape[:3]
    return {
        "axial": data[::-1, ::-1, nk // 2].T,
        "coronal": data[::-1, nj // 2, ::-1].T,
        "sagittal": data[ni // 2, ::-1, ::-1].T,
    }


def _display_spacing(spacing: tuple[float, float, float]) -> dict[str, tuple[float, float]]:
    si, sj, sk = spacing
    return {"axial": (sj, si), "coronal": (sk, si), "sagittal": (sk, sj)}


def to_8bit(data: npt.NDArray[Any], ct: bool, mask: npt.NDArray[np.bool_] | None) -> Any:
    """Window a volume to 0..255 (CT brain window, else brain 1st-99th percentile)."""
    if ct:
        brain = PRESET_WINDOWS[Preset.BRAIN]
        return apply_window(data, brain.width, brain.level)
    region = data[mask] if mask is not None and mask.any() else data[data != 0]
    if region.size == 0:
        region = data.ravel()
    lo, hi = np.percentile(region, [1, 99]) if region.size else (0.0, 1.0)
    width = float(hi - lo) or 1.0
    return apply_window(data, width, float(lo) + width / 2.0)


def _outline(mask2d: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    from scipy import ndimage

    return np.asarray(mask2d & ~ndimage.binary_erosion(mask2d), dtype=bool)


def render_views(
    image: npt.NDArray[Any],
    affine: npt.NDArray[np.float64],
    mask: npt.NDArray[Any] | None,
    ct: bool,
    labels: npt.NDArray[Any] | None = None,
) -> dict[str, bytes]:
    """PNG bytes of the three mid-slices with the mask outline (see module docstring),
    and the candidate ``labels`` (non-zero voxels) filled in amber when given."""
    from PIL import Image

    data, ras_affine = reorient_array(np.asarray(image), affine)
    if data.ndim == 4:
        data = data[..., 0]
    mask_ras = (
        reorient_array(np.asarray(mask), affine)[0].astype(bool) if mask is not None else None
    )
    spacing = tuple(float(s) for s in np.linalg.norm(ras_affine[:3, :3], axis=0))
    grey = to_8bit(data, ct, mask_ras)
    views = mid_slices(grey)
    outlines = mid_slices(mask_ras) if mask_ras is not None else {}
    found = (
        mid_slices(reorient_array(np.asarray(labels) > 0, affine)[0].astype(bool))
        if labels is not None
        else {}
    )
    pixel = _display_spacing((spacing[0], spacing[1], spacing[2]))
    out = {}
    for view in VIEWS:
        g = np.ascontiguousarray(views[view])
        rgb = np.repeat(g[:, :, None], 3, axis=2)
        if view in outlines:
            rgb[_outline(np.ascontiguousarray(outlines[view]))] = OUTLINE_RGB
        if view in found:
            rgb[np.ascontiguousarray(found[view])] = CANDIDATE_RGB
        img = Image.fromarray(rgb, mode="RGB")
        dy, dx = pixel[view]
        unit = min(dy, dx)
        size = (round(img.width * dx / unit), round(img.height * dy / unit))
        if size != (img.width, img.height):
            img = img.resize(size, Image.Resampling.NEAREST)
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=False)
        out[view] = buf.getvalue()
    return out


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1em;color:#222}
table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:4px;vertical-align:top;font-size:13px}
th{background:#eee;text-align:left}
tr.failed td{background:#fde8e8} tr.dropped td{background:#f3f3f3}
tr[data-qc=warn] td{background:#fff0f0}
td.qc-warn{background:#d32f2f!important;color:#fff;font-weight:bold}
td.views img{height:150px;margin-right:4px;image-rendering:pixelated;background:#000}
.note{color:#555}
"""


def _row_html(
    number: int, row: dict[str, str], out: Path, views: Mapping[str, Mapping[str, bytes]]
) -> str:
    cells = [
        str(number),
        html.escape(row.get("input", "")),
        html.escape(row.get("description", "")),
        html.escape(row.get("modality", "")),
        f"<b>{html.escape(row.get('status', ''))}</b>",
        html.escape(row.get("reason", "")),
        html.escape(row.get("output", "")),
        html.escape(row.get("shape", "")),
        html.escape(row.get("spacing_mm", "")),
        html.escape(str(row.get("seconds", ""))),
    ]
    qc = row.get("qc", "")
    images = ""
    output = row.get("output", "")
    if output and row.get("status") in ("ok", "skipped"):
        first = output.split(";")[0]
        try:
            pngs = views.get(first) or _render_output(out / first, row.get("pipeline", ""))
            images = _images_html(pngs)
        except Exception as err:  # a broken output must not stop the report
            logger.warning("report: cannot render output %d (%s)", number, type(err).__name__)
            images = f"<span class='note'>cannot render: {html.escape(type(err).__name__)}</span>"
    tds = "".join(f"<td>{c}</td>" for c in cells)
    warn = qc.startswith("warn")
    tds += f"<td class='qc-warn'>{html.escape(qc)}</td>" if warn else f"<td>{html.escape(qc)}</td>"
    status = html.escape(row.get("status", ""))
    flag = " data-qc='warn'" if warn else ""
    return (
        f"<tr class='{status}' data-row='{number}'{flag}>{tds}<td class='views'>{images}</td></tr>"
    )


def _render_output(image_path: Path, pipeline: str) -> dict[str, bytes]:
    vol = load_nifti(image_path)
    name = image_path.name
    stem = name[: -len(".nii.gz")] if name.endswith(".nii.gz") else image_path.stem
    # the mask this image was written with is named in its provenance, not guessed by name
    mask = None
    try:
        outputs = json.loads(image_path.with_name(f"{stem}_provenance.json").read_text())
        mask_name = outputs.get("outputs", {}).get("mask")
    except (OSError, ValueError, AttributeError):
        mask_name = None
    if isinstance(mask_name, str) and (image_path.parent / mask_name).is_file():
        mask = load_nifti(image_path.parent / mask_name).data
    ct = pipeline == "ct" or (pipeline in ("", "convert") and float(np.min(vol.data)) <= -500)
    return render_views(vol.data, vol.affine, mask, ct)


def _images_html(pngs: Mapping[str, bytes]) -> str:
    return "".join(
        f"<img alt='{v}' title='{v}' data-view='{v}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"
        for v, png in pngs.items()
    )


def _qc_summary(rows: Sequence[dict[str, str]]) -> str:
    warned = sum(1 for r in rows if r.get("qc", "").startswith("warn"))
    if not warned:
        return ""
    return (
        f" <b style='color:#d32f2f'>{warned} brain mask(s) flagged by QC: check the red "
        "rows before using their masks.</b>"
    )


def write_report(
    out: str | Path,
    rows: Sequence[dict[str, str]],
    title: str = "QC report",
    views: Mapping[str, Mapping[str, bytes]] | None = None,
) -> Path:
    """Write ``OUT/report.html`` for manifest ``rows`` (dicts as read from the CSV).

    ``views`` maps an output path (relative to OUT, as in the manifest) to renderings
    already made by the workers (:func:`render_views` of the written arrays); other
    outputs (e.g. series skipped on resume) are read back and rendered here.

    Returns
    -------
    Path
        The report's path.
    """
    out_path = Path(out)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.get("status", "")] = counts.get(row.get("status", ""), 0) + 1
    summary = ", ".join(f"{v} {html.escape(k)}" for k, v in sorted(counts.items()))
    head = (
        "<th>#</th><th>input</th><th>description</th><th>modality</th><th>status</th>"
        "<th>reason</th><th>output</th><th>shape</th><th>spacing (mm)</th><th>seconds</th>"
        "<th>mask QC</th>"
        "<th>axial / coronal / sagittal (mask outline red)</th>"
    )
    known = views or {}
    body = "\n".join(_row_html(i + 1, row, out_path, known) for i, row in enumerate(rows))
    text = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{len(rows)} series: {summary}.{_qc_summary(rows)}</p>"
        "<p class='note'>Automated preprocessing output for quality control. Any finding is "
        "a candidate for review by a qualified reader, never a diagnosis. Axial and coronal "
        "views are radiological (patient's right on the left).</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"
        "</body></html>\n"
    )
    target = out_path / "report.html"
    atomic_write_bytes(target, text.encode("utf-8"))
    return target
