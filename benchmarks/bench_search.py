"""Vector index and hybrid search latency at 10k, 100k and 1M chunks.

    .venv/bin/python benchmarks/bench_search.py                       # tables (indexes, then hybrid search)
    .venv/bin/python benchmarks/bench_search.py --json                # the same figures as JSON
    .venv/bin/python benchmarks/bench_search.py --sizes 10000,100000,1000000 --hybrid-sizes ''   # indexes only
    .venv/bin/python benchmarks/bench_search.py --sizes '' --hybrid-sizes 10000,100000             # hybrid only

Part 1, the index (pipelines/vector_index.py). Synthetic unit vectors (d=384) shaped like the
model's: a mixture around 2,000 real all-MiniLM-L6-v2 embeddings of arXiv abstracts (encoded
once, ~4 min, cached in benchmarks/cache/), with Gaussian noise that has the real embeddings'
covariance, scaled so that the mean nearest-neighbour cosine of 2,000 synthetic points equals
the real one (0.66). Purely random vectors would make HNSW look worse than it is on real data.
Queries are held-out points of the same mixture, sent one at a time as a user would. For each
size: a flat (exact) and an HNSW ``VectorIndex`` with the module's own parameters; build time,
memory per million vectors (RSS growth and file size), save/load time; p50/p95 per query at
k=10, at k=200 (what ``Searcher`` asks for) and, for HNSW, k=2000 (what it asks for when a
filter is set), each with faiss's default OpenMP threads and with one; recall@10 of HNSW against
the exact answer; an efSearch sweep. Flat alone is also timed at in-between sizes to place the
exact/HNSW threshold (largest size whose flat p95 stays within --flat-budget-ms). HNSW graphs of
--cache-min vectors or more are cached in benchmarks/cache/ with their build time (the 1M build
takes several minutes on 2 cores); --no-cache rebuilds.

Part 2, hybrid search (service/search.py). A store (in a temporary folder; for --cache-min chunks
or more, kept in benchmarks/cache/ with its faiss file, since seeding 1M takes ≈ 15 min) seeded with synthetic
papers whose passages are real abstract text (so FTS5 sees real term statistics) and whose
chunks carry the synthetic vectors; ``sync_index`` builds the faiss file; then
``Searcher.search`` end to end with two query sets: held-out arXiv titles (natural language,
stop words included, as people type) and the first three content words of those titles. Hybrid
and semantic latency include embedding the query with the real model. Runs with the default
thread settings (torch and faiss: one thread per core) and with one thread each
(``torch.set_num_threads(1)``, ``faiss.omp_set_num_threads(1)``). Diagnostics: how often the
keyword side falls back to OR, how many passages that matches, what snippet() costs, what
``window_snippet`` costs.

The machine's 1-minute load average is recorded: on a shared 2-core machine other processes
change the numbers a lot, above all with more than one OpenMP thread per query.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import gzip
import itertools
import json
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import faiss
import numpy as np
import psutil

from pipelines import vector_index as vx
from pipelines.vector_index import VectorIndex

METADATA = ROOT.parent / "shared" / "corpus" / "metadata" / "arxiv_sample.jsonl.gz"
CACHE = Path(__file__).resolve().parent / "cache"
DIM = 384
NOISE_SCALE = 0.7  # calibrated: mean NN cosine of 2,000 synthetic points = real (see calibrate())
DEFAULT_THREADS = faiss.omp_get_max_threads()
_proc = psutil.Process()

try:
    _libc = ctypes.CDLL("libc.so.6")
except OSError:  # pragma: no cover
    _libc = None


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def rss() -> int:
    gc.collect()
    if _libc is not None:
        _libc.malloc_trim(0)
    return _proc.memory_info().rss


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "faiss": faiss.__version__,
            "faiss_omp_threads_default": DEFAULT_THREADS, "faiss_build": faiss.get_compile_options(),
            "hnsw": {"M": vx.HNSW_M, "efConstruction": vx.HNSW_EF_CONSTRUCTION, "efSearch": vx.HNSW_EF_SEARCH}}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


# -- data ----------------------------------------------------------------------------------

def read_records(limit: int | None = None) -> list[dict]:
    out = []
    with gzip.open(METADATA, "rt") as fh:
        for line in fh:
            out.append(json.loads(line))
            if limit and len(out) >= limit:
                break
    return out


def real_centres(k: int) -> np.ndarray:
    """Embeddings of the first ``k`` arXiv records (title. abstract), cached: ~8 texts/s on 2 cores."""
    path = CACHE / f"real_centres_{k}.npy"
    if path.is_file():
        return np.load(path)
    from pipelines.embedding import DEFAULT_MODEL, get_embedder
    log(f"encoding {k} real abstracts for the mixture centres (once; cached in {path}) ...")
    texts = [r["title"] + ". " + r["abstract"] for r in read_records(k)]
    vectors = get_embedder(DEFAULT_MODEL).encode(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


class Mixture:
    def __init__(self, centres: np.ndarray, seed: int):
        self.centres = centres.astype(np.float32)
        cov = np.cov(self.centres.T.astype(np.float64))
        self.chol = np.linalg.cholesky(cov + 1e-6 * np.eye(cov.shape[0])).astype(np.float32)
        self.rng = np.random.default_rng(seed)

    def sample(self, n: int, block: int = 100_000) -> np.ndarray:
        out = np.empty((n, DIM), dtype=np.float32)
        for start in range(0, n, block):
            m = min(block, n - start)
            which = self.rng.integers(0, len(self.centres), m)
            x = self.centres[which] + NOISE_SCALE * (self.rng.standard_normal((m, DIM), dtype=np.float32)
                                                     @ self.chol.T)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            out[start:start + m] = x
        return out


def nn_cos(x: np.ndarray) -> float:
    s = x @ x.T
    np.fill_diagonal(s, -1)
    return float(s.max(axis=1).mean())


# -- timing --------------------------------------------------------------------------------

def single_query_ms(index: VectorIndex, queries: np.ndarray, k: int, threads: int, warmup: int = 10):
    faiss.omp_set_num_threads(threads)
    try:
        for i in range(min(warmup, len(queries))):
            index.search(queries[i:i + 1], k)
        times, found = [], []
        for i in range(len(queries)):
            start = time.perf_counter()
            _, ids = index.search(queries[i:i + 1], k)
            times.append((time.perf_counter() - start) * 1000)
            found.append(ids[0])
    finally:
        faiss.omp_set_num_threads(DEFAULT_THREADS)
    return times, np.array(found)


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10].tolist()) & set(t[:10].tolist())) / 10 for f, t in zip(found, truth)]))


def lat(times: list[float]) -> dict:
    return {"p50_ms": round(pct(times, 50), 3), "p95_ms": round(pct(times, 95), 3), "mean_ms": round(statistics.mean(times), 3)}


def set_ef(index: VectorIndex, ef: int) -> None:
    faiss.downcast_index(index.index.index).hnsw.efSearch = ef


def build_or_load(kind: str, data: np.ndarray, cache_key: str | None) -> tuple[VectorIndex, float, bool]:
    """Build the index; big HNSW graphs are cached (same data, same parameters) with their build time."""
    n = len(data)
    path = CACHE / f"{kind}_M{vx.HNSW_M}_efc{vx.HNSW_EF_CONSTRUCTION}_n{n}_{cache_key}.faiss" if cache_key else None
    meta = path.with_name(path.name + ".build.json") if path else None
    if path and path.is_file() and meta.is_file():
        index = VectorIndex.load(path)
        if index is not None and index.size == n:
            return index, json.loads(meta.read_text())["build_s"], True
    start = time.perf_counter()
    index = VectorIndex.build(kind, DIM, np.arange(n, dtype=np.int64), data)
    build_s = time.perf_counter() - start
    if path:
        index.save(path)
        meta.write_text(json.dumps({"build_s": build_s, "when": time.strftime("%Y-%m-%d %H:%M"),
                                    "loadavg": os.getloadavg()}))
    return index, build_s, False


def bench_index(kind: str, data: np.ndarray, queries: np.ndarray, truth: np.ndarray | None, tmp: Path,
                efs: list[int], full: bool, cache_key: str | None = None) -> tuple[dict, VectorIndex]:
    n = len(data)
    load0 = os.getloadavg()[0]
    before = rss()
    index, build_s, cached = build_or_load(kind, data, cache_key)
    grown = rss() - before
    out = {"kind": kind, "n": n, "build_s": round(build_s, 2), "build_cached": cached,
           "rss_growth_mb": round(grown / 2**20, 1), "rss_mb_per_million": round(grown / 2**20 / n * 1e6, 1)}
    if full:
        path = tmp / f"{kind}-{n}.faiss"
        start = time.perf_counter()
        index.save(path)
        out["save_s"] = round(time.perf_counter() - start, 2)
        size = path.stat().st_size
        out["file_mb"] = round(size / 2**20, 1)
        out["file_mb_per_million"] = round(size / 2**20 / n * 1e6, 1)
        start = time.perf_counter()
        loaded = VectorIndex.load(path)
        out["load_s"] = round(time.perf_counter() - start, 2)
        assert loaded is not None and loaded.size == n
        del loaded
        path.unlink()
        path.with_suffix(".json").unlink()
    runs = {"k10_default_threads": (10, DEFAULT_THREADS), "k10_1_thread": (10, 1),
            "k200_default_threads": (200, DEFAULT_THREADS), "k200_1_thread": (200, 1)}
    if kind == "hnsw":
        runs["k2000_default_threads"] = (2000, DEFAULT_THREADS)
        runs["k2000_1_thread"] = (2000, 1)
    if not full:
        runs = {k: v for k, v in runs.items() if k in ("k200_default_threads", "k200_1_thread")}
    for name, (k, threads) in runs.items():
        times, found = single_query_ms(index, queries, k, threads)
        out[name] = lat(times)
        if truth is not None and kind == "hnsw" and k >= 10:
            out[name]["recall@10"] = round(recall_at_10(found, truth), 4)
    if kind == "hnsw" and truth is not None:
        sweep = []
        for ef in efs:
            set_ef(index, ef)
            times, found = single_query_ms(index, queries, 10, DEFAULT_THREADS)
            t1, _ = single_query_ms(index, queries, 10, 1)
            # What Searcher does: k=200 (does efSearch still matter when k > efSearch?)
            t200, found200 = single_query_ms(index, queries, 200, 1)
            sweep.append({"efSearch": ef, **lat(times), "p50_ms_1_thread": round(pct(t1, 50), 3),
                          "p95_ms_1_thread": round(pct(t1, 95), 3), "recall@10": round(recall_at_10(found, truth), 4),
                          "k200_p50_ms_1_thread": round(pct(t200, 50), 3),
                          "k200_p95_ms_1_thread": round(pct(t200, 95), 3),
                          "k200_recall@10": round(recall_at_10(found200, truth), 4),
                          "k200_returned": round(float((found200 >= 0).sum(axis=1).mean()), 1)})
        set_ef(index, vx.HNSW_EF_SEARCH)
        out["ef_sweep"] = sweep
    out["loadavg_1min"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    return out, index


def run_indexes(args, mixture: Mixture, results: dict) -> np.ndarray:
    sizes = sorted(args.sizes)
    flat_only = sorted(s for s in args.flat_sizes if s <= max(sizes) and s not in sizes)
    biggest = max(sizes)
    t = time.perf_counter()
    data = mixture.sample(biggest)
    queries = mixture.sample(args.queries)
    results["data"] = {"generate_s": round(time.perf_counter() - t, 1), "queries": args.queries,
                       "synthetic_nn_cos_at_2000": round(nn_cos(data[:2000]), 3),
                       "real_nn_cos_at_2000": round(nn_cos(mixture.centres[:2000]), 3)}
    log(f"generated {biggest} + {args.queries} vectors in {results['data']['generate_s']} s "
        f"(NN cosine of 2,000: synthetic {results['data']['synthetic_nn_cos_at_2000']}, "
        f"real {results['data']['real_nn_cos_at_2000']})")
    results["indexes"], results["flat_sweep"] = [], []
    with tempfile.TemporaryDirectory(prefix="glean-bench-search-", dir=args.tmp) as tmp:
        for n in sorted(set(sizes) | set(flat_only)):
            sub = data[:n]
            start = time.perf_counter()
            if "flat" in args.kinds:
                row, flat = bench_index("flat", sub, queries, None, Path(tmp), args.ef, full=n in sizes)
                del flat
                if n not in sizes:
                    results["flat_sweep"].append(row)
                    log(f"flat {n}: k=200 p95 {row['k200_default_threads']['p95_ms']} ms (default threads), "
                        f"{row['k200_1_thread']['p95_ms']} ms (1 thread)")
                    continue
                results["indexes"].append(row)
                log(f"flat {n}: {row}")
            if n not in sizes or "hnsw" not in args.kinds:
                continue
            exact = faiss.IndexFlatIP(DIM)
            exact.add(sub)
            scores, truth = exact.search(queries, 10)  # batched, not timed: the exact answer
            del exact
            if "flat" in args.kinds:
                results["indexes"][-1]["query_nn_cos"] = round(float(scores[:, 0].mean()), 3)
            key = f"seed{args.seed}_c{args.centres}" if n >= args.cache_min and not args.no_cache else None
            row, hnsw = bench_index("hnsw", sub, queries, truth, Path(tmp), args.ef, full=True, cache_key=key)
            del hnsw
            results["indexes"].append(row)
            log(f"hnsw {n}: built in {row['build_s']} s, recall@10 {row['k10_default_threads']['recall@10']}, "
                f"({time.perf_counter() - start:.0f} s for this size)")
    results["flat_sweep"] += [r for r in results["indexes"] if r["kind"] == "flat"]
    results["flat_sweep"].sort(key=lambda r: r["n"])
    results["threshold"] = threshold(results["flat_sweep"], args.flat_budget_ms)
    return data


def threshold(rows: list[dict], budget: float) -> dict:
    """Largest n whose flat p95 stays within budget, by linear interpolation between measured sizes."""
    out = {"budget_ms": budget}
    for key in ("k200_default_threads", "k200_1_thread"):
        points = [(r["n"], r[key]["p95_ms"]) for r in rows]
        best = None
        for (n0, p0), (n1, p1) in itertools.pairwise(points):
            if p0 <= budget < p1:
                best = int(n0 + (budget - p0) * (n1 - n0) / (p1 - p0))
        if best is None:
            best = max((n for n, p in points if p <= budget), default=0)
        out[key] = best
    return out


# -- hybrid ---------------------------------------------------------------------------------

def hybrid_corpus(records: list[dict], seed: int):
    """Text pool (abstracts) and held-out queries (titles of records the pool never uses)."""
    usable = [r for r in records if len((r.get("abstract") or "").split()) >= 40]
    cut = len(usable) - 2000
    pool = [" ".join(r["abstract"].split()[:180]) for r in usable[:cut]]
    meta = [(r["title"], r.get("year"), (r.get("categories") or "").split(), r.get("primary_category"))
            for r in usable[:cut]]
    rng = random.Random(seed)
    held = usable[cut:]
    queries = [" ".join(r["title"].split()) for r in rng.sample(held, min(len(held), 1000))]
    return pool, meta, queries


def seed_hybrid_store(home: Path, n_chunks: int, vectors: np.ndarray, pool: list[str], meta: list, seed: int):
    from pipelines.index_stage import digest
    from pipelines.records import Paper
    from pipelines.store import Store

    rng = random.Random(seed)
    store = Store(home)
    papers, plans, j = [], [], 0
    while j < n_chunks:
        i = rng.randrange(len(pool))
        title, year, cats, primary = meta[i]
        pid = f"synth:{len(papers):07d}"
        year = year if year and year >= 2005 else rng.randint(2008, 2025)
        papers.append(Paper(id=pid, title=" ".join(title.split()), source="arxiv", abstract=pool[i], year=year,
                            categories=cats or ["cs.LG"], primary_category=primary or "cs.LG",
                            abs_url=f"https://arxiv.org/abs/{pid}", pdf_url=f"https://arxiv.org/pdf/{pid}"))
        passages, chunks = [], []
        layout = [("limitations", "Limitations", rng.randint(1, 3))]
        if rng.random() < 0.6:
            layout.append(("appendix", f"{rng.choice('ABCDE')} Additional experiments", rng.randint(1, 4)))
        for kind, section, count in layout:
            count = min(count, n_chunks - j)
            if count <= 0:
                break
            page = rng.randint(5, 30)
            texts = [pool[rng.randrange(len(pool))] for _ in range(count)]
            passages.append({"kind": kind, "form": "section", "title": section, "page_start": page,
                             "page_end": page, "text": "\n\n".join(texts)})
            for text in texts:
                chunks.append({"kind": kind, "section_title": section, "page": page, "text": text,
                               "vector": vectors[j]})
                j += 1
        plans.append((pid, passages, chunks))
    timings = {}
    t = time.perf_counter()
    for start in range(0, len(papers), 5000):
        store.upsert_papers(papers[start:start + 5000])
    timings["upsert_papers_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for pid, passages, _ in plans:
        store.save_extraction(pid, pdf_version=1, extractor_version=1, status="ok", error=None, pages=30,
                              title=None, elapsed_ms=1, sections=[], passages=passages)
    timings["save_extraction_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for pid, passages, chunks in plans:
        store.replace_chunks(pid, digest(pid, str(len(chunks))), chunks)
    timings["replace_chunks_s"] = time.perf_counter() - t
    return store, {"papers": len(papers), "passages": sum(len(p) for _, p, _ in plans), "chunks": j,
                   **{k: round(v, 1) for k, v in timings.items()}}


_STOPWORD_TEXT = (
    "a about above after again against all also am an and any are as at be because been before being "
    "below between both but by can could did do does doing down during each few for from further had has "
    "have having he her here hers him his how i if in into is it its itself just me more most my no nor "
    "not now of off on once only or other our out over own same she should so some such than that the "
    "their them then there these they this those through to too under until up very via was we were what "
    "when where which while who whom why will with would you your towards toward using use based new "
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def term_queries(titles: list[str]) -> list[str]:
    """Keyword-style queries: the first three content words (no stop words, 4+ letters) of each title."""
    out = []
    for title in titles:
        words = [w for w in query_words(title) if len(w) >= 4 and w not in STOPWORDS][:3]
        if len(words) >= 2:
            out.append(" ".join(words))
    return out


def query_words(text: str) -> list[str]:
    from service.search import query_terms
    return query_terms(text)


def set_threads(n: int) -> None:
    import torch
    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)


def time_searches(searcher, queries: list[str], **kw) -> list[float]:
    from service.search import SearchQuery

    times = []
    for q in queries:
        start = time.perf_counter()
        searcher.search(SearchQuery(q, **kw))
        times.append((time.perf_counter() - start) * 1000)
    return times


def keyword_diagnostics(store, titles: list[str]) -> dict:
    """How often no passage holds every content word, and what an unbounded OR over them would cost."""
    from service.search import CANDIDATES, content_terms, fts_match, query_terms

    kinds = ("limitations", "appendix")
    fell_back, matches, t_or = 0, [], []
    for q in titles:
        terms = content_terms(query_terms(q))
        if len(store.keyword_passages(fts_match(terms, "AND"), kinds=kinds)) < 20 and len(terms) > 1:
            fell_back += 1
        match = fts_match(terms, "OR")
        matches.append(store.query("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?", (match,))[0][0])
        start = time.perf_counter()
        store.keyword_passages(match, kinds=kinds, limit=CANDIDATES)
        t_or.append((time.perf_counter() - start) * 1000)
    from service.search import window_snippet
    texts = [r[0] for r in store.query("SELECT text FROM chunks ORDER BY random() LIMIT 20")]
    start = time.perf_counter()
    for q in titles:
        for text in texts:
            window_snippet(text, query_terms(q))
    per_call = (time.perf_counter() - start) * 1000 / (len(titles) * len(texts))
    passages = store.query("SELECT count(*) FROM passages")[0][0]
    return {"window_snippet_ms_per_call": round(per_call, 2), "queries": len(titles),
            "or_fallback_share": round(fell_back / len(titles), 3), "or_matches_mean": round(statistics.mean(matches)),
            "passages": passages, "or_query_ms_p50": round(pct(t_or, 50), 1)}


@contextmanager
def hybrid_folder(args, n: int):
    """(folder, reused): a temporary folder, or for n ≥ --cache-min a cached seeded store
    (benchmarks/cache/hybrid_store_…; seeding 1M chunks and building their HNSW graph takes
    ≈ 15 min). The cached store is the one this script seeds, so reusing it changes nothing."""
    if n < args.cache_min or args.no_cache:
        with tempfile.TemporaryDirectory(prefix="glean-bench-hybrid-", dir=args.tmp) as tmp:
            yield Path(tmp), False
        return
    folder = CACHE / f"hybrid_store_n{n}_seed{args.seed}_c{args.centres}"
    if folder.exists() and not (folder / "seeded.json").is_file():
        shutil.rmtree(folder)  # an interrupted seeding: start over
    reused = (folder / "seeded.json").is_file()
    folder.mkdir(parents=True, exist_ok=True)
    yield folder, reused


def run_hybrid(args, mixture: Mixture, data: np.ndarray | None, results: dict) -> None:
    from pipelines.embedding import DEFAULT_MODEL, get_embedder
    from pipelines.index_stage import sync_index
    from pipelines.settings import Settings
    from service.search import Searcher, SearchQuery

    embedder = get_embedder(DEFAULT_MODEL)
    embedder.encode(["warm up"])
    records = read_records()
    pool, meta, all_titles = hybrid_corpus(records, args.seed)
    del records
    titles = all_titles[:args.hybrid_queries]
    terms = term_queries(all_titles)[:args.hybrid_queries]
    warm = all_titles[-10:]
    results["hybrid_queries"] = {"titles_example": titles[:3], "terms_example": terms[:3]}
    # Query embedding alone: part of every hybrid/semantic search.
    results["query_embedding"] = {}
    for label, threads in (("default_threads", DEFAULT_THREADS), ("1_thread", 1)):
        set_threads(threads)
        times = []
        for q in titles[:args.diag_queries]:
            start = time.perf_counter()
            embedder.encode([q])
            times.append((time.perf_counter() - start) * 1000)
        results["query_embedding"][label] = lat(times)
    set_threads(DEFAULT_THREADS)
    log(f"query embedding: {results['query_embedding']}")
    results["hybrid"] = []
    for n in sorted(args.hybrid_sizes):
        vectors = data[:n] if data is not None and len(data) >= n else mixture.sample(n)
        with hybrid_folder(args, n) as (tmp, cached):
            settings = Settings.load(env={"GLEAN_HOME": str(Path(tmp) / "home")}, dotenv=Path(tmp) / "no.env")
            t = time.perf_counter()
            if cached:
                from pipelines.store import Store
                store, seeded = Store(settings.home), json.loads((Path(tmp) / "seeded.json").read_text())
                seeded["reused_from_cache"] = str(tmp)
            else:
                store, seeded = seed_hybrid_store(settings.home, n, vectors, pool, meta, args.seed)
                seeded["seed_s"] = round(time.perf_counter() - t, 1)
                if n >= args.cache_min and not args.no_cache:
                    (Path(tmp) / "seeded.json").write_text(json.dumps(seeded))  # marks the cache complete
            log(f"hybrid {n}: seeded {seeded}")
            default_kind = vx.choose_kind(n, settings.index_exact_max)
            row = {"n": n, "default_kind": default_kind, "seeded": seeded, "runs": [],
                   "loadavg_1min_start": round(os.getloadavg()[0], 2)}
            plan = [(default_kind, [
                ("hybrid", "titles", {}, DEFAULT_THREADS), ("keyword", "titles", {"mode": "keyword"}, DEFAULT_THREADS),
                ("semantic", "titles", {"mode": "semantic"}, DEFAULT_THREADS),
                ("hybrid", "terms", {}, DEFAULT_THREADS),
                ("hybrid", "titles", {}, 1), ("semantic", "titles", {"mode": "semantic"}, 1),
                ("hybrid", "terms", {}, 1), ("hybrid, year>=2020", "terms", {"year_from": 2020}, 1)])]
            for other in args.hybrid_kinds:
                if other != default_kind:
                    plan.append((other, [("semantic", "titles", {"mode": "semantic"}, 1)]))
            for kind, runs in plan:
                t = time.perf_counter()
                synced = sync_index(store, "chunks", dimension=DIM, model=DEFAULT_MODEL,
                                    exact_max=n if kind == "flat" else n - 1)
                sync_s = time.perf_counter() - t
                assert synced["kind"] == kind and synced["size"] == n, synced
                searcher = Searcher(store, settings)
                t = time.perf_counter()
                searcher.search(SearchQuery(warm[0]))
                row.setdefault("sync_index_s", {})[kind] = round(sync_s, 1)
                row.setdefault("first_query_ms_incl_index_load", {})[kind] = round((time.perf_counter() - t) * 1000, 1)
                time_searches(searcher, warm[1:])
                for label, qset, kw, threads in runs:
                    set_threads(threads)
                    try:
                        times = time_searches(searcher, titles if qset == "titles" else terms, **kw)
                    finally:
                        set_threads(DEFAULT_THREADS)
                    row["runs"].append({"kind": kind, "search": label, "queries": qset, "threads": threads,
                                        **lat(times)})
                    log(f"hybrid {n} {kind} {label} {qset} threads={threads}: {row['runs'][-1]}")
            row["keyword_diagnostics"] = keyword_diagnostics(store, titles[:args.diag_queries])
            row["loadavg_1min_end"] = round(os.getloadavg()[0], 2)
            log(f"hybrid {n}: keyword diagnostics {row['keyword_diagnostics']}")
            results["hybrid"].append(row)
            store.close()


# -- report ---------------------------------------------------------------------------------

def print_tables(results: dict) -> None:
    m = results["machine"]
    print(f"\nmachine: {m['nproc']} cores ({m['cpu']}), {m['mem_gib']} GiB; faiss {m['faiss']} ({m['faiss_build'].strip()}), "
          f"OpenMP threads by default {m['faiss_omp_threads_default']}; HNSW M={m['hnsw']['M']} "
          f"efConstruction={m['hnsw']['efConstruction']} efSearch={m['hnsw']['efSearch']}")
    print(f"1-min load average at start {results['loadavg_start']}, at end {results['loadavg_end']}")
    if "data" in results:
        d = results["data"]
        print(f"data: clustered synthetic d={DIM}; NN cosine of 2,000 points: synthetic "
              f"{d['synthetic_nn_cos_at_2000']} vs real {d['real_nn_cos_at_2000']}; {d['queries']} held-out queries, "
              f"one at a time; latencies p50 / p95 in ms\n")
        print("index        n  build s  RSS MB/M  file MB/M  save s  load s |  k=10 def.thr  |  k=10 1 thr  | "
              "k=200 def.thr  | k=200 1 thr  | k=2000 def.thr | k=2000 1 thr | recall@10 k=10 / k=200")
        for r in results["indexes"]:
            def cell(key, width=6, r=r):
                v = r.get(key)
                return f"{v['p50_ms']:{width}.2f} / {v['p95_ms']:{width}.2f}" if v else " " * (2 * width + 3)
            rec = (f"{r['k10_default_threads']['recall@10']:.3f} / {r['k200_default_threads']['recall@10']:.3f}"
                   if r["kind"] == "hnsw" else "1 (exact)")
            print(f"{r['kind']:5} {r['n']:8d} {r['build_s']:7.1f}{'c' if r['build_cached'] else ' '} "
                  f"{r['rss_mb_per_million']:8.0f} {r['file_mb_per_million']:10.0f} {r['save_s']:7.1f} {r['load_s']:7.1f} | "
                  f"{cell('k10_default_threads')} | {cell('k10_1_thread', 5)} | {cell('k200_default_threads')} | "
                  f"{cell('k200_1_thread', 5)} | {cell('k2000_default_threads')} | {cell('k2000_1_thread', 5)} | {rec}")
        print("  (c: build time from the cached first build; memory per million vectors: RSS growth and file size)")
        for r in results["indexes"]:
            if r["kind"] != "hnsw":
                continue
            print(f"\nHNSW efSearch sweep at n={r['n']}:")
            print("            ------------------- k=10 -------------------   ----- k=200 (Searcher), 1 thread -----")
            print("  efSearch  recall@10  p50 ms  p95 ms  1 thr: p50  p95     recall@10  p50 ms  p95 ms  ids returned")
            for s in r["ef_sweep"]:
                k200 = (f"{s['k200_recall@10']:10.4f} {s['k200_p50_ms_1_thread']:7.3f} {s['k200_p95_ms_1_thread']:7.3f}"
                        f"  {s['k200_returned']:8.1f}" if "k200_recall@10" in s else "")
                print(f"  {s['efSearch']:8d} {s['recall@10']:10.4f} {s['p50_ms']:7.3f} {s['p95_ms']:7.3f}"
                      f"      {s['p50_ms_1_thread']:6.3f} {s['p95_ms_1_thread']:6.3f}   {k200}")
    if results.get("flat_sweep"):
        print("\nflat (exact) latency by size at k=200 (what Searcher asks for), p50 / p95 ms:")
        print("         n     default threads        1 thread")
        for r in results["flat_sweep"]:
            print(f"  {r['n']:8d}   {r['k200_default_threads']['p50_ms']:7.2f} / {r['k200_default_threads']['p95_ms']:7.2f}"
                  f"    {r['k200_1_thread']['p50_ms']:7.2f} / {r['k200_1_thread']['p95_ms']:7.2f}")
        th = results["threshold"]
        print(f"largest n with flat p95 <= {th['budget_ms']} ms (interpolated): {th['k200_default_threads']} with default "
              f"threads, {th['k200_1_thread']} with 1 thread")
    if results.get("hybrid"):
        qe = results["query_embedding"]
        print(f"\nquery embedding alone (real model, one title): default threads p50 {qe['default_threads']['p50_ms']:.1f} / "
              f"p95 {qe['default_threads']['p95_ms']:.1f} ms; 1 thread p50 {qe['1_thread']['p50_ms']:.1f} / "
              f"p95 {qe['1_thread']['p95_ms']:.1f} ms")
        for r in results["hybrid"]:
            s = r["seeded"]
            print(f"\nSearcher.search at {r['n']} chunks ({s['papers']} papers, {s['passages']} passages; seeded in "
                  f"{s['seed_s']} s; sync_index {r['sync_index_s']} s; first query incl. index load "
                  f"{r['first_query_ms_incl_index_load']} ms; default kind {r['default_kind']}; "
                  f"load average {r['loadavg_1min_start']} -> {r['loadavg_1min_end']})")
            print("  index  search               queries  threads    p50 ms    p95 ms")
            for run in r["runs"]:
                print(f"  {run['kind']:5}  {run['search']:20} {run['queries']:7}  {run['threads']:7d} "
                      f"{run['p50_ms']:9.1f} {run['p95_ms']:9.1f}")
            k = r["keyword_diagnostics"]
            print(f"  keyword: no passage holds every content word for {100 * k['or_fallback_share']:.0f} % of title "
                  f"queries; an unbounded OR over their content words (what the search no longer runs) matches "
                  f"{k['or_matches_mean']} of {k['passages']} passages on average and takes {k['or_query_ms_p50']} ms "
                  f"(p50) to rank")
            print(f"  window_snippet (the snippet of a hit found only by vectors): {k['window_snippet_ms_per_call']} ms "
                  f"per call, up to {20} calls per search")
    print(f"\ntotal wall time {results['wall_s']:.0f} s, peak RSS {results['peak_rss_gb']} GB")


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=ints, default=[10_000, 100_000, 1_000_000],
                    help="index sizes, comma-separated (flat and HNSW at each)")
    ap.add_argument("--flat-sizes", type=ints, default=[25_000, 50_000, 200_000, 500_000],
                    help="extra sizes at which only flat is timed (for the threshold)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--kinds", type=lambda s: [k for k in s.split(",") if k], default=["flat", "hnsw"],
                    help="index kinds to time in part 1 (flat,hnsw)")
    ap.add_argument("--ef", type=ints, default=[16, 32, 64, 96, 128, 200])
    ap.add_argument("--flat-budget-ms", type=float, default=10.0,
                    help="p95 a flat index may take; the threshold is the largest size within it")
    ap.add_argument("--cache-min", type=int, default=500_000,
                    help="HNSW indexes this big are cached in benchmarks/cache/ with their build time")
    ap.add_argument("--no-cache", action="store_true", help="always build, never reuse a cached HNSW index")
    ap.add_argument("--hybrid-sizes", type=ints, default=[10_000, 100_000])
    ap.add_argument("--hybrid-kinds", type=lambda s: [k for k in s.split(",") if k], default=["flat", "hnsw"],
                    help="index kinds to time hybrid search with (the default kind for the size always runs)")
    ap.add_argument("--hybrid-queries", type=int, default=60)
    ap.add_argument("--diag-queries", type=int, default=30)
    ap.add_argument("--centres", type=int, default=2000, help="real embeddings the mixture is built around")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp", default=None, help="folder for temporary index files and stores")
    ap.add_argument("--json", action="store_true", help="print JSON instead of tables")
    ap.add_argument("--json-out", help="also write the JSON to this file")
    ap.add_argument("--print", dest="print_from", help="print the tables of a JSON file written earlier, run nothing")
    args = ap.parse_args()
    if args.print_from:
        print_tables(json.loads(Path(args.print_from).read_text()))
        return

    started = time.perf_counter()
    results: dict = {"machine": machine(), "args": {k: v for k, v in vars(args).items() if k != "json"},
                     "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    mixture = Mixture(real_centres(args.centres), args.seed)
    data = run_indexes(args, mixture, results) if args.sizes else None
    if args.hybrid_sizes:
        run_hybrid(args, mixture, data, results)
    results["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results["wall_s"] = round(time.perf_counter() - started, 1)
    results["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_tables(results)


if __name__ == "__main__":
    main()
