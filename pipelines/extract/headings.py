"""Find section headings from the page's own typography, checked against the PDF outline.

Size alone misses most headings: many LaTeX templates (ACL, IEEE, REVTeX, acmart) print
section headings at body size, told apart by bold weight, small caps, numbering or the
space around them. A line is a heading when it is short, stands on its own, and has a
heading's look: numbered ("3", "3.2", "A", "A.1", "IV.", "Appendix B") with some emphasis,
or unnumbered but bold/larger, or a well-known section name set in capitals or alone.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .layout import Line
from .text import key

# "3", "3.2", "A", "A.1", "A1", "IV", optionally "Appendix A", then the title.
_NUMBERED = re.compile(
    r"^(?:(?P<word>(?i:appendix|appendices|supplementary(?:\s+materials?)?|annex|section))\s+)?"
    r"(?P<num>(?:[1-9]\d?|[A-Z][1-9]?|[IVX]{1,6})(?:\.[1-9]\d?){0,3})"
    r"(?P<dot>[.:)]?)"
    r"(?:\s+(?P<title>\S.*))?$"
)
_SPACED_CAPS = re.compile(r"^(?:[A-Z]\s){3,}[A-Z](?:\s+\S.*)?$")
_CAPTION = re.compile(
    r"^(?:fig(?:ure)?|table|tab|algorithm|listing|alg|eq|equation)\.?\s*\d",
    re.IGNORECASE,
)
_WORDLIKE = re.compile(r"[A-Za-z]{3,}")
_ABSTRACT_RUN_IN = re.compile(r"^abstract\s*[—–-]\s*\w", re.IGNORECASE)
_TOC_ENTRY = re.compile(r"(?:[A-Za-z)]\s*(?:\.\s*){3,}|[A-Za-z)]\s+)\d{1,3}$")

# Section names that are headings even without emphasis when they stand alone.
KNOWN_NAMES = {
    "abstract",
    "introduction",
    "references",
    "bibliography",
    "literature cited",
    "acknowledgments",
    "acknowledgements",
    "acknowledgment",
    "acknowledgement",
    "limitations",
    "limitation",
    "appendix",
    "appendices",
    "conclusion",
    "conclusions",
    "discussion",
    "related work",
    "background",
    "methods",
    "results",
    "ethics statement",
    "ethical considerations",
    "broader impact",
    "broader impacts",
    "supplementary material",
    "supplementary materials",
    "threats to validity",
    "future work",
}


@dataclass
class Heading:
    line: int  # index of the heading's (first) line in the document's line list
    end_line: int  # index of its last line (multi-line headings)
    number: str | None
    title: str  # without the number
    text: str  # as printed, number included
    level: int
    page: int
    size: float
    bold: bool
    from_outline: bool = False
    run_in: bool = (
        False  # a bold label that starts a paragraph ("Acknowledgments. We ...")
    )


# Run-in labels that close the section before them; they are sections of their own.
_RUN_IN_SECTIONS = re.compile(
    r"^(?:acknowledge?ments?|acknowledgments and disclosure of funding|funding|"
    r"ethics statement|ethical considerations|broader impacts?|impact statement|"
    r"author contributions|reproducibility statement|competing interests|"
    r"data availability|code availability)\s*[.:—–-]?$",
    re.IGNORECASE,
)


def _run_in_heading(ln: Line, prev: Line | None) -> Heading | None:
    if ln.lead is None or not ln.lead_bold or not ln.para_start:
        return None
    label = ln.lead.strip()
    if not _RUN_IN_SECTIONS.match(label):
        return None
    title = label.rstrip(".:—–- ")
    return Heading(
        ln.index, ln.index, None, title, title, 1, ln.page, ln.size, True, run_in=True
    )


def body_size(lines: list[Line]) -> float:
    """The size most text is set in (to the nearest half point)."""
    weights: dict[float, int] = {}
    for ln in lines:
        size = ln.size
        weights[size] = weights.get(size, 0) + len(ln.text)
    halves: dict[float, int] = {}
    for size, weight in weights.items():
        half = round(size * 2) / 2
        halves[half] = halves.get(half, 0) + weight
    return max(halves, key=halves.__getitem__) if halves else 10.0


def split_number(text: str) -> tuple[str | None, str]:
    """'3.2 Results' → ('3.2', 'Results'); 'Appendix B. Proofs' → ('B', 'Proofs')."""
    m = _NUMBERED.match(text)
    if not m:
        return None, text
    num, title, word = m.group("num"), (m.group("title") or "").strip(), m.group("word")
    if (
        num.isalpha()
        and len(num) == 1
        and not word
        and not m.group("dot")
        and not title
    ):
        return None, text
    if not title and not word:
        return None, text
    if word and not title:
        return num, word.strip().title()
    return num, title


def collapse_letter_spacing(text: str) -> str:
    """'A P P E N D I X' → 'APPENDIX' (letter-spaced headings in older typesetting)."""
    if _SPACED_CAPS.match(text):
        return re.sub(r"(?<=\b[A-Z]) (?=[A-Z]\b)", "", text)
    return text


def _is_caps(text: str) -> bool:
    """All capitals (or small caps), with enough letters to tell."""
    return text.isupper() and sum(1 for ch in text if ch.isalpha()) >= 4


def _toc_pages(lines: list[Line]) -> set[int]:
    """Pages that carry a table of contents: its entries look like headings."""
    counts: Counter = Counter(
        ln.page for ln in lines if ln.text[-1].isdigit() and _TOC_ENTRY.search(ln.text)
    )
    pages = {page for page, n in counts.items() if n >= 5}
    pages.update(
        ln.page
        for ln in lines
        if len(ln.text) < 24 and key(ln.text) in ("contents", "table of contents")
    )
    return pages


def _shares_baseline(lines: list[Line], i: int) -> bool:
    """A heading stands alone on its baseline; table cells and TOC entries do not.

    Fragments close together were merged into one line already, so another line on the
    same baseline in the same column is a separate cell or a page number far away.
    """
    ln = lines[i]
    for j in (i - 1, i + 1):
        if 0 <= j < len(lines):
            other = lines[j]
            if (
                other.page == ln.page
                and other.col == ln.col
                and abs(other.base - ln.base) < 1.5
            ):
                return True
    return False


def _numbered_level(num: str) -> int:
    if re.fullmatch(r"[A-Z][1-9]", num):
        return 1  # "A1 Related Work": lettered appendix sections numbered A1, A2, ...
    return num.count(".") + 1


def _candidate(ln: Line, prev: Line | None, body: float, toc_pages: set[int]):
    """Return (number, title, strength) when the line looks like a heading, else None."""
    text = ln.text
    if len(text) > 160 or ln.lead is not None:
        return None
    # fast exit for ordinary body lines: without bold or size, only a line in capitals
    # or a well-known section name standing alone can still be a heading
    if (
        not (ln.bold or ln.size >= body + 0.9)
        and not text.isupper()
        and (len(text) > 40 or text.lower().rstrip(".: ") not in KNOWN_NAMES)
    ):
        return None
    if (
        not any(ch.isalpha() for ch in text)
        or text[-1] in ",;-–="
        or text[0] in "([{•·,;"
    ):
        return None
    if _CAPTION.match(text) or _ABSTRACT_RUN_IN.match(text):
        return None
    if ln.page in toc_pages and _TOC_ENTRY.search(text):
        return None
    n_words = len(text.split())
    caps = _is_caps(text)
    size = ln.size_max if caps else ln.size  # small caps print most letters smaller
    size_ok = size >= body - 1.3
    big = ln.size >= body + 0.9
    spaced = bool(_SPACED_CAPS.match(text))
    text = collapse_letter_spacing(text)
    number, title = split_number(text)
    emphasis = ln.bold or big or caps or spaced
    title_key = key(title)
    known = title_key in KNOWN_NAMES
    if not size_ok or not title or not _WORDLIKE.search(title):
        return None  # figure labels ("A", "B"), formulas ("R(v)")
    gap_ok = (
        prev is None
        or ln.gap_above >= 0.25 * ln.size
        or prev.page != ln.page
        or prev.col != ln.col
    )
    if number is not None:
        words = len(title.split())
        if words > 16 or not (
            title[0].isupper() or title[0].isdigit() or title[0] in "“\"'"
        ):
            return None
        if not emphasis:
            return None
        if title.endswith(".") and not known and words > 6:
            return None  # a sentence that happens to start with "A" in bold
        if (
            number.isalpha()
            and len(number) == 1
            and number not in "IVX"
            and not emphasis
        ):
            return None
        return number, title, 2
    # unnumbered
    if n_words > 12 or not (text[0].isupper() or text[0] in "“\"'"):
        return None
    if text.endswith((".", ":")) and not known:
        return None  # a run-in label standing on its own line
    if sum(ch.isdigit() for ch in text) > 4:
        return None  # table rows, dates, figures
    if (ln.bold or big or spaced) and gap_ok:
        return None, title, 1
    if caps and (known or n_words <= 6) and gap_ok and size >= body - 0.6:
        return None, title, 1 if not known else 2
    if (
        known
        and gap_ok
        and (
            prev is None or prev.page != ln.page or re.search(r"[.!?:)\]]$", prev.text)
        )
    ):
        return None, title, 1
    return None


def _continues(first: Line, nxt: Line, body: float) -> bool:
    """Whether `nxt` is the second line of a heading that starts with `first`."""
    if (
        abs(first.size - nxt.size) > 0.3
        or first.page != nxt.page
        or first.col != nxt.col
    ):
        return False
    if nxt.lead is not None:
        return False
    if first.size >= body + 0.9:
        if nxt.gap_above > 1.0 * nxt.size:  # display titles are set with loose leading
            return False
        return (
            nxt.bold or nxt.italic or first.bold == nxt.bold
        )  # big titles mix weights
    if nxt.gap_above > 0.6 * nxt.size:
        return False
    if first.bold:
        return nxt.bold
    return _is_caps(nxt.text)


def find_headings(lines: list[Line], outline: list | None = None) -> list[Heading]:
    body = body_size(lines)
    toc_pages = _toc_pages(lines)
    headings: list[Heading] = []
    i = 0
    n = len(lines)
    while i < n:
        ln = lines[i]
        prev = lines[i - 1] if i else None
        found = _candidate(ln, prev, body, toc_pages)
        if found is None or _shares_baseline(lines, i):
            run_in = _run_in_heading(ln, prev)
            if run_in is not None:
                headings.append(run_in)
            i += 1
            continue
        number, title, _strength = found
        # a heading that wraps onto further lines in the same style
        end = i
        text = collapse_letter_spacing(ln.text.strip())
        while end + 1 < n and len(title.split()) < 24:
            nxt = lines[end + 1]
            if not _continues(ln, nxt, body) or _shares_baseline(lines, end + 1):
                break
            if split_number(nxt.text)[0] is not None or len(nxt.text.split()) > 12:
                break
            if sum(ch.isdigit() for ch in nxt.text) > 4:
                break
            if nxt.text.rstrip().endswith(".") and not text.endswith(":"):
                break
            title = f"{title} {nxt.text.strip()}".strip()
            text = f"{text} {nxt.text.strip()}"
            end += 1
        if end - i >= 3:
            i += 1  # four or more lines in heading style: an emphasised paragraph
            continue
        headings.append(
            Heading(i, end, number, title, text, 0, ln.page, ln.size, ln.bold)
        )
        i = end + 1
    if outline:
        headings = _reconcile_with_outline(headings, lines, outline, body, toc_pages)
    _assign_levels(headings, body)
    return headings


def _assign_levels(headings: list[Heading], body: float) -> None:
    """Numbered headings take their depth; unnumbered ones the level of the same style."""
    style_level: dict[tuple[float, bool], Counter] = {}
    top_sizes: list[float] = []
    for h in headings:
        if h.from_outline and h.level:
            continue
        if h.number is not None:
            h.level = _numbered_level(h.number)
            style_level.setdefault((round(h.size, 0), h.bold), Counter())[h.level] += 1
            if h.level == 1:
                top_sizes.append(h.size)
    if not top_sizes:
        # no numbering: the main sections are the ones with well-known names
        top_sizes = [
            h.size for h in headings if key(h.title) in KNOWN_NAMES and h.number is None
        ]
    top = (
        max(Counter(round(s, 1) for s in top_sizes).items(), key=lambda kv: kv[1])[0]
        if top_sizes
        else None
    )
    for h in headings:
        if h.level:
            continue
        levels = style_level.get((round(h.size, 0), h.bold))
        if levels:
            h.level = levels.most_common(1)[0][0]
        elif top is not None and h.size < top - 0.4:
            h.level = 2
        else:
            h.level = 1


def _reconcile_with_outline(headings, lines, outline, body, toc_pages):
    """Use the PDF outline where it agrees with the page text; never trust it blindly.

    An outline entry counts when a line on its page reads the same (number aside). If
    most entries are found, matched lines become headings at the outline's level, and
    headings found only by typography (often unnumbered Limitations or Acknowledgements,
    which outlines omit) are kept.
    """
    by_page: dict[int, list[int]] = {}
    for idx, ln in enumerate(lines):
        by_page.setdefault(ln.page, []).append(idx)
    line_keys: dict[int, str] = {}  # computed once per line, only for outline pages

    def line_key(idx: int) -> str:
        got = line_keys.get(idx)
        if got is None:
            got = line_keys[idx] = (
                key(split_number(lines[idx].text)[1])
                if len(lines[idx].text) < 200
                else ""
            )
        return got

    at_line = {h.line: h for h in headings}
    matches: list[tuple[int, int, str]] = []
    usable = 0
    for entry in outline:
        level, title, page = entry[0], entry[1], entry[2]
        if not title or page is None or page < 1:
            continue
        usable += 1
        want = key(split_number(title.strip())[1])
        if len(want) < 3:
            continue
        for idx in by_page.get(page, ()):
            ln = lines[idx]
            got = line_key(idx)
            if not got or ln.page in toc_pages and _TOC_ENTRY.search(ln.text):
                continue
            if (
                got == want
                or (len(got) >= 8 and want.startswith(got))
                or (got.startswith(want) and len(got) - len(want) <= 3)
            ):
                matches.append((idx, level, title))
                break
    if not usable or len(matches) < 0.7 * usable:
        return headings
    covered = {h.line for h in headings} | {
        j for h in headings for j in range(h.line, h.end_line + 1)
    }
    for idx, level, title in matches:
        existing = at_line.get(idx)
        if existing is not None:
            existing.level = level
            existing.from_outline = True
            continue
        if idx in covered:
            continue
        ln = lines[idx]
        number, rest = split_number(ln.text.strip())
        full = key(split_number(title.strip())[1])
        end = idx
        while end + 1 < len(lines) and len(key(rest)) < len(full) - 2:
            nxt = lines[end + 1]
            if nxt.page != ln.page:
                break
            rest = f"{rest} {nxt.text.strip()}"
            end += 1
        headings.append(
            Heading(
                idx,
                end,
                number,
                rest,
                ln.text.strip(),
                level,
                ln.page,
                ln.size,
                ln.bold,
                True,
            )
        )
    headings.sort(key=lambda h: h.line)
    return headings
