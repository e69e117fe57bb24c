"""Composing daily digests for many users: time and peak memory.

    .venv/bin/python benchmarks/bench_digest.py [--users 10000] [--papers 3000] [--json]

A temporary store gets the real canon, synthetic recent arXiv papers and feed
items with clustered synthetic unit vectors (embedding is measured elsewhere;
here it would only add a constant), trend scores, and N users with 20 reads
each. Then every user's digest is composed into the outbox, as the hourly job
does when everyone's hour comes at once — the worst case. Sending is not timed.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.records import Paper  # noqa: E402
from pipelines.settings import DATA_DIR, Settings  # noqa: E402
from pipelines.sources.classics import load_canon  # noqa: E402
from pipelines.store import Store  # noqa: E402
from pipelines.trend import compute_trends  # noqa: E402
from service.accounts import create_user  # noqa: E402
from service.digest import compose_digest  # noqa: E402
from service.picks import day_context, moment  # noqa: E402

DIM = 384


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def clustered(n: int, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    picks = centres[rng.integers(0, len(centres), n)]
    v = picks + 0.35 * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM) * 4
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def build(store: Store, n_papers: int, n_users: int, now: datetime, rng: np.random.Generator) -> None:
    centres = rng.standard_normal((60, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    papers = load_canon(DATA_DIR / "canon.toml")
    for i in range(n_papers):
        published = now - timedelta(hours=float(rng.uniform(0, 24 * 400)))
        papers.append(Paper(id=f"arxiv:25{i:08d}", title=f"Synthetic paper {i}", source="arxiv",
                            abstract="", published=published.isoformat(), year=published.year,
                            primary_category="cs.LG", categories=["cs.LG"]))
    for i in range(n_papers // 10):
        published = now - timedelta(days=float(rng.uniform(0, 30)))
        papers.append(Paper(id=f"url:feed{i}", title=f"Feed item {i}", source="feed:bench",
                            published=published.isoformat(), year=published.year, field="neuroscience"))
    store.upsert_papers(papers)
    vectors = clustered(len(papers), centres, rng)
    store.replace_paper_vectors([(p.id, "bench", v) for p, v in zip(papers, vectors)])
    ids = [p.id for p in papers]
    for u in range(n_users):
        user, _ = create_user(store, f"user{u}@bench.test")
        reads = rng.choice(len(ids), 20, replace=False)
        store.add_reads(user.id, [(ids[j], (now - timedelta(days=int(j) % 200)).isoformat()) for j in reads])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=3_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory() as home:
        settings = Settings.load(env={"GLEAN_HOME": home, "GLEAN_SECRET_KEY": "bench"}, dotenv=Path(home) / ".env")
        store = Store(Path(home))
        t0 = time.perf_counter()
        build(store, args.papers, args.users, now, rng)
        compute_trends(store, settings, now=now)
        setup_s = time.perf_counter() - t0
        rss_before = rss_mib()
        day = now.date()
        t0 = time.perf_counter()
        context = day_context(store, settings, moment(day))
        context_s = time.perf_counter() - t0
        statuses: dict[str, int] = {}
        t0 = time.perf_counter()
        for user in store.users():
            status = compose_digest(store, settings, user, day, now=now, context=context).status
            statuses[status] = statuses.get(status, 0) + 1
        compose_s = time.perf_counter() - t0
        result = {"users": args.users, "papers": store.count_papers(), "candidates": len(context.candidates),
                  "setup_s": round(setup_s, 1), "context_s": round(context_s, 2), "compose_s": round(compose_s, 1),
                  "ms_per_user": round(compose_s * 1000 / args.users, 2), "statuses": statuses,
                  "peak_rss_mib": round(rss_mib()), "rss_growth_during_compose_mib": round(rss_mib() - rss_before),
                  "outbox_mib": round((Path(home) / "glean.sqlite3").stat().st_size / 2**20)}
    if args.json:
        print(json.dumps(result))
        return
    print("| users | papers | candidates/day | shared context (s) | compose all (s) | ms/user | peak RSS (MiB) | RSS growth (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {result['users']} | {result['papers']} | {result['candidates']} | {result['context_s']} | "
          f"{result['compose_s']} | {result['ms_per_user']} | {result['peak_rss_mib']} | "
          f"{result['rss_growth_during_compose_mib']} |")
    print(f"statuses: {statuses}; store after composing: {result['outbox_mib']} MiB; setup {result['setup_s']} s")


if __name__ == "__main__":
    main()
