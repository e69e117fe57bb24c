"""Page text → visual lines in reading order, without running headers, footers and stamps.

One `get_text("dict")` call per page, without image decoding (images would make it about
five times slower), then a linear pass in Python:

* rotated text (the arXiv stamp in the left margin, "Author Manuscript" margin notes) is
  dropped by its writing direction;
* fragments on one baseline are merged into one line, so a section number printed as its
  own text object ("3" ... "Method") comes back as "3 Method", and justified text that
  MuPDF splits word by word comes back whole;
* a page with two text columns is read column by column, band by band, where full-width
  elements (titles, wide figures and tables) separate the bands;
* running headers and footers are found afterwards across pages (`drop_page_furniture`).
"""

from __future__ import annotations

import re
from collections import Counter

import pymupdf

from .text import clean

# Ligatures expanded by MuPDF (no TEXT_PRESERVE_LIGATURES); no TEXT_PRESERVE_IMAGES.
TEXT_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP

_BOLD_FONT = re.compile(
    r"bold|black|heavy|semibold|demi|medi|cmbx|cmb\d|bx\d|[-_,.]b$|[-_,.]sb$|tb$|bd$",
    re.IGNORECASE,
)
_ITALIC_FONT = re.compile(
    r"ital|oblique|cmti|cmmi|[-_,.]it$|[-_,.]i$|ti\d", re.IGNORECASE
)


_STYLE_CACHE: dict[tuple[str, int], tuple[bool, bool]] = {}


def _span_style(font: str, flags: int) -> tuple[bool, bool]:
    """(bold, italic) from the span flags and, for fonts without flags, the font name."""
    style = _STYLE_CACHE.get((font, flags))
    if style is None:
        style = (
            bool(flags & 16) or bool(_BOLD_FONT.search(font)),
            bool(flags & 2) or bool(_ITALIC_FONT.search(font)),
        )
        _STYLE_CACHE[(font, flags)] = style
    return style


class Line:
    """One visual line of text with the typography needed to spot headings."""

    __slots__ = (
        "base",
        "bold",
        "col",
        "font",
        "gap_above",
        "index",
        "italic",
        "lead",
        "lead_bold",
        "page",
        "para_start",
        "size",
        "size_max",
        "text",
        "x0",
        "x1",
        "y0",
        "y1",
    )

    def __init__(
        self,
        page,
        x0,
        y0,
        x1,
        y1,
        base,
        text,
        size,
        bold,
        italic,
        font,
        lead,
        lead_bold,
    ):
        self.page = page  # 1-based
        self.col = -1  # -1 single column or full width, 0 left, 1 right
        self.x0, self.y0, self.x1, self.y1, self.base = x0, y0, x1, y1, base
        self.text = text
        self.size = size
        self.size_max = size  # small caps: capitals are bigger than the weighted size
        self.bold = bold  # every letter of the line is bold
        self.italic = italic
        self.font = font
        self.lead = (
            lead  # leading emphasised words (run-in label) when the rest is plain
        )
        self.lead_bold = lead_bold
        self.para_start = False
        self.gap_above = 0.0
        self.index = 0

    def __repr__(self) -> str:  # for debugging only
        return f"Line(p{self.page} c{self.col} {self.size:.1f}{' B' if self.bold else ''} {self.text!r})"


