"""CSV cells a spreadsheet will not run as formulas (OWASP "CSV injection").

Manifests and review exports carry text from DICOM headers and from readers' notes; a
cell such as ``=HYPERLINK(...)`` would run when the file is opened in a spreadsheet.
"""

from __future__ import annotations

import csv
import os
import sys
from typing import Any

from imaging_triage.safetext import escape_surrogates

#: first characters that make a spreadsheet treat a cell as a formula (CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Quote free text that a spreadsheet would run as a formula (OWASP CSV injection).

    Numbers stay numbers (a negative coordinate is not text); a text cell starting with
    ``= + - @``, a tab or a carriage return gets a leading apostrophe. Bytes of a file
    name that is not valid UTF-8 are written as ``\\xNN`` escapes
    (:func:`imaging_triage.safetext.escape_surrogates`), so the file stays valid UTF-8.

    Examples
    --------
    >>> spreadsheet_safe("@SUM(A1)")
    "'@SUM(A1)"
    >>> spreadsheet_safe(-12.5)
    -12.5
    """
    if isinstance(value, str):
        value = escape_surrogates(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read a CSV file we wrote (a manifest, an export) as dicts, without the csv
    module's 131,072-character field limit (a header string can be longer).
    """
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
