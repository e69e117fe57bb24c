"""The ingest stages: arXiv, classics and cross-field feeds into the store.

Records are written in batches, each batch in one transaction with the source's
checkpoint, so an interrupted run resumes where its last batch ended and a rerun
changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Iterable
from urllib.parse import urlsplit

import arxiv

from .http import FetchError, fetch
from .ratelimit import RateLimiter, limiter_for
from .records import Paper
from .settings import Settings
from .sources import arxiv_api, classics, feeds
from .stages import IN_REPORT, Progress, StageReport, announce, batched, run_stage
from .store import Counts, Store

log = logging.getLogger(__name__)

SOURCES = ("arxiv", "classics", "feeds")


def _parsed(results: Iterable[arxiv.Result], settings: Settings, counts: Counts,
            source: str) -> Iterable[Paper]:
    for result in results:
        try:
            yield arxiv_api.parse_result(result, pdf_base=settings.arxiv_pdf_base, source=source)
        except ValueError as exc:
            counts.failed += 1
            log.warning("skipped an arXiv record %s: %s", getattr(result, "entry_id", "?"), exc)


def ingest_arxiv(store: Store, settings: Settings, *, since: datetime | None = None,
                 progress: Progress | None = None, client: arxiv.Client | None = None) -> StageReport:
    """New submissions and new versions in the followed categories since the checkpoint."""
    client = client or arxiv_api.GleanArxivClient(settings)

    def body(counts: Counts, details: dict) -> None:
        checkpoint = store.get_checkpoint("arxiv")
        now = datetime.now(timezone.utc)
        if since is not None:
            start = since
        elif checkpoint:
            start = datetime.fromisoformat(checkpoint)
        else:
            start = now - timedelta(days=settings.arxiv_initial_days)
        query = arxiv_api.category_query(settings.arxiv_categories, "lastUpdatedDate", start, now)
        details["query"] = query
        results = arxiv_api.fetch_results(client, query, max_results=settings.arxiv_max_results)
        announce(progress, None, "arxiv")  # the API tells the total only inside the package
        high_water = checkpoint or ""
        for batch in batched(_parsed(results, settings, counts, "arxiv"), settings.arxiv_page_size):
            # Results come oldest-update first, so everything up to the newest
            # timestamp of this batch is done; the next run starts there.
            high_water = max(high_water, *(p.updated or "" for p in batch))
            counts.add(store.upsert_papers(batch, checkpoint=("arxiv", high_water)))
            if progress:
                progress(len(batch))
        details["checkpoint"] = high_water or None

    return run_stage(store, "arxiv", body)


def ingest_classics(store: Store, settings: Settings, *, progress: Progress | None = None,
                    client: arxiv.Client | None = None) -> StageReport:
    """The canon file, then the next slice of arXiv's pre-2010 back catalogue."""
    client = client or arxiv_api.GleanArxivClient(settings)

    def body(counts: Counts, details: dict) -> None:
        canon = classics.load_canon(settings.canon)
        announce(progress, None, "classics")
        canon_counts = store.upsert_papers(canon)
        counts.add(canon_counts)
        details["canon"] = canon_counts.as_dict()
        if progress:
            progress(len(canon))
        position = classics.BackfillPosition.parse(store.get_checkpoint("classics-arxiv"))
        budget, months = settings.classics_per_run, 0
        # Bounded by records and by months, so a run of empty months stays a few requests.
        while budget > 0 and months < classics.MONTHS_PER_RUN and not position.done:
            months += 1
            start, end = position.window()
            query = arxiv_api.category_query(settings.arxiv_categories, "submittedDate", start, end)
            search = arxiv.Search(query=query, max_results=position.offset + budget,
                                  sort_by=arxiv.SortCriterion.SubmittedDate,
                                  sort_order=arxiv.SortOrder.Ascending)
            papers = list(_parsed(client.results(search, offset=position.offset), settings, counts,
                                  "arxiv-classics"))
            # A month that gave less than we asked for is finished; otherwise remember
            # how far into it we got.
            next_position = (position.previous_month() if len(papers) < budget
                             else position.advanced(len(papers)))
            counts.add(store.upsert_papers(papers, checkpoint=("classics-arxiv", str(next_position))))
            if progress:
                progress(len(papers))
            budget -= len(papers)
            position = next_position
        details["backfill_position"] = str(position)

    return run_stage(store, "classics", body)


