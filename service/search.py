"""Limitations-section search: BM25 (SQLite FTS5) and vectors (faiss), fused by reciprocal rank.

The unit of a hit is a *passage*: one limitations span or one appendix section of
one paper. Keyword search ranks passages directly; semantic search ranks chunks,
each of which belongs to a passage. Reciprocal rank fusion needs no score
calibration between the two, which is why it is used here.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from bisect import bisect_left, bisect_right
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pipelines.embedding import get_embedder
from pipelines.health import index_health
from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.vector_index import VectorIndex

log = logging.getLogger(__name__)

WHERE_KINDS = {"limitations": ("limitations",), "appendix": ("appendix",), "all": ("limitations", "appendix")}
SOURCES = ("arxiv", "arxiv-classics", "arxiv-oai", "canon", "feeds")
MAX_QUERY_CHARS = 500
MAX_LIMIT = 100
RRF_K = 60  # the usual constant: damps the head of each list so neither ranker dominates
HITS_PER_PAPER = 2
CANDIDATES = 200
# Matching passages one keyword query may score with BM25 (≈ 5 µs each on this machine,
# so ≈ 15 ms): FTS5 scores every match before ranking, and a common word matches a
# large share of a big corpus. Measured in benchmarks/bench_search.py.
KEYWORD_SCAN_MAX = 3000
FILTERED_CANDIDATES = 2000  # vector candidates when filters leave too few of the first CANDIDATES
# An index file this small loads in tens of milliseconds: a search waits for it and
# sees the newest vectors. A bigger one (an HNSW graph of millions: seconds) loads in
# a background thread while searches keep using the previous one.
SYNC_LOAD_MAX_BYTES = 64 << 20

# Words that carry no topic. Left in, a natural-language query ("what breaks when the
# data is noisy") falls back to an OR that matches nearly every passage, which is both
# slow and useless for ranking. A query made only of them is searched as typed.
STOPWORDS = frozenset("""
    a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers him his how i if in into is it its itself just me more most my no nor not now of off on
    once only or other our out over own same she should so some such than that the their them then there
    these they this those through to too under until up very via was we were what when where which while who
    whom why will with would you your
