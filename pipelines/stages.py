"""Running a pipeline stage: a row in ``runs``, counts, and a plain error.

Every stage is a function ``body(counts, details)`` that adds to its counts as it
goes. :func:`run_stage` records the run, turns the expected failures of the outside
world into one readable sentence, and never lets a half-finished run look like a
quiet day: a failed run is stored as failed, with its error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, TypeVar

import arxiv
import requests

from .http import FetchError
from .store import Counts, Store

log = logging.getLogger(__name__)
T = TypeVar("T")

Progress = Callable[[int], None]

# Marks a log record whose content the stage's report carries as well (its summary,
# its error, a failed feed). A front end that prints the report (the CLI) drops
# these records so that each line appears once; the server's log keeps them.
IN_REPORT = {"in_report": True}


class DropReported(logging.Filter):
    """A handler filter that drops the records marked with :data:`IN_REPORT`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "in_report", False)


def announce(progress: Progress | None, total: int | None, what: str | None = None) -> None:
    """Tell a progress display how many items this stage (or phase of it) will go through.

    A display that can show a total has a ``start(total, what)`` method; a plain
    callable is only ever told how many items were done.
    """
    start = getattr(progress, "start", None)
    if start is not None:
        start(total, what)


class StageError(RuntimeError):
    """A stage stopped for a reason already put in words (e.g. a bulk driver's failed batch)."""


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to ``size`` items, read lazily (itertools.batched arrives only in 3.12)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class StageReport:
    source: str
    counts: Counts
    error: str | None = None
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_json(self) -> dict:
        return {"source": self.source, **self.counts.as_dict(), "error": self.error, **self.details}


def describe_error(exc: BaseException) -> str:
    """One sentence a user can act on, for the failures the outside world causes."""
    if isinstance(exc, arxiv.HTTPError):
        return f"arXiv answered HTTP {exc.status} after {exc.retry + 1} tries ({exc.url})"
    if isinstance(exc, arxiv.UnexpectedEmptyPageError):
        return f"arXiv kept answering an empty page after {exc.retry + 1} tries ({exc.url})"
    if isinstance(exc, arxiv.ArxivError):
        return str(exc)
    if isinstance(exc, requests.Timeout):
        return f"no answer in time from {getattr(exc.request, 'url', 'the server')}; try again later"
    if isinstance(exc, requests.ConnectionError):
        return f"could not connect to {getattr(exc.request, 'url', 'the server')}: check the URL setting and the network"
    if isinstance(exc, (FetchError, StageError, ValueError, OSError)):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"


def run_stage(store: Store, source: str, body: Callable[[Counts, dict], None]) -> StageReport:
    run_id = store.start_run(source)
    counts, details = Counts(), {}
    try:
        body(counts, details)
    except (KeyboardInterrupt, SystemExit):
        store.finish_run(run_id, counts, error="interrupted", details=details)
        raise
    except Exception as exc:  # recorded as a failed run, with what was done before it
        error = describe_error(exc)
        quiet = (arxiv.ArxivError, FetchError, StageError, requests.RequestException)  # no traceback needed
        log.error("%s failed: %s", source, error, exc_info=not isinstance(exc, quiet),
                  extra=IN_REPORT if isinstance(exc, quiet) else None)
        store.finish_run(run_id, counts, error=error, details=details)
        return StageReport(source, counts, error, details)
    store.finish_run(run_id, counts, details=details)
    log.info("%s: %d new, %d updated, %d unchanged, %d failed",
             source, counts.new, counts.updated, counts.unchanged, counts.failed, extra=IN_REPORT)
    return StageReport(source, counts, None, details)
