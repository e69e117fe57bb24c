"""The diversity ranker: relevant, but deliberately not what everyone else is reading.

A pure function. It takes the user's profile (weighted vectors of what they read
and said they care about), candidate papers with their vectors and trendiness,
and returns picks with their score parts and a reason in plain words:

    score = relevance − β·trend + old bonus + cross-field bonus

then Maximal Marginal Relevance for variety within the list, then small quotas so a
digest carries a pre-2010 paper and a cross-field paper whenever one is relevant
enough. β is a dial, not a wall: users do ask for what is hot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

CLASSIC_BEFORE = 2010
QUIET_PERCENTILE = 0.3  # below this trend percentile a paper sits in a quiet corner
HOT_PERCENTILE = 0.8


@dataclass
class ProfileItem:
    label: str  # what the reason may quote: a read paper's title, or "your interests"
    vector: np.ndarray
    weight: float = 1.0  # recency and rating; negatives are separate
    kind: str = "read"  # read | interests


@dataclass
class Profile:
    items: list[ProfileItem]
    negatives: list[np.ndarray] = field(default_factory=list)
    home_fields: set[str] = field(default_factory=set)  # fields/categories the user usually reads
    beta: float = 0.2  # the deployment default (GLEAN_RANK_BETA), measured in BENCHMARKS.md


@dataclass
class Candidate:
    paper_id: str
    title: str
    year: int | None
    vector: np.ndarray
    field: str | None  # a readable field (feed field, or the category's field)
    category: str | None
    pool: str  # new | classic | cross-field
    trend: float = 0.0  # percentile of trendiness among recent papers, 0–1
    trend_neighbours: int = 0  # near neighbours in the trend window
    echo: str | None = None  # label of a trending cluster this paper is close to (for classics)


@dataclass
class RankParams:
    mmr_lambda: float = 0.7
    old_bonus: float = 0.05
    cross_bonus: float = 0.05
    min_old: int = 1
    min_cross: int = 1
    quota_relevance: float = 0.25
    max_old_share: float = 0.3  # classics season a digest; they do not take it over
    window_days: int = 30


@dataclass
class Pick:
    paper_id: str
    title: str
    year: int | None
    score: float
    relevance: float
    trend: float
    parts: dict
    reason: str
    pool: str


def relevance(profile: Profile, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate: similarity to the closest profile item (weighted), and which item it was."""
    if not profile.items:
        return np.zeros(len(vectors)), np.full(len(vectors), -1)
    matrix = np.stack([i.vector for i in profile.items])
    weights = np.array([i.weight for i in profile.items])
    sims = vectors @ matrix.T  # candidates × items
    # A weak or old read still counts, but less: 0.7 + 0.3·weight, weight in (0, 1].
    weighted = sims * (0.7 + 0.3 * np.clip(weights, 0, 1))
    best = weighted.argmax(axis=1)
    rel = weighted[np.arange(len(vectors)), best]
    if profile.negatives:
        neg = (vectors @ np.stack(profile.negatives).T).max(axis=1)
        rel = rel - 0.5 * np.clip(neg - 0.3, 0, None)  # only close "not for me" papers push down
    return rel, best


@dataclass
class Scored:
    """Score parts of every candidate, as arrays (one row per candidate)."""

    relevance: np.ndarray
    nearest: np.ndarray  # index of the closest profile item, -1 when there is none
    trend_penalty: np.ndarray
    old_bonus: np.ndarray
    cross_bonus: np.ndarray
    is_old: np.ndarray
    is_cross: np.ndarray

    @cached_property
    def score(self) -> np.ndarray:
        return self.relevance + self.trend_penalty + self.old_bonus + self.cross_bonus

    def parts(self, i: int, profile: Profile) -> dict:
        """The parts of candidate ``i`` as the picks show them."""
        b = int(self.nearest[i])
        return {"relevance": float(self.relevance[i]), "trend_penalty": float(self.trend_penalty[i]),
                "old_bonus": float(self.old_bonus[i]), "cross_field_bonus": float(self.cross_bonus[i]),
                "score": float(self.score[i]),
                "nearest": profile.items[b].label if b >= 0 else None,
                "nearest_kind": profile.items[b].kind if b >= 0 else None,
                "is_old": bool(self.is_old[i]), "is_cross": bool(self.is_cross[i])}


