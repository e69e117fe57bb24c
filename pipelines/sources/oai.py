"""arXiv's OAI-PMH interface: bulk metadata, page by page, with resumption tokens.

Fetching and parsing stay apart: :func:`fetch_oai_page` returns the bytes of one
answer, :func:`parse_oai_page` turns them into an :class:`OaiPage` (pure: no I/O).

Two of arXiv's metadata formats are read:

* ``arXivRaw`` (the default): the record as arXiv stores it, with the dated list of
  versions. It yields the same :class:`Paper` as the arXiv API does for the same
  paper (same id, version, timestamps), so the backfill and the regular ingest
  agree record for record.
* ``arXiv``: author names split into parts, but no versions and only dates (no
  times). Its records say only what they know: version 1 unless a later one is
  implied, and then an unversioned PDF link (arXiv serves the newest there).

``oai_dc`` is refused with :class:`UnsupportedMetadataFormat`: it has no category
codes (only "Mathematics - Number Theory"-style subject names) and no versions, so
its records could not be stored like the others.

arXiv uses "503 + Retry-After" for flow control (OAI-PMH 3.5); :func:`fetch_oai_page`
waits as long as asked, through the process-wide arXiv limiter, and tries again a
bounded number of times. It is the only retry loop on this path.
"""

from __future__ import annotations

import email.utils
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlencode

import requests
from lxml import etree

from ..http import HttpStatusError, fetch, retry_after_seconds
from ..ratelimit import RateLimiter
from ..records import Paper, normalise_doi, split_arxiv_id
from .arxiv_api import CLASSIC_BEFORE_YEAR

log = logging.getLogger(__name__)

# arXiv's official base URL since its 2024/25 OAI-PMH rewrite (info.arxiv.org/help/oa);
# the historical http://export.arxiv.org/oai2 is the one the recordings were made at.
DEFAULT_OAI_URL = "https://oaipmh.arxiv.org/oai"
SUPPORTED_PREFIXES = ("arXivRaw", "arXiv")
# arXivRaw records carry the API's source name: they are the same record (id, version,
# timestamps), so at equal versions either path may refresh the other and agrees with it.
SOURCE_RAW = "arxiv"
# The arXiv format lacks versions and times: a record from it may only fill gaps in
# what the API or arXivRaw stored, never overwrite it, so it carries its own name.
SOURCE_ARXIV_FORMAT = "arxiv-oai"

OAI_MAX_BYTES = 64_000_000  # a 1000-record arXivRaw page is a few MB
OAI_TOTAL_TIMEOUT_FACTOR = 4  # a page may stream for this many times the socket timeout

_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_ARXIV = "{http://arxiv.org/OAI/arXiv/}"
_ARXIV_RAW = "{http://arxiv.org/OAI/arXivRaw/}"
_FORMAT_NAMES = {
    "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc": "oai_dc",
    f"{_ARXIV}arXiv": "arXiv",
    f"{_ARXIV_RAW}arXivRaw": "arXivRaw",
}


class OaiFormatError(ValueError):
    """The answer is not a usable OAI-PMH document (HTML, truncated XML, another schema)."""


class UnsupportedMetadataFormat(OaiFormatError):
    """The records are in a metadata format Glean does not store (e.g. oai_dc)."""


class OaiProtocolError(ValueError):
    """The repository answered an OAI-PMH error the harvest cannot work around."""

    def __init__(self, code: str, message: str | None, url: str = ""):
        self.code = code
        super().__init__(f"OAI-PMH error {code}: {message or 'no message'}" + (f" ({url})" if url else ""))


class OaiBusyError(HttpStatusError):
    """arXiv kept answering 503/429 (flow control) after every retry."""


@dataclass
class OaiPage:
    records: list[Paper] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # arXiv ids whose header says status="deleted"
    resumption_token: str | None = None  # None: this was the last page of the list
    complete_list_size: int | None = None
    error_code: str | None = None  # e.g. noRecordsMatch, badResumptionToken
    error_message: str | None = None
    failed: int = 0  # records skipped because they could not be read


# -- fetching -----------------------------------------------------------------------


class _RetryAfterSession(requests.Session):
    """Remembers the Retry-After of the last answer: ``fetch`` raises on a 503 without headers."""

    retry_after: str | None = None

    def request(self, method, url, *args, **kwargs):
        resp = super().request(method, url, *args, **kwargs)
        self.retry_after = resp.headers.get("Retry-After")
        return resp


