"""The record that extraction produces: one paper's structure, or why there is none."""

from __future__ import annotations

from dataclasses import dataclass, field

# Typed outcomes. Anything but OK carries no sections; `error` says why.
OK = "ok"
ENCRYPTED = "encrypted"
CORRUPT = "corrupt"
NOT_PDF = "not_pdf"
NO_TEXT = "no_text"
TOO_LARGE = "too_large"
TIMEOUT = "timeout"
CRASHED = "crashed"  # the worker process died (segfault, os._exit, killed by the OS)

STATUSES = (OK, ENCRYPTED, CORRUPT, NOT_PDF, NO_TEXT, TOO_LARGE, TIMEOUT, CRASHED)

# Section kinds. "body" is everything that is not one of the named parts.
SECTION_KINDS = (
    "front",
    "abstract",
    "introduction",
    "body",
    "discussion",
    "conclusion",
    "limitations",
    "ethics",
    "acknowledgements",
    "references",
    "appendix",
    "checklist",
)

# How a limitations span shows up in the paper.
LIMITATION_KINDS = ("section", "subsection", "combined", "paragraph")


@dataclass
class Section:
    title: str
    number: str | None
    level: int
    kind: str
    page_start: int  # 1-based
    page_end: int
    text: str


@dataclass
class LimitationSpan:
    title: (
        str | None
    )  # the heading or run-in label as printed, None for a framed paragraph
    kind: str  # one of LIMITATION_KINDS
    page_start: int
    page_end: int
    text: str


@dataclass
class AppendixHeading:
    title: str
    page_start: int
    page_end: int


@dataclass
class Appendix:
    page_start: int
    sections: list[AppendixHeading]
    text: str
    after_references: bool = True


@dataclass
class ExtractResult:
    status: str
    pages: int | None = None
    title: str | None = None
    sections: list[Section] = field(default_factory=list)
    limitations: list[LimitationSpan] = field(default_factory=list)
    appendix: Appendix | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK


def failure(status: str, error: str, pages: int | None = None) -> ExtractResult:
    return ExtractResult(status=status, pages=pages, error=error)
