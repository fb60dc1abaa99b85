"""Date shifting (Retain Longitudinal Temporal Information Modified Dates Option): every
date moved by the same number of days, unparseable values emptied."""

from __future__ import annotations

import datetime as dt
from typing import Any

from imaging_triage.dicom.deid.values import as_list


def shift_date(value: str, days: int) -> str:
    """Shift one DA value (or a ``from-to`` range); unparseable values become empty."""
    parts = value.strip().split("-")
    out = []
    for part in parts:
        if not part:
            out.append("")
            continue
        try:
            day = dt.datetime.strptime(part[:8], "%Y%m%d").date()
        except ValueError:
            return ""
        if len(part) != 8:
            return ""
        out.append((day + dt.timedelta(days=days)).strftime("%Y%m%d"))
    return "-".join(out)


def shift_datetime(value: str, days: int) -> str:
    """Shift the date part of one DT value; values without a full date become empty."""
    text = value.strip()
    if "-" in text[1:] and not any(c in text for c in "+&"):
        # a range (query syntax) or a negative offset: shift each side
        pieces = text.split("-")
        if len(pieces) == 2 and all(len(p) >= 8 or not p for p in pieces):
            return "-".join(shift_datetime(p, days) if p else "" for p in pieces)
    if len(text) < 8 or not text[:8].isdigit():
        return ""
    shifted = shift_date(text[:8], days)
    return shifted + text[8:] if shifted else ""


def shifted(elem: Any, days: int) -> Any:
    """The value of a DA/DT element with every date shifted by ``days``."""
    fn = shift_date if elem.VR == "DA" else shift_datetime
    values = [fn(str(v), days) for v in as_list(elem.value) if str(v).strip()]
    values = [v for v in values if v]
    if not values:
        return ""
    return values[0] if len(values) == 1 else values