""".split())


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


def content_terms(terms: list[str]) -> list[str]:
    """The terms that say what the query is about; all of them when every one is a stop word."""
    return [t for t in terms if t not in STOPWORDS] or terms


def fts_match(terms: list[str], operator: str) -> str:
    # Every term quoted: nothing the user types can be read as FTS5 syntax.
    return f" {operator} ".join(f'"{t}"' for t in terms)


_TOKEN = re.compile(r"\S+")


def window_snippet(text: str, terms: list[str], words: int = 40) -> tuple[str, list[list[int]]]:
    """The stretch of ``text`` (``words`` words) with the most query words, and where they are.

    A word matches a term when their first five letters agree (a crude stemmer, so that
    "generalise" finds "generalisation"); a term of three or four letters must match whole.
    """
    tokens = [m.span() for m in _TOKEN.finditer(text)]
    if not tokens:
        return "", []
    stems = sorted({t[:5] for t in terms if len(t) > 2}, key=len, reverse=True)
    marks: list[tuple[int, int]] = []
    if stems:
        pattern = "|".join(re.escape(stem) + (r"\w*" if len(stem) == 5 else r"(?!\w)") for stem in stems)
        marks = [m.span() for m in re.finditer(rf"\b(?:{pattern})", text, re.IGNORECASE)]
    starts = [a for a, _ in tokens]
    mark_tokens = [bisect_right(starts, a) - 1 for a, _ in marks]  # ascending, as marks are
    best, best_count = 0, 0
    for token in mark_tokens:  # windows starting a few words before each match
        start = max(0, min(token - 4, len(tokens) - words))
        count = bisect_left(mark_tokens, start + words) - bisect_left(mark_tokens, start)
        if count > best_count:
            best, best_count = start, count
    end = min(len(tokens), best + words)
    prefix = "… " if best > 0 else ""
    offsets, length = [], len(prefix)  # where each window token starts in the snippet
    for a, b in tokens[best:end]:
        offsets.append(length)
        length += b - a + 1
    snippet = prefix + " ".join(text[a:b] for a, b in tokens[best:end]) + (" …" if end < len(tokens) else "")
    ranges = [[offsets[t - best] + a - tokens[t][0], offsets[t - best] + b - tokens[t][0]]
              for (a, b), t in zip(marks, mark_tokens) if best <= t < end]
    return snippet, ranges


class Searcher:
    """Holds the loaded vector index (reloaded when the file changes) and answers queries."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._index: VectorIndex | None = None
        self._index_stamp: tuple | None = None
        self._loading: tuple | None = None  # the stamp a background thread is loading
        self._lock = threading.Lock()
        # Hybrid searches run the keyword side here while the calling thread embeds the
        # query: SQLite and torch both release the GIL, so on two cores the two sides
        # overlap instead of adding up. Its idle threads end with the process.
        self._keyword_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="search-keyword")
        self._missing_index: str | None = None  # why the semantic side is unavailable, when it is

    def _chunk_index(self) -> VectorIndex | None:
        path = self.store.index_dir / "chunks.faiss"
        sidecar = path.with_suffix(".json")
        try:
            stamp = (path.stat().st_mtime_ns, sidecar.read_text())
            size = path.stat().st_size
        except OSError:
            return None
        with self._lock:
            if stamp in (self._index_stamp, self._loading):
                return self._index
            if self._index is None or size <= SYNC_LOAD_MAX_BYTES:
                self._index, self._index_stamp = VectorIndex.load(path), stamp
                return self._index
            # Rows deleted since the old file was written are dropped by chunk_hits, so the
            # old index never shows anything stale; it only lacks the newest vectors a while.
            self._loading = stamp
            threading.Thread(target=self._load_in_background, args=(path, stamp), name="index-reload",
                             daemon=True).start()
            return self._index

    def _load_in_background(self, path, stamp: tuple) -> None:
        index = VectorIndex.load(path)
        with self._lock:
            if index is not None:  # an unreadable file keeps the old index until the file changes again
                self._index = index
            self._index_stamp, self._loading = stamp, None

    def _note_index(self, index: VectorIndex | None) -> None:
        """Keep (and log, once per change) why semantic search is unavailable while vectors exist."""
        reason = None
        if index is None:
            state = index_health(self.store)
            reason = state["reason"] if state["state"] in ("missing", "unreadable") else None
            if reason is None and state["state"] != "empty":
                reason = ("the vector index could not be loaded: search uses keywords only until "
                          "`glean index --rebuild`")
        if reason != self._missing_index:
            if reason:
                log.warning("search is keyword-only: %s", reason)
            else:
                log.info("semantic search is available again")
            self._missing_index = reason

    def search(self, query: SearchQuery) -> dict:
        query.validate()
        started = time.perf_counter()
        terms = content_terms(query_terms(query.q))
        kinds = WHERE_KINDS[query.where]
        if query.mode == "hybrid":
            keyword_side = self._keyword_pool.submit(self._keyword, query, terms, kinds)
            semantic = self._semantic(query, kinds)
            keyword = keyword_side.result()
        else:
            keyword = self._keyword(query, terms, kinds) if query.mode == "keyword" else []
            semantic = self._semantic(query, kinds) if query.mode == "semantic" else []
        hits = self._fuse(keyword, semantic, terms, query.limit)
        answer = {"query": query.q, "filters": query.filters(), "mode": query.mode, "total": len(hits),
                  "took_ms": round((time.perf_counter() - started) * 1000, 1),
                  "results": [dict(vars(h)) for h in hits]}  # asdict() deep-copies: 3 ms a search
        if query.mode != "keyword" and self._missing_index is not None:
            answer["degraded"] = self._missing_index  # said in the answer, never a silent keyword-only search
        return answer

    def _keyword(self, query: SearchQuery, terms: list[str], kinds) -> list[dict]:
        """Passages by BM25: those holding every word first, then those holding any rarer one.

        BM25's cost grows with how common the words are: FTS5 reads the whole posting list
        of every word in the query to weigh it, then scores every match. So each word is
        first counted (cheaply, up to KEYWORD_SCAN_MAX). When some word is more common than
        that, the passages holding every word are found without BM25 and then ordered by
        BM25 over the rarer words only (a very common word weighs little in BM25 anyway:
        its idf is low). benchmarks/bench_search.py measures what this costs and saves.
        """
        if not terms:
            return []
        args = dict(kinds=kinds, year_from=query.year_from, year_to=query.year_to, category=query.category,
                    source=query.source, limit=CANDIDATES, scan_max=KEYWORD_SCAN_MAX)
        counts = self.store.passages_matching(terms, cap=KEYWORD_SCAN_MAX)
        informative = [t for t in terms if counts[t] <= KEYWORD_SCAN_MAX]
        if len(informative) == len(terms):
            rows = self.store.keyword_passages(fts_match(terms, "AND"), **args)
        else:
            rows = self.store.keyword_passages(fts_match(terms, "AND"), **{**args, "ranked": False})
            if informative and len(rows) > 1:
                scores = self.store.bm25_of(fts_match(informative, "OR"), [r["passage_id"] for r in rows])
                rows.sort(key=lambda r: scores.get(r["passage_id"], 0.0))  # bm25: lower is better
        if len(rows) < query.limit and informative and len(terms) > 1:
            # Too few passages hold every word: add those holding any, rarest words first, as
            # many words as KEYWORD_SCAN_MAX matches allow.
            rare, total = [], 0
            for term in sorted(informative, key=lambda t: counts[t]):
                if rare and total + counts[term] > KEYWORD_SCAN_MAX:
                    break
                rare.append(term)
                total += counts[term]
            seen = {r["passage_id"] for r in rows}
            rows += [r for r in self.store.keyword_passages(fts_match(rare, "OR"), **args)
                     if r["passage_id"] not in seen]
        return rows

    def _semantic(self, query: SearchQuery, kinds) -> list[dict]:
        index = self._chunk_index()
        self._note_index(index)
        if index is None or index.size == 0:
            return []
        vector = get_embedder(self.settings.embedding_model).encode([query.q])
        k = CANDIDATES
        while True:
            scores, ids = index.search(vector, k)
            rows = self.store.chunk_hits([int(i) for i in ids[0] if i >= 0])
            out = []
            for score, chunk_id in zip(scores[0], ids[0]):
                row = rows.get(int(chunk_id))
                if row is None or row["kind"] not in kinds or not _passes(row, query):
                    continue  # deleted since the index was written, or filtered out
                out.append({**row, "cosine": float(score)})
            # Filters drop candidates after the vector search: when they dropped most of
            # them, ask for ten times more (a rare category, an old year range), once.
            if len(out) >= CANDIDATES // 4 or k >= FILTERED_CANDIDATES or k >= index.size:
                return out
            k = FILTERED_CANDIDATES

    def _fuse(self, keyword: list[dict], semantic: list[dict], terms: list[str], limit: int) -> list[Hit]:
        fused: dict[tuple, dict] = {}

        def entry(paper_id, kind, section, page) -> dict:
            # passage_id: set when the keyword side found it; chunk: the id of its best chunk
            return fused.setdefault((paper_id, kind, section, page),
                                    {"score": 0.0, "by": [], "passage_id": None, "chunk": None})

        for rank, row in enumerate(keyword):
            e = entry(row["paper_id"], row["kind"], row["section"], row["page"])
            e["score"] += 1.0 / (RRF_K + rank + 1)
            e["by"].append("keyword")
            e["passage_id"] = row["passage_id"]
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
            e["chunk"] = e["chunk"] or row["id"]
            rank += 1
        ordered = sorted(fused.items(), key=lambda kv: -kv[1]["score"])
        per_paper: dict[str, int] = {}
        shown = []
        for (paper_id, kind, section, page), e in ordered:
            if len(shown) >= limit:
                break
            if per_paper.get(paper_id, 0) >= HITS_PER_PAPER:
                continue
            per_paper[paper_id] = per_paper.get(paper_id, 0) + 1
            shown.append(((paper_id, kind, section, page), e))
        papers = self.store.papers_by_id(list(per_paper))
        shown = [item for item in shown if item[0][0] in papers]  # a paper deleted meanwhile
        # Snippets only for what is shown: the passage's text around the query words when the
        # keyword side found it, else the best-matching chunk's text.
        texts = self.store.passage_texts([e["passage_id"] for _, e in shown if e["passage_id"] is not None])
        chunk_texts = self.store.chunk_texts([e["chunk"] for _, e in shown if e["passage_id"] is None])
        hits = []
        for (paper_id, kind, section, page), e in shown:
            text = texts.get(e["passage_id"]) or chunk_texts.get(e["chunk"]) or ""
            snippet, ranges = window_snippet(text, terms)
            paper = papers[paper_id]
            hits.append(Hit(paper_id=paper_id, title=paper.title, authors=paper.authors, year=paper.year,
                            section=section or kind.title(), kind=kind, page=page, snippet=snippet,
                            highlights=ranges, score=round(e["score"], 6), abs_url=paper.abs_url,
                            pdf_url=f"{paper.pdf_url}#page={page}" if paper.pdf_url and page else paper.pdf_url,
                            matched_by=e["by"]))
        return hits


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
