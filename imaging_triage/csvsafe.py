"""CSV cells a spreadsheet will not run as formulas (OWASP "CSV injection").

Manifests and review exports carry text from DICOM headers and from readers' notes; a
cell such as ``=HYPERLINK(...)`` would run when the file is opened in a spreadsheet.
"""

from __future__ import annotations

from typing import Any

#: first characters that make a spreadsheet treat a cell as a formula (CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Quote free text that a spreadsheet would run as a formula (OWASP CSV injection).

    Numbers stay numbers (a negative coordinate is not text); a text cell starting with
    ``= + - @``, a tab or a carriage return gets a leading apostrophe.

    Examples
    --------
    >>> spreadsheet_safe("@SUM(A1)")
    "'@SUM(A1)"
    >>> spreadsheet_safe(-12.5)
    -12.5
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value