def _make_line(page_no: int, spans: list[dict], bbox) -> Line | None:
    # Hot loop (every span of every page): counts by len(), no per-character work, and
    # the line's size and font are those of its longest span.
    parts: list[str] = []
    total = bold_chars = italic_chars = best = 0
    size = size_max = 0.0
    font = ""
    lead: list[str] = []
    lead_open = True
    first_bold = first_italic = False
    started = False
    for span in spans:
        text = span["text"]
        if not text:
            continue
        if text == " " or text.isspace():
            if lead_open and lead:
                lead.append(text)
            parts.append(text)
            continue
        n = len(text)
        span_font = span["font"]
        bold, italic = _span_style(span_font, span["flags"])
        if not started:
            started = True
            first_bold, first_italic = bold, italic
            lead_open = bold or italic
        if lead_open:
            # a run-in label is a run of emphasised spans at the start of the line
            if (bold and first_bold) or (italic and not first_bold and first_italic):
                lead.append(text)
            else:
                lead_open = False
        total += n
        if bold:
            bold_chars += n
        if italic:
            italic_chars += n
        span_size = span["size"]
        size_max = max(size_max, span_size)
        if n > best:
            best, size, font = n, span_size, span_font
        parts.append(text)
    if not total:
        return None
    text = clean("".join(parts)).strip()
    if not text:
        return None
    lead_value = None  # no emphasised prefix, or the whole line is emphasised
    if lead and not lead_open:
        lead_value = clean("".join(lead)).strip() or None
    if size < 2.0:
        # Type 3 fonts scaled by the text matrix report a nominal size near zero; the
        # line's height is the size a reader sees
        size = size_max = 0.8 * (bbox[3] - bbox[1])
    line = Line(
        page_no,
        bbox[0],
        bbox[1],
        bbox[2],
        bbox[3],
        spans[0]["origin"][1],
        text,
        round(size, 1),
        bold_chars >= 0.9 * total,
        italic_chars >= 0.9 * total,
        font,
        lead_value,
        first_bold,
    )
    line.size_max = round(size_max, 1)
    return line


def _raw_lines(page_dict: dict, page_no: int) -> list[Line]:
    lines: list[Line] = []
    for block in page_dict["blocks"]:
        if block["type"] != 0:
            continue
        for raw in block["lines"]:
            dx, dy = raw["dir"]
            if abs(dy) > 0.05 or dx <= 0:
                continue  # rotated or upside-down text: stamps and margin notes
            spans = raw["spans"]
            if not spans:
                continue
            line = _make_line(page_no, spans, raw["bbox"])
            if line is not None:
                lines.append(line)
    return lines


def _is_two_column(lines: list[Line], width: float) -> bool:
    mid = width / 2
    tol = 0.02 * width
    left = right = spanning = 0
    for ln in lines:
        if ln.x1 - ln.x0 < 0.2 * width:
            continue  # fragments (figure labels, numbers) say nothing about the layout
        if ln.x1 <= mid + tol:
            left += 1
        elif ln.x0 >= mid - tol:
            right += 1
        else:
            spanning += 1
    return left >= 4 and right >= 4 and (left + right) >= 1.2 * spanning


def _side(line: Line, mid: float, width: float) -> int:
    """0 or 1 for the column a line sits in; -1 when it really spans both."""
    if line.x1 <= mid + 0.02 * width:
        return 0
    if line.x0 >= mid - 0.02 * width:
        return 1
    over_left = mid - line.x0
    over_right = line.x1 - mid
    if min(over_left, over_right) < 0.06 * width:
        return 0 if over_left > over_right else 1
    return -1


def _merge_baselines(lines: list[Line], gutter: float | None) -> list[Line]:
    """Merge fragments that share a baseline and sit close together."""
    lines.sort(key=lambda ln: (round(ln.base), ln.x0))
    merged: list[Line] = []
    for ln in lines:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and abs(prev.base - ln.base) <= 0.35 * max(prev.size, ln.size)
            and ln.x0 >= prev.x1 - 1.0
            and ln.x0 - prev.x1 <= 4.0 * max(prev.size, ln.size)
            and not (gutter is not None and prev.x1 <= gutter <= ln.x0)
        ):
            _absorb(prev, ln)
        else:
            merged.append(ln)
    return merged


def _absorb(into: Line, other: Line) -> None:
    gap = other.x0 - into.x1
    joiner = "" if gap < 0.15 * into.size and not into.text.endswith(" ") else " "
    into_letters = len(into.text) if any(ch.isalpha() for ch in into.text) else 0
    other_letters = len(other.text) if any(ch.isalpha() for ch in other.text) else 0
    if (
        into_letters
        and into.lead is None
        and (into.bold or into.italic)
        and not (other.bold or other.italic)
    ):
        # an emphasised label followed by plain text on one baseline: a run-in label
        into.lead = into.text.strip()
        into.lead_bold = into.bold
        into.bold = into.italic = False
    elif into_letters == 0 and other_letters:
        # "3" + "Method": the number takes the title's style
        into.bold, into.italic = other.bold, other.italic
        into.size, into.font = other.size, other.font
        into.lead, into.lead_bold = other.lead, other.lead_bold
    elif other_letters:
        into.bold = into.bold and other.bold
        into.italic = into.italic and other.italic
    into.size_max = max(into.size_max, other.size_max)
    into.text = (into.text + joiner + other.text).strip()
    into.x1 = max(into.x1, other.x1)
    into.y0 = min(into.y0, other.y0)
    into.y1 = max(into.y1, other.y1)


