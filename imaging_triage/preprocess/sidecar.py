"""JSON sidecar of an output image: BIDS keys where they apply, corrections, warnings.

No patient identifiers: acquisition keys that could identify a person or a visit
(names, IDs, dates, institution, device serial numbers) are never written, even if an
upstream reader put them into :attr:`SeriesInfo.acquisition`.
"""

from __future__ import annotations

import re
from typing import Any

from imaging_triage.volume import SeriesInfo

_IDENTIFYING = re.compile(
    r"patient|accession|institution|physician|operator|date|birth|address|station|serial"
    r"|requesting|referring|performing",
    re.IGNORECASE,
)


def bids_sidecar(info: SeriesInfo, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the sidecar dictionary for a volume.

    Parameters
    ----------
    info : SeriesInfo
        Series description; ``acquisition`` already uses BIDS key names.
    extra : dict, optional
        More keys (e.g. ``ImagingTriage`` processing notes).

    Examples
    --------
    >>> info = SeriesInfo(modality="CT", acquisition={"SliceThickness": 5.0, "PatientName": "X"})
    >>> sorted(bids_sidecar(info))
    ['Corrections', 'Modality', 'SliceThickness', 'Warnings']
    """
    out: dict[str, Any] = {}
    if info.modality:
        out["Modality"] = info.modality
    if info.manufacturer:
        out["Manufacturer"] = info.manufacturer
    if info.series_description:
        out["SeriesDescription"] = info.series_description
    if info.series_number is not None:
        out["SeriesNumber"] = info.series_number
    for key, value in info.acquisition.items():
        if not _IDENTIFYING.search(key):
            out.setdefault(key, value)
    out["Corrections"] = list(info.corrections)
    out["Warnings"] = list(info.warnings)
    if extra:
        out.update(extra)
    return out
