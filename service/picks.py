"""Today's picks for a user: the store's facts turned into the ranker's inputs.

The ranker itself (service/ranker.py) is pure; everything that reads the store
lives here: the profile from reads, ratings and interests, the candidate pools
(new papers, classics, cross-field items, minus whatever was delivered or read),
trend percentiles and the trending clusters classics can echo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import numpy as np

from pipelines.embedding import get_embedder
from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.store_users import User
from pipelines.taxonomy import field_of
from pipelines.trend import trending_clusters

from .ranker import Candidate, Pick, Profile, ProfileItem, RankParams, rank

RECENCY_HALF_LIFE_DAYS = 90  # a read from three months ago weighs half as much as today's
DEFAULT_NEW_DAYS = 7  # "new" for a user without a digest yet
MAX_NEW_DAYS = 14  # and never older than this, however long ago the last digest was
ECHO_SIMILARITY = 0.45  # a classic this close to a trending cluster "echoes" it


def params_from(settings: Settings) -> RankParams:
    return RankParams(mmr_lambda=settings.rank_mmr_lambda, old_bonus=settings.rank_old_bonus,
                      cross_bonus=settings.rank_cross_bonus, min_old=settings.rank_min_old,
                      min_cross=settings.rank_min_cross, quota_relevance=settings.rank_quota_relevance,
                      max_old_share=settings.rank_max_old_share, window_days=settings.trend_window_days)


def build_profile(store: Store, settings: Settings, user: User, now: datetime) -> Profile:
    """The reader's profile: reads weighted by recency, "more like this" ratings as positives,
    "not for me" ratings as negatives, and their stated interests. Ratings steer the profile
    but are not reading (they never count as reads in history or breadth)."""
    embedder = get_embedder(settings.embedding_model)
    reads = store.reads(user.id)
    ratings = {r["paper_id"]: r for r in store.ratings(user.id)}
    ids = list(dict.fromkeys([r["paper_id"] for r in reads] + list(ratings)))
    vectors = store.paper_vectors_for(ids, embedder.dimension)
    papers = store.papers_by_id(ids)
    items, negatives, home = [], [], set(user.categories)
    home |= {f for f in (field_of(c) for c in user.categories) if f}
    read_ids = {r["paper_id"] for r in reads}
    for pid in ids:
        vector, paper, rating = vectors.get(pid), papers.get(pid), ratings.get(pid, {}).get("rating")
        if vector is None or paper is None:
            continue
        if rating == -1:
            negatives.append(vector)
            continue
        when = next((r["read_at"] for r in reads if r["paper_id"] == pid), None) or ratings[pid]["rated_at"]
        age_days = max(0.0, (now - datetime.fromisoformat(when)).total_seconds() / 86400)
        weight = 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS) * (1.5 if rating == 1 else 1.0)
        items.append(ProfileItem(label=paper.title, vector=vector, weight=min(weight, 1.0),
                                 kind="read" if pid in read_ids else "rated"))
        if pid in read_ids:
            home |= {x for x in (paper.primary_category, paper.field, field_of(paper.primary_category)) if x}
    if user.interests.strip():
        items.append(ProfileItem(label="your interests", vector=embedder.encode([user.interests])[0],
                                 weight=1.0, kind="interests"))
    beta = user.anti_trend if user.anti_trend is not None else settings.rank_beta
    return Profile(items=items, negatives=negatives, home_fields=home, beta=beta)


def _percentiles(scores: dict[str, dict]) -> dict[str, float]:
    if not scores:
        return {}
    ordered = sorted(scores, key=lambda pid: scores[pid]["score"])
    n = len(ordered)
    return {pid: (i + 1) / n for i, pid in enumerate(ordered)}


@dataclass
class DayContext:
    """What every user's ranking on one day shares: candidate pools, vectors, trend, echoes.

    Built once per run, so ranking thousands of users costs one pass over the store.
    """

    now: datetime
    candidates: list[tuple[Candidate, str | None]]  # (candidate, published)
    vectors: np.ndarray | None = None  # row i: candidates[i]'s vector, stacked once for every user

    def __post_init__(self):
        if self.vectors is None:
            dimension = len(self.candidates[0][0].vector) if self.candidates else 0
            self.vectors = (np.stack([c.vector for c, _ in self.candidates]) if self.candidates
                            else np.zeros((0, dimension), dtype=np.float32))


def day_context(store: Store, settings: Settings, now: datetime) -> DayContext:
    dimension = get_embedder(settings.embedding_model).dimension
    pools = store.candidate_pools(since=(now - timedelta(days=MAX_NEW_DAYS)).isoformat(), until=now.isoformat(),
                                  cross_since=(now - timedelta(days=settings.trend_window_days)).isoformat())
    vectors = store.paper_vectors_for([p.id for _, p in pools], dimension)
    scores = store.trend_scores()
    percentile = _percentiles(scores)
    echoes = _echo_targets(store, scores, dimension, settings)
    candidates = []
    for pool, paper in pools:
        vector = vectors.get(paper.id)
        if vector is None:
            continue  # not embedded yet: the next run will have it
        echo = None
        if pool == "classic" and echoes:
            sims = echoes["centroids"] @ vector
            if sims.max() >= ECHO_SIMILARITY:
                echo = echoes["labels"][int(sims.argmax())]
        candidates.append((Candidate(
            paper_id=paper.id, title=paper.title, year=paper.year, vector=vector,
            field=paper.field or field_of(paper.primary_category), category=paper.primary_category, pool=pool,
            trend=percentile.get(paper.id, 0.0),
            trend_neighbours=scores.get(paper.id, {}).get("recent_neighbours", 0), echo=echo), paper.published))
    return DayContext(now, candidates)


def user_candidates(store: Store, context: DayContext, user: User,
                    exclude: set[str]) -> tuple[list[Candidate], np.ndarray]:
    """The day's candidates for one user (new ones only since their last digest, nothing seen
    before) and their rows of the day's vector matrix."""
    last = store.last_delivery_day(user.id, "digest")
    since = context.now - timedelta(days=DEFAULT_NEW_DAYS)
    if last:
        since = max(since - timedelta(days=MAX_NEW_DAYS - DEFAULT_NEW_DAYS),
                    datetime.combine(date.fromisoformat(last), time(), timezone.utc))
    since_s = since.isoformat()
    rows = [i for i, (c, published) in enumerate(context.candidates)
            if c.paper_id not in exclude and (c.pool != "new" or (published or "") >= since_s)]
    return [context.candidates[i][0] for i in rows], context.vectors[rows]


