"""The store: idempotent upserts, newest version wins, checkpoints atomic with records."""

from __future__ import annotations

import sqlite3

import pytest

from pipelines.migrations import MIGRATIONS
from pipelines.records import Paper
from pipelines.store import Store


def paper(**kw) -> Paper:
    base = dict(id="arxiv:2401.00001", title="A title", source="arxiv", abstract="Words.",
                authors=["Ada Lovelace"], version=1, categories=["cs.LG"])
    base.update(kw)
    return Paper(**base)


def test_schema_is_versioned_and_reopening_migrates_nothing(tmp_path):
    Store(tmp_path).close()
    reopened = Store(tmp_path)
    assert reopened.schema_version == len(MIGRATIONS)
    assert reopened.query("PRAGMA journal_mode")[0][0] == "wal"


def test_insert_then_identical_rerun_is_unchanged(store):
    assert store.upsert_papers([paper()]).as_dict() == {"new": 1, "updated": 0, "unchanged": 0, "failed": 0}
    assert store.upsert_papers([paper()]).unchanged == 1
    assert store.get_paper("arxiv:2401.00001") == paper()


def test_new_version_is_an_update_never_a_new_paper(store):
    store.upsert_papers([paper()])
    counts = store.upsert_papers([paper(version=2, title="A better title")])
    assert (counts.new, counts.updated) == (0, 1)
    assert store.count_papers() == 1
    assert store.get_paper("arxiv:2401.00001").title == "A better title"
    # An older version arriving later is ignored.
    assert store.upsert_papers([paper(version=1, title="A title")]).unchanged == 1
    assert store.get_paper("arxiv:2401.00001").version == 2


def test_second_source_fills_gaps_without_flip_flopping(store):
    canon = paper(id="doi:10.1162/neco.1997.9.8.1735", source="canon", abstract="", is_classic=True,
                  year=1997, field="machine learning")
    feed = paper(id="doi:10.1162/neco.1997.9.8.1735", source="feed:x", abstract="Learning to store…",
                 year=1998, field="neuroscience")
    store.upsert_papers([canon])
    assert store.upsert_papers([feed]).updated == 1
    stored = store.get_paper(canon.id)
    assert stored.abstract == "Learning to store…"  # filled a gap
    assert stored.year == 1997 and stored.field == "machine learning" and stored.source == "canon"
    assert stored.is_classic
    assert store.upsert_papers([canon]).unchanged == 1
    assert store.upsert_papers([feed]).unchanged == 1


def test_checkpoint_and_records_commit_together(store):
    class Boom(Exception):
        pass

    def papers():
        yield paper(id="arxiv:2401.00001")
        raise Boom

    with pytest.raises(Boom):
        store.upsert_papers(papers(), checkpoint=("arxiv", "2026-11-01T00:00:00+00:00"))
    assert store.count_papers() == 0
    assert store.get_checkpoint("arxiv") is None

    store.upsert_papers([paper()], checkpoint=("arxiv", "2026-11-01T00:00:00+00:00"))
    assert store.get_checkpoint("arxiv") == "2026-11-01T00:00:00+00:00"


def test_runs_are_recorded(store):
    from pipelines.store import Counts
    run = store.start_run("feeds")
    assert store.runs("feeds")[0]["status"] == "running"
    store.finish_run(run, Counts(new=2, failed=1), error="one feed failed")
    row = store.runs("feeds")[0]
    assert (row["status"], row["new"], row["failed"], row["error"]) == ("failed", 2, 1, "one feed failed")
    assert row["finished_at"] >= row["started_at"]


def test_pdf_cache_writes_atomically_and_records(store):
    p = paper(pdf_url="http://x/pdf")
    store.upsert_papers([p])
    assert [x.id for x in store.papers_needing_pdf(max_attempts=3)] == [p.id]
    path = store.save_pdf(p, b"%PDF-1.4 ...")
    assert path.read_bytes() == b"%PDF-1.4 ..." and path.is_relative_to(store.home)
    assert store.papers_needing_pdf(max_attempts=3) == []
    # A new version needs its PDF again.
    store.upsert_papers([paper(version=2, pdf_url="http://x/pdf2")])
    assert [x.id for x in store.papers_needing_pdf(max_attempts=3)] == [p.id]


def test_failed_downloads_stop_after_max_attempts(store):
    p = paper(pdf_url="http://x/pdf")
    store.upsert_papers([p])
    for _ in range(3):
        store.record_pdf_failure(p, "timeout", "slow")
    assert store.pdf_record(p.id)["attempts"] == 3
    assert store.papers_needing_pdf(max_attempts=3) == []


def test_concurrent_writers_do_not_lose_records(tmp_path):
    import threading
    s = Store(tmp_path)
    errors = []

    def write(n):
        try:
            s.upsert_papers([paper(id=f"arxiv:2401.{n:05d}") for n in range(n * 50, n * 50 + 50)])
        except sqlite3.Error as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and s.count_papers() == 200
