"""Visual QC report: ``OUT/report.html``, a self-contained contact sheet (PNG images
embedded as base64).

One card per manifest row, failures first (then brain masks flagged by QC, then series
with automated candidates, then the rest, each group in manifest order), under a summary
of the run. A card gives the status and reason, the mask QC, the candidate score with its
reasons, and for every series with an output three planes side by side: axial, coronal
and sagittal slices of the output image with the brain-mask outline in red and the
candidate regions in amber. The slices cross at the centre of the first candidate region
when there is one (the card says so), else at the centre of the volume. The layout is a
grid of cards that fits its window: at 1366 px wide two cards sit side by side and no
card is wider than the window.

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

from imaging_triage.display import PRESET_WINDOWS, Preset, Window, apply_window
from imaging_triage.preprocess.reorient import reorient_array
from imaging_triage.volume import atomic_write_bytes, load_nifti

logger = logging.getLogger(__name__)

VIEWS = ("axial", "coronal", "sagittal")
OUTLINE_RGB = (255, 0, 0)
#: candidate regions (automated, not a diagnosis) drawn over the image
CANDIDATE_RGB = (255, 200, 0)


def mid_slices(
    data: npt.NDArray[Any], at: tuple[int, int, int] | None = None
) -> dict[str, npt.NDArray[Any]]:
    """The three slices of a RAS-ordered 3-D array crossing at voxel ``at`` (default: the
    centre), as 2-D display arrays (rows, cols)."""
    ni, nj, nk = data.shape[:3]
    i, j, k = at if at is not None else (ni // 2, nj // 2, nk // 2)
    return {
        "axial": data[::-1, ::-1, k].T,
        "coronal": data[::-1, j, ::-1].T,
        "sagittal": data[i, ::-1, ::-1].T,
    }


def candidate_centre(labels: npt.NDArray[Any]) -> tuple[int, int, int] | None:
    """The voxel nearest the centre of mass of the lowest-numbered candidate region (the
    largest region of the first check that found any), or None without candidates."""
    present = np.unique(labels[labels > 0])
    if present.size == 0:
        return None
    where = np.argwhere(labels == present[0])
    centre = where.mean(axis=0)
    nearest = where[int(np.argmin(((where - centre) ** 2).sum(axis=1)))]
    return (int(nearest[0]), int(nearest[1]), int(nearest[2]))


def _display_spacing(spacing: tuple[float, float, float]) -> dict[str, tuple[float, float]]:
    si, sj, sk = spacing
    return {"axial": (sj, si), "coronal": (sk, si), "sagittal": (sk, sj)}


def to_8bit(data: npt.NDArray[Any], ct: bool, mask: npt.NDArray[np.bool_] | None) -> Any:
    """Window a volume to 0..255 (CT brain window, else brain 1st-99th percentile)."""
    if ct:
        brain = PRESET_WINDOWS[Preset.BRAIN]
        return apply_window(data, brain)
    region = data[mask] if mask is not None and mask.any() else data[data != 0]
    if region.size == 0:
        region = data.ravel()
    lo, hi = np.percentile(region, [1, 99]) if region.size else (0.0, 1.0)
    width = float(hi - lo) or 1.0
    return apply_window(data, Window(width, float(lo) + width / 2.0))


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
    """PNG bytes of the three slices with the mask outline (see module docstring), and
    the candidate ``labels`` (non-zero voxels, on the image grid) filled in amber; the
    slices cross at the first candidate region when there is one (:func:`candidate_centre`)."""
    from PIL import Image

    data, ras_affine = reorient_array(np.asarray(image), affine)
    if data.ndim == 4:
        data = data[..., 0]
    mask_ras = (
        reorient_array(np.asarray(mask), affine)[0].astype(bool) if mask is not None else None
    )
    labels_ras = reorient_array(np.asarray(labels), affine)[0] if labels is not None else None
    at = candidate_centre(labels_ras) if labels_ras is not None else None
    spacing = tuple(float(s) for s in np.linalg.norm(ras_affine[:3, :3], axis=0))
    grey = to_8bit(data, ct, mask_ras)
    views = mid_slices(grey, at)
    outlines = mid_slices(mask_ras, at) if mask_ras is not None else {}
    found = mid_slices(labels_ras > 0, at) if labels_ras is not None else {}
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
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;padding:12px 16px;color:#222;background:#f6f6f6}
h1{font-size:20px;margin:0 0 6px}
.summary{background:#fff;border:1px solid #ccc;padding:8px 12px;margin-bottom:12px}
.summary p{margin:4px 0}
.note{color:#555;font-size:13px}
.sheet{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,600px),1fr));gap:12px;
align-items:start}
.card{background:#fff;border:1px solid #bbb;border-left:6px solid #8a8;padding:8px;min-width:0;
overflow-wrap:anywhere;font-size:13px}
.card.failed{border-left-color:#d32f2f;background:#fdecec}
.card.dropped{border-left-color:#999;background:#f3f3f3}
.card[data-qc=warn]{border-left-color:#d32f2f}
.card[data-candidates]{border-left-color:#e0a000}
.card h2{font-size:14px;margin:0 0 4px}
.card p{margin:2px 0}
.status{font-weight:bold;text-transform:uppercase}
.qc-warn{background:#d32f2f;color:#fff;font-weight:bold;padding:1px 4px}
.cand{background:#fff4d6;padding:1px 4px}
.views{display:flex;gap:4px;align-items:flex-start;margin-top:6px}
.views figure{flex:1 1 0;min-width:0;margin:0}
.views img{display:block;width:100%;height:auto;max-height:300px;object-fit:contain;
image-rendering:pixelated;background:#000}
.views figcaption{font-size:11px;color:#555;text-align:center}
.details{color:#555;font-size:12px}
"""

