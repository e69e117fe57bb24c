"""Bulk backfill of arXiv metadata over OAI-PMH, month by month, resumable.

The harvest walks date windows (calendar months, oldest first) over OAI-PMH
*datestamps*, which are when arXiv last changed a record, not when it was
submitted: arXiv offers no selective harvesting by submission date. Within a
window it follows resumption tokens page by page and upserts each page.

Resuming: resumption tokens expire (and do not survive a day), so they are never
stored. What is stored, under ``backfill-arxiv:<set or all>:<format>``, is the set of
days fully harvested, e.g. ``2014-01-01/2015-06-30``; it moves in the same
transaction as the last page of a window. A crash mid-window redoes that window
(the upserts make the redo harmless) and never skips one; a rerun of a finished
range asks nothing and changes nothing. A ``badResumptionToken`` answer (a token
expired under a slow harvest) restarts its window from the beginning, a few
times at most.

Records are the same :class:`Paper` the regular ingest stores, under the same
stable ids and versions, so a backfilled paper the ingest already has is
unchanged, and a newer version from either path updates it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterator

from .ratelimit import limiter_for
from .settings import Settings
from .sources import oai
from .stages import Progress, StageReport, run_stage
from .store import Counts, Store

log = logging.getLogger(__name__)

STAGE = "backfill-arxiv"
WINDOW_RESTARTS = 3  # badResumptionToken restarts allowed per window
EMPTY = "noRecordsMatch"
EXPIRED = "badResumptionToken"


def checkpoint_key(set_spec: str | None, metadata_prefix: str) -> str:
    return f"{STAGE}:{set_spec or 'all'}:{metadata_prefix}"


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # inclusive, as OAI-PMH's ``until`` is


def month_windows(start: date, end: date) -> Iterator[Window]:
    """Calendar months from ``start`` to ``end`` (both inclusive), clipped to them."""
    first = start
    while first <= end:
        next_month = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
        yield Window(first, min(end, next_month - timedelta(days=1)))
        first = next_month


class Coverage:
    """The days already harvested: disjoint, sorted, inclusive date ranges.

    Stored as text, ``2014-01-01/2014-12-31 2016-01-01/2016-03-31``, so a harvest of
    2016 after one of 2014 remembers both, and a later 2014–2016 run fills only 2015.
    """

    def __init__(self, spans: list[tuple[date, date]] | None = None):
        self.spans = sorted(spans or [])

    @classmethod
    def parse(cls, text: str | None) -> "Coverage":
        spans = []
        for part in (text or "").split():
            first, _, last = part.partition("/")
            spans.append((date.fromisoformat(first), date.fromisoformat(last or first)))
        return cls(spans)

    def first_gap(self, start: date, end: date) -> date | None:
        """The first day in ``start..end`` not yet harvested; None when all of them are."""
        day = start
        for a, b in self.spans:
            if a <= day <= b:
                day = b + timedelta(days=1)
        return day if day <= end else None

    def added(self, start: date, end: date) -> "Coverage":
        merged: list[tuple[date, date]] = []
        for a, b in sorted([*self.spans, (start, end)]):
            if merged and a <= merged[-1][1] + timedelta(days=1):
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return Coverage(merged)

    def __str__(self) -> str:
        return " ".join(f"{a.isoformat()}/{b.isoformat()}" for a, b in self.spans)


def backfill_arxiv(store: Store, settings: Settings, *, from_year: int, until_year: int | None = None,
                   set_spec: str | None = None, metadata_prefix: str = "arXivRaw",
                   progress: Progress | None = None, now: datetime | None = None) -> StageReport:
    """Harvest arXiv's OAI-PMH records with datestamps from Jan 1 of ``from_year``
    to Dec 31 of ``until_year`` (default: today), resuming where the last run stopped."""
    if metadata_prefix not in oai.SUPPORTED_PREFIXES:
        raise ValueError(f"unsupported OAI-PMH metadata format {metadata_prefix!r}; "
                         f"choose {' or '.join(oai.SUPPORTED_PREFIXES)}")
    today = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
    start = date(from_year, 1, 1)
    end = min(date(until_year or today.year, 12, 31), today)
    if start > end:
        raise ValueError(f"nothing to harvest: the range starts {start.isoformat()}, after it ends "
                         f"({end.isoformat()}; a range never reaches past today)")
    # Today's datestamps are still being written: a window reaching today is harvested
    # but remembered only up to yesterday, so the next run asks for today again.
    last_complete_day = today - timedelta(days=1)
    key = checkpoint_key(set_spec, metadata_prefix)
    base_url = getattr(settings, "oai_url", oai.DEFAULT_OAI_URL)
    limiter = limiter_for("arxiv", settings.arxiv_delay)

    def body(counts: Counts, details: dict) -> None:
        coverage = Coverage.parse(store.get_checkpoint(key))
        details.update(format=metadata_prefix, set=set_spec, url=base_url, checkpoint_key=key,
                       windows_done=0, windows_skipped=0, pages=0, deleted=0, restarts=0,
                       checkpoint=str(coverage) or None, harvested_through=None)
        for window in month_windows(start, end):
            done_until = min(window.end, last_complete_day)
            gap = coverage.first_gap(window.start, done_until)
            if done_until >= window.start and gap is None:
                details["windows_skipped"] += 1
                continue
            # Ask only from the first day not yet harvested (a daily rerun redoes one day).
            todo = Window(gap or window.start, window.end)
            next_coverage = coverage.added(todo.start, done_until) if done_until >= todo.start else coverage
            _harvest_window(store, settings, todo, base_url=base_url, limiter=limiter,
                            metadata_prefix=metadata_prefix, set_spec=set_spec,
                            checkpoint=(key, str(next_coverage)), counts=counts, details=details,
                            progress=progress)
            coverage = next_coverage
            details["windows_done"] += 1
            details["checkpoint"] = str(coverage) or None
            if done_until >= todo.start:
                details["harvested_through"] = done_until.isoformat()

    return run_stage(store, STAGE, body)


def _harvest_window(store: Store, settings: Settings, window: Window, *, base_url: str, limiter,
                    metadata_prefix: str, set_spec: str | None, checkpoint: tuple[str, str],
                    counts: Counts, details: dict, progress: Progress | None) -> None:
    """Every page of one window; the last page's upsert moves the checkpoint."""
    first_request = {"verb": "ListRecords", "metadataPrefix": metadata_prefix,
                     "from": window.start.isoformat(), "until": window.end.isoformat()}
    if set_spec:
        first_request["set"] = set_spec
    restarts = 0
    params, seen_tokens = first_request, set()
    while True:
        page = oai.parse_oai_page(oai.fetch_oai_page(base_url, params, settings=settings, limiter=limiter),
                                  pdf_base=settings.arxiv_pdf_base)
        details["pages"] += 1
        if page.error_code == EXPIRED:
            restarts += 1
            details["restarts"] += 1
            if restarts > WINDOW_RESTARTS:
                raise oai.OaiProtocolError(EXPIRED, f"resumption tokens kept expiring in the window "
                                           f"{window.start}..{window.end} after {WINDOW_RESTARTS} restarts",
                                           base_url)
            log.warning("OAI-PMH resumption token expired; restarting %s..%s", window.start, window.end)
            params, seen_tokens = first_request, set()
            continue
        if page.error_code and page.error_code != EMPTY:
            raise oai.OaiProtocolError(page.error_code, page.error_message, base_url)
        token = page.resumption_token
        if token in seen_tokens:
            raise oai.OaiProtocolError("repeatedResumptionToken", f"the token {token!r} came back twice", base_url)
        last = token is None
        counts.add(store.upsert_papers(page.records, checkpoint=checkpoint if last else None))
        counts.failed += page.failed
        details["deleted"] += len(page.deleted)
        if progress:
            progress(len(page.records))
        if last:
            return
        seen_tokens.add(token)
        params = {"verb": "ListRecords", "resumptionToken": token}