def fetch_oai_page(url: str, params: dict[str, str], *, settings, limiter: RateLimiter,
                   max_bytes: int = OAI_MAX_BYTES) -> bytes:
    """One OAI-PMH answer as bytes.

    A 503 or 429 pushes ``limiter`` back by its Retry-After (default: five times the
    arXiv delay) and is tried again, ``settings.arxiv_retries`` times at most; any
    other failure raises its typed :class:`~pipelines.http.FetchError` at once.
    """
    full_url = f"{url}?{urlencode(params)}"
    retries = max(0, settings.arxiv_retries)
    backoff = max(settings.arxiv_delay, 1.0) * 5
    session = _RetryAfterSession()
    try:
        for attempt in range(retries + 1):
            try:
                return fetch(full_url, timeout=settings.http_timeout, max_bytes=max_bytes,
                             total_timeout=settings.http_timeout * OAI_TOTAL_TIMEOUT_FACTOR,
                             limiter=limiter, session=session).body
            except HttpStatusError as exc:
                if exc.status not in (429, 503):
                    raise
                if attempt == retries:
                    raise OaiBusyError(full_url, f"OAI-PMH answered HTTP {exc.status} after {attempt + 1} tries",
                                       exc.status) from None
                wait = retry_after_seconds(session.retry_after, default=backoff)
                log.warning("OAI-PMH answered %s; waiting %.0fs before the next request", exc.status, wait)
                limiter.defer(wait)
    finally:
        session.close()
    raise AssertionError("unreachable")


# -- parsing ------------------------------------------------------------------------


def parse_oai_page(body: bytes, *, pdf_base: str = "https://arxiv.org/pdf/") -> OaiPage:
    """One ListRecords (or GetRecord) answer as records, deletions and the next token."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise OaiFormatError(f"the OAI-PMH answer is not well-formed XML: {exc}") from None
    if root is None or root.tag != f"{_OAI}OAI-PMH":
        raise OaiFormatError(f"the answer is not an OAI-PMH document (root element {getattr(root, 'tag', None)!r})")
    page = OaiPage()
    error = root.find(f"{_OAI}error")
    if error is not None:
        page.error_code = error.get("code") or "unknown"
        page.error_message = _collapse(error.text) or None
        return page
    container = root.find(f"{_OAI}ListRecords")
    if container is None:
        container = root.find(f"{_OAI}GetRecord")
    if container is None:
        raise OaiFormatError("the OAI-PMH answer holds neither ListRecords nor GetRecord")
    for record in container.iterfind(f"{_OAI}record"):
        _read_record(record, page, pdf_base)
    token = container.find(f"{_OAI}resumptionToken")
    if token is not None:
        page.resumption_token = (token.text or "").strip() or None  # empty: the list is complete
        size = token.get("completeListSize")
        page.complete_list_size = int(size) if size and size.isdigit() else None
    return page


def _read_record(record, page: OaiPage, pdf_base: str) -> None:
    header = record.find(f"{_OAI}header")
    identifier = header.findtext(f"{_OAI}identifier", "") if header is not None else ""
    if header is not None and header.get("status") == "deleted":
        try:
            page.deleted.append(split_arxiv_id(identifier.rsplit(":", 1)[-1])[0])
        except ValueError:
            page.failed += 1
        return
    metadata = record.find(f"{_OAI}metadata")
    payload = next(iter(metadata), None) if metadata is not None else None
    if payload is None:
        page.failed += 1
        log.warning("OAI record %s has no metadata; skipped", identifier)
        return
    fmt = _FORMAT_NAMES.get(payload.tag)
    if fmt not in SUPPORTED_PREFIXES:
        raise UnsupportedMetadataFormat(
            f"OAI-PMH records are in the {fmt or payload.tag} metadata format; Glean reads only "
            f"{' and '.join(SUPPORTED_PREFIXES)} (it needs category codes and versions)")
    try:
        paper = (_from_arxiv_raw(payload, pdf_base) if fmt == "arXivRaw"
                 else _from_arxiv_format(payload, pdf_base))
    except (ValueError, TypeError) as exc:
        page.failed += 1
        log.warning("skipped OAI record %s: %s", identifier, exc)
        return
    page.records.append(paper)


def _from_arxiv_raw(meta, pdf_base: str) -> Paper:
    ns = _ARXIV_RAW
    arxiv_id = split_arxiv_id(meta.findtext(f"{ns}id", ""))[0]
    versions = {}
    for v in meta.iterfind(f"{ns}version"):
        number = int((v.get("version") or "").lstrip("vV"))
        versions[number] = _rfc2822(v.findtext(f"{ns}date", ""))
    if not versions:
        raise ValueError(f"arXivRaw record {arxiv_id} lists no versions")
    newest = max(versions)
    published = versions[min(versions)]
    return _paper(meta, ns, arxiv_id, version=newest, published=published, updated=versions[newest],
                  authors=split_author_list(meta.findtext(f"{ns}authors", "")),
                  pdf_url=f"{pdf_base}{arxiv_id}v{newest}", source=SOURCE_RAW)


def _from_arxiv_format(meta, pdf_base: str) -> Paper:
    ns = _ARXIV
    arxiv_id = split_arxiv_id(meta.findtext(f"{ns}id", ""))[0]
    published = _day(meta.findtext(f"{ns}created", ""))
    updated_text = meta.findtext(f"{ns}updated")
    # No version list here: an <updated> date means some later version exists, number
    # unknown. Claim only version 1 (never more than we know: the store keeps the
    # highest version it has seen) and link the unversioned PDF, which is the newest.
    pdf_url = f"{pdf_base}{arxiv_id}" if updated_text else f"{pdf_base}{arxiv_id}v1"
    authors = []
    for author in meta.iterfind(f"{ns}authors/{ns}author"):
        parts = [author.findtext(f"{ns}{p}", "") for p in ("forenames", "keyname", "suffix")]
        name = _collapse(" ".join(parts))
        if name:
            authors.append(name)
    return _paper(meta, ns, arxiv_id, version=1, published=published,
                  updated=_day(updated_text) if updated_text else published,
                  authors=authors, pdf_url=pdf_url, source=SOURCE_ARXIV_FORMAT)


def _paper(meta, ns: str, arxiv_id: str, *, version: int, published: datetime, updated: datetime,
           authors: list[str], pdf_url: str, source: str) -> Paper:
    """The fields both arXiv formats share, with the conventions of ``arxiv_api.parse_result``."""
    categories = list(dict.fromkeys(_collapse(meta.findtext(f"{ns}categories", "")).split()))
    doi = None
    raw_doi = _collapse(meta.findtext(f"{ns}doi", ""))
    if raw_doi:
        try:
            doi = normalise_doi(raw_doi)  # several DOIs are space-separated: the first one counts
        except ValueError:
            log.warning("arXiv %s carries an unreadable DOI %r; ignored", arxiv_id, raw_doi)
    return Paper(
        id=f"arxiv:{arxiv_id}",
        title=_collapse(meta.findtext(f"{ns}title", "")),
        source=source,
        abstract=_collapse(meta.findtext(f"{ns}abstract", "")),
        authors=authors,
        published=published.isoformat(),
        updated=updated.isoformat(),
        year=published.year,
        primary_category=categories[0] if categories else None,
        categories=categories,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=pdf_url,
        doi=doi,
        journal_ref=_collapse(meta.findtext(f"{ns}journal-ref", "")) or None,
        version=version,
        is_classic=published.year < CLASSIC_BEFORE_YEAR,
    )


def _collapse(text: str | None) -> str:
    return " ".join((text or "").split())


def _rfc2822(text: str) -> datetime:
    """arXivRaw's version dates: 'Mon, 2 Apr 2007 19:18:42 GMT'."""
    try:
        moment = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        raise ValueError(f"unreadable version date {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _day(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=timezone.utc)


# -- arXivRaw author strings -----------------------------------------------------------

_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
            ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
            "r": "\u030a"}
