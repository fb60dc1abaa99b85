"""Hanging protocol: which series a study opens on.

CT: an axial series reconstructed with a soft-tissue (brain) kernel, thin slices
preferred; bone-kernel, localizer-like and non-axial series only when nothing else
exists. MR: the diffusion trace image (DWI) when the study has one (the first look for an
acute infarct; its ADC map is the next choice), then FLAIR, then T2, then anything else.
Decided from headers alone (description, acquisition parameters, slice orientation,
the volume role found at ingest), so it is instant.

Examples
--------
>>> default_series(records).description                            # doctest: +SKIP
'Head 5mm brain'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from imaging_triage.records import SeriesRecord, Status, VolumeRole

_BONE = re.compile(
    r"bone|\bH6\d|\bH7\d|\bHr[5-9]\d|\bJ70|\bBONEPLUS\b|\blung\b|\bsharp\b|\bYC\b|\bFC30\b",
    re.I,
)
_BRAIN = re.compile(
    r"brain|\bH[1-4]\d|\bHr[1-4]\d|\bJ[1-4]\d|\bsoft\b|\bstd\b|standard|\bFC2\d|\bUB\b", re.I
)
_NON_AXIAL = re.compile(r"\b(cor|coronal|sag|sagittal|mpr|mip|3d|vr|scout|topo|localizer)\b", re.I)
_FLAIR = re.compile(r"flair|\bdark[\s_-]?fluid|\bIR[\s_-]?T2|T2[\s_-]?IR", re.I)
_T2 = re.compile(r"\bT2(?!\*|[\s_-]?star)|tse[\s_-]?t2|T2W", re.I)


def _text(record: SeriesRecord) -> str:
    acq = _acquisition(record)
    parts = [record.description, str(acq.get("ProtocolName", "")), str(acq.get("SequenceName", ""))]
    return " ".join(p for p in parts if p)


def _acquisition(record: SeriesRecord) -> dict[str, Any]:
    acq = record.header.get("acquisition") if isinstance(record.header, dict) else None
    return acq if isinstance(acq, dict) else {}


def is_axial(record: SeriesRecord) -> bool | None:
    """Whether the series' slices are axial (normal within 30 deg of S-I); None if unknown."""
    frames = record.frames
    if not frames:
        return None
    normal = getattr(frames[0], "normal", None)
    if normal is None:
        return None
    return bool(abs(float(np.asarray(normal)[2])) > np.cos(np.deg2rad(30.0)))


def score(record: SeriesRecord) -> float:
    """Higher is a better first series to show (only ``ok`` series score above zero)."""
    if record.status not in (Status.OK, Status.SKIPPED):
        return -1.0
    text = _text(record)
    kernel = str(_acquisition(record).get("ConvolutionKernel", ""))
    s = 1.0
    axial = is_axial(record)
    if axial is True:
        s += 4.0
    elif axial is None and not _NON_AXIAL.search(text):
        s += 2.0
    if record.modality.upper() == "CT" or (not record.modality and "ct" in text.lower()):
        if _BONE.search(kernel) or _BONE.search(text):
            s -= 2.0
        elif _BRAIN.search(kernel) or _BRAIN.search(text):
            s += 3.0
        slices = record.shape[2] if len(record.shape) > 2 else record.n_frames
        s += min(slices, 300) / 300.0  # thinner reconstructions have more slices
    elif record.role is VolumeRole.TRACE:
        s += 4.0
    elif record.role in (VolumeRole.ADC, VolumeRole.EADC):
        s += 3.5
    elif record.role is VolumeRole.DIFFUSION:
        s -= 0.5  # the raw 4-D diffusion volumes: the trace shows them better
    else:
        if _FLAIR.search(text) or "InversionTime" in _acquisition(record):
            s += 3.0
        elif _T2.search(text):
            s += 2.0
    return s


def default_series(records: Sequence[SeriesRecord]) -> SeriesRecord | None:
    """The series a study opens on, or None if no series is a usable volume."""
    usable = [r for r in records if score(r) > 0]
    if not usable:
        return None
    return max(usable, key=lambda r: (score(r), -(r.series_number or 0)))
