"""Trendiness as a statistical burst, not a percentile.

A topic *trends* when the number of papers on it in the last ``window`` days is
significantly above what its own baseline predicts, and the papers come from
several independent author groups. Everything else is not trending, and the
ranker leaves it alone (no penalty below significance).

How, step by step (all pure: vectors, dates, authors and titles in; numbers out):

1. **Neighbourhoods.** For each paper of the window, its near neighbours (cosine ≥ ρ)
   among the window's papers and among the year before (the history).
2. **Baseline.** The history count times ``window volume / history volume``: what the
   neighbourhood would hold now if the topic kept its share of all papers. Scaling by
   volume, not by days, corrects for the corpus growing (arXiv grows every year) and for
   a store that has only ingested part of the year.
3. **Candidate clusters.** Greedy: the paper with the largest excess over its baseline
   seeds a cluster of its untaken neighbours, and so on.
4. **The test.** Around each cluster's centroid, observed = window papers at cosine ≥ ρ,
   expected = (history papers at cosine ≥ ρ + 1) × the volume ratio (the + 1 is a
   pseudo-count: a topic with no history needs several papers, not one). One-sided
   Poisson test, Bonferroni-corrected over the clusters tested. A cluster trends when
   p < α / tests, observed ≥ ``min_size``, observed ≥ ``min_ratio`` × expected, and its
   papers come from ≥ ``min_groups`` author groups (papers sharing an author are one
   group: one lab's bulk upload is not a trend).
5. **Labels.** Class-based TF-IDF over titles (each cluster one class, against the
   whole window): the phrases that set the cluster apart, not the words it shares with
   everything.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from .concepts import phrases
from .settings import Settings
from .stages import Progress, StageReport, run_stage
from .store import Counts, Store
from .store_trend import Cluster

HISTORY_DAYS = 365
BLOCK = 8192
MAX_CLUSTERS_TESTED = 60
LABEL_PHRASES = 3


@dataclass(frozen=True)
class BurstRule:
    """What it takes to call a cluster a trend (settings: GLEAN_TREND_*)."""

    rho: float = 0.6
    window_days: int = 30
    alpha: float = 0.01  # family-wise: divided by the number of clusters tested
    min_size: int = 5
    min_groups: int = 3
    min_ratio: float = 2.0


@dataclass
class Neighbourhood:
    paper_id: str
    recent: int  # near neighbours in the window (not itself)
    expected: float  # what the baseline predicts for the window


@dataclass
class TrendResult:
    neighbourhoods: list[Neighbourhood]
    clusters: list[Cluster]  # tested clusters, bursting first
    window_papers: int
    history_papers: int
    volume_ratio: float | None  # window volume / history volume; None without history
    tests: int = 0
    member_of: dict[str, int] = field(default_factory=dict)  # paper id → index in clusters (bursting only)


def poisson_sf(k: int, mu: float) -> float:
    """P(X ≥ k) for X ~ Poisson(mu)."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    # 1 − P(X ≤ k − 1), summed in log space for stability.
    terms = [i * math.log(mu) - mu - math.lgamma(i + 1) for i in range(k)]
    top = max(terms)
    cdf = math.exp(top) * sum(math.exp(t - top) for t in terms)
    if cdf < 0.999:
        return max(0.0, 1.0 - cdf)
    # Far in the tail: sum the upper terms directly (no cancellation).
    total, i = 0.0, k
    while True:
        term = math.exp(i * math.log(mu) - mu - math.lgamma(i + 1))
        total += term
        if term < total * 1e-12 or i > k + 10_000:
            return total
        i += 1


def _count_neighbours(queries: np.ndarray, pool: np.ndarray, rho: float) -> np.ndarray:
    counts = np.zeros(len(queries), dtype=np.int64)
    for start in range(0, len(pool), BLOCK):
        counts += (queries @ pool[start:start + BLOCK].T >= rho).sum(axis=1)
    return counts


