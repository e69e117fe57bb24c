"""Today's picks for a user: the store's facts turned into the ranker's inputs.

The ranker itself (service/ranker.py) is pure; everything that reads the store
lives here: the profile from reads, ratings and interests (with the reader's floor
and where their reading goes), the candidate pools (new papers, old papers,
cross-field items, minus whatever was shown, read or rated), the burst test's
clusters and the echoes old papers make of them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import numpy as np

from pipelines.concepts import Vocabulary
from pipelines.embedding import get_embedder
from pipelines.records import Paper
from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.store_users import User
from pipelines.taxonomy import field_key, field_of, lookup

from .ranker import (
    CLASSIC_BEFORE,
    Candidate,
    ClusterRef,
    Pick,
    Profile,
    ProfileItem,
    RankParams,
    rank,
    reader_centre,
    reader_floor,
)

RECENCY_HALF_LIFE_DAYS = 90  # a read from three months ago weighs half as much as today's
DEFAULT_NEW_DAYS = 7  # "new" for a user without a digest yet
MAX_NEW_DAYS = 14  # and never older than this, however long ago the last digest was


def params_from(settings: Settings) -> RankParams:
    return RankParams(mmr_lambda=settings.rank_mmr_lambda, old_bonus=settings.rank_old_bonus,
                      cross_bonus=settings.rank_cross_bonus, min_old=settings.rank_min_old,
                      min_cross=settings.rank_min_cross, max_old_share=settings.rank_max_old_share,
                      cross_share=settings.rank_cross_share, cross_floor=settings.rank_cross_floor,
                      max_cross_share=settings.rank_max_cross_share,
                      window_days=settings.trend_window_days)


def paper_text(paper: Paper) -> str:
    """What shared concepts are read from: the title and the abstract."""
    return f"{paper.title}. {paper.abstract or ''}".strip()


def subfield_of(category: str | None) -> str | None:
    found = lookup(category)
    return found.subfield if found else None


def field_name(paper: Paper) -> str | None:
    return paper.field or field_of(paper.primary_category)


def called_classic(paper: Paper) -> bool:
    """"Classic" is earned: a canon entry. (Citation percentiles per field and year will add the
    highly cited ones once citation data is stored; until then any other old paper is "from 1994".)"""
    return paper.source == "canon"


def reading_shares(papers: list[tuple[Paper, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Weighted shares of the reading per subfield and per field (keyed by taxonomy.field_key)."""
    subfields: dict[str, float] = defaultdict(float)
    fields: dict[str, float] = defaultdict(float)
    total = sum(w for _, w in papers) or 1.0
    for paper, weight in papers:
        if (sub := subfield_of(paper.primary_category)):
            subfields[sub] += weight / total
        if (name := field_key(field_name(paper))):
            fields[name] += weight / total
    return dict(subfields), dict(fields)


def build_profile(store: Store, settings: Settings, user: User, now: datetime) -> Profile:
    """The reader's profile: reads weighted by recency, "more like this" ratings as positives,
    "not for me" ratings as negatives, and their stated interests. Ratings steer the profile
    but are not reading: only reads decide where the reading goes and the reader's floor."""
    embedder = get_embedder(settings.embedding_model)
    reads = {r["paper_id"]: r for r in store.reads(user.id)}
    ratings = {r["paper_id"]: r for r in store.ratings(user.id)}
    ids = list(dict.fromkeys(list(reads) + list(ratings)))
    vectors = store.paper_vectors_for(ids, embedder.dimension)
    papers = store.papers_by_id(ids)
    items, negatives, read_papers = [], [], []
    for pid in ids:
        vector, paper, rating = vectors.get(pid), papers.get(pid), ratings.get(pid, {}).get("rating")
        if vector is None or paper is None:
            continue
        if rating == -1:
            negatives.append(vector)
            continue
        when = reads[pid]["read_at"] if pid in reads else ratings[pid]["rated_at"]
        age_days = max(0.0, (now - datetime.fromisoformat(when)).total_seconds() / 86400)
        weight = min(1.0, 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS) * (1.5 if rating == 1 else 1.0))
        items.append(ProfileItem(label=paper.title, vector=vector, weight=weight,
                                 kind="read" if pid in reads else "rated", paper_id=pid, text=paper_text(paper)))
        if pid in reads:
            read_papers.append((paper, weight))
    read_vectors = (np.stack([i.vector for i in items if i.kind == "read"]) if read_papers
                    else np.zeros((0, embedder.dimension), dtype=np.float32))
    floor = reader_floor(read_vectors, settings.rank_floor)
    centre, centre_floor = reader_centre(read_vectors, quantile=settings.rank_centre_quantile)
    if user.interests.strip():
        items.append(ProfileItem(label="your interests", vector=embedder.encode([user.interests])[0],
                                 weight=1.0, kind="interests", text=user.interests))
    subfields, fields = reading_shares(read_papers)
    if not read_papers:  # only stated categories: they are the reader's home
        subfields = {s: 1.0 / len(user.categories) for s in filter(None, map(subfield_of, user.categories))}
        fields = {f: 1.0 for f in filter(None, (field_key(field_of(c)) for c in user.categories))}
    beta = user.anti_trend if user.anti_trend is not None else settings.rank_beta
    return Profile(items=items, negatives=negatives, subfield_shares=subfields, field_shares=fields, beta=beta,
                   floor=floor, centre=centre, centre_floor=centre_floor)


