"""Staleness: a broken source must never look like a quiet day, and a weekend is not broken."""

from __future__ import annotations

from datetime import datetime, timezone

from pipelines.health import source_health, status, weekdays_between
from pipelines.store import Counts


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def record_run(store, source, when: datetime, counts: Counts, error=None):
    run = store.start_run(source)
    store.finish_run(run, counts, error=error)
    with store.transaction() as conn:  # backdate the run to the moment under test
        conn.execute("UPDATE runs SET started_at=?, finished_at=? WHERE id=?",
                     (when.isoformat(), when.isoformat(), run))


def test_weekdays_between_skips_weekends():
    friday = utc(2026, 11, 27, 12)
    assert weekdays_between(friday, utc(2026, 11, 30, 12)) == 1  # Sat, Sun, Mon
    assert weekdays_between(friday, utc(2026, 12, 2, 12)) == 3


def test_arxiv_quiet_over_a_weekend_is_fine_but_three_weekdays_is_stale(store):
    record_run(store, "arxiv", utc(2026, 11, 27, 2), Counts(new=40))  # Friday
    record_run(store, "arxiv", utc(2026, 11, 30, 2), Counts(unchanged=0))  # Monday: nothing new yet
    assert source_health(store, "arxiv", now=utc(2026, 11, 30, 12))["state"] == "ok"
    stale = source_health(store, "arxiv", now=utc(2026, 12, 2, 20))
    assert stale["state"] == "stale" and "weekdays" in stale["reason"]


def test_failing_beats_stale_and_names_the_error(store):
    record_run(store, "feeds", utc(2026, 11, 1), Counts(new=5))
    record_run(store, "feeds", utc(2026, 11, 29), Counts(), error="all 3 feeds failed; first: HTTP 500")
    health = source_health(store, "feeds", now=utc(2026, 11, 29, 1))
    assert health["state"] == "failing" and "HTTP 500" in health["reason"]


def test_feeds_stale_after_a_week(store):
    record_run(store, "feeds", utc(2026, 11, 1), Counts(new=5))
    record_run(store, "feeds", utc(2026, 11, 20), Counts(unchanged=5))
    assert source_health(store, "feeds", now=utc(2026, 11, 20, 1))["state"] == "stale"


def test_status_lists_every_stage(store):
    names = [s["source"] for s in status(store)["sources"]]
    assert names == ["arxiv", "classics", "feeds", "download", "extract", "index", "trend"]
    assert all(s["state"] == "never_run" for s in status(store)["sources"])
