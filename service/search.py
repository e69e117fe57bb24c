"""Limitations-section search: BM25 (SQLite FTS5) and vectors (faiss), fused by reciprocal rank.

The unit of a hit is a *passage*: one limitations span or one appendix section of
one paper. Keyword search ranks passages directly; semantic search ranks chunks,
each of which belongs to a passage. Reciprocal rank fusion needs no score
calibration between the two, which is why it is used here.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field

from pipelines.embedding import get_embedder
from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.vector_index import VectorIndex

WHERE_KINDS = {"limitations": ("limitations",), "appendix": ("appendix",), "all": ("limitations", "appendix")}
SOURCES = ("arxiv", "arxiv-classics", "arxiv-oai", "canon", "feeds")
MAX_QUERY_CHARS = 500
MAX_LIMIT = 100
RRF_K = 60  # the usual constant: damps the head of each list so neither ranker dominates
HITS_PER_PAPER = 2
CANDIDATES = 200
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"


class SearchError(ValueError):
    """A query we will not run; ``code`` is stable for clients, ``message`` says what to do."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


@dataclass
class SearchQuery:
    q: str
    where: str = "all"
    year_from: int | None = None
    year_to: int | None = None
    category: str | None = None
    source: str | None = None
    limit: int = 20
    mode: str = "hybrid"  # hybrid | keyword | semantic (the latter two for comparison and benchmarks)

    def validate(self) -> "SearchQuery":
        self.q = " ".join((self.q or "").split())
        if not self.q:
            raise SearchError("empty_query", "the query is empty: type a few words to search for")
        if len(self.q) > MAX_QUERY_CHARS:
            raise SearchError("query_too_long", f"the query has {len(self.q)} characters; the limit is "
                                                f"{MAX_QUERY_CHARS}")
        if self.where not in WHERE_KINDS:
            raise SearchError("invalid_parameter", f"in={self.where!r}: choose limitations, appendix or all")
        if self.mode not in ("hybrid", "keyword", "semantic"):
            raise SearchError("invalid_parameter", f"mode={self.mode!r}: choose hybrid, keyword or semantic")
        if self.source is not None and self.source not in SOURCES:
            raise SearchError("invalid_parameter", f"source={self.source!r}: choose {', '.join(SOURCES)}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise SearchError("invalid_parameter", f"limit={self.limit}: choose 1 to {MAX_LIMIT}")
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise SearchError("invalid_parameter", f"from={self.year_from} is after to={self.year_to}")
        return self

    def filters(self) -> dict:
        return {"in": self.where, "from": self.year_from, "to": self.year_to, "category": self.category,
                "source": self.source}


@dataclass
class Hit:
    paper_id: str
    title: str
    authors: list[str]
    year: int | None
    section: str
    kind: str
    page: int | None
    snippet: str
    highlights: list[list[int]]  # [start, end) character ranges of matched words in the snippet
    score: float
    abs_url: str | None
    pdf_url: str | None
    matched_by: list[str] = field(default_factory=list)


def query_terms(q: str) -> list[str]:
    """Words of the query, lower-cased; FTS syntax (quotes, NEAR, *, -, parentheses) is just text here."""
    return [t for t in re.findall(r"\w+", q.lower()) if len(t) > 1 or t.isdigit()]


def fts_match(terms: list[str], operator: str) -> str:
    # Every term quoted: nothing the user types can be read as FTS5 syntax.
    return f" {operator} ".join(f'"{t}"' for t in terms)


def marked_to_highlights(text: str) -> tuple[str, list[list[int]]]:
    """Turn FTS5 snippet markers into plain text plus highlight ranges."""
    out, ranges, start = [], [], None
    for ch in text:
        if ch == MARK_OPEN:
            start = sum(len(x) for x in out)
        elif ch == MARK_CLOSE and start is not None:
            ranges.append([start, sum(len(x) for x in out)])
            start = None
        else:
            out.append(ch)
    return "".join(out), ranges


def window_snippet(text: str, terms: list[str], words: int = 40) -> tuple[str, list[list[int]]]:
    """The stretch of ``text`` with the most query words, and where they are."""
    tokens = text.split()
    stems = {t[:5] for t in terms if len(t) > 2}

    def hit(token: str) -> bool:
        w = re.sub(r"\W", "", token.lower())
        return len(w) > 2 and w[:5] in stems

    hits = [hit(t) for t in tokens]  # once per token; the window below slides over these
    best, best_count, running = 0, -1, 0
    for i, flag in enumerate(hits):
        running += flag
        if i >= words:
            running -= hits[i - words]
        start = max(0, i - words + 1)
        if i >= min(words, len(hits)) - 1 and running > best_count:
            best, best_count = start, running
    chosen = tokens[best:best + words]
    snippet, ranges = "", []
    for token, flag in zip(chosen, hits[best:best + words]):
        if snippet:
            snippet += " "
        start = len(snippet)
        snippet += token
        if flag:
            ranges.append([start, len(snippet)])
    prefix = "… " if best > 0 else ""
    suffix = " …" if best + words < len(tokens) else ""
    return prefix + snippet + suffix, [[a + len(prefix), b + len(prefix)] for a, b in ranges]


class Searcher:
    """Holds the loaded vector index (reloaded when the file changes) and answers queries."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._index: VectorIndex | None = None
        self._index_stamp: tuple | None = None
        self._lock = threading.Lock()

    def _chunk_index(self) -> VectorIndex | None:
        path = self.store.index_dir / "chunks.faiss"
        sidecar = path.with_suffix(".json")
        try:
            stamp = (path.stat().st_mtime_ns, sidecar.read_text())
        except OSError:
            return None
        with self._lock:
            if stamp != self._index_stamp:
                self._index = VectorIndex.load(path)
                self._index_stamp = stamp
            return self._index

    def search(self, query: SearchQuery) -> dict:
        query.validate()
        started = time.perf_counter()
        terms = query_terms(query.q)
        kinds = WHERE_KINDS[query.where]
        keyword = self._keyword(query, terms, kinds) if query.mode in ("hybrid", "keyword") else []
        semantic = self._semantic(query, kinds) if query.mode in ("hybrid", "semantic") else []
        hits = self._fuse(keyword, semantic, terms, query.limit)
        return {"query": query.q, "filters": query.filters(), "mode": query.mode, "total": len(hits),
                "took_ms": round((time.perf_counter() - started) * 1000, 1),
                "results": [asdict(h) for h in hits]}

    def _keyword(self, query: SearchQuery, terms: list[str], kinds) -> list[dict]:
        if not terms:
            return []
        args = dict(kinds=kinds, year_from=query.year_from, year_to=query.year_to, category=query.category,
                    source=query.source, limit=CANDIDATES, mark=(MARK_OPEN, MARK_CLOSE))
        rows = self.store.keyword_passages(fts_match(terms, "AND"), **args)
        if len(rows) < query.limit and len(terms) > 1:
            # Too few passages hold every word: rank those holding any, after the ones holding all.
            seen = {r["passage_id"] for r in rows}
            rows += [r for r in self.store.keyword_passages(fts_match(terms, "OR"), **args)
                     if r["passage_id"] not in seen]
        return rows

    def _semantic(self, query: SearchQuery, kinds) -> list[dict]:
        index = self._chunk_index()
        if index is None or index.size == 0:
            return []
        vector = get_embedder(self.settings.embedding_model).encode([query.q])
        scores, ids = index.search(vector, CANDIDATES if not _filtered(query) else max(CANDIDATES, 2000))
        rows = self.store.chunk_hits([int(i) for i in ids[0] if i >= 0])
        out = []
        for score, chunk_id in zip(scores[0], ids[0]):
            row = rows.get(int(chunk_id))
            if row is None or row["kind"] not in kinds or not _passes(row, query):
                continue  # deleted since the index was written, or filtered out
            out.append({**row, "cosine": float(score)})
        return out

    def _fuse(self, keyword: list[dict], semantic: list[dict], terms: list[str], limit: int) -> list[Hit]:
        fused: dict[tuple, dict] = {}

        def entry(paper_id, kind, section, page) -> dict:
            return fused.setdefault((paper_id, kind, section, page),
                                    {"score": 0.0, "by": [], "snippet": None, "chunk": None})

        for rank, row in enumerate(keyword):
            e = entry(row["paper_id"], row["kind"], row["section"], row["page"])
            e["score"] += 1.0 / (RRF_K + rank + 1)
            e["by"].append("keyword")
            e["snippet"] = marked_to_highlights(row["snippet"])
        seen_semantic = set()
        rank = 0
        for row in semantic:
            key = (row["paper_id"], row["kind"], row["section_title"], row["page"])
            if key in seen_semantic:  # several chunks of one passage: its best one counts
                continue
            seen_semantic.add(key)
            e = entry(*key)
            e["score"] += 1.0 / (RRF_K + rank + 1)
            e["by"].append("semantic")
            e["chunk"] = e["chunk"] or row["text"]
            rank += 1
        ordered = sorted(fused.items(), key=lambda kv: -kv[1]["score"])
        papers = self.store.papers_by_id(list({k[0] for k, _ in ordered[:limit * 5]}))
        per_paper: dict[str, int] = {}
        hits = []
        for (paper_id, kind, section, page), e in ordered:
            if len(hits) >= limit:
                break
            if per_paper.get(paper_id, 0) >= HITS_PER_PAPER or paper_id not in papers:
                continue
            per_paper[paper_id] = per_paper.get(paper_id, 0) + 1
            snippet, ranges = e["snippet"] or window_snippet(e["chunk"] or "", terms)
            paper = papers[paper_id]
            hits.append(Hit(paper_id=paper_id, title=paper.title, authors=paper.authors, year=paper.year,
                            section=section or kind.title(), kind=kind, page=page, snippet=snippet,
                            highlights=ranges, score=round(e["score"], 6), abs_url=paper.abs_url,
                            pdf_url=f"{paper.pdf_url}#page={page}" if paper.pdf_url and page else paper.pdf_url,
                            matched_by=e["by"]))
        return hits


def _filtered(query: SearchQuery) -> bool:
    """Does the query drop candidates after the vector search? Then more must be fetched."""
    return query.where != "all" or any(v is not None for v in (query.year_from, query.year_to, query.category,
                                                                query.source))


def _passes(row: dict, query: SearchQuery) -> bool:
    year = row["year"]
    if query.year_from is not None and (year is None or year < query.year_from):
        return False
    if query.year_to is not None and (year is None or year > query.year_to):
        return False
    if query.category:
        categories = json.loads(row["categories"] or "[]")
        if query.category not in categories and (row["field"] or "").lower() != query.category.lower():
            return False
    if query.source:
        source = row["source"]
        if not (source == query.source or (query.source == "feeds" and source.startswith("feed:"))):
            return False
    return True
