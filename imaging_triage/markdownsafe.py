"""User text (reader names, notes, reasons) shown as plain text in Markdown.

Streamlit's ``st.markdown``, ``st.write``, ``st.caption``, ``st.info`` and widget labels
render Markdown (with links, images, raw-HTML handling, ``$`` maths, ``:color[...]``
directives and bare-URL autolinks): a note typed as ``[x](http://...)`` would become a
live link. The plain way is a widget that never parses text (``st.text``, ``st.code``,
``st.dataframe`` cells). Where user text must sit inside Markdown (a line mixing bold
labels and a reader's note), pass it through :func:`markdown_safe` first.

CommonMark makes any ASCII punctuation character preceded by a backslash a literal
character, so escaping every one of them leaves no construct for the text to open: no
link, emphasis, heading, list, code span, HTML tag, entity, maths or directive; a bare
URL loses the ``://`` and ``www.`` an autolink needs.
"""

from __future__ import annotations

import re
import string
import unicodedata

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")


def markdown_safe(text: object) -> str:
    r"""``text`` escaped so that Markdown renders it as the same plain characters.

    Parameters
    ----------
    text : object
        Any value; ``str(text)`` is escaped.

    Returns
    -------
    str
        Every ASCII punctuation character backslash-escaped; control and bidirectional
        formatting characters (which can disguise text) removed, newlines and tabs kept
        (a newline becomes a Markdown line break).

    Examples
    --------
    >>> print(markdown_safe("[x](http://e.org) <b>"))
    \[x\]\(http\:\/\/e\.org\) \<b\>
    """
    value = "".join(
        ch for ch in str(text) if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf")
    )
    escaped = _PUNCTUATION.sub(r"\\\1", value)
    return escaped.replace("\n", "  \n")