def score_candidates(profile: Profile, candidates: list[Candidate], vectors: np.ndarray,
                     params: RankParams) -> Scored:
    rel, best = relevance(profile, vectors)
    is_old = np.array([c.year is not None and c.year < CLASSIC_BEFORE for c in candidates], dtype=bool)
    home = profile.home_fields
    is_cross = np.array([c.pool == "cross-field" or (bool(home) and c.field not in home and c.category not in home)
                         for c in candidates], dtype=bool)
    trend = np.array([c.trend for c in candidates], dtype=float)
    return Scored(relevance=rel, nearest=best, trend_penalty=-profile.beta * trend,
                  old_bonus=np.where(is_old, params.old_bonus, 0.0),
                  cross_bonus=np.where(is_cross, params.cross_bonus, 0.0), is_old=is_old, is_cross=is_cross)


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, lam: float,
        capped: np.ndarray | None = None, cap: int | None = None) -> list[int]:
    """Greedy Maximal Marginal Relevance: good, and unlike what is already picked.

    At most ``cap`` of the items flagged in ``capped`` are taken.
    """
    open_ = np.ones(len(scores), dtype=bool)
    max_sim = np.zeros(len(scores))  # nothing picked yet: no redundancy
    chosen: list[int] = []
    taken_capped = 0
    while len(chosen) < min(k, len(scores)):
        if capped is not None and cap is not None and taken_capped >= cap:
            open_ &= ~capped
        if not open_.any():
            break
        gains = np.where(open_, lam * scores - (1 - lam) * max_sim, -np.inf)
        pick = int(np.argmax(gains))
        chosen.append(pick)
        open_[pick] = False
        taken_capped += int(capped[pick]) if capped is not None else 0
        similarity = vectors @ vectors[pick]
        max_sim = similarity if len(chosen) == 1 else np.maximum(max_sim, similarity)
    return chosen


def meet_quota(chosen: list[int], flag: np.ndarray, minimum: int, eligible: np.ndarray, scores: np.ndarray,
               keeps=lambda trial: True) -> list[int]:
    """Swap the best eligible flagged candidates in for the lowest-scored unflagged picks until
    ``minimum`` picks carry ``flag``; ``keeps(trial)`` says whether a swap keeps the other rules."""
    chosen = list(chosen)
    for candidate in np.argsort(-scores):
        if int(flag[chosen].sum()) >= minimum:
            break
        if not (flag[candidate] and eligible[candidate]) or candidate in chosen:
            continue
        for drop in sorted((j for j in chosen if not flag[j]), key=lambda j: scores[j]):
            trial = [int(candidate) if j == drop else j for j in chosen]
            if keeps(trial):
                chosen = trial
                break
    return chosen


def reason(c: Candidate, p: dict, window_days: int) -> str:
    """One sentence built from the score parts that made this pick."""
    near = p["nearest"]
    about = ("your interests" if p["nearest_kind"] == "interests"
             else f"“{near}”" if near else "your reading")
    if p["is_old"]:
        if c.echo:
            return f"from {c.year} — echoes this month's burst in {c.echo}; close to {about}"
        return f"a {c.year} classic, close to {about}"
    if p["is_cross"] and c.field:
        return f"from {c.field}, close to {about}"
    if c.trend <= QUIET_PERCENTILE:
        return (f"quiet corner: {c.trend_neighbours} papers near this one in the last {window_days} days; "
                f"close to {about}")
    if c.trend >= HOT_PERCENTILE:
        return f"popular right now ({c.trend_neighbours} similar papers lately), but very close to {about}"
    return f"close to {about}"


def rank(profile: Profile, candidates: list[Candidate], *, limit: int = 10, params: RankParams | None = None,
         vectors: np.ndarray | None = None) -> list[Pick]:
    """The ``limit`` best picks, best first. ``vectors`` (the candidates' vectors stacked, row i for
    candidate i) saves stacking them again when the caller already has the matrix."""
    params = params or RankParams()
    if not candidates or limit <= 0:
        return []
    if vectors is None:
        vectors = np.stack([c.vector for c in candidates])
    scored = score_candidates(profile, candidates, vectors, params)
    scores = scored.score
    is_old = scored.is_old
    max_old = max(params.min_old, int(np.ceil(params.max_old_share * limit)))
    chosen = mmr(scores, vectors, limit, params.mmr_lambda, capped=is_old, cap=max_old)
    relevant = scored.relevance >= params.quota_relevance
    chosen = meet_quota(chosen, is_old, params.min_old, relevant, scores)
    # The cross-field quota must not undo the classics rules: keep at least the classics the
    # list has (up to min_old) and at most max_old of them.
    floor = min(params.min_old, int(is_old[chosen].sum()))
    chosen = meet_quota(chosen, scored.is_cross, params.min_cross, relevant, scores,
                        keeps=lambda trial: floor <= int(is_old[trial].sum()) <= max_old)
    chosen.sort(key=lambda i: -scores[i])
    picks = []
    for i in chosen:
        parts = scored.parts(i, profile)
        c = candidates[i]
        picks.append(Pick(paper_id=c.paper_id, title=c.title, year=c.year, score=round(float(scores[i]), 4),
                          relevance=round(parts["relevance"], 4), trend=round(c.trend, 4),
                          parts={k: round(v, 4) for k, v in parts.items() if isinstance(v, float)},
                          reason=reason(c, parts, params.window_days), pool=c.pool))
    return picks
