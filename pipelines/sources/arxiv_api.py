"""arXiv through its API, with the ``arxiv`` package.

The package owns pagination and its retry loop (we do not wrap a second one).
What it lacks we add underneath it, in the HTTP session it uses:

* one process-wide rate limiter (``GLEAN_ARXIV_DELAY`` between requests, however
  many clients exist), instead of the per-client spacing;
* a timeout on every request;
* 429/503 answers push the shared limiter back by their Retry-After, so the
  package's own retry waits as long as arXiv asked;
* a strict XML check, because the package parses with lxml's ``recover=True`` and
  would otherwise turn a truncated response into a silently short page;
* an empty first page that claims results is retried like any empty page.

Fetching and parsing stay apart: :func:`fetch_results` yields ``arxiv.Result``
objects, :func:`parse_result` turns one into a :class:`Paper`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Iterable, Iterator

import arxiv
import requests
from lxml import etree

from ..http import USER_AGENT, request_deadline, retry_after_seconds, with_deadlines
from ..ratelimit import RateLimiter, limiter_for
from ..records import Paper, normalise_doi, split_arxiv_id
from ..settings import Settings

log = logging.getLogger(__name__)

_ATOM = "{http://www.w3.org/2005/Atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
CLASSIC_BEFORE_YEAR = 2010
API_TOTAL_TIMEOUT_FACTOR = 4  # one answer (headers and body) may take this many times the socket timeout


class MalformedFeedError(arxiv.ArxivError):
    """arXiv answered 200 with a body that is not well-formed Atom."""

    def __init__(self, url: str, detail: str):
        super().__init__(url, 0, f"arXiv returned malformed Atom: {detail}")


class ArxivSession(requests.Session):
    """The requests session under ``arxiv.Client``: shared limiter, timeout, Retry-After."""

    def __init__(self, limiter: RateLimiter, timeout: float, backoff: float):
        super().__init__()
        self.limiter = limiter
        self.timeout = timeout
        self.backoff = backoff
        self.headers["User-Agent"] = USER_AGENT
        with_deadlines(self)

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        self.limiter.acquire()
        log.debug("arXiv request %s", url)
        total = self.timeout * API_TOTAL_TIMEOUT_FACTOR
        with request_deadline(total) as deadline:
            try:
                resp = super().request(method, url, *args, **kwargs)  # not streamed: the body is read here
            except requests.RequestException:
                if not deadline.expired:
                    raise
            if deadline.expired:  # a trickling server, cut off (maybe mid-body): a timeout, not a reset
                raise requests.ReadTimeout(f"arXiv's answer took longer than {total:g}s",
                                           request=requests.Request(method, url))
        if resp.status_code in (429, 503):
            wait = retry_after_seconds(resp.headers.get("Retry-After"), default=self.backoff)
            log.warning("arXiv answered %s; waiting %.0fs before the next request", resp.status_code, wait)
            self.limiter.defer(wait)
        elif resp.status_code == 200:
            check_page(url, resp.content)
        return resp


def check_page(url: str, body: bytes) -> None:
    """Raise if an arXiv answer is malformed or an empty page that claims results."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise MalformedFeedError(url, str(exc)) from None
    if root is None or root.tag != f"{_ATOM}feed":
        raise MalformedFeedError(url, "the document is not an Atom feed")
    total = root.findtext(f"{_OPENSEARCH}totalResults")
    start = root.findtext(f"{_OPENSEARCH}startIndex")
    has_entries = root.find(f"{_ATOM}entry") is not None
    if not has_entries and total and start and int(start) < int(total):
        # arXiv sometimes answers an empty page in the middle of a result set; the
        # package retries that for later pages, and this makes the first page alike.
        raise arxiv.UnexpectedEmptyPageError(url, 0, None)


class GleanArxivClient(arxiv.Client):
    """``arxiv.Client`` pointed at the configured endpoint, using :class:`ArxivSession`."""

    def __init__(self, settings: Settings):
        # delay_seconds=0: spacing is the shared limiter's job, for all clients at once.
        super().__init__(page_size=settings.arxiv_page_size, delay_seconds=0.0,
                         num_retries=settings.arxiv_retries)
        self.query_url_format = settings.arxiv_api_url + "?{}"
        self._session = ArxivSession(limiter_for("arxiv", settings.arxiv_delay),
                                     timeout=settings.http_timeout,
                                     backoff=max(settings.arxiv_delay, 1.0) * 5)


def arxiv_date(moment: datetime) -> str:
    """The API's date syntax: YYYYMMDDHHMM in GMT."""
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M")


def category_query(categories: Iterable[str], field: str, start: datetime, end: datetime) -> str:
    """E.g. ``(cat:cs.LG OR cat:cs.CL) AND lastUpdatedDate:[202611010000 TO 202611292359]``."""
    cats = " OR ".join(f"cat:{c}" for c in categories)
    return f"({cats}) AND {field}:[{arxiv_date(start)} TO {arxiv_date(end)}]"


def fetch_results(client: arxiv.Client, query: str, *, max_results: int,
                  sort_by: arxiv.SortCriterion = arxiv.SortCriterion.LastUpdatedDate) -> Iterator[arxiv.Result]:
    """Results of a query, oldest first, so a high-water mark can follow them."""
    search = arxiv.Search(query=query, max_results=max_results, sort_by=sort_by,
                          sort_order=arxiv.SortOrder.Ascending)
    return client.results(search)


def fetch_by_ids(client: arxiv.Client, ids: list[str]) -> Iterator[arxiv.Result]:
    """Look papers up by id (new- or old-style, with or without version)."""
    search = arxiv.Search(id_list=ids, max_results=len(ids))
    return client.results(search)


def _collapse(text: str | None) -> str:
    return " ".join((text or "").split())


def parse_result(result: arxiv.Result, *, pdf_base: str, source: str = "arxiv") -> Paper:
    """One arXiv API result as a :class:`Paper` (pure: no I/O)."""
    arxiv_id, version = split_arxiv_id(result.entry_id)
    version = version or 1
    published = result.published.astimezone(timezone.utc)
    doi = None
    if result.doi:
        try:
            doi = normalise_doi(result.doi)
        except ValueError:
            log.warning("arXiv %s carries an unreadable DOI %r; ignored", arxiv_id, result.doi)
    return Paper(
        id=f"arxiv:{arxiv_id}",
        title=_collapse(result.title),
        source=source,
        abstract=_collapse(result.summary),
        authors=[a.name for a in result.authors],
        published=published.isoformat(),
        updated=result.updated.astimezone(timezone.utc).isoformat(),
        year=published.year,
        primary_category=result.primary_category or None,
        categories=list(dict.fromkeys(result.categories)),
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"{pdf_base}{arxiv_id}v{version}",
        doi=doi,
        journal_ref=_collapse(result.journal_ref) or None,
        version=version,
        is_classic=published.year < CLASSIC_BEFORE_YEAR,
    )