#: status groups of the contact sheet, shown in this order
_ORDER = ("failed", "qc-warn", "candidates", "other")


def _group(row: Mapping[str, str]) -> str:
    if row.get("status") == "failed":
        return "failed"
    if row.get("qc", "").startswith("warn"):
        return "qc-warn"
    if row.get("candidates", "").isdigit() and int(row["candidates"]) > 0:
        return "candidates"
    return "other"


def card_order(rows: Sequence[Mapping[str, str]]) -> list[int]:
    """Indices of ``rows`` in card order: failures, QC warnings, series with candidates,
    then the rest; manifest order within each group."""
    return sorted(range(len(rows)), key=lambda i: (_ORDER.index(_group(rows[i])), i))


def _candidates_line(row: Mapping[str, str], out: Path) -> tuple[str, bool]:
    """The card's candidates line and whether the slices show a candidate region."""
    score = row.get("candidates", "")
    if not score:
        return "", False
    reasons: list[str] = []
    regions = False
    output = row.get("output", "").split(";")[0]
    if output:
        from imaging_triage.candidates.stored import read_candidates

        stored = read_candidates(out / output)
        if stored is not None:
            reasons, regions = list(stored.score.reasons), bool(stored.regions)
    text = f"candidate score {score}" + (f": {'; '.join(reasons)}" if reasons else ": none")
    return (
        f"<p class='cand' data-score='{html.escape(score)}'>Automated {html.escape(text)}</p>",
        regions,
    )


def _card_html(
    number: int, row: dict[str, str], out: Path, views: Mapping[str, Mapping[str, bytes]]
) -> str:
    status = row.get("status", "")
    qc = row.get("qc", "")
    warn = qc.startswith("warn")
    images = ""
    output = row.get("output", "")
    if output and status in ("ok", "skipped"):
        first = output.split(";")[0]
        try:
            pngs = views.get(first) or _render_output(out / first, row.get("pipeline", ""))
            images = _images_html(pngs)
        except Exception as err:  # a broken output must not stop the report
            logger.warning("report: cannot render output %d (%s)", number, type(err).__name__)
            images = f"<p class='note'>cannot render: {html.escape(type(err).__name__)}</p>"
    candidates, on_candidate = _candidates_line(row, out)
    where = (
        "slices through the first candidate region (amber)"
        if on_candidate
        else "slices through the centre"
    )
    title = " · ".join(
        html.escape(v) for v in (row.get("input", ""), row.get("description", "")) if v
    )
    reason = row.get("reason", "")
    qc_html = (
        f"<span class='qc-warn'>mask QC {html.escape(qc)}</span>"
        if warn
        else f"mask QC {html.escape(qc)}"
        if qc
        else ""
    )
    details = " · ".join(
        f"{k} {html.escape(str(row.get(k, '')))}"
        for k in ("output", "shape", "spacing_mm", "seconds")
        if row.get(k, "") not in ("", None)
    )
    flags = " data-qc='warn'" if warn else ""
    if _group(row) == "candidates":
        flags += f" data-candidates='{html.escape(row['candidates'])}'"
    return (
        f"<section class='card {html.escape(status)}' data-row='{number}'{flags}>"
        f"<h2>#{number} {title}</h2>"
        f"<p><span class='status'>{html.escape(status)}</span> "
        f"{html.escape(row.get('modality', ''))}"
        + (f" · {html.escape(reason)}" if reason else "")
        + "</p>"
        + (f"<p>{qc_html}</p>" if qc_html else "")
        + candidates
        + (f"<div class='views' title='{where}'>{images}</div>" if images else "")
        + (f"<p class='note'>{where}</p>" if images else "")
        + f"<p class='details'>{details}</p></section>"
    )