def _reading_order(lines: list[Line], width: float, two_col: bool) -> list[Line]:
    # lines arrive sorted by baseline (from _merge_baselines)
    if not two_col:
        return lines
    mid = width / 2
    ordered: list[Line] = []
    left: list[Line] = []
    right: list[Line] = []
    for ln in lines:
        side = _side(ln, mid, width)
        ln.col = side
        if side == 0:
            left.append(ln)
        elif side == 1:
            right.append(ln)
        else:
            ordered.extend(left)
            ordered.extend(right)
            left, right = [], []
            ordered.append(ln)
    ordered.extend(left)
    ordered.extend(right)
    return ordered


def page_lines(page: pymupdf.Page, page_no: int) -> list[Line]:
    """Visual lines of one page in reading order (headers and footers still present)."""
    page_dict = page.get_text("dict", flags=TEXT_FLAGS)
    width = page_dict["width"]
    raw = _raw_lines(page_dict, page_no)
    if not raw:
        return []
    two_col = _is_two_column(raw, width)
    lines = _merge_baselines(raw, width / 2 if two_col else None)
    return _reading_order(lines, width, two_col)


_PAGE_NUMBER = re.compile(
    r"^\W*(?:page\s*)?(?:\d{1,4}|[ivxlc]{1,6})(?:\s*(?:of|/)\s*\d{1,4})?\W*$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")


def drop_page_furniture(
    pages: list[list[Line]], heights: list[float]
) -> list[list[Line]]:
    """Remove running headers, footers and page numbers.

    A line in the top or bottom tenth of a page is furniture when its text, digits
    ignored, recurs in the margins of several pages, or when it is just a page number.
    """
    n_pages = len(pages)
    seen: Counter = Counter()
    keys: list[list[str | None]] = []
    for lines, height in zip(pages, heights):
        page_keys: list[str | None] = []
        page_seen: set[str] = set()
        for ln in lines:
            if ln.y1 < 0.1 * height or ln.y0 > 0.9 * height:
                k = _DIGITS.sub("#", ln.text.lower()).strip()
                page_keys.append(k)
                page_seen.add(k)
            else:
                page_keys.append(None)
        seen.update(page_seen)
        keys.append(page_keys)
    repeat_at = 2 if n_pages <= 6 else 3
    cleaned: list[list[Line]] = []
    for lines, page_keys in zip(pages, keys):
        kept = []
        for ln, k in zip(lines, page_keys):
            if k is not None and (seen[k] >= repeat_at or _PAGE_NUMBER.match(ln.text)):
                continue
            kept.append(ln)
        cleaned.append(kept)
    return cleaned


_SENTENCE_END = re.compile(r"[.!?:]['\")\]]?$")


def mark_paragraphs(lines: list[Line]) -> None:
    """Set `para_start` and `gap_above` on each line (lines of one document, in order).

    A paragraph starts after a vertical gap, at an indented first line, or after a short
    line that ends a sentence. Margins are measured per page and column.
    """
    groups: dict[tuple[int, int], list[Line]] = {}
    for ln in lines:
        groups.setdefault((ln.page, ln.col), []).append(ln)
    for group in groups.values():
        xs: dict[int, int] = {}
        for ln in group:
            if ln.x1 - ln.x0 > 100:
                x = int(ln.x0 + 0.5)
                xs[x] = xs.get(x, 0) + 1
        left = max(xs, key=xs.__getitem__) if xs else min(ln.x0 for ln in group)
        right = max((ln.x1 for ln in group), default=0)
        prev: Line | None = None
        for ln in group:
            if prev is None:
                ln.para_start = True
                ln.gap_above = 99.0
            else:
                gap = ln.y0 - prev.y1
                ln.gap_above = gap
                indent = ln.x0 - left
                ln.para_start = (
                    gap > 0.75 * ln.size
                    or 0.6 * ln.size <= indent <= 6 * ln.size
                    and prev.x0 - left < 0.6 * ln.size
                    or (
                        prev.x1 < right - 2.0 * ln.size
                        and _SENTENCE_END.search(prev.text) is not None
                    )
                )
            prev = ln
