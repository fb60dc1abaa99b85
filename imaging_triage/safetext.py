"""Header text and file names made safe to print, log or write.

DICOM header strings are untrusted: a SeriesDescription may hold terminal escape
sequences (``ESC [2J`` clears the screen, ``ESC ]0;`` sets the window title), a damaged
Modality can be 130 KB of binary, and a folder name that is not valid UTF-8 reaches
Python as lone surrogates (``surrogateescape``), which cannot be encoded for a terminal or
a UTF-8 file. Everything printed to a terminal or a report goes through
:func:`printable`; everything written to a UTF-8 file goes through
:func:`escape_surrogates`.

The escaped form of a name that is not valid UTF-8 is documented: each byte that is not
part of a valid UTF-8 sequence is written as ``\\xNN`` (Python's ``backslashreplace``),
e.g. the latin-1 folder ``M\\xfcller`` appears as ``M\\xfcller`` in ``manifest.csv``.
"""

from __future__ import annotations

import unicodedata

#: longest header string printed in a table or a report line (characters)
MAX_PRINTED = 200


def escape_surrogates(text: str) -> str:
    """Replace lone surrogates (bytes of a non-UTF-8 name) with ``\\xNN`` escapes.

    Examples
    --------
    >>> escape_surrogates("M\\udcfcller")
    'M\\\\xfcller'
    >>> escape_surrogates("Müller")
    'Müller'
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that no file system produced
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def printable(value: object, limit: int = MAX_PRINTED) -> str:
    """``value`` as text fit for a terminal: no control or format characters, at most
    ``limit`` characters, non-UTF-8 bytes escaped.

    Control characters (ESC, BEL, NUL, ...) and invisible format characters (bidi
    overrides) become ``?``; a longer text is cut and says how much was left out.

    Examples
    --------
    >>> printable("T1\\x1b[2J axial")
    'T1?[2J axial'
    >>> printable("A" * 300, limit=10)
    'AAAAAAAAAA...[+290 chars]'
    """
    text = escape_surrogates(str(value))
    extra = len(text) - limit
    if extra > 0:
        text = text[:limit]
    cleaned = "".join(
        "?" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") else ch for ch in text
    )
    return cleaned + (f"...[+{extra} chars]" if extra > 0 else "")
