"""Find the paper's own statement of its limitations, in the four forms papers use.

1. section     an unnumbered or numbered section of its own ("Limitations", "6 Limitations")
2. subsection  the same at a deeper level ("8.4 Limitations", "Limitations of the Study")
3. combined    a heading that joins limitations with something else ("Limitations and
               Future Work", "Discussion and Limitations", "Threats to Validity and ...")
4. paragraph   a paragraph that frames itself as limitations: a run-in label
               ("Limitations." in bold) or an opening like "Our work has several limitations"

Only headings and paragraph openings count, so an in-text pointer ("see the Limitations
section") never does; checklists, references and tables of contents are skipped.
"""

from __future__ import annotations

import re

from .document import LimitationSpan
from .layout import Line
from .sections import (
    LIMITATIONS_TITLE,
    OTHERS_LIMITATIONS,
    Layout,
    is_limitations_title,
    section_extent,
)
from .text import join_lines, key

# A heading about limitations and nothing else: "Limitations", "Study limitations",
# "Study 1 Limitations", "Limitations of the Study", "Threats to Validity". Anything
# joined with "and", "&" or a comma is a combined heading.
_PURE = re.compile(
    r"^(?:[\w\-]+\s+){0,3}?"
    r"(?:limitations?|threats?\s+to\s+(?:the\s+)?validity)"
    r"(?:\s+of\s+(?:the|this|our)?\s*[\w\-]+(?:\s+\w+)?)?$",
    re.IGNORECASE,
)
_JOINED = re.compile(
    r"\band\b|&|,|\bdiscussion\b|\bconclusions?\b|\bfuture\b", re.IGNORECASE
)

# Paragraph openings that announce the paper's own limitations.
_FRAMING = re.compile(
    r"^(?:"
    r"(?:our|this|the\s+present|the\s+proposed|the\s+current)\s+(?:work|study|paper|approach|"
    r"method|analysis|framework|model|system|research|benchmark|dataset|evaluation)\s+"
    r"(?:also\s+|still\s+)?(?:has|have|is\s+subject\s+to|comes?\s+with|faces?|suffers?\s+from)\s+"
    r"(?:several|some|a\s+few|two|three|four|certain|a\s+number\s+of|various|multiple|important|"
    r"notable|a\s+couple\s+of)?\s*(?:key\s+|main\s+|major\s+|notable\s+|important\s+|potential\s+)?"
    r"limitations"
    r"|there\s+are\s+(?:several|some|a\s+few|two|three|four|certain|a\s+number\s+of|various|"
    r"multiple|important|notable)\s+(?:key\s+|main\s+|major\s+|important\s+|notable\s+|potential\s+)?"
    r"limitations\s+(?:to|of|in)\s+(?:our|this|the\s+present)"
    r"|(?:one|a|the)\s+(?:key\s+|main\s+|major\s+|primary\s+|notable\s+|important\s+)?limitation\s+"
    r"of\s+(?:our|this|the\s+present|the\s+proposed)\s+(?:work|study|paper|approach|method|analysis)"
    r"|we\s+(?:acknowledge|note|recognize|recognise)\s+(?:several|some|a\s+few|two|three|the\s+following)\s+"
    r"limitations"
    r"|(?:[\w\-]+\s+){1,4}(?:is|are)\s+not\s+without\s+(?:its|their)\s+(?:own\s+)?limitations"
    r")",
    re.IGNORECASE,
)

_LABEL_MAX_WORDS = 10
_SKIP_KINDS = ("references", "checklist", "front")
_LATE_KINDS = ("conclusion", "discussion", "appendix", "limitations")


def limitation_kind(title: str, level: int) -> str:
    title = title.strip().rstrip(".:")
    if _PURE.match(title) and not _JOINED.search(title):
        return "section" if level <= 1 else "subsection"
    return "combined"


def _label_matches(label: str) -> bool:
    label = label.strip()
    if len(label.split()) > _LABEL_MAX_WORDS or "?" in label:
        return False
    return bool(LIMITATIONS_TITLE.search(label)) and not OTHERS_LIMITATIONS.search(
        label
    )


