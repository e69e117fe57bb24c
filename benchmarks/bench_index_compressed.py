"""Compressed vector indexes for a full-arXiv deployment: memory, recall@10 and latency at 1M.

    .venv/bin/python benchmarks/bench_index_compressed.py [--n 1000000] [--queries 200] [--json-out F]

Glean keeps every float vector in SQLite (the source of truth) and its faiss files are
rebuildable. At 2.6 M abstracts plus their limitations/appendix chunks (~10 M vectors)
a flat or HNSW-flat index would need 16–19 GB of RAM, so the plan needs a compressed
index. This measures, on the same synthetic 1M vectors bench_search.py uses (a Gaussian
mixture around 2,000 real MiniLM embeddings, cached in benchmarks/cache/):

* IVF-PQ (``IVF{nlist},PQ48``: 48 bytes a vector) at several nprobe, alone and with the top
  candidates re-scored exactly from the float vectors ("refine": what the service would
  do with the vectors it already stores; here they come from memory, so the refine time
  is a lower bound for SQLite reads);
* IVF-SQ8 (``IVF{nlist},SQ8``: 384 bytes a vector, 8-bit scalar quantisation);

nlist defaults to 1,024 lists (≈ 1,000 vectors a list at 1M; 10M vectors would want 4,096–16,384,
whose training takes far longer on two cores than this benchmark should);
* HNSW over SQ8 (``HNSW32,SQ8``) when ``--hnsw-sq8`` is given (its build takes ~10 min here).

Recall@10 is against exact inner-product search; latency is one query at a time on one
thread (p50/p95 of ``--queries`` queries); memory is the serialised index size. Prints a
table; ``--json-out`` keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_search import Mixture, lat, real_centres, recall_at_10  # noqa: E402

DIM = 384


def index_bytes(index: faiss.Index) -> int:
    with tempfile.NamedTemporaryFile(suffix=".faiss") as f:
        faiss.write_index(index, f.name)
        return os.path.getsize(f.name)


def timed_search(search, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    for i in range(min(10, len(queries))):  # warm up
        search(queries[i:i + 1])
    times, found = [], []
    for i in range(len(queries)):
        start = time.perf_counter()
        ids = search(queries[i:i + 1])
        times.append((time.perf_counter() - start) * 1000)
        found.append(ids[:10])
    return times, np.array(found)


def refined(index: faiss.Index, data: np.ndarray, k_candidates: int):
    """Search the compressed index for k_candidates, then re-score them exactly."""
    def search(q: np.ndarray) -> np.ndarray:
        _, ids = index.search(q, k_candidates)
        ids = ids[0][ids[0] >= 0]
        exact = data[ids] @ q[0]
        return ids[np.argsort(-exact)]
    return search


def plain(index: faiss.Index):
    def search(q: np.ndarray) -> np.ndarray:
        return index.search(q, 10)[1][0]
    return search


def build_ivf(spec: str, data: np.ndarray, train_n: int) -> tuple[faiss.Index, dict]:
    index = faiss.index_factory(DIM, spec, faiss.METRIC_INNER_PRODUCT)
    t = time.perf_counter()
    index.train(data[np.random.default_rng(1).choice(len(data), train_n, replace=False)])
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    index.add(data)
    return index, {"train_s": round(train_s, 1), "add_s": round(time.perf_counter() - t, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--train", type=int, default=60_000, help="training sample for the IVF quantisers")
    ap.add_argument("--nlist", type=int, default=1024, help="inverted lists of the IVF indexes")
    ap.add_argument("--nprobe", default="16,32,64,128")
    ap.add_argument("--hnsw-sq8", action="store_true", help="also build HNSW32,SQ8 (slow)")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # builds use every core; searches below use one
    mixture = Mixture(real_centres(2000), 0)
    t = time.perf_counter()
    data = mixture.sample(args.n)
    queries = mixture.sample(args.queries)
    exact = faiss.IndexFlatIP(DIM)
    exact.add(data)
    _, truth = exact.search(queries, 10)
    del exact
    results = {"n": args.n, "queries": args.queries, "generate_and_truth_s": round(time.perf_counter() - t, 1),
               "float_bytes_per_vector": DIM * 4, "loadavg_start": os.getloadavg()[0], "rows": []}
    print(f"{args.n} vectors, exact answers in {results['generate_and_truth_s']} s", flush=True)
    nprobes = [int(x) for x in args.nprobe.split(",")]

    specs = [f"IVF{args.nlist},PQ48", f"IVF{args.nlist},SQ8"]
    for spec in specs:
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        index, build = build_ivf(spec, data, args.train)
        size = index_bytes(index)
        print(f"{spec}: built {build}, {size / args.n:.0f} bytes/vector", flush=True)
        faiss.omp_set_num_threads(1)
        for nprobe in nprobes:
            faiss.extract_index_ivf(index).nprobe = nprobe
            variants = [("", plain(index))]
            if "PQ" in spec:
                variants += [(" + refine 100", refined(index, data, 100)), (" + refine 200", refined(index, data, 200))]
            for label, search in variants:
                times, found = timed_search(search, queries)
                row = {"index": spec + label, "nprobe": nprobe, "bytes_per_vector": round(size / args.n, 1),
                       "recall@10": round(recall_at_10(found, truth), 4), **lat(times), **build}
                results["rows"].append(row)
                print(json.dumps(row), flush=True)
        del index

    if args.hnsw_sq8:
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        index = faiss.index_factory(DIM, "HNSW32,SQ8", faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        t = time.perf_counter()
        index.train(data[:args.train])
        index.add(data)
        build = {"train_s": 0.0, "add_s": round(time.perf_counter() - t, 1)}
        size = index_bytes(index)
        faiss.omp_set_num_threads(1)
        for ef in (64, 96, 128):
            index.hnsw.efSearch = ef
            for label, search in (("", plain(index)), (" + refine 100", refined(index, data, 100))):
                times, found = timed_search(search, queries)
                row = {"index": "HNSW32,SQ8" + label, "efSearch": ef, "bytes_per_vector": round(size / args.n, 1),
                       "recall@10": round(recall_at_10(found, truth), 4), **lat(times), **build}
                results["rows"].append(row)
                print(json.dumps(row), flush=True)

    results["loadavg_end"] = os.getloadavg()[0]
    print("\n| index | nprobe / efSearch | bytes/vector | recall@10 | p50 ms | p95 ms | build s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results["rows"]:
        print(f"| {r['index']} | {r.get('nprobe', r.get('efSearch'))} | {r['bytes_per_vector']:.0f} | "
              f"{r['recall@10']:.3f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['train_s'] + r['add_s']:.0f} |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
