"""Download the PDFs of stored papers that need full text, once, into the cache.

Within size and time caps, checked to be a PDF, and at arXiv's polite rate for
arXiv's PDFs (the same process-wide limiter as the API). The PDFs stay in the
data folder for extraction; Glean links users to arXiv, it never serves these
files to anyone.
"""

from __future__ import annotations

import logging

from .http import FetchError, fetch
from .ratelimit import limiter_for
from .settings import Settings
from .stages import Progress, StageError, StageReport, announce, run_stage
from .store import Counts, Store

log = logging.getLogger(__name__)


def looks_like_pdf(body: bytes) -> bool:
    # The header may follow a little junk; readers accept it within the first KiB.
    return b"%PDF-" in body[:1024]


def download_pdfs(store: Store, settings: Settings, *, limit: int | None = None,
                  progress: Progress | None = None, paper_ids: list[str] | None = None) -> StageReport:
    """Download the pending PDFs; ``paper_ids`` narrows them to one batch of a bulk driver's plan."""
    def body(counts: Counts, details: dict) -> None:
        pending = store.papers_needing_pdf(max_attempts=settings.download_attempts, limit=limit,
                                           paper_ids=paper_ids)
        details["pending"] = len(pending)
        announce(progress, len(pending), "download PDFs")
        for paper in pending:
            had_one = (store.pdf_record(paper.id) or {}).get("status") == "ok"
            limiter = limiter_for("arxiv", settings.arxiv_delay) if paper.id.startswith("arxiv:") else None
            try:
                fetched = fetch(paper.pdf_url, timeout=settings.http_timeout, total_timeout=settings.pdf_timeout,
                                max_bytes=settings.pdf_max_bytes, limiter=limiter)
                if not looks_like_pdf(fetched.body):
                    store.record_pdf_failure(paper, "not_pdf", f"{paper.pdf_url} did not return a PDF")
                    counts.failed += 1
                else:
                    try:
                        store.save_pdf(paper, fetched.body)
                    except OSError as exc:  # a full disk fails every PDF after it: stop, say so
                        raise StageError(f"cannot write the PDF of {paper.id} into {store.pdf_dir}: "
                                         f"{exc.strerror or exc}; free some space (or fix the folder) "
                                         f"and run again") from exc
                    if had_one:
                        counts.updated += 1
                    else:
                        counts.new += 1
            except FetchError as exc:
                log.warning("PDF of %s not downloaded: %s", paper.id, exc)
                store.record_pdf_failure(paper, exc.kind, str(exc))
                counts.failed += 1
            if progress:
                progress(1)

    return run_stage(store, "download", body)
