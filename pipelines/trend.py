"""Trendiness: how crowded a paper's neighbourhood got lately.

For each paper published in the last ``window`` days we count its near neighbours
(cosine ≥ ρ) among the papers of that window, and compare with how many of its
neighbours the previous year brought in a window of that length. The burst is a
z-score of the observed count against that expectation (a Poisson-style
``(observed − expected) / sqrt(expected + 1)``). The paper's category's own volume
burst breaks ties. External popularity (citation velocity, social mentions) would
be one more additive term in :func:`combine`; it is not built.

:func:`burst_scores` and :func:`trending_clusters` are pure: vectors and dates
in, scores out.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from .settings import Settings
from .stages import Progress, StageReport, run_stage
from .store import Counts, Store

HISTORY_DAYS = 365
CATEGORY_TIE_BREAK = 0.01
BLOCK = 8192
STOPWORDS = set("""a an and are as at be by for from in into is it its of on or the to with via we our
using based towards toward new study approach method methods model models learning data analysis paper
large deep neural network networks""".split())


@dataclass
class Burst:
    paper_id: str
    score: float  # the z-score plus the category tie-breaker
    recent: int  # neighbours in the window
    expected: float  # neighbours expected from the previous year's rate
    category_burst: float


def _count_neighbours(queries: np.ndarray, pool: np.ndarray, rho: float) -> np.ndarray:
    counts = np.zeros(len(queries), dtype=np.int64)
    for start in range(0, len(pool), BLOCK):
        counts += (queries @ pool[start:start + BLOCK].T >= rho).sum(axis=1)
    return counts


def burst_scores(ids: list[str], vectors: np.ndarray, published: list[datetime], categories: list[str],
                 now: datetime, *, window_days: int, rho: float) -> list[Burst]:
    """Scores for the papers published in ``(now − window, now]``; older ones only serve as history."""
    dates = np.array([p.timestamp() for p in published])
    window_start = (now - timedelta(days=window_days)).timestamp()
    history_start = (now - timedelta(days=window_days + HISTORY_DAYS)).timestamp()
    in_window = (dates > window_start) & (dates <= now.timestamp())
    in_history = (dates > history_start) & (dates <= window_start)
    recent_idx = np.flatnonzero(in_window)
    if not len(recent_idx):
        return []
    scale = window_days / HISTORY_DAYS
    recent_vectors = vectors[recent_idx]
    recent = _count_neighbours(recent_vectors, vectors[in_window], rho) - 1  # not itself
    expected = _count_neighbours(recent_vectors, vectors[in_history], rho) * scale
    z = (recent - expected) / np.sqrt(expected + 1.0)

    window_cats = Counter(categories[i] for i in recent_idx)
    history_cats = Counter(categories[i] for i in np.flatnonzero(in_history))
    cat_burst = {c: (n - history_cats.get(c, 0) * scale) / np.sqrt(history_cats.get(c, 0) * scale + 1.0)
                 for c, n in window_cats.items()}
    return [Burst(ids[i], combine(float(z[k]), cat_burst[categories[i]]), int(recent[k]), float(expected[k]),
                  float(cat_burst[categories[i]]))
            for k, i in enumerate(recent_idx)]


def combine(neighbourhood_z: float, category_burst: float) -> float:
    """The one trendiness score; future popularity signals add their term here."""
    return neighbourhood_z + CATEGORY_TIE_BREAK * category_burst


@dataclass
class Cluster:
    label: str
    size: int
    burst: float
    paper_ids: list[str]
    examples: list[str]


def title_label(titles: list[str], words: int = 3) -> str:
    """The words the titles share most, as a readable label."""
    counts: Counter = Counter()
    first_seen: dict[str, int] = {}
    for title in titles:
        for w in dict.fromkeys(re.findall(r"[a-z][a-z\-]{2,}", title.lower())):
            if w not in STOPWORDS:
                counts[w] += 1
                first_seen.setdefault(w, len(first_seen))
    # Most shared first; ties in the order the words first appear, so labels read naturally.
    ranked = sorted(counts, key=lambda w: (-counts[w], first_seen[w]))
    return " ".join(ranked[:words]) or "mixed topics"


def trending_clusters(bursts: list[Burst], vectors: dict[str, np.ndarray], titles: dict[str, str], *,
                      rho: float, top: int, min_size: int = 3) -> list[Cluster]:
    """Greedy clusters around the most bursting papers: seed, its near neighbours, repeat."""
    ranked = sorted((b for b in bursts if b.score > 0), key=lambda b: -b.score)
    if not ranked:
        return []
    ids = [b.paper_id for b in ranked]
    matrix = np.stack([vectors[i] for i in ids])
    scores = np.array([b.score for b in ranked])
    taken = np.zeros(len(ids), dtype=bool)
    clusters = []
    for seed in range(len(ids)):
        if taken[seed]:
            continue
        members = np.flatnonzero((matrix @ matrix[seed] >= rho) & ~taken)
        taken[members] = True
        if len(members) < min_size:
            continue
        order = members[np.argsort(-scores[members])]
        member_ids = [ids[m] for m in order]
        clusters.append(Cluster(label=title_label([titles[i] for i in member_ids]), size=len(members),
                                burst=round(float(scores[members].mean()), 2), paper_ids=member_ids,
                                examples=[titles[i] for i in member_ids[:3]]))
        if len(clusters) >= top:
            break
    return clusters


def _published(values: list[str]) -> list[datetime]:
    out = []
    for v in values:
        dt = datetime.fromisoformat(v)
        out.append(dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc))
    return out


def load_window(store: Store, settings: Settings, now: datetime, dimension: int) -> dict:
    since = (now - timedelta(days=settings.trend_window_days + HISTORY_DAYS)).isoformat()
    data = store.dated_paper_vectors(since, dimension)
    data["published_dt"] = _published(data["published"])
    return data


def compute_trends(store: Store, settings: Settings, *, now: datetime | None = None, dimension: int = 384,
                   progress: Progress | None = None) -> StageReport:
    """Recompute and store the score of every recent paper (the scheduler runs this daily)."""
    now = now or datetime.now(timezone.utc)

    def body(counts: Counts, details: dict) -> None:
        data = load_window(store, settings, now, dimension)
        bursts = burst_scores(data["ids"], data["vectors"], data["published_dt"], data["category"], now,
                              window_days=settings.trend_window_days, rho=settings.trend_rho)
        store.save_trend_scores([(b.paper_id, b.score, b.recent, b.expected, b.category_burst) for b in bursts],
                                now.isoformat(timespec="seconds"))
        counts.updated = len(bursts)
        details.update(window_days=settings.trend_window_days, rho=settings.trend_rho,
                       papers_considered=len(data["ids"]), scored=len(bursts))
        if progress:
            progress(len(bursts))

    return run_stage(store, "trend", body)
