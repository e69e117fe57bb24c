"""Embedding throughput: the index stage's pipeline against bare ``model.encode``, in one run.

    .venv/bin/python benchmarks/bench_embed.py                 # table
    .venv/bin/python benchmarks/bench_embed.py --json          # the same figures as JSON
    .venv/bin/python benchmarks/bench_embed.py --records 300 --repeats 5 --json-out /tmp/embed.json
    .venv/bin/python benchmarks/bench_embed.py --print /tmp/embed.json   # tables of a saved run

Texts: real arXiv abstracts (../shared/corpus/metadata/arxiv_sample.jsonl.gz, read only)
grouped into papers with 1–2 passages (limitations, appendix) of 1–3 paragraphs each,
one abstract per paragraph. Each repeat measures, in alternating order:

* chunks, bare:      ``embedder.model.encode(texts, batch_size=64, normalize_embeddings=True)``
                     on exactly the chunk texts the pipeline produces (one call);
* chunks, pipeline:  a fresh Store seeded with those passages, then ``embed_chunks`` (chunking,
                     encoding in its groups of 16 papers, SQLite writes);
* papers, bare / pipeline: the same for ``paper_text`` (title + abstract) and ``embed_papers``.

Diagnostics that explain a gap (timed in the same repeats): chunking alone (``chunks_for``),
bare encode in the pipeline's own per-16-paper calls, and the SQLite writes alone. Padded
tokens are estimated the way sentence-transformers batches (sort by characters, batches of 64,
pad to the longest); that is the work the model really does.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import torch

from pipelines.embedding import DEFAULT_MODEL, get_embedder
from pipelines.index_stage import (
    _batched,
    chunks_for,
    digest,
    embed_chunks,
    embed_papers,
    paper_text,
)
from pipelines.records import Paper
from pipelines.store import Store

METADATA = ROOT.parent / "shared" / "corpus" / "metadata" / "arxiv_sample.jsonl.gz"
BATCH = 64
PAPERS_PER_GROUP = 16  # embed_chunks encodes the chunks of this many papers per call


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def load_records(n: int, skip: int = 0) -> list[dict]:
    """The first ``n`` records (after ``skip``) with a real abstract (at least 40 words)."""
    out = []
    with gzip.open(METADATA, "rt") as fh:
        for i, line in enumerate(fh):
            if i < skip:
                continue
            rec = json.loads(line)
            if len((rec.get("abstract") or "").split()) >= 40:
                out.append(rec)
                if len(out) >= n:
                    break
    return out


def build_papers(records: list[dict], seed: int = 7) -> list[dict]:
    """Papers with passages of 1–3 paragraphs (one abstract each), as extraction would store them."""
    rng = random.Random(seed)
    papers, i = [], 0
    while i < len(records):
        head = records[i]
        passages = []
        for kind, title, page in (("limitations", "Limitations", 9), ("appendix", "A Additional results", 14)):
            if kind == "appendix" and rng.random() < 0.5:
                continue
            take = records[i:i + rng.randint(1, 3)]
            i += len(take)
            if not take:
                break
            paragraphs = [" ".join(r["abstract"].split()) for r in take]
            passages.append({"kind": kind, "form": "section", "title": title, "page_start": page,
                             "page_end": page, "text": "\n\n".join(paragraphs)})
        papers.append({"id": f"arxiv:{head['id']}", "title": " ".join(head["title"].split()),
                       "abstract": " ".join(head["abstract"].split()), "year": head.get("year"),
                       "passages": passages})
    return papers


def seed_store(home: Path, papers: list[dict]) -> Store:
    store = Store(home)
    store.upsert_papers([Paper(id=p["id"], title=p["title"], source="arxiv", abstract=p["abstract"], year=p["year"])
                         for p in papers])
    for p in papers:
        store.save_extraction(p["id"], pdf_version=1, extractor_version=1, status="ok", error=None, pages=20,
                              title=None, elapsed_ms=1, sections=[], passages=p["passages"])
    return store


def padded_tokens(token_counts: list[int], char_lengths: list[int], calls: list[list[int]], limit: int) -> int:
    """Tokens the model processes: per call, sort by characters (longest first), batch, pad to the longest."""
    total = 0
    for call in calls:
        order = sorted(call, key=lambda j: -char_lengths[j])
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            total += len(batch) * min(limit, max(token_counts[j] + 2 for j in batch))
    return total


def timed(fn) -> tuple[float, float]:
    """Wall seconds and process CPU seconds (all threads) of one call."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=200, help="arXiv records to turn into passages")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print JSON instead of tables")
    ap.add_argument("--json-out", help="also write the JSON to this file")
    ap.add_argument("--print", dest="print_from", help="print the tables of a JSON file written earlier, run nothing")
    args = ap.parse_args()
    if args.print_from:
        print_tables(json.loads(Path(args.print_from).read_text()))
        return

    t0 = time.perf_counter()
    embedder = get_embedder(DEFAULT_MODEL)
    model = embedder.model
    load_s = time.perf_counter() - t0
    papers = build_papers(load_records(args.records))

    # Exactly the chunk texts the pipeline makes, in the pipeline's order (store order: paper id, ord).
    by_id = {p["id"]: p for p in papers}
    ordered = sorted(by_id)
    chunk_texts, calls = [], []
    for group in _batched(ordered, PAPERS_PER_GROUP):
        call = []
        for pid in group:
            for c in chunks_for(by_id[pid]["passages"], embedder):
                call.append(len(chunk_texts))
                chunk_texts.append(c["text"])
        calls.append(call)
    paper_texts = [paper_text({"title": by_id[pid]["title"], "abstract": by_id[pid]["abstract"]}) for pid in ordered]

    tok = [embedder.count_tokens(t) for t in chunk_texts]
    chars = [len(t) for t in chunk_texts]
    limit = int(model.max_seq_length)
    ptok = [embedder.count_tokens(t) for t in paper_texts]
    pchars = [len(t) for t in paper_texts]
    paper_calls = [list(range(s, min(s + BATCH * 4, len(paper_texts)))) for s in range(0, len(paper_texts), BATCH * 4)]
    flatten = bool(getattr(model[0], "can_flatten_inputs", False))

    def bare(texts):
        return lambda: model.encode(texts, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False)

    def bare_grouped():
        for call in calls:
            model.encode([chunk_texts[j] for j in call], batch_size=BATCH, normalize_embeddings=True,
                         show_progress_bar=False)

    def chunking():
        for pid in ordered:
            chunks_for(by_id[pid]["passages"], embedder)

    fake_vec = np.zeros(embedder.dimension, dtype=np.float32)
    planned = {pid: [{**c, "vector": fake_vec} for c in chunks_for(by_id[pid]["passages"], embedder)]
               for pid in ordered}

    # Warm up: first calls allocate and pick kernels.
    model.encode(chunk_texts[:BATCH], batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False)

    times: dict[str, list[float]] = {k: [] for k in (
        "chunks_bare", "chunks_pipeline", "papers_bare", "papers_pipeline",
        "diag_chunking", "diag_bare_grouped", "diag_sqlite_writes")}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    load = [os.getloadavg()[0]]
    check = {}
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="glean-bench-embed-") as tmp:
            store = seed_store(Path(tmp) / "home", papers)
            sqlite_store = seed_store(Path(tmp) / "home2", papers)
            steps = {
                "chunks_bare": bare(chunk_texts),
                "chunks_pipeline": lambda store=store: check.__setitem__(
                    "chunks", embed_chunks(store, embedder, DEFAULT_MODEL, BATCH, None)[1]),
                "papers_bare": bare(paper_texts),
                "papers_pipeline": lambda store=store: check.__setitem__(
                    "papers", len(embed_papers(store, embedder, DEFAULT_MODEL, BATCH, None))),
                "diag_chunking": chunking,
                "diag_bare_grouped": bare_grouped,
                "diag_sqlite_writes": lambda sqlite_store=sqlite_store: [sqlite_store.replace_chunks(pid, digest(pid), planned[pid])
                                               for pid in ordered],
            }
            names = list(steps)
            if r % 2:
                names.reverse()
            for name in names:
                wall, used = timed(steps[name])
                times[name].append(wall)
                cpu[name].append(used)
            load.append(os.getloadavg()[0])
            store.close()
            sqlite_store.close()
        if not args.json:
            print(f"repeat {r + 1}/{args.repeats}: " + ", ".join(f"{k}={v[-1]:.1f}s" for k, v in times.items()),
                  file=sys.stderr, flush=True)
    assert check["chunks"] == len(chunk_texts), (check, len(chunk_texts))
    assert check["papers"] == len(paper_texts)

    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    rows = []
    for what, n, tokens, padded in (
            ("chunks", len(chunk_texts), sum(tok), None), ("papers", len(paper_texts), sum(ptok), None)):
        for path in ("bare", "pipeline"):
            s = med[f"{what}_{path}"]
            rows.append({"texts": what, "path": path, "n": n, "tokens": tokens, "median_s": round(s, 2),
                         "texts_per_s": round(n / s, 2), "tokens_per_s": round(tokens / s, 1),
                         "median_cpu_s": round(med_cpu[f"{what}_{path}"], 2),
                         "all_s": [round(x, 2) for x in times[f"{what}_{path}"]]})
    ratio_chunks = med["chunks_bare"] / med["chunks_pipeline"]
    ratio_papers = med["papers_bare"] / med["papers_pipeline"]
    pad_bare = padded_tokens(tok, chars, [list(range(len(chunk_texts)))], limit)
    pad_grouped = padded_tokens(tok, chars, calls, limit)
    pad_papers = padded_tokens(ptok, pchars, [list(range(len(paper_texts)))], limit)
    pad_papers_pipe = padded_tokens(ptok, pchars, paper_calls, limit)
    result = {
        "machine": machine(), "model": DEFAULT_MODEL, "model_load_s": round(load_s, 1),
        "max_seq_length": limit, "flattened_inputs": flatten,
        "records": args.records, "papers": len(papers), "passages": sum(len(p["passages"]) for p in papers),
        "repeats": args.repeats, "batch_size": BATCH,
        "chunk_tokens": {"mean": round(statistics.mean(tok), 1), "max": max(tok),
                         "calls_in_pipeline": len(calls),
                         "texts_per_call": round(len(chunk_texts) / len(calls), 1)},
        "rows": rows,
        "ratio_pipeline_over_bare": {"chunks": round(ratio_chunks, 3), "papers": round(ratio_papers, 3)},
        "ratio_by_cpu_time": {"chunks": round(med_cpu["chunks_bare"] / med_cpu["chunks_pipeline"], 3),
                              "papers": round(med_cpu["papers_bare"] / med_cpu["papers_pipeline"], 3)},
        "ratio_per_repeat_chunks": [round(b / p, 3) for b, p in zip(times["chunks_bare"], times["chunks_pipeline"])],
        "ratio_per_repeat_papers": [round(b / p, 3) for b, p in zip(times["papers_bare"], times["papers_pipeline"])],
        "ratio_median_of_repeats": {
            "chunks": round(statistics.median(b / p for b, p in zip(times["chunks_bare"], times["chunks_pipeline"])), 3),
            "papers": round(statistics.median(b / p for b, p in zip(times["papers_bare"], times["papers_pipeline"])), 3)},
        # What the model has to do, whatever the load: one call's padded tokens over the pipeline calls'.
        "ratio_expected_from_padding": {"chunks": round(pad_bare / pad_grouped, 3), "papers": round(pad_papers / pad_papers_pipe, 3)},
        "loadavg_1min_per_repeat": [round(x, 2) for x in load],
        "target_ratio": 0.90,
        "diagnostics_median_s": {
            "chunking (chunks_for, tokenizer counts)": round(med["diag_chunking"], 2),
            "bare encode in the pipeline's per-16-paper calls": round(med["diag_bare_grouped"], 2),
            "bare encode, one call (for comparison)": round(med["chunks_bare"], 2),
            "sqlite writes (replace_chunks)": round(med["diag_sqlite_writes"], 2),
        },
        "padded_tokens": {"chunks_one_call": pad_bare, "chunks_pipeline_calls": pad_grouped,
                          "papers_one_call": pad_papers, "papers_pipeline_calls": pad_papers_pipe},
    }
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_tables(result)