def _echo_targets(store: Store, scores: dict, dimension: int, settings: Settings) -> dict | None:
    clusters = current_clusters(store, scores, dimension, settings, top=5)
    if not clusters:
        return None
    vectors = store.paper_vectors_for([pid for c in clusters for pid in c.paper_ids], dimension)
    centroids = []
    for c in clusters:
        mean = np.mean([vectors[p] for p in c.paper_ids if p in vectors], axis=0)
        centroids.append(mean / (np.linalg.norm(mean) or 1.0))
    return {"centroids": np.stack(centroids), "labels": [f"{c.label} ({c.size} papers)" for c in clusters]}


def current_clusters(store: Store, scores: dict, dimension: int, settings: Settings, top: int = 10):
    """The trending clusters now, from the stored scores (no recomputation)."""
    from pipelines.trend import Burst

    hot = sorted(scores.values(), key=lambda s: -s["score"])[:2000]
    bursts = [Burst(s["paper_id"], s["score"], s["recent_neighbours"], s["expected"], s["category_burst"])
              for s in hot if s["score"] > 0]
    if not bursts:
        return []
    vectors = store.paper_vectors_for([b.paper_id for b in bursts], dimension)
    titles = {pid: p.title for pid, p in store.papers_by_id([b.paper_id for b in bursts]).items()}
    bursts = [b for b in bursts if b.paper_id in vectors and b.paper_id in titles]
    return trending_clusters(bursts, vectors, titles, rho=settings.trend_rho, top=top)


def moment(on: date | None) -> datetime:
    """Ranking "on a day" means as of the end of that day; no day means now."""
    return datetime.combine(on, time(23, 59), timezone.utc) if on else datetime.now(timezone.utc)


def picks_for(store: Store, settings: Settings, user: User, *, on: date | None = None, limit: int = 10,
              context: DayContext | None = None) -> list[Pick]:
    """The ranked picks for ``user`` on day ``on`` (default today), nothing delivered or read before."""
    context = context or day_context(store, settings, moment(on))
    exclude = (store.delivered_ids(user.id) | {r["paper_id"] for r in store.reads(user.id)}
               | {r["paper_id"] for r in store.ratings(user.id)})
    profile = build_profile(store, settings, user, context.now)
    candidates, vectors = user_candidates(store, context, user, exclude)
    return rank(profile, candidates, limit=limit, params=params_from(settings), vectors=vectors)
