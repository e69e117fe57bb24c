"""Text clean-up shared by the extractor: ligatures, hyphenation, normalised keys."""

from __future__ import annotations

import re

# MuPDF expands real ligature glyphs itself when TEXT_PRESERVE_LIGATURES is off, but some
# fonts map ligatures to private or unrelated code points; these are the ones seen in
# real papers (e.g. Computer Modern via dvips maps "ff" to U+21B5 '↵').
_GLYPH_FIXES = str.maketrans(
    {
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb05": "st",
        "\ufb06": "st",
        "\u00a0": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2009": " ",
        "\u200b": "",
        "\u00ad": "",  # soft hyphen: a line-end break hint, never content
    }
)
_ARROW_FF = re.compile(r"(?<=[a-zA-Z])\u21b5(?=[a-zA-Z]|\b)|\u21b5(?=[a-z])")


def clean(text: str) -> str:
    if text.isascii():
        return text
    text = text.translate(_GLYPH_FIXES)
    if "\u21b5" in text:
        text = _ARROW_FF.sub("ff", text)
    return text


def join_lines(lines: list[str]) -> str:
    """Join text lines into running text, undoing end-of-line hyphenation.

    A line ending in letter+'-' followed by a line starting with a lower-case letter is a
    word split by the typesetter ("effi-" / "ciency"): join without the hyphen.
    """
    out: list[str] = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        prev = out[-1] if out else ""
        if prev[-1:] == "-" and line[:1].islower() and prev[-2:-1].isalpha():
            out[-1] = out[-1][:-1] + line
        else:
            out.append(line)
    return " ".join(out)


_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def key(text: str) -> str:
    """Lower-case letters and digits only: for comparing headings across sources."""
    return _NON_WORD.sub(" ", clean(text).lower()).strip()


_WORD = re.compile(r"[0-9a-z]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())
