"""The appendix: where it starts, its top-level headings, its text."""

from __future__ import annotations

from .document import Appendix, AppendixHeading
from .layout import Line
from .sections import Layout, is_appendix_start, text_of


def find_appendix(lines: list[Line], layout: Layout) -> Appendix | None:
    start = layout.appendix_start
    if start is None:
        return None
    headings = layout.headings
    stop_heading = (
        layout.appendix_end if layout.appendix_end is not None else len(headings)
    )
    stop_line = (
        headings[stop_heading].line if stop_heading < len(headings) else len(lines)
    )
    # top-level appendix headings are lettered or named ("B Proofs", "Appendix C");
    # unnumbered bold lines in an appendix are mostly table headers and box titles
    top = [
        j
        for j in range(start, stop_heading)
        if j == start or (headings[j].level <= 1 and is_appendix_start(headings[j]))
    ]
    entries: list[AppendixHeading] = []
    for pos, j in enumerate(top):
        h = headings[j]
        next_line = headings[top[pos + 1]].line if pos + 1 < len(top) else stop_line
        last_page = lines[next_line - 1].page if next_line > h.line else h.page
        entries.append(
            AppendixHeading(
                title=h.text, page_start=h.page, page_end=max(h.page, last_page)
            )
        )
    first = headings[start]
    after_refs = layout.first_references is not None and start > layout.first_references
    return Appendix(
        page_start=first.page,
        sections=entries,
        text=text_of(lines, first.line, stop_line),
        after_references=after_refs,
    )
