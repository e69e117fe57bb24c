"""Retrieval quality on the real corpus: hybrid vs keyword-only vs semantic-only search.

    .venv/bin/python benchmarks/bench_retrieval.py            # tables
    .venv/bin/python benchmarks/bench_retrieval.py --json     # the same figures as JSON
    .venv/bin/python benchmarks/bench_retrieval.py --store /tmp/glean-rq   # keep (and reuse) the built store

Builds a store in a temporary folder from every PDF of the shared corpus (``pdfs/modern`` and
``pdfs/classic``: papers with and without limitations sections, so every distractor is real),
one ``Paper`` per PDF with ``stable_id(url="file:///corpus/<relative path>")``, saves each PDF
with ``Store.save_pdf`` as if downloaded, then runs the real pipeline: ``extract_pending``
(the sandboxed extractor) and ``index_pending`` (all-MiniLM-L6-v2, faiss).

The queries (``benchmarks/retrieval_queries.json``) were written by hand, each one describing in
other words one limitation stated in a labelled limitations span of one paper (the labels in
``pdfs/labels.json`` and ``tests/fixtures/pdfs/*.expected.json``). Every query runs through
``Searcher.search`` in the three modes (hybrid, keyword, semantic) with ``where="limitations"``
and again with ``where="all"`` (limitations and appendix passages), ``limit=10``.

Metrics per mode, over all queries: MRR@10 (1/rank of the first result whose ``paper_id`` is the
query's paper, rank = position in the result list as the user sees it, 0 when the paper is not
among the first 10 results), hit@1, hit@3, hit@10, and the median and p95 latency of one
``search`` call (after one warm-up query per mode, so the model load is excluded; hybrid and
semantic include embedding the query), measured twice: with torch's and faiss's default threads
(one per core) and with one thread each (the ranks must come out the same). Diagnostics: queries that hybrid ranks worse than 3rd,
with what keyword and semantic did, the paper that came first, and whether the labelled span was
extracted into a limitations passage at all (a query cannot be answered from a span the
extractor missed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = ROOT.parent / "shared" / "corpus" / "pdfs"
LABELS = [CORPUS / "labels.json", *sorted((ROOT / "tests" / "fixtures" / "pdfs").glob("*.expected.json"))]
QUERIES = Path(__file__).resolve().parent / "retrieval_queries.json"
MODES = ("hybrid", "keyword", "semantic")
CUTOFF = 10


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}


def load_labels() -> dict[str, dict]:
    """file (corpus-relative) -> label entry; labels.json first, the fixtures fill in the rest."""
    labels: dict[str, dict] = {}
    for path in LABELS:
        data = json.loads(path.read_text())
        for entry in data if isinstance(data, list) else [data]:
            labels.setdefault(entry["file"], entry)
    return labels


def paper_id_for(rel: str) -> str:
    from pipelines.records import stable_id
    return stable_id(url=f"file:///corpus/{rel}")


def title_for(rel: str) -> str:
    stem = Path(rel).stem
    return re.sub(r"[_\s]+", " ", stem).strip()


def year_for(rel: str) -> int | None:
    match = re.search(r"(?<!\d)(19[4-9]\d|20[0-2]\d)(?!\d)", Path(rel).stem)
    return int(match.group(1)) if match else None


def norm(text: str) -> str:
    """NFKC (ligatures), end-of-line hyphens joined, whitespace folded, lower case: to find a label in a passage."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"(\w)-\s+(\w)", r"\1\2", text)
    return " ".join(text.split()).lower()