def author_key(name: str) -> str:
    """"Jane Q. Doe" and "J. Doe" are one key: first initial + last name, accents folded."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    parts = re.sub(r"[^a-z ]", " ", folded).split()
    return f"{parts[0][0]} {parts[-1]}" if parts else ""


def author_groups(author_lists: list[list[str]]) -> int:
    """Independent groups among papers: papers sharing any author are one group."""
    parent = list(range(len(author_lists)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_paper: dict[str, int] = {}
    for i, authors in enumerate(author_lists):
        for key in filter(None, map(author_key, authors)):
            if key in first_paper:
                parent[find(i)] = find(first_paper[key])
            else:
                first_paper[key] = i
    return len({find(i) for i in range(len(author_lists))})


def ctfidf_labels(cluster_titles: list[list[str]], background: list[str], top: int = LABEL_PHRASES) -> list[list[str]]:
    """Class-based TF-IDF: per cluster, the title phrases frequent in it and rare elsewhere.

    Each cluster is a class; the rest of the window is one more class. Weight of phrase t in
    class c = tf(t, c) · log(1 + A / f(t)), A = mean phrases per class, f(t) = count of t over all
    classes (as in BERTopic). Multi-word phrases win ties; a phrase inside a chosen one is dropped.
    """
    classes: list[Counter] = []
    surface: dict[str, str] = {}
    for titles in cluster_titles:
        counts: Counter = Counter()
        for t in titles:
            found = phrases(t)
            counts.update(found.keys())
            for k, v in found.items():
                surface.setdefault(k, v)
        classes.append(counts)
    rest: Counter = Counter()
    for t in background:
        rest.update(phrases(t).keys())
    totals = Counter()
    for c in classes:
        totals.update(c)
    everywhere = totals + rest
    mean_size = (sum(sum(c.values()) for c in classes) + sum(rest.values())) / (len(classes) + 1) or 1.0
    labels = []
    for c in classes:
        scored = sorted(((n * math.log(1 + mean_size / everywhere[k]), k) for k, n in c.items() if n >= 2),
                        key=lambda x: (-x[0] * (1 + 0.5 * x[1].count(" ")), x[1]))
        chosen: list[str] = []
        for _, key in scored:
            if any(f" {key} " in f" {k} " or f" {k} " in f" {key} " for k in chosen):
                continue
            chosen.append(key)
            if len(chosen) == top:
                break
        labels.append([surface[k] for k in chosen])
    return labels


def find_bursts(ids: list[str], vectors: np.ndarray, published: list[datetime], authors: list[list[str]],
                titles: list[str], now: datetime, rule: BurstRule = BurstRule()) -> TrendResult:
    """Neighbourhoods of the window's papers and the tested clusters (see the module docstring)."""
    dates = np.array([p.timestamp() for p in published])
    window_start = (now - timedelta(days=rule.window_days)).timestamp()
    history_start = (now - timedelta(days=rule.window_days + HISTORY_DAYS)).timestamp()
    in_window = (dates > window_start) & (dates <= now.timestamp())
    in_history = (dates > history_start) & (dates <= window_start)
    window_idx, history_idx = np.flatnonzero(in_window), np.flatnonzero(in_history)
    ratio = len(window_idx) / len(history_idx) if len(history_idx) else None
    result = TrendResult([], [], len(window_idx), len(history_idx), ratio)
    if not len(window_idx):
        return result
    wv, hv = vectors[window_idx], vectors[history_idx]
    recent = _count_neighbours(wv, wv, rule.rho) - 1  # not itself
    history = _count_neighbours(wv, hv, rule.rho) if len(hv) else np.zeros(len(wv), dtype=np.int64)
    expected = history * (ratio or 0.0)
    result.neighbourhoods = [Neighbourhood(ids[i], int(recent[k]), float(expected[k]))
                             for k, i in enumerate(window_idx)]
    if ratio is None:
        return result  # no baseline, no burst can be claimed
    seeds = _seed_clusters(wv, recent - expected, rule)
    clusters = [_test_cluster(members, wv, hv, ratio, window_idx, ids, authors, titles, rule) for members in seeds]
    result.tests = len(clusters)
    threshold = rule.alpha / max(1, len(clusters))
    for c in clusters:
        c.significant, c.verdict = _verdict(c, threshold, rule)
    _merge_overlapping(clusters, rule)
    labels = ctfidf_labels([c.member_titles for c in clusters], [titles[i] for i in window_idx])
    for c, label in zip(clusters, labels):
        c.phrases = label
        c.label = ", ".join(label) or "mixed topics"
    clusters.sort(key=lambda c: (not c.significant, c.p_value, -c.observed))
    result.clusters = clusters
    result.member_of = _membership(clusters, wv, window_idx, ids, rule.rho)
    return result


def _seed_clusters(wv: np.ndarray, excess: np.ndarray, rule: BurstRule) -> list[np.ndarray]:
    taken = np.zeros(len(wv), dtype=bool)
    out = []
    for seed in np.argsort(-excess, kind="stable"):
        if taken[seed] or excess[seed] <= 0:
            continue
        members = np.flatnonzero((wv @ wv[seed] >= rule.rho) & ~taken)
        taken[members] = True
        if len(members) >= min(rule.min_size, 3):
            out.append(members)
        if len(out) >= MAX_CLUSTERS_TESTED:
            break
    return out


