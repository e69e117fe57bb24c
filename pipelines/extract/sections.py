"""Headings → sections: extent, kind, and the regions that later steps must skip."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .headings import Heading
from .layout import Line
from .text import join_lines

# "Limitations" as the head of a title or joined to another part ("Discussion and
# Limitations", "Study 1 Limitations"), but not a technical noun phrase ("Average Power
# Limitation").
LIMITATIONS_TITLE = re.compile(
    r"(?:^(?:[\dA-Z]{1,3}(?:\.\d+)*\.?\s+)?|(?:\band|&|,|\bstudy|\b\d+|\bkey|\bmain|\bpotential|"
    r"\bknown|\bour|\bits|\btheir|\bgeneral|\bsome|\bmodel|\bmethod|\bmethodological|\bscope|"
    r"\bthe)\s*)limitations?\b"
    r"|\bthreats?\s+to\s+(?:the\s+)?validity\b|^shortcomings\b",
    re.IGNORECASE,
)
# "Limitations of existing methods" is related work, not the paper's own limitations.
OTHERS_LIMITATIONS = re.compile(
    r"limitations?\s+of\s+(?:the\s+)?(?:existing|prior|previous|current|related|standard|"
    r"traditional|conventional|classical|state|other|llms?\b|large)",
    re.IGNORECASE,
)
APPENDIX_TITLE = re.compile(
    r"^(?:appendix|appendices|supplementary|supplemental|annex)\b", re.IGNORECASE
)
CHECKLIST_TITLE = re.compile(r"\bchecklist\b", re.IGNORECASE)
REFERENCES_TITLE = re.compile(
    r"^(?:references?|bibliography|literature\s+cited|works\s+cited|reference\s+list|"
    r"cited\s+literature|references\s+and\s+notes)$",
    re.IGNORECASE,
)

_KIND_RULES = [
    ("abstract", re.compile(r"^abstract\b", re.IGNORECASE)),
    ("introduction", re.compile(r"^introduction\b", re.IGNORECASE)),
    (
        "acknowledgements",
        re.compile(r"^acknowledge?ments?\b|^funding\b", re.IGNORECASE),
    ),
    (
        "ethics",
        re.compile(
            r"ethic|broader\s+impacts?|societal\s+impacts?|impact\s+statement",
            re.IGNORECASE,
        ),
    ),
    ("conclusion", re.compile(r"conclu|^summary\b|^closing\s+remarks", re.IGNORECASE)),
    ("discussion", re.compile(r"^(?:general\s+)?discussion\b", re.IGNORECASE)),
    ("appendix", APPENDIX_TITLE),
]


def is_limitations_title(title: str) -> bool:
    return bool(LIMITATIONS_TITLE.search(title)) and not OTHERS_LIMITATIONS.search(
        title
    )


def title_kind(title: str) -> str:
    if CHECKLIST_TITLE.search(title):
        return "checklist"
    if REFERENCES_TITLE.match(title.strip().rstrip(":.")):
        return "references"
    if is_limitations_title(title):
        return "limitations"
    for kind, pattern in _KIND_RULES:
        if pattern.search(title):
            return kind
    return "body"


def _checklist_item(h: Heading) -> bool:
    t = h.title.lower()
    return t.endswith(("?", ":")) or "did you" in t or "for every submission" in t


def is_appendix_start(h: Heading) -> bool:
    """A heading that can open the appendix: lettered, or named Appendix/Supplementary."""
    if CHECKLIST_TITLE.search(h.text) or _checklist_item(h):
        return False
    if APPENDIX_TITLE.match(h.text):
        return True
    return (
        h.level == 1
        and h.number is not None
        and bool(re.fullmatch(r"[A-Z][1-9]?", h.number))
    )


@dataclass
class Layout:
    """Headings with their kinds and the regions derived from them."""

    headings: list[Heading]
    kinds: list[str]
    in_checklist: list[bool]
    first_references: int | None  # index into headings
    appendix_start: int | None  # index into headings
    appendix_end: int | None  # index of the first heading after the appendix, if any


def classify(headings: list[Heading], lines: list[Line]) -> Layout:
    kinds = [title_kind(h.title) for h in headings]
    # a checklist runs until a heading that can open an appendix (NeurIPS puts the
    # checklist between references and appendix, ACL and CHIL after the appendix)
    in_checklist = [False] * len(headings)
    inside = False
    for i, h in enumerate(headings):
        if kinds[i] == "checklist":
            inside = True
        elif inside and (is_appendix_start(h) or kinds[i] == "references"):
            inside = False
        in_checklist[i] = inside
        if inside:
            kinds[i] = "checklist"
    refs = [i for i, k in enumerate(kinds) if k == "references"]
    first_ref = refs[0] if refs else None
    start = _appendix_start(headings, kinds, in_checklist, first_ref, lines)
    end = None
    if start is not None:
        for j in range(start + 1, len(headings)):
            h = headings[j]
            if kinds[j] in ("checklist", "references"):
                end = j
                break
            if (
                h.level == 1
                and h.number is not None
                and h.number.isdigit()
                and not h.run_in
                and not APPENDIX_TITLE.match(h.text)
            ):
                end = (
                    j  # numbered main text resumes (Shannon puts appendices mid-paper)
                )
                break
        stop = end if end is not None else len(headings)
        for j in range(start, stop):
            if kinds[j] not in ("limitations", "ethics", "acknowledgements"):
                kinds[j] = "appendix"
    return Layout(headings, kinds, in_checklist, first_ref, start, end)


def _is_contents(h: Heading) -> bool:
    return h.title.strip().lower() in ("contents", "table of contents")


def _has_substance(headings: list[Heading], j: int, lines: list[Line]) -> bool:
    """An appendix heading followed by a one-line pointer ("Refer to the Web version
    for supplementary material") is a stub, not an appendix. The appendix runs on
    through its subsections and further lettered sections."""
    stop = len(lines)
    for k in range(j + 1, len(headings)):
        h = headings[k]
        if (
            h.level > headings[j].level
            or h.run_in
            or is_appendix_start(h)
            or _is_contents(h)
        ):
            continue
        stop = h.line
        break
    n_words = sum(len(ln.text.split()) for ln in lines[headings[j].end_line + 1 : stop])
    return n_words >= 25


def _appendix_start(headings, kinds, in_checklist, first_ref, lines):
    if first_ref is not None:
        for j in range(first_ref + 1, len(headings)):
            if (
                not in_checklist[j]
                and kinds[j] != "references"
                and is_appendix_start(headings[j])
                and _has_substance(headings, j, lines)
            ):
                return j
    # appendices placed before the references: only an explicit "Appendix" heading, or
    # lettered top-level sections after numbered ones
    stop = first_ref if first_ref is not None else len(headings)
    seen_numbered = False
    for j in range(stop):
        h = headings[j]
        if in_checklist[j]:
            continue
        if (
            h.level == 1
            and APPENDIX_TITLE.match(h.text)
            and _has_substance(headings, j, lines)
        ):
            return j
        if h.level == 1 and h.number and h.number.isdigit():
            seen_numbered = True
        if (
            seen_numbered
            and h.level == 1
            and h.number is not None
            and re.fullmatch(r"[A-Z]", h.number)
            and h.number == "A"
            and is_appendix_start(h)
            and _has_substance(headings, j, lines)
        ):
            return j
    return None


def section_extent(
    layout: Layout, i: int, n_lines: int, hierarchical: bool
) -> tuple[int, int]:
    """Line range [start, stop) of heading i's body.

    Flat extent stops at the next heading of any level; hierarchical extent runs until the
    next heading at the same or a higher level (so a section includes its subsections).
    """
    headings = layout.headings
    h = headings[i]
    start = h.line if h.run_in else h.end_line + 1
    for j in range(i + 1, len(headings)):
        other = headings[j]
        if (
            not hierarchical
            or other.level <= h.level
            or layout.kinds[j] in ("references", "checklist")
        ):
            return start, other.line
    return start, n_lines


def page_span(
    lines: list[Line], start: int, stop: int, default: int
) -> tuple[int, int]:
    if stop <= start:
        return default, default
    return lines[start].page, lines[stop - 1].page


def text_of(lines: list[Line], start: int, stop: int) -> str:
    return join_lines([ln.text for ln in lines[start:stop]])
