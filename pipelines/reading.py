"""A user's reading history: adding papers by id and importing BibTeX or id lists.

Stored papers are matched by id; arXiv papers Glean has not seen are fetched from
the arXiv API (old-style ids too) and stored like any ingested paper. Whatever
cannot be matched is returned, with the reason, never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import arxiv

from .bibtex import Reference, parse_references
from .records import split_arxiv_id
from .settings import Settings
from .sources import arxiv_api
from .store import Store

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    matched: list[str] = field(default_factory=list)  # stored paper ids, in input order
    fetched: list[str] = field(default_factory=list)  # arXiv papers fetched to match
    unmatched: list[dict] = field(default_factory=list)  # {label, title, reason}
    counts: dict = field(default_factory=dict)
    # Where the new reads' dates came from: "added" (the file's added/accessed date),
    # "published" (the entry's year or date) or "today" (no date in the entry).
    read_dates: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"matched": len(self.matched), "fetched": self.fetched, "unmatched": self.unmatched,
                **self.counts, "read_dates": self.read_dates}

    def read_dates_line(self) -> str | None:
        """Which dates the reads carry, in words; None when there were no reads."""
        words = {"added": "the file's added or accessed dates", "published": "the entries' publication dates",
                 "today": "today (no date in the entry)"}
        parts = [f"{n} from {words[k]}" for k, n in self.read_dates.items() if n]
        return "read dates: " + "; ".join(parts) if parts else None


def reference_for(text: str) -> Reference:
    """What a user typed on the command line, as a reference."""
    text = text.strip()
    if text.startswith("arxiv:"):
        text = text[len("arxiv:"):]
    if text.startswith(("doi:", "url:")):
        kind, _, value = text.partition(":")
        return Reference(label=text, title=None, doi=value.lower() if kind == "doi" else None)
    refs = parse_references(text)
    return refs[0] if refs else Reference(label=text, title=None)


def add_reads(store: Store, settings: Settings, user_id: int, refs: list[Reference], *,
              rating: int | None = None, client: arxiv.Client | None = None) -> ImportReport:
    report = ImportReport()
    wanted: list[tuple[Reference, str]] = []
    missing_arxiv: list[Reference] = []
    for ref in refs:
        if ref.arxiv_id:
            pid = f"arxiv:{split_arxiv_id(ref.arxiv_id)[0]}"
            (wanted.append((ref, pid)) if store.get_paper(pid) else missing_arxiv.append(ref))
        elif ref.doi:
            pid = f"doi:{ref.doi}"
            paper = store.get_paper(pid) or store.paper_by_doi(ref.doi)
            if paper:
                wanted.append((ref, paper.id))
            else:
                report.unmatched.append({"label": ref.label, "title": ref.title,
                                         "reason": f"DOI {ref.doi} is not among the stored papers"})
        else:
            report.unmatched.append({"label": ref.label, "title": ref.title,
                                     "reason": "no arXiv id or DOI found in the entry"})
    if missing_arxiv:
        wanted += _fetch_missing(store, settings, missing_arxiv, report, client)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    dated: dict[str, str] = {}  # paper id -> read_at, the first entry for a paper wins
    origins: dict[str, int] = {"added": 0, "published": 0, "today": 0}
    for ref, pid in wanted:
        if pid in dated:
            continue
        # A date from the entry, unless it lies ahead (a typo, or a paper announced for later).
        known = ref.read_on if ref.read_on and ref.read_on <= now[:10] else None
        dated[pid] = f"{known}T00:00:00+00:00" if known else now
        origins[ref.read_on_from if known else "today"] += 1
    ids = list(dated)
    report.matched = ids
    report.read_dates = origins
    report.counts = store.add_reads(user_id, list(dated.items()))
    if rating is not None:  # a rating given with the reads is feedback on those papers, kept apart
        for pid in ids:
            store.rate(user_id, pid, rating, now)
    return report


def _fetch_missing(store: Store, settings: Settings, refs: list[Reference], report: ImportReport,
                   client: arxiv.Client | None) -> list[tuple[Reference, str]]:
    client = client or arxiv_api.GleanArxivClient(settings)
    ids = [split_arxiv_id(r.arxiv_id)[0] for r in refs]
    try:
        results = list(arxiv_api.fetch_by_ids(client, ids))
    except (arxiv.ArxivError, OSError) as exc:
        log.warning("could not fetch %d papers from arXiv: %s", len(ids), exc)
        report.unmatched += [{"label": r.label, "title": r.title, "reason": f"arXiv lookup failed: {exc}"}
                             for r in refs]
        return []
    papers = [arxiv_api.parse_result(r, pdf_base=settings.arxiv_pdf_base, source="arxiv") for r in results]
    store.upsert_papers(papers)
    found = {p.id for p in papers}
    report.fetched = sorted(found)
    matched = []
    for ref, aid in zip(refs, ids):
        pid = f"arxiv:{aid}"
        if pid in found:
            matched.append((ref, pid))
        else:
            report.unmatched.append({"label": ref.label, "title": ref.title,
                                     "reason": f"arXiv has no paper {aid}"})
    return matched


def import_file(store: Store, settings: Settings, user_id: int, text: str,
                client: arxiv.Client | None = None) -> ImportReport:
    return add_reads(store, settings, user_id, parse_references(text), client=client)
