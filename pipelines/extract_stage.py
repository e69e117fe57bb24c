"""The extraction stage: downloaded PDFs → sections and searchable passages in the store.

Parsing happens in sandboxed worker processes (a hostile PDF can hang or crash
MuPDF), through the executor GLEAN_EXECUTOR names (the local pool, or a Dask
cluster whose tasks run the same sandbox); only this driver writes to the store,
one paper per transaction, so whatever the executor, an interrupted run leaves every paper either fully extracted or untouched.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Iterator

from .executor import Executor, executor_from_settings
from .extract import EXTRACTOR_VERSION, ExtractResult
from .settings import Settings
from .stages import Progress, StageReport, announce, run_stage
from .store import Counts, Store

log = logging.getLogger(__name__)


def passages_from(result: ExtractResult) -> list[dict]:
    """What search indexes: each limitations span, and each appendix section."""
    passages = [{"kind": "limitations", "form": span.kind, "title": span.title or "Limitations",
                 "page_start": span.page_start, "page_end": span.page_end, "text": span.text}
                for span in result.limitations if span.text.strip()]
    appendix_sections = [s for s in result.sections if s.kind == "appendix" and s.text.strip()]
    if appendix_sections:
        passages += [{"kind": "appendix", "form": None, "title": s.title, "page_start": s.page_start,
                      "page_end": s.page_end, "text": s.text} for s in appendix_sections]
    elif result.appendix is not None and result.appendix.text.strip():
        first = result.appendix.sections[0].title if result.appendix.sections else "Appendix"
        last_page = max([h.page_end for h in result.appendix.sections] or [result.appendix.page_start])
        passages.append({"kind": "appendix", "form": None, "title": first, "page_start": result.appendix.page_start,
                         "page_end": last_page, "text": result.appendix.text})
    return passages


def sections_from(result: ExtractResult) -> list[dict]:
    return [{"title": s.title, "number": s.number, "level": s.level, "kind": s.kind,
             "page_start": s.page_start, "page_end": s.page_end, "text": s.text} for s in result.sections]


def extract_pending(store: Store, settings: Settings, *, limit: int | None = None,
                    progress: Progress | None = None, executor: Executor | None = None,
                    paper_ids: list[str] | None = None) -> StageReport:
    """Extract the pending PDFs; ``executor`` (kept open) overrides the one GLEAN_EXECUTOR names,
    ``paper_ids`` narrows the pending PDFs to one batch of a bulk driver's plan."""
    def body(counts: Counts, details: dict) -> None:
        todo = store.papers_needing_extraction(EXTRACTOR_VERSION, limit, paper_ids=paper_ids)
        details["pending"] = len(todo)
        announce(progress, len(todo), "extract")
        pdf_versions = {t["paper_id"]: t["pdf_version"] for t in todo}
        outcomes: Counter = Counter()

        def pdf_bytes() -> Iterator[tuple[str, bytes]]:
            # Read lazily: the pool holds a few documents in flight, never the whole backlog.
            for paper_id in pdf_versions:
                path = store.pdf_path(paper_id)
                try:
                    yield paper_id, path.read_bytes()
                except FileNotFoundError:
                    log.warning("PDF of %s vanished from the cache; it will be downloaded again", paper_id)
                    store.forget_pdf(paper_id)
                    counts.failed += 1
                    outcomes["missing"] += 1

        runner = executor or executor_from_settings(settings)
        try:
            for paper_id, result, elapsed_ms in runner.extract(
                    pdf_bytes(), workers=settings.extract_workers, timeout_s=settings.extract_timeout,
                    memory_mb=settings.extract_memory_mb):
                existed = store.save_extraction(
                    paper_id, pdf_version=pdf_versions[paper_id], extractor_version=EXTRACTOR_VERSION,
                    status=result.status, error=result.error, pages=result.pages, title=result.title,
                    elapsed_ms=int(elapsed_ms), sections=sections_from(result), passages=passages_from(result))
                outcomes[result.status] += 1
                if not result.ok:
                    log.warning("%s: %s (%s)", paper_id, result.status, result.error)
                    counts.failed += 1
                elif existed:
                    counts.updated += 1
                else:
                    counts.new += 1
                if progress:
                    progress(1)
        finally:
            if executor is None:
                runner.close()
        details["outcomes"] = dict(outcomes)

    return run_stage(store, "extract", body)