def _test_cluster(members: np.ndarray, wv: np.ndarray, hv: np.ndarray, ratio: float, window_idx: np.ndarray,
                  ids: list[str], authors: list[list[str]], titles: list[str], rule: BurstRule) -> Cluster:
    mean = wv[members].mean(axis=0)
    centroid = (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)
    sims = wv @ centroid
    inside = np.flatnonzero(sims >= rule.rho)
    inside = inside[np.argsort(-sims[inside], kind="stable")]
    history_hits = int((hv @ centroid >= rule.rho).sum()) if len(hv) else 0
    expected = (history_hits + 1) * ratio
    observed = len(inside)
    paper_ids = [ids[window_idx[k]] for k in inside]
    return Cluster(label="", phrases=[], observed=observed, expected=round(expected, 3),
                   p_value=poisson_sf(observed, expected),
                   groups=author_groups([authors[window_idx[k]] for k in inside]),
                   significant=False, verdict="", centroid=centroid, paper_ids=paper_ids,
                   examples=[titles[window_idx[k]] for k in inside[:3]],
                   member_titles=[titles[window_idx[k]] for k in inside])


def _verdict(c: Cluster, threshold: float, rule: BurstRule) -> tuple[bool, str]:
    if c.observed < rule.min_size:
        return False, f"too small ({c.observed} < {rule.min_size} papers)"
    if c.p_value >= threshold:
        return False, f"not above its baseline (p = {c.p_value:.2g} ≥ {threshold:.2g})"
    if c.observed < rule.min_ratio * c.expected:
        return False, f"only {c.ratio:.1f}× its baseline (< {rule.min_ratio:g}×)"
    if c.groups < rule.min_groups:
        return False, f"{c.groups} author group{'s' if c.groups != 1 else ''} (< {rule.min_groups}): one lab's output"
    return True, "bursting"


def _merge_overlapping(clusters: list[Cluster], rule: BurstRule) -> None:
    """Greedy seeds can carve one topic into two clusters whose centres nearly coincide; a bursting
    cluster that close to a stronger one is the same burst, not a second one."""
    same_topic = (1 + rule.rho) / 2
    kept: list[Cluster] = []
    for c in sorted((c for c in clusters if c.significant), key=lambda c: c.p_value):
        twin = next((k for k in kept if float(k.centroid @ c.centroid) >= same_topic), None)
        if twin is None:
            kept.append(c)
        else:
            c.significant, c.verdict = False, f"the same burst as a stronger cluster ({', '.join(twin.examples[:1])})"


def _membership(clusters: list[Cluster], wv: np.ndarray, window_idx: np.ndarray, ids: list[str],
                rho: float) -> dict[str, int]:
    """Each window paper near a bursting cluster's centroid belongs to the nearest such cluster."""
    bursting = [n for n, c in enumerate(clusters) if c.significant]
    if not bursting:
        return {}
    sims = wv @ np.stack([clusters[n].centroid for n in bursting]).T  # papers × bursting clusters
    best = sims.argmax(axis=1)
    return {ids[window_idx[k]]: bursting[int(best[k])] for k in range(len(wv)) if sims[k, best[k]] >= rho}


def rule_from(settings: Settings) -> BurstRule:
    return BurstRule(rho=settings.trend_rho, window_days=settings.trend_window_days, alpha=settings.trend_alpha,
                     min_size=settings.trend_min_size, min_groups=settings.trend_min_groups,
                     min_ratio=settings.trend_min_ratio)


def _published(values: list[str]) -> list[datetime]:
    out = []
    for v in values:
        dt = datetime.fromisoformat(v)
        out.append(dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc))
    return out


def compute_trends(store: Store, settings: Settings, *, now: datetime | None = None, dimension: int = 384,
                   progress: Progress | None = None) -> StageReport:
    """Recompute the burst test over the stored papers and store it (the scheduler runs this daily)."""
    now = now or datetime.now(timezone.utc)
    rule = rule_from(settings)

    def body(counts: Counts, details: dict) -> None:
        since = (now - timedelta(days=rule.window_days + HISTORY_DAYS)).isoformat()
        data = store.dated_paper_vectors(since, dimension)
        result = find_bursts(data["ids"], data["vectors"], _published(data["published"]), data["authors"],
                             data["title"], now, rule)
        store.save_trends(result, now.isoformat(timespec="seconds"))
        counts.updated = len(result.neighbourhoods)
        details.update(window_days=rule.window_days, rho=rule.rho, window_papers=result.window_papers,
                       history_papers=result.history_papers, scored=len(result.neighbourhoods),
                       clusters_tested=result.tests, bursting=sum(c.significant for c in result.clusters))
        if progress:
            progress(len(result.neighbourhoods))

    return run_stage(store, "trend", body)