def print_tables(result: dict) -> None:
    m = result["machine"]
    r = result["ratio_pipeline_over_bare"]
    print(f"\nmachine: {m['nproc']} cores ({m['cpu']}), {m['mem_gib']} GiB; torch {m['torch']} "
          f"with {m['torch_threads']} threads; model {result['model']} (max_seq_length {result['max_seq_length']}, "
          f"flattened inputs: {result['flattened_inputs']}); batch_size {result['batch_size']}; {result['repeats']} repeats, alternating order")
    print(f"corpus: {result['records']} abstracts -> {result['papers']} papers, {result['passages']} passages, "
          f"{result['rows'][0]['n']} chunks (mean {result['chunk_tokens']['mean']} tokens) in {result['chunk_tokens']['calls_in_pipeline']} "
          f"pipeline encode calls\n")
    print(f"{'texts':8} {'path':9} {'n':>5} {'tokens':>8} {'median s':>9} {'texts/s':>8} {'tokens/s':>9} "
          f"{'CPU s':>7}  runs (s)")
    for row in result["rows"]:
        print(f"{row['texts']:8} {row['path']:9} {row['n']:5d} {row['tokens']:8d} {row['median_s']:9.2f} "
              f"{row['texts_per_s']:8.2f} {row['tokens_per_s']:9.1f} {row['median_cpu_s']:7.1f}  {row['all_s']}")
    print(f"\npipeline/bare throughput (median wall): chunks {r['chunks']:.3f}, papers {r['papers']:.3f} "
          f"(target >= 0.90); by CPU time: chunks {result['ratio_by_cpu_time']['chunks']:.3f}, "
          f"papers {result['ratio_by_cpu_time']['papers']:.3f}")
    med_r, pad_r = result["ratio_median_of_repeats"], result["ratio_expected_from_padding"]
    print(f"median of per-repeat ratios: chunks {med_r['chunks']:.3f}, papers {med_r['papers']:.3f}; "
          f"expected from padded tokens alone: chunks {pad_r['chunks']:.3f}, papers {pad_r['papers']:.3f}")
    print(f"per-repeat ratios: chunks {result['ratio_per_repeat_chunks']}, papers {result['ratio_per_repeat_papers']}")
    print(f"1-min load average before/after each repeat: {result['loadavg_1min_per_repeat']}")
    print("\nwhere the chunk pipeline's time goes (medians):")
    for k, v in result["diagnostics_median_s"].items():
        print(f"  {k:52} {v:7.2f} s")
    pt = result["padded_tokens"]
    print(f"\npadded tokens the model processes: chunks one call {pt['chunks_one_call']}, in the pipeline's calls "
          f"{pt['chunks_pipeline_calls']} (+{100 * (pt['chunks_pipeline_calls'] / pt['chunks_one_call'] - 1):.1f} %); "
          f"papers one call {pt['papers_one_call']}, pipeline {pt['papers_pipeline_calls']}")


if __name__ == "__main__":
    main()
