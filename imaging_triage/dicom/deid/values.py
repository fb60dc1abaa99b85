"""Values by value representation: which VRs hold text, numbers or bytes, the dummy and
empty values of actions D and Z, and checks that a DS/IS or date value is what its VR says."""

from __future__ import annotations

import re
from typing import Any

#: value representations holding free text (names, descriptions, comments, addresses)
TEXT_VRS = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC", "UR", "AE"})

NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"})

BINARY_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})

#: dummy values per VR for action D (dates/times only when they are not shifted)
DUMMY_TEXT = "ANONYMIZED"

DUMMY_BY_VR: dict[str, Any] = {
    "AE": "ANONYMIZED",
    "AS": "000D",
    "CS": "ANONYMIZED",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "DS": "0",
    "IS": "0",
    "UR": "",
}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


def empty_value(vr: str) -> Any:
    """A zero-length value for ``vr`` (action Z)."""
    if vr == "SQ":
        return []
    if vr in BINARY_VRS:
        return b""
    if vr in NUMERIC_VRS:
        return None
    return ""


def dummy_value(elem: Any) -> Any:
    vr = elem.VR
    if vr in DUMMY_BY_VR:
        return DUMMY_BY_VR[vr]
    if vr in TEXT_VRS or vr in ("LT", "ST", "UT", "UC"):
        return DUMMY_TEXT
    if vr in NUMERIC_VRS:
        return 0
    if vr in BINARY_VRS:
        return b""
    return None


_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


def is_numeric(value: Any) -> bool:
    """Whether every value of a DS/IS element is a decimal number (or empty)."""
    for v in as_list(value):
        if v is None or isinstance(v, int | float):
            continue
        text = str(v)
        if text.strip() and not _NUMBER.match(text):
            return False
    return True


_TEMPORAL = re.compile(r"^[0-9.+\-: ]*$")


def is_temporal(value: Any) -> bool:
    """Whether every value of a DA/DT/TM element holds only digits and separators."""
    return all(_TEMPORAL.match(str(v)) for v in as_list(value) if v is not None)
