"""Is each source healthy? Failing, stale, or fine — never a silent gap.

A source that has brought nothing new for longer than its rhythm is *stale*:
arXiv announces new papers five days a week, so two weekdays without anything
new means something is wrong (a weekend is not). Feeds publish at least weekly.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from .store import Store

# How long a source may go without anything new before we call it stale.
RHYTHMS = {
    "arxiv": {"weekdays": 2},
    "feeds": {"days": 7},
    "classics": {"days": 35},
}
PIPELINE_STAGES = ("arxiv", "classics", "feeds", "download", "extract", "index", "trend")


def weekdays_between(start: datetime, end: datetime) -> int:
    """Whole weekdays (Mon–Fri) from ``start`` to ``end``."""
    days, day = 0, start
    while day + timedelta(days=1) <= end:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days += 1
    return days


def _parse(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts) if ts else None


def source_health(store: Store, source: str, now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    summary = store.source_summary(source)
    last = summary["last_run"]
    result = {
        "source": source,
        "last_run": _run_view(last) if last else None,
        "last_new_at": summary["last_new_at"],
        "state": "ok",
        "reason": None,
    }
    if last is None:
        result.update(state="never_run", reason="has not run yet")
        return result
    if last["status"] == "failed":
        result.update(state="failing", reason=last["error"])
        return result
    if last["status"] == "running":
        result.update(state="running", reason=f"running since {last['started_at']}")
        return result
    if last["status"] == "interrupted":
        result.update(state="interrupted", reason=f"{last['error']}; the next run continues")
        return result
    rhythm = RHYTHMS.get(source)
    if rhythm is None:
        return result
    since = _parse(summary["last_new_at"]) or _parse(summary["first_run_at"])
    if "weekdays" in rhythm and weekdays_between(since, now) > rhythm["weekdays"]:
        result.update(state="stale", reason=(
            f"nothing new since {since:%Y-%m-%d %H:%M} UTC, {weekdays_between(since, now)} weekdays "
            f"(arXiv announces every weekday): check GLEAN_ARXIV_API_URL and the categories"))
    elif "days" in rhythm and now - since > timedelta(days=rhythm["days"]):
        result.update(state="stale", reason=(
            f"nothing new since {since:%Y-%m-%d %H:%M} UTC, more than {rhythm['days']} days"))
    return result


def _run_view(run: dict) -> dict:
    keys = ("started_at", "finished_at", "status", "new", "updated", "unchanged", "failed", "error")
    return {k: run[k] for k in keys}


def index_health(store: Store, name: str = "chunks") -> dict:
    """Can semantic search use the ``name`` vector index? ``ok``; ``empty`` (no vectors yet: nothing
    is lost); ``missing`` or ``unreadable`` (vectors are stored but their faiss file is gone or broken:
    search falls back to keywords until `glean index` rebuilds it); ``behind`` (some vectors are not
    in the file yet: the newest papers are found by keywords only)."""
    vectors = store.vector_count(name)
    meta = store.index_meta(name) or {}
    path = store.index_dir / f"{name}.faiss"
    sidecar = path.with_suffix(".json")
    out = {"index": name, "vectors": vectors, "indexed": meta.get("count", 0)}
    if not vectors:
        return {**out, "state": "empty", "reason": None}
    if not path.is_file() or not sidecar.is_file():
        return {**out, "state": "missing", "reason": f"{path.name} is missing: search uses keywords only "
                                                     "until `glean index` rebuilds it"}
    try:
        readable = path.stat().st_size > 0 and json.loads(sidecar.read_text()).get("generation") is not None
    except (OSError, ValueError):
        readable = False
    if not readable:
        return {**out, "state": "unreadable", "reason": f"{path.name} cannot be read: search uses keywords only "
                                                        "until `glean index --rebuild`"}
    if meta.get("count", 0) < vectors:
        return {**out, "state": "behind", "reason": f"{vectors - meta.get('count', 0)} vectors are not indexed "
                                                    "yet (`glean index`)"}
    return {**out, "state": "ok", "reason": None}


def status(store: Store, now: datetime | None = None) -> dict:
    """Everything `glean status` shows: per source health, papers, PDFs."""
    store.mark_interrupted_runs()  # a run whose process was killed is not shown as running
    papers = store.paper_counts_by_source()
    return {
        "sources": [source_health(store, s, now) for s in PIPELINE_STAGES],
        "papers": {"total": sum(papers.values()), "by_source": papers},
        "pdfs": store.pdf_status_counts(),
        "extractions": store.extraction_status_counts(),
        "mail": {"outbox": store.outbox_counts(), "problems": store.outbox_problems()},
        "search": index_health(store),
    }