def find_limitations(
    lines: list[Line], layout: Layout, line_kinds: list[str]
) -> list[LimitationSpan]:
    spans: list[tuple[int, int, LimitationSpan]] = []
    covered = [False] * len(lines)
    for i, h in enumerate(layout.headings):
        if layout.kinds[i] in ("checklist", "references") or not is_limitations_title(
            h.title
        ):
            continue
        if covered[h.line]:
            continue  # "G.1 Limitations" inside "G Limitations and Broader Impact"
        start, stop = section_extent(layout, i, len(lines), hierarchical=True)
        if stop <= start:
            continue
        text = join_lines([ln.text for ln in lines[start:stop]])
        if len(text.split()) < 8:
            continue  # an empty stub or a false heading
        span = LimitationSpan(
            title=h.text,
            kind=limitation_kind(h.title, h.level),
            page_start=h.page,
            page_end=lines[stop - 1].page,
            text=text,
        )
        spans.append((h.line, stop, span))
        for j in range(h.line, stop):
            covered[j] = True
    heading_lines = {j for h in layout.headings for j in range(h.line, h.end_line + 1)}
    # a paper states its own limitations in its second half: Discussion, Conclusion, the
    # end of the experiments, or the appendix
    main_end = (
        layout.headings[layout.first_references].page
        if layout.first_references is not None
        else (lines[-1].page if lines else 1)
    )
    early_pages = 0.5 * main_end
    about_others = _inside_related_work(lines, layout)
    for idx, ln in enumerate(lines):
        if covered[idx] or line_kinds[idx] in _SKIP_KINDS or idx in heading_lines:
            continue
        if not (ln.para_start or (idx - 1) in heading_lines):
            continue
        if ln.page < early_pages and line_kinds[idx] not in _LATE_KINDS:
            continue  # early on, "Limitations." is about prior work (motivation, related work)
        if about_others[idx]:
            continue  # inside Related Work / Background: limitations of other people's work
        label = ln.lead if ln.lead and _label_matches(ln.lead) else None
        framed = label is None and _FRAMING.match(ln.text) is not None
        if label is None and not framed:
            continue
        stop = _paragraph_end(
            lines, idx, heading_lines, line_kinds, run_in=label is not None
        )
        first = ln.text[len(label) :].lstrip(" .:—–-") if label else ln.text
        text = join_lines([first] + [x.text for x in lines[idx + 1 : stop]])
        if len(text.split()) < 8:
            continue
        span = LimitationSpan(
            title=label.rstrip() if label else None,
            kind="paragraph",
            page_start=ln.page,
            page_end=lines[stop - 1].page,
            text=text,
        )
        spans.append((idx, stop, span))
        for j in range(idx, stop):
            covered[j] = True
    spans.sort(key=lambda s: s[0])
    return [s[2] for s in spans]


_RELATED = re.compile(
    r"related\s+work|background|prior\s+work|preliminar|motivation|literature",
    re.IGNORECASE,
)


def _inside_related_work(lines: list[Line], layout: Layout) -> list[bool]:
    """Per line: whether some enclosing section is Related Work, Background or the like."""
    flags = [False] * len(lines)
    path: list[tuple[int, bool]] = []  # (level, related) of the enclosing headings
    headings = layout.headings
    for i, h in enumerate(headings):
        if h.run_in:
            continue
        while path and path[-1][0] >= h.level:
            path.pop()
        path.append((h.level, bool(_RELATED.search(h.title))))
        related = any(r for _, r in path)
        stop = len(lines)
        for j in range(i + 1, len(headings)):
            if not headings[j].run_in:
                stop = headings[j].line
                break
        if related:
            for k in range(h.line, stop):
                flags[k] = True
    return flags


def _paragraph_end(lines, idx, heading_lines, line_kinds, run_in: bool) -> int:
    """A labelled paragraph runs to the next heading or the next run-in label; a framed
    one to the end of its paragraph."""
    kind = line_kinds[idx]
    j = idx + 1
    while j < len(lines):
        ln = lines[j]
        if j in heading_lines or line_kinds[j] != kind:
            break
        if ln.para_start and (not run_in or ln.lead is not None):
            break
        j += 1
    return j


__all__ = ["find_limitations", "key", "limitation_kind"]
