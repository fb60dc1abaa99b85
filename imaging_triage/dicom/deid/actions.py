"""The actions of PS3.15 Table E.1-1, compound codes resolved to one action each."""

from __future__ import annotations

import enum

import imaging_triage.dicom.deid.table as deid_table
from imaging_triage.errors import (
    ConfigError,
)


class Action(str, enum.Enum):
    """What is done to one attribute (PS3.15 Table E.1-1 action codes)."""

    #: replace with a dummy value consistent with the VR (dates shifted when shifting)
    DUMMY = "D"
    #: replace with a zero-length value
    ZERO = "Z"
    #: remove the attribute
    REMOVE = "X"
    #: keep the attribute
    KEEP = "K"
    #: clean: keep the meaning, drop identity; done here as DUMMY
    CLEAN = "C"
    #: replace the UID(s) by keyed ones; for a sequence: keep it, de-identify its items
    UID = "U"


#: how each code of the table becomes one action (see the module docstring)
RESOLVE: dict[str, Action] = {
    "D": Action.DUMMY,
    "Z": Action.ZERO,
    "X": Action.REMOVE,
    "K": Action.KEEP,
    "C": Action.CLEAN,
    "U": Action.UID,
    "X/Z": Action.ZERO,
    "X/D": Action.DUMMY,
    "Z/D": Action.DUMMY,
    "X/Z/D": Action.DUMMY,
    "X/Z/U*": Action.UID,
}


def resolve_action(code: str) -> Action:
    """Return the single action for a (possibly compound) table code.

    Raises
    ------
    ConfigError
        If the code is unknown (the generated table is newer than this module).
    """
    try:
        return RESOLVE[code]
    except KeyError as err:
        raise ConfigError(
            f"unknown de-identification action {code!r}; update RESOLVE in dicom/deid/actions.py",
            code="deid-table",
        ) from err


def table_action(tag: int) -> Action | None:
    """Return the profile's action for a tag, ``None`` when the table does not list it."""
    code = deid_table.ACTIONS.get(tag)
    if code is None:
        for mask, value, wild_code, _name in deid_table.WILDCARDS:
            if tag & mask == value:
                code = wild_code
                break
    return None if code is None else resolve_action(code)