@dataclass
class DayContext:
    """What every user's ranking on one day shares: candidate pools, vectors, the burst test, echoes.

    Built once per run, so ranking thousands of users costs one pass over the store.
    """

    now: datetime
    candidates: list[tuple[Candidate, str | None]]  # (candidate, published)
    vectors: np.ndarray | None = None  # row i: candidates[i]'s vector, stacked once for every user
    vocab: Vocabulary | None = None  # phrase frequencies over the day's candidates

    def __post_init__(self):
        if self.vectors is None:
            dimension = len(self.candidates[0][0].vector) if self.candidates else 0
            self.vectors = (np.stack([c.vector for c, _ in self.candidates]) if self.candidates
                            else np.zeros((0, dimension), dtype=np.float32))
        if self.vocab is None:
            self.vocab = Vocabulary.of(c.text for c, _ in self.candidates)


def day_context(store: Store, settings: Settings, now: datetime) -> DayContext:
    dimension = get_embedder(settings.embedding_model).dimension
    pools = store.candidate_pools(since=(now - timedelta(days=MAX_NEW_DAYS)).isoformat(), until=now.isoformat(),
                                  cross_since=(now - timedelta(days=settings.trend_window_days)).isoformat())
    vectors = store.paper_vectors_for([p.id for _, p in pools], dimension)
    trends = store.paper_trends()
    clusters = {c.id: c for c in store.trend_clusters(bursting_only=True)}
    refs = {i: ClusterRef(i, c.label, c.observed, c.expected) for i, c in clusters.items()}
    centroids = np.stack([c.centroid for c in clusters.values()]) if clusters else None
    candidates = []
    for pool, paper in pools:
        vector = vectors.get(paper.id)
        if vector is None:
            continue  # not embedded yet: the next run will have it
        trend = trends.get(paper.id)
        cluster = refs.get(trend.cluster_id) if trend and trend.cluster_id else None
        echo = None
        if pool == "classic" and centroids is not None:
            sims = centroids @ vector
            # An echo is a claim of kinship: the paper would count as a near neighbour of the burst.
            if sims.max() >= max(settings.trend_rho, settings.rank_floor):
                echo = refs[list(clusters)[int(sims.argmax())]]
        candidates.append((Candidate(
            paper_id=paper.id, title=paper.title, year=paper.year, vector=vector, field=field_name(paper),
            category=paper.primary_category, pool=pool, text=paper_text(paper),
            subfield=subfield_of(paper.primary_category),
            classic=called_classic(paper), trend=1.0 if cluster else 0.0, cluster=cluster,
            neighbours=trend.recent_neighbours if trend else None, echo=echo), paper.published))
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


def moment(on: date | None) -> datetime:
    """Ranking "on a day" means as of the end of that day; no day means now."""
    return datetime.combine(on, time(23, 59), timezone.utc) if on else datetime.now(timezone.utc)


def seen_by(store: Store, user: User) -> set[str]:
    """Papers the user already has: delivered to them, read, or rated. Never offered again."""
    return (store.delivered_ids(user.id) | {r["paper_id"] for r in store.reads(user.id)}
            | {r["paper_id"] for r in store.ratings(user.id)})


def picks_for(store: Store, settings: Settings, user: User, *, on: date | None = None, limit: int = 10,
              context: DayContext | None = None) -> list[Pick]:
    """The ranked picks for ``user`` on day ``on`` (default today): nothing delivered, read or rated
    before, and no old paper offered on an earlier day (old papers rotate)."""
    context = context or day_context(store, settings, moment(on))
    day = context.now.date().isoformat()
    exclude = seen_by(store, user) | store.offered_old_before(user.id, day)
    profile = build_profile(store, settings, user, context.now)
    candidates, vectors = user_candidates(store, context, user, exclude)
    picks = rank(profile, candidates, limit=limit, params=params_from(settings), vectors=vectors, vocab=context.vocab)
    store.record_old_offered(user.id, [p.paper_id for p in picks if p.year and p.year < CLASSIC_BEFORE], day)
    return picks


def shortfall_line(picks: list[Pick], limit: int) -> str | None:
    """One line when fewer papers than asked cleared the reader's bar (a short list is not a fault)."""
    if len(picks) >= limit:
        return None
    if not picks:
        return "no paper cleared your bar today: nothing new is close enough to what you read"
    floor = picks[0].claims.get("floor")
    bar = f" (cosine ≥ {floor:.2f} to your reading or interests)" if floor is not None else ""
    return f"only {len(picks)} paper{'s' if len(picks) != 1 else ''} cleared your bar today{bar}"