def build_store(home: Path) -> dict:
    from pipelines.extract_stage import extract_pending
    from pipelines.index_stage import index_pending
    from pipelines.records import Paper
    from pipelines.settings import Settings
    from pipelines.store import Store

    settings = Settings.load(env={"GLEAN_HOME": str(home)}, dotenv=home / "none")
    store = Store(settings.home)
    info: dict = {}
    if store.count_papers() == 0:
        files = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*.pdf"))
        papers = {rel: Paper(id=paper_id_for(rel), title=title_for(rel), source="canon" if rel.startswith("classic/")
                             else "feed:corpus", year=year_for(rel), is_classic=rel.startswith("classic/"),
                             abs_url=f"file:///corpus/{rel}") for rel in files}
        store.upsert_papers(papers.values())
        for rel, paper in papers.items():
            store.save_pdf(paper, (CORPUS / rel).read_bytes())
        info["papers"] = len(papers)
        started = time.perf_counter()
        report = extract_pending(store, settings)
        info["extract_s"] = round(time.perf_counter() - started, 1)
        info["extract"] = report.as_json()
        log(f"extracted {len(papers)} PDFs in {info['extract_s']} s: {report.as_json().get('outcomes')}")
        started = time.perf_counter()
        report = index_pending(store, settings)
        info["index_s"] = round(time.perf_counter() - started, 1)
        info["index"] = {k: v for k, v in report.as_json().items() if k != "source"}
        log(f"indexed in {info['index_s']} s (includes loading the model): chunks "
            f"{report.details.get('chunks_written')}")
    else:
        info["reused_store"] = True
        info["papers"] = store.count_papers()
    info["passages"] = {r[0]: r[1] for r in store.query("SELECT kind, count(*) FROM passages GROUP BY kind")}
    info["papers_with_limitations"] = store.query(
        "SELECT count(DISTINCT paper_id) FROM passages WHERE kind='limitations'")[0][0]
    return {"store": store, "settings": settings, "info": info}


def span_extracted(store, paper_id: str, label: dict | None) -> bool | None:
    """Is the labelled span's opening (and close) inside some limitations passage of the paper?"""
    if label is None:
        return None
    text = " ".join(norm(p["text"]) for p in store.passages(paper_id) if p["kind"] == "limitations")
    head = norm(label["first_words"])[:40]
    tail = norm(label["last_words"])[-40:]
    return head in text and tail in text


def find_label(labels: dict, query: dict) -> dict | None:
    entry = labels.get(query["file"])
    if not entry:
        return None
    want = norm(query["span"])
    for span in entry["limitations"]:
        if norm(span["first_words"]).startswith(want) or want.startswith(norm(span["first_words"])[:30]):
            return span
    return None


def rank_of(results: list[dict], paper_id: str) -> int | None:
    for i, hit in enumerate(results[:CUTOFF], 1):
        if hit["paper_id"] == paper_id:
            return i
    return None


def summarise(ranks: list[int | None], times_ms: list[float]) -> dict:
    n = len(ranks)
    return {"queries": n,
            "mrr@10": round(sum(1 / r for r in ranks if r) / n, 3),
            "hit@1": round(sum(1 for r in ranks if r and r <= 1) / n, 3),
            "hit@3": round(sum(1 for r in ranks if r and r <= 3) / n, 3),
            "hit@10": round(sum(1 for r in ranks if r) / n, 3),
            "p50_ms": round(statistics.median(times_ms), 1),
            "p95_ms": round(sorted(times_ms)[max(0, int(round(0.95 * len(times_ms))) - 1)], 1)}


