"""User text shown through Markdown stays plain text (issue 9)."""

from __future__ import annotations

import re
import string

import pytest

from imaging_triage.markdownsafe import markdown_safe

HOSTILE = [
    "[x](http://evil.example/)",
    "![img](http://evil.example/a.png)",
    "<b>bold</b> <script>alert(1)</script> <img src=x onerror=alert(1)>",
    "&lt;b&gt; &amp; &#60;",
    "**bold** _it_ `code` ~~gone~~",
    "# heading\n- item\n1. item\n> quote",
    "http://evil.example www.evil.example",
    "$x^2$ :red[alert] :material/warning:",
    "dr o'brien | table | row",
    "back\\slash\\[",
]


def _unescape(text: str) -> str:
    """CommonMark's rule: a backslash before ASCII punctuation is that literal character."""
    return re.sub(r"\\([" + re.escape(string.punctuation) + "])", r"\1", text).replace("  \n", "\n")


@pytest.mark.parametrize("text", HOSTILE)
def test_every_markdown_and_html_character_is_a_literal(text: str) -> None:
    safe = markdown_safe(text)
    # shown as typed: undoing CommonMark's escapes gives the original characters back
    assert _unescape(safe) == text
    # and no punctuation is left unescaped to open a link, a tag, an entity or maths
    bare = re.sub(r"\\[" + re.escape(string.punctuation) + "]", "", safe)
    assert not set(bare) & set(string.punctuation), bare


def test_link_and_tag_are_broken_apart() -> None:
    safe = markdown_safe("[x](http://e.org) <b>")
    assert "](" not in safe and "<b>" not in safe and "://" not in safe
    assert safe == r"\[x\]\(http\:\/\/e\.org\) \<b\>"


def test_control_and_bidi_characters_are_dropped_newlines_kept() -> None:
    assert markdown_safe("dr\u202eevil\x00 a\nb") == "drevil a  \nb"
    assert markdown_safe(42) == "42"
