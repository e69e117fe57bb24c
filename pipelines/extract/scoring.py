"""Score an ExtractResult against a hand label (labels.json format).

Shared by the label tests and the benchmark so both measure the same thing. The labelled
limitations text is found in plain `page.get_text()` of pages page_start..page_end
(whitespace collapsed) between `first_words` and `last_words`; both sides are then
normalised alike (ligatures expanded, line-end hyphenation joined) and compared as bags
of lower-case alphanumeric words.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pymupdf

from .document import ExtractResult
from .text import clean, key, squash, words

_HYPHEN_BREAK = re.compile(r"(?<=[A-Za-z])- (?=[a-z])")


def normalise_reference(text: str) -> str:
    return _HYPHEN_BREAK.sub("", clean(squash(text)))


def labelled_span_text(doc: pymupdf.Document, span: dict) -> str:
    """The labelled span as it reads in plain get_text(); raises if the words are absent."""
    pages = range(span["page_start"] - 1, span["page_end"])
    joined = squash(" ".join(doc[p].get_text() for p in pages))
    first, last = squash(span["first_words"]), squash(span["last_words"])
    start = joined.find(first)
    if start < 0:
        raise LookupError(
            f"first_words not found on pages {span['page_start']}-{span['page_end']}: {first!r}"
        )
    end = joined.find(last, start)
    if end < 0:
        raise LookupError(f"last_words not found after first_words: {last!r}")
    return normalise_reference(joined[start : end + len(last)])


def word_f1(predicted: str, reference: str) -> float:
    p, r = Counter(words(clean(predicted))), Counter(words(reference))
    if not p or not r:
        return 0.0
    common = sum((p & r).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(r.values())
    return 2 * precision * recall / (precision + recall)


def headings_match(ours: str, label: str) -> bool:
    """Same heading, allowing for a trailing subtitle line that one side did not join."""
    # spaces dropped: letter-spaced headings ("A P P E N D I X") read the same either way
    a, b = key(ours).replace(" ", ""), key(label).replace(" ", "")
    if not a or not b:
        return False
    if a == b:
        return True
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return long_.startswith(short) and len(short) >= 0.6 * len(long_)


@dataclass
class SpanScore:
    label_kind: str
    label_heading: str | None
    found: bool
    kind: str | None
    f1: float


@dataclass
class PaperScore:
    file: str
    labelled: int  # number of labelled limitation spans
    predicted: int  # number of predicted spans
    spans: list[SpanScore] = field(default_factory=list)
    appendix_ok: bool = True
    appendix_detail: str = ""
    extra_spans: list[str] = field(
        default_factory=list
    )  # predicted spans matching no label


def score_paper(
    label: dict, result: ExtractResult, doc: pymupdf.Document
) -> PaperScore:
    score = PaperScore(
        label["file"], len(label["limitations"]), len(result.limitations)
    )
    unused = list(range(len(result.limitations)))
    for span in label["limitations"]:
        reference = labelled_span_text(doc, span)
        best, best_f1 = None, 0.0
        for i in unused:
            f1 = word_f1(result.limitations[i].text, reference)
            if f1 > best_f1:
                best, best_f1 = i, f1
        if best is not None and best_f1 >= 0.2:
            unused.remove(best)
            score.spans.append(
                SpanScore(
                    span["kind"],
                    span.get("heading"),
                    True,
                    result.limitations[best].kind,
                    best_f1,
                )
            )
        else:
            score.spans.append(
                SpanScore(span["kind"], span.get("heading"), False, None, best_f1)
            )
    score.extra_spans = [
        f"{result.limitations[i].kind} p{result.limitations[i].page_start} {result.limitations[i].title!r}"
        for i in unused
    ]
    score.appendix_ok, score.appendix_detail = _appendix_matches(
        label.get("appendix"), result
    )
    return score


def _appendix_matches(label: dict | None, result: ExtractResult) -> tuple[bool, str]:
    got = result.appendix
    if label is None:
        return (
            got is None,
            ""
            if got is None
            else f"unexpected appendix p{got.page_start} {got.sections[0].title!r}",
        )
    if got is None:
        return (
            False,
            f"missing appendix (expected p{label['page_start']} {label['first_heading']!r})",
        )
    first = got.sections[0].title if got.sections else ""
    ok = got.page_start == label["page_start"] and headings_match(
        first, label["first_heading"]
    )
    detail = (
        ""
        if ok
        else (
            f"got p{got.page_start} {first!r}, expected p{label['page_start']} {label['first_heading']!r}"
        )
    )
    return ok, detail


def labelled_headings(label: dict) -> list[str]:
    """The headings a label names: appendix headings and limitations headings."""
    found = [s["heading"] for s in label["limitations"] if s.get("heading")]
    if label.get("appendix"):
        found.extend(
            label["appendix"].get("headings") or [label["appendix"]["first_heading"]]
        )
    return found


def count_found(headings: list[str], candidates: list[str]) -> int:
    keys = [key(c) for c in candidates]
    found = 0
    for h in headings:
        if any(headings_match(c, h) for c in keys if c):
            found += 1
    return found