def run(args) -> dict:
    import faiss
    import torch

    from service.search import Searcher, SearchQuery

    queries = json.loads(QUERIES.read_text())
    labels = load_labels()
    results: dict = {"machine": machine(), "loadavg_start": [round(x, 2) for x in os.getloadavg()],
                     "torch_threads": torch.get_num_threads(), "faiss_threads": faiss.omp_get_max_threads(),
                     "cutoff": CUTOFF}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="glean-bench-retrieval-") as tmp:
        home = Path(args.store) if args.store else Path(tmp)
        home.mkdir(parents=True, exist_ok=True)
        built = build_store(home)
        store, settings = built["store"], built["settings"]
        results["store"] = built["info"]
        files = {q["file"] for q in queries}
        missing = sorted(f for f in files if not (CORPUS / f).is_file())
        if missing:
            raise SystemExit(f"queries name PDFs that are not in the corpus: {missing}")
        results["corpus"] = {"queries": len(queries), "papers_queried": len(files),
                             "labelled_papers_with_limitations": sum(1 for e in labels.values() if e["limitations"])}
        searcher = Searcher(store, settings)
        started_model = time.perf_counter()
        for mode in MODES:  # warm-up: loads the model and the faiss file, fills SQLite's page cache
            searcher.search(SearchQuery("results may not generalise to other settings", where="limitations",
                                        mode=mode, limit=CUTOFF))
        results["warmup_s"] = round(time.perf_counter() - started_model, 1)
        per_query = []
        for q in queries:
            pid = paper_id_for(q["file"])
            label = find_label(labels, q)
            row = {"query": q["query"], "file": q["file"], "span": q["span"],
                   "span_extracted": span_extracted(store, pid, label), "ranks": {}, "ms": {}, "top": {}}
            for where in args.where:
                for mode in MODES:
                    t = time.perf_counter()
                    out = searcher.search(SearchQuery(q["query"], where=where, mode=mode, limit=CUTOFF))
                    row["ms"][f"{where}/{mode}"] = (time.perf_counter() - t) * 1000
                    row["ranks"][f"{where}/{mode}"] = rank_of(out["results"], pid)
                    row["top"][f"{where}/{mode}"] = out["results"][0]["paper_id"] if out["results"] else None
            per_query.append(row)
        # Latency again with one thread each for torch and faiss: on a small shared machine the default
        # (one OpenMP thread per core) is often much slower for a single short query. Ranks must not change.
        default_threads = (torch.get_num_threads(), faiss.omp_get_max_threads())
        torch.set_num_threads(1)
        faiss.omp_set_num_threads(1)
        try:
            for mode in MODES:
                searcher.search(SearchQuery("results may not generalise to other settings", where="limitations",
                                            mode=mode, limit=CUTOFF))
            changed = 0
            for q, row in zip(queries, per_query):
                row["ms_1_thread"] = {}
                pid = paper_id_for(q["file"])
                for where in args.where:
                    for mode in MODES:
                        t = time.perf_counter()
                        out = searcher.search(SearchQuery(q["query"], where=where, mode=mode, limit=CUTOFF))
                        row["ms_1_thread"][f"{where}/{mode}"] = (time.perf_counter() - t) * 1000
                        changed += rank_of(out["results"], pid) != row["ranks"][f"{where}/{mode}"]
            results["ranks_changed_with_1_thread"] = changed
        finally:
            torch.set_num_threads(default_threads[0])
            faiss.omp_set_num_threads(default_threads[1])
        names = {paper_id_for(str(p.relative_to(CORPUS))): str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*.pdf")}
        for row in per_query:
            row["top"] = {k: names.get(v, v) for k, v in row["top"].items()}
            row["ms"] = {k: round(v, 1) for k, v in row["ms"].items()}
            row["ms_1_thread"] = {k: round(v, 1) for k, v in row["ms_1_thread"].items()}
        results["summary"] = {}
        for where in args.where:
            for mode in MODES:
                key = f"{where}/{mode}"
                row = summarise([r["ranks"][key] for r in per_query], [r["ms"][key] for r in per_query])
                one = summarise([r["ranks"][key] for r in per_query], [r["ms_1_thread"][key] for r in per_query])
                row.update(p50_ms_1_thread=one["p50_ms"], p95_ms_1_thread=one["p95_ms"])
                results["summary"][key] = row
        results["queries"] = per_query
        store.close()
    results["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results["wall_s"] = round(time.perf_counter() - started, 1)
    return results


def fmt_rank(r) -> str:
    return str(r) if r else f">{CUTOFF}"


def print_tables(results: dict) -> None:
    m = results["machine"]
    print(f"machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}, torch/faiss threads "
          f"{results['torch_threads']}/{results['faiss_threads']} by default; "
          f"load average {results['loadavg_start']} -> {results['loadavg_end']}")
    s = results["store"]
    print(f"store: {s['papers']} papers, passages {s['passages']}, {s['papers_with_limitations']} papers with a "
          f"limitations passage" + (f"; extract {s['extract_s']} s, index {s['index_s']} s" if "extract_s" in s else
                                     " (reused)"))
    c = results["corpus"]
    print(f"queries: {c['queries']} over {c['papers_queried']} papers (labelled papers with limitations: "
          f"{c['labelled_papers_with_limitations']}); rank cut-off {results['cutoff']} (rank > {results['cutoff']} "
          f"scores 0); warm-up, one query per mode: {results['warmup_s']} s (loads the model unless the build "
          f"already had)")
    print(f"latency: one search() call, after warm-up; 'default' = torch/faiss default threads, '1 thr' = one thread "
          f"each (ranks changed by that: {results['ranks_changed_with_1_thread']})\n")
    header = (f"{'in':<12} {'mode':<9} {'MRR@10':>7} {'hit@1':>6} {'hit@3':>6} {'hit@10':>7} "
              f"{'p50 ms default':>15} {'p95 ms default':>15} {'p50 ms 1 thr':>13} {'p95 ms 1 thr':>13}")
    print(header)
    print("-" * len(header))
    for key, v in results["summary"].items():
        where, mode = key.split("/")
        print(f"{where:<12} {mode:<9} {v['mrr@10']:>7.3f} {v['hit@1']:>6.3f} {v['hit@3']:>6.3f} {v['hit@10']:>7.3f} "
              f"{v['p50_ms']:>15.1f} {v['p95_ms']:>15.1f} {v['p50_ms_1_thread']:>13.1f} {v['p95_ms_1_thread']:>13.1f}")
    for where in sorted({k.split("/")[0] for k in results["summary"]}):
        misses = [q for q in results["queries"] if not (q["ranks"][f"{where}/hybrid"] or 99) <= 3]
        print(f"\nin={where}: hybrid misses (rank > 3): {len(misses)}")
        for q in misses:
            r = q["ranks"]
            print(f"  hybrid {fmt_rank(r[where + '/hybrid']):>3}  keyword {fmt_rank(r[where + '/keyword']):>3}  "
                  f"semantic {fmt_rank(r[where + '/semantic']):>3}  span extracted: {q['span_extracted']}  "
                  f"[{q['file']}]\n      {q['query']!r}\n      first hit: {q['top'][where + '/hybrid']}")
    keys = list(results["summary"])
    print("\nrank of the right paper per query (>10: not in the first 10), columns: "
          + ", ".join(keys))
    for q in results["queries"]:
        ranks = " ".join(f"{fmt_rank(q['ranks'][k]):>4}" for k in keys)
        print(f"  {ranks}  {Path(q['file']).stem[:28]:<28} {q['query'][:70]}")
    print(f"\ntotal wall time {results['wall_s']:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print JSON instead of tables")
    ap.add_argument("--json-out", help="also write the JSON to this file")
    ap.add_argument("--store", help="build the store in this folder and keep it (reused when it already holds "
                                    "papers); default: a temporary folder, deleted afterwards")
    ap.add_argument("--where", type=lambda s: [w for w in s.split(",") if w], default=["limitations", "all"],
                    help="comma-separated: limitations, all, appendix")
    ap.add_argument("--print", dest="print_from", help="print the tables of a JSON file written earlier, run nothing")
    args = ap.parse_args()
    if args.print_from:
        print_tables(json.loads(Path(args.print_from).read_text()))
        return
    results = run(args)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_tables(results)


if __name__ == "__main__":
    main()