def ingest_feeds(store: Store, settings: Settings, *, progress: Progress | None = None) -> StageReport:
    """Every feed in the feeds list; one broken feed is recorded and the rest go on."""

    def body(counts: Counts, details: dict) -> None:
        feed_list = feeds.load_feed_list(settings.feeds)
        per_feed = details["feeds"] = []
        announce(progress, len(feed_list), "feeds")
        for feed in feed_list:
            outcome = _ingest_one_feed(store, settings, feed)
            per_feed.append(outcome)
            for key in ("new", "updated", "unchanged", "failed"):
                setattr(counts, key, getattr(counts, key) + outcome.get(key, 0))
            if progress:
                progress(1)
        if per_feed and all(o["status"] == "error" for o in per_feed):
            raise FetchError(settings.feeds.as_uri(), f"all {len(per_feed)} feeds failed; first: {per_feed[0]['error']}")

    return run_stage(store, "feeds", body)


def _limiter_for_host(url: str, settings: Settings) -> RateLimiter | None:
    """arXiv's own RSS listings share the arXiv limiter; other hosts are asked once per run."""
    host = urlsplit(url).hostname or ""
    return limiter_for("arxiv", settings.arxiv_delay) if host == "arxiv.org" or host.endswith(".arxiv.org") else None


def _ingest_one_feed(store: Store, settings: Settings, feed: feeds.FeedConfig) -> dict:
    state = store.get_feed_state(feed.url)
    headers = {}
    if state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    outcome: dict = {"name": feed.name, "url": feed.url}
    try:
        fetched = fetch(feed.url, timeout=settings.http_timeout, max_bytes=settings.feed_max_bytes,
                        headers=headers, limiter=_limiter_for_host(feed.url, settings))
        if fetched.not_modified:
            store.set_feed_state(feed.url, etag=state.get("etag"), last_modified=state.get("last_modified"),
                                 status="not_modified", bozo=None)
            return {**outcome, "status": "not_modified"}
        parsed = feeds.parse_feed(fetched.body, feed)
    except (FetchError, feeds.HostileFeedError, feeds.NotAFeedError) as exc:
        log.warning("feed %s failed: %s", feed.name, exc, extra=IN_REPORT)
        store.set_feed_state(feed.url, etag=state.get("etag"), last_modified=state.get("last_modified"),
                             status="error", bozo=str(exc))
        return {**outcome, "status": "error", "error": str(exc), "failed": 1}
    counts = store.upsert_papers(parsed.papers)
    # The caching headers are stored only after the records: a crash in between
    # means one more full fetch, never a skipped one.
    store.set_feed_state(feed.url, etag=fetched.headers.get("ETag"),
                         last_modified=fetched.headers.get("Last-Modified"), status="ok", bozo=parsed.bozo)
    if parsed.bozo:
        log.info("feed %s parsed with a complaint: %s", feed.name, parsed.bozo)
    return {**outcome, "status": "ok", "format": parsed.version, "bozo": parsed.bozo,
            "skipped": parsed.skipped, **counts.as_dict()}


def ingest(store: Store, settings: Settings, which: str, *, since: datetime | None = None,
           progress: Progress | None = None) -> list[StageReport]:
    """Run one source, or all of them in order (``which='all'``)."""
    names = SOURCES if which == "all" else (which,)
    reports = []
    for name in names:
        if name == "arxiv":
            reports.append(ingest_arxiv(store, settings, since=since, progress=progress))
        elif name == "classics":
            reports.append(ingest_classics(store, settings, progress=progress))
        elif name == "feeds":
            reports.append(ingest_feeds(store, settings, progress=progress))
        else:
            raise ValueError(f"unknown source {name!r}; choose from {', '.join(SOURCES)} or all")
    return reports
