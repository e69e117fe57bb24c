"""The one record type every source produces, and the stable ids that key it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# New-style ids (0704.0001, 2401.01234) and old-style ids (hep-th/9901001, math.GT/0309136).
_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
ARXIV_ID_RE = re.compile(rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v(?P<version>\d+))?")
DOI_RE = re.compile(r"10\.\d{4,9}/[^\s\"'<>]+", re.IGNORECASE)


@dataclass
class Paper:
    """A paper as Glean stores it, whatever source it came from."""

    id: str
    title: str
    source: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    published: str | None = None  # ISO 8601, UTC
    updated: str | None = None
    year: int | None = None
    primary_category: str | None = None
    categories: list[str] = field(default_factory=list)
    field: str | None = None  # the field of a cross-field feed or a canon entry
    abs_url: str | None = None
    pdf_url: str | None = None
    doi: str | None = None
    journal_ref: str | None = None
    venue: str | None = None
    version: int = 1
    is_classic: bool = False


def split_arxiv_id(text: str) -> tuple[str, int | None]:
    """'http://arxiv.org/abs/hep-th/9901001v2' -> ('hep-th/9901001', 2).

    Raises ValueError when the text holds no arXiv id.
    """
    cleaned = text.strip()
    cleaned = re.sub(r"^(?:arxiv:)", "", cleaned, flags=re.IGNORECASE)
    cleaned = re.sub(r"^https?://(?:export\.)?arxiv\.org/(?:abs|pdf)/", "", cleaned)
    cleaned = re.sub(r"\.pdf$", "", cleaned)
    match = ARXIV_ID_RE.fullmatch(cleaned)
    if not match:
        raise ValueError(f"not an arXiv id: {text!r}")
    version = match.group("version")
    return match.group("id"), int(version) if version else None


def normalise_doi(text: str) -> str:
    """'https://doi.org/10.1038/323533A0' -> '10.1038/323533a0' (DOIs are case-insensitive)."""
    match = DOI_RE.search(text.strip())
    if not match:
        raise ValueError(f"not a DOI: {text!r}")
    return match.group(0).rstrip(".,;)").lower()


_TRACKING_PARAMS = re.compile(r"^(utm_.*|rss|af|ref|source)$", re.IGNORECASE)


def web_url(text: str | None) -> str | None:
    """``text`` if it is an absolute http(s) address, else None.

    Only such addresses may become a paper's links: a feed's ``javascript:`` or ``data:``
    link rendered as ``<a href>`` would run on Glean's own origin. Browsers ignore tabs,
    newlines and leading blanks inside a scheme ("java\tscript:"), so any control
    character or blank refuses the address outright.
    """
    if not text or any(ord(c) <= 32 or ord(c) == 127 for c in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop fragments, tracking parameters and a trailing slash."""
    parts = urlsplit(url.strip())
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING_PARAMS.match(k)])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def arxiv_paper_id(arxiv_id: str) -> str:
    return f"arxiv:{split_arxiv_id(arxiv_id)[0]}"


def stable_id(*, arxiv_id: str | None = None, doi: str | None = None, url: str | None = None) -> str:
    """The key a paper is stored under: arXiv id without version, else DOI, else a URL hash."""
    if arxiv_id:
        return arxiv_paper_id(arxiv_id)
    if doi:
        return f"doi:{normalise_doi(doi)}"
    if url:
        digest = hashlib.sha256(canonical_url(url).encode()).hexdigest()[:20]
        return f"url:{digest}"
    raise ValueError("a paper needs an arXiv id, a DOI or a URL")

