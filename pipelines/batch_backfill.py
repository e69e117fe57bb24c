"""Bulk drivers: `glean backfill pdfs` and `glean backfill embeddings`, batch by batch.

Why a driver and not simply `glean download`, `glean extract --pending` and `glean index`:
a backlog of a million papers needs a known total to show progress against, a way to
stop half-way and resume without redoing or duplicating anything, and one executor (a
Dask client) kept open across the whole run. The regular stages do the work; this
module only plans and slices it:

1. Plan once, ids only: the papers still waiting for a PDF or an extraction
   (``Store.full_text_backlog``), or for a vector or chunks (``pending_embedding_ids``),
   cut to ``--limit``.
2. Run the stage functions (download_pdfs, extract_pending, index_pending) on one batch
   of those ids at a time, through the executor GLEAN_EXECUTOR names.

Each stage commits paper by paper, so a batch is committed when the driver moves on.
Resuming needs no checkpoint of its own: whatever a batch finished has left the
backlog, and a rerun plans only what is left. Vectors are committed per batch with
``indexed = 0``; the faiss files are brought in line after the last batch and every
``sync_every_s`` seconds in between (rewriting a large HNSW file after every batch would
cost more than the embedding), and any vectors an interrupted run left out are added by
the next run's final sync.

A batch whose stage fails (the store, the disk, the cluster) stops the run with that
error; the batches before it stay done.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Callable

from .download import download_pdfs
from .executor import Executor, executor_from_settings
from .extract import EXTRACTOR_VERSION
from .extract_stage import extract_pending
from .index_stage import index_pending, pending_embedding_ids
from .settings import Settings
from .stages import Progress, StageError, StageReport, batched, run_stage
from .store import Counts, Store

PDF_BATCH = 50  # papers per batch: downloads are paced, so a batch is minutes at arXiv's rate
EMBEDDING_BATCH = 500  # papers per batch: a few encode calls, one commit each
SYNC_EVERY_S = 600.0

Announce = Callable[[int], None]  # told the planned total once, before the first batch


def _counts(report: StageReport) -> dict:
    return report.counts.as_dict()


def _add(total: dict, part: dict) -> None:
    for key, value in part.items():
        if isinstance(value, int):
            total[key] = total.get(key, 0) + value


def _checked(report: StageReport, step: str, batch_no: int) -> StageReport:
    if not report.ok:
        raise StageError(f"{step} failed in batch {batch_no}: {report.error}")
    return report


class _BatchProgress:
    """Passes a stage's per-paper ticks on, then tops the batch up to its size: the bar
    counts planned papers, also those a batch skipped or failed before the ticking step."""

    def __init__(self, progress: Progress | None):
        self.progress, self.ticked = progress, 0

    def tick(self, n: int) -> None:
        self.ticked += n
        if self.progress:
            self.progress(n)

    def finish(self, size: int) -> None:
        if self.progress and size > self.ticked:
            self.progress(size - self.ticked)
        self.ticked = 0


def backfill_pdfs(store: Store, settings: Settings, *, limit: int | None = None, batch_size: int = PDF_BATCH,
                  executor: Executor | None = None, progress: Progress | None = None,
                  announce: Announce | None = None) -> StageReport:
    """Download and extract the full text of every paper still waiting for it, in batches.

    Per paper: ``new`` = read for the first time, ``updated`` = read again (a new PDF version,
    a newer extractor), ``failed`` = no PDF (the download failed) or a typed extraction
    outcome other than ok. ``details["steps"]`` holds each stage's own sums.
    """
    def body(counts: Counts, details: dict) -> None:
        backlog = store.full_text_backlog(max_attempts=settings.download_attempts,
                                          extractor_version=EXTRACTOR_VERSION, limit=limit)
        steps = {"download": {}, "extract": {"outcomes": Counter()}}
        details.update(planned=len(backlog), batch_size=batch_size, batches=0, steps=steps)
        if announce:
            announce(len(backlog))
        runner = executor or executor_from_settings(settings)
        details["executor"] = runner.name
        ticks = _BatchProgress(progress)
        try:
            for number, batch in enumerate(batched(backlog, batch_size), 1):
                downloaded = _checked(download_pdfs(store, settings, paper_ids=batch), "download", number)
                extracted = _checked(extract_pending(store, settings, paper_ids=batch, executor=runner,
                                                     progress=ticks.tick), "extract", number)
                _add(steps["download"], {**_counts(downloaded), "pending": downloaded.details.get("pending", 0)})
                _add(steps["extract"], {**_counts(extracted), "pending": extracted.details.get("pending", 0)})
                steps["extract"]["outcomes"].update(extracted.details.get("outcomes", {}))
                counts.new += extracted.counts.new
                counts.updated += extracted.counts.updated
                counts.failed += downloaded.counts.failed + extracted.counts.failed
                details["batches"] = number
                ticks.finish(len(batch))
        finally:
            if executor is None:
                runner.close()
            steps["extract"]["outcomes"] = dict(steps["extract"]["outcomes"])

    return run_stage(store, "backfill-pdfs", body)


def backfill_embeddings(store: Store, settings: Settings, *, limit: int | None = None,
                        batch_size: int = EMBEDDING_BATCH, executor: Executor | None = None,
                        progress: Progress | None = None, announce: Announce | None = None,
                        sync_every_s: float = SYNC_EVERY_S) -> StageReport:
    """Embed every paper whose vector or chunks are missing or stale, in batches, and index them.

    Per paper, as ``glean index`` counts: ``new`` = its first vector, ``updated`` = a new vector
    or new chunks. ``details["steps"]["embed"]`` sums the batches; ``details["indexes"]`` is
    the last sync of the faiss files.
    """
    def body(counts: Counts, details: dict) -> None:
        backlog = pending_embedding_ids(store, settings.embedding_model)[:limit]
        steps = {"embed": {}}
        details.update(planned=len(backlog), batch_size=batch_size, batches=0, syncs=0, steps=steps, indexes=[])
        if announce:
            announce(len(backlog))
        runner = executor or executor_from_settings(settings)
        details["executor"] = runner.name
        batches = list(batched(backlog, batch_size)) or [[]]  # nothing to embed: still sync the indexes
        last_sync = time.monotonic()
        try:
            for number, batch in enumerate(batches, 1):
                sync = number == len(batches) or time.monotonic() - last_sync >= sync_every_s
                report = _checked(index_pending(store, settings, executor=runner, paper_ids=batch, sync=sync),
                                  "index", number)
                counts.new += report.counts.new
                counts.updated += report.counts.updated
                _add(steps["embed"], {k: report.details.get(k, 0)
                                      for k in ("papers_embedded", "papers_rechunked", "chunks_written")})
                if sync:
                    details["syncs"] += 1
                    details["indexes"] = report.details["indexes"]
                    last_sync = time.monotonic()
                details["batches"] = number if batch else 0
                if progress and batch:
                    progress(len(batch))
        finally:
            if executor is None:
                runner.close()

    return run_stage(store, "backfill-embeddings", body)


__all__ = ["EMBEDDING_BATCH", "PDF_BATCH", "backfill_embeddings", "backfill_pdfs"]
