"""Throughput of extraction and embedding: local executor vs a Dask cluster of 1 and 2 workers.

    .venv/bin/python benchmarks/bench_executor.py [--pdfs 20] [--abstracts 2000]

In one run on this machine: papers/s and pages/s of extraction over corpus PDFs, abstracts/s
of embedding over arXiv abstracts, the 2-worker/1-worker scaling ratio, and the median round
trip of a trivial task (the per-task overhead). Model loading and worker start-up are done
before the clock starts (a warm-up task per worker), so the figures are steady-state.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines.executor import DaskExecutor, LocalExecutor

CORPUS = REPO.parent / "shared" / "corpus"
MODEL = "all-MiniLM-L6-v2"


def load_pdfs(n: int) -> list[tuple[str, bytes]]:
    files = sorted((CORPUS / "pdfs").rglob("*.pdf"))[:n]
    return [(f.name, f.read_bytes()) for f in files]


def load_abstracts(n: int) -> list[str]:
    texts = []
    with gzip.open(CORPUS / "metadata" / "arxiv_sample.jsonl.gz", "rt") as f:
        for line in f:
            row = json.loads(line)
            texts.append(f"{row.get('title', '')}. {row.get('abstract', '')}".strip())
            if len(texts) >= n:
                break
    return texts


def run_extract(executor, pdfs, workers: int) -> dict:
    start = time.perf_counter()
    pages = ok = 0
    for _key, result, _ms in executor.extract(iter(pdfs), timeout_s=120, memory_mb=2048, workers=workers):
        pages += result.pages or 0
        ok += result.ok
    wall = time.perf_counter() - start
    return {"papers_s": len(pdfs) / wall, "pages_s": pages / wall, "pages": pages, "ok": ok, "wall_s": wall}


def run_embed(executor, texts, batch: int) -> dict:
    start = time.perf_counter()
    vectors = executor.embed(texts, model=MODEL, batch_size=batch)
    wall = time.perf_counter() - start
    assert vectors.shape[0] == len(texts)
    return {"papers_s": len(texts) / wall, "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdfs", type=int, default=20)
    ap.add_argument("--abstracts", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--json-out", help="also write the figures to this file")
    args = ap.parse_args()
    load_start = os.getloadavg()
    pdfs, texts = load_pdfs(args.pdfs), load_abstracts(args.abstracts)
    print(f"{len(pdfs)} PDFs ({sum(len(b) for _, b in pdfs) / 1e6:.1f} MB), {len(texts)} abstracts", flush=True)
    rows = {}

    local = LocalExecutor()
    local.embed(texts[:8], model=MODEL, batch_size=8)  # load the model before the clock
    rows["local (pool of 2 / in-process)"] = {"extract": run_extract(local, pdfs, 2),
                                              "embed": run_embed(local, texts, args.batch), "overhead_ms": None}
    print("local:", json.dumps(rows["local (pool of 2 / in-process)"], default=float), flush=True)

    import distributed

    from pipelines.executor import _embed_task

    for n in (1, 2):
        with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                      host="127.0.0.1", silence_logs=40) as cluster, \
                distributed.Client(cluster) as client:
            ex = DaskExecutor(cluster.scheduler_address, client=client)
            client.run(_embed_task, ["warm-up"], MODEL, 8)  # model loaded on every worker
            list(ex.extract(iter(pdfs[:n]), timeout_s=120, memory_mb=2048))  # imports warm
            overhead = statistics.median(ex.round_trip_ms(50))
            rows[f"dask, {n} worker{'s' if n > 1 else ''}"] = {
                "extract": run_extract(ex, pdfs, n), "embed": run_embed(ex, texts, args.batch),
                "overhead_ms": overhead}
        print(f"dask {n}:", json.dumps(rows[f"dask, {n} worker{'s' if n > 1 else ''}"], default=float), flush=True)

    print()
    print("| executor | extract papers/s | extract pages/s | embed abstracts/s | task round trip (median) |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        oh = "—" if r["overhead_ms"] is None else f"{r['overhead_ms']:.1f} ms"
        print(f"| {name} | {r['extract']['papers_s']:.2f} | {r['extract']['pages_s']:.1f} | "
              f"{r['embed']['papers_s']:.0f} | {oh} |")
    one, two = rows["dask, 1 worker"], rows["dask, 2 workers"]
    print(f"\nscaling 2w/1w: extraction {two['extract']['papers_s'] / one['extract']['papers_s']:.2f}x, "
          f"embedding {two['embed']['papers_s'] / one['embed']['papers_s']:.2f}x")
    print(f"pages extracted per run: {one['extract']['pages']}, ok {one['extract']['ok']}/{len(pdfs)}")
    print(f"1-min load average: {load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    print("raw:", json.dumps(rows, default=float))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"rows": rows, "load_start": load_start,
                                                   "load_end": os.getloadavg()}, default=float, indent=1))


if __name__ == "__main__":
    main()