def _render_output(image_path: Path, pipeline: str) -> dict[str, bytes]:
    vol = load_nifti(image_path)
    name = image_path.name
    stem = name[: -len(".nii.gz")] if name.endswith(".nii.gz") else image_path.stem
    # the mask and candidates this image was written with are named in its provenance,
    # not guessed by name
    try:
        outputs = json.loads(image_path.with_name(f"{stem}_provenance.json").read_text())
        named = outputs.get("outputs", {})
    except (OSError, ValueError, AttributeError):
        named = {}
    arrays: dict[str, Any] = {}
    for key in ("mask", "candidates"):
        file_name = named.get(key) if isinstance(named, dict) else None
        if isinstance(file_name, str) and (image_path.parent / file_name).is_file():
            arrays[key] = load_nifti(image_path.parent / file_name).data
    ct = pipeline == "ct" or (pipeline in ("", "convert") and float(np.min(vol.data)) <= -500)
    return render_views(
        vol.data, vol.affine, arrays.get("mask"), ct, labels=arrays.get("candidates")
    )


def _images_html(pngs: Mapping[str, bytes]) -> str:
    return "".join(
        f"<figure><img alt='{v}' title='{v}' data-view='{v}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"
        f"<figcaption>{v}</figcaption></figure>"
        for v, png in pngs.items()
    )


def _summary(rows: Sequence[dict[str, str]]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.get("status", "")] = counts.get(row.get("status", ""), 0) + 1
    status = ", ".join(f"{v} {html.escape(k)}" for k, v in sorted(counts.items()))
    lines = [f"<p><b>{len(rows)} series</b>: {status}.</p>"]
    failed = counts.get("failed", 0)
    if failed:
        lines.append(
            f"<p><b style='color:#d32f2f'>{failed} series failed: their cards come first, "
            "with the reason.</b></p>"
        )
    warned = sum(1 for r in rows if r.get("qc", "").startswith("warn"))
    if warned:
        lines.append(
            f"<p><b style='color:#d32f2f'>{warned} brain mask(s) flagged by QC: check the "
            "red cards before using their masks.</b></p>"
        )
    scored = [int(r["candidates"]) for r in rows if r.get("candidates", "").isdigit()]
    if scored:
        flagged = sum(1 for s in scored if s > 0)
        lines.append(
            f"<p>Automated candidates (not a diagnosis): {len(scored)} CT series checked, "
            f"{flagged} with a candidate (highest score {max(scored)}). The checks are not "
            "validated on patients; a series without a candidate is not normal.</p>"
        )
    return "".join(lines)


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
    known = views or {}
    cards = "\n".join(_card_html(i + 1, dict(rows[i]), out_path, known) for i in card_order(rows))
    text = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<div class='summary'>{_summary(rows)}"
        "<p class='note'>Automated preprocessing output for quality control. Any finding is "
        "a candidate for review by a qualified reader, never a diagnosis. Mask outline red, "
        "automated candidate regions amber. Axial and coronal views are radiological "
        "(patient's right on the left).</p></div>"
        f"<main class='sheet'>\n{cards}\n</main>"
        "</body></html>\n"
    )
    target = out_path / "report.html"
    atomic_write_bytes(target, text.encode("utf-8"))
    return target