_LETTERS = {"ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å",
            "AA": "Å", "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ"}
# \'a  \'{a}  \'{\i}  \c{c}  \c c  \v{s}: one accent command and the letter it sits on.
_ACCENT_RE = re.compile(r"\\([\'`^\"~=.]|[uvHckr](?=[{\s]))\s*(\{\\?[A-Za-z]\}|\\[ij](?![A-Za-z])|[A-Za-z])")
_LETTER_RE = re.compile(r"\\(ss|ae|AE|oe|OE|aa|AA|[oOlLij])(?![A-Za-z])\s?")


def tex_to_text(text: str) -> str:
    """Turn the TeX accents of arXiv author strings into letters: ``Ram\\'irez`` → ``Ramírez``."""
    def accent(m: re.Match) -> str:
        base = m.group(2).strip("{}").lstrip("\\")
        base = {"i": "i", "j": "j"}.get(base, base)  # \'\i is an accented i
        return unicodedata.normalize("NFC", base + _ACCENTS[m.group(1)])

    text = _ACCENT_RE.sub(accent, text)
    text = _LETTER_RE.sub(lambda m: _LETTERS[m.group(1)], text)
    text = re.sub(r"\{([^{}\\]*)\}", r"\1", text)  # {\"o} leaves braces around the letter
    return text


def split_author_list(text: str) -> list[str]:
    """'A. One (MIT), B. Two and C. Three' → ['A. One', 'B. Two', 'C. Three'].

    Parenthesised affiliations are dropped (the API keeps them apart from names too);
    names are split at top-level commas and at 'and'.
    """
    plain, depth = [], 0
    for ch in tex_to_text(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            plain.append(ch)
    names = re.split(r",|\band\b", "".join(plain))
    return [_collapse(n) for n in names if _collapse(n)]
