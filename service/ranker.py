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


def score_parts(profile: Profile, candidates: list[Candidate], params: RankParams) -> list[dict]:
    rel, best = relevance(profile, np.stack([c.vector for c in candidates]))
    parts = []
    for c, r, b in zip(candidates, rel, best):
        is_old = c.year is not None and c.year < CLASSIC_BEFORE
        is_cross = c.pool == "cross-field" or (
            bool(profile.home_fields) and not ({c.field, c.category} & profile.home_fields))
        part = {"relevance": float(r), "trend_penalty": -profile.beta * c.trend,
                "old_bonus": params.old_bonus if is_old else 0.0,
                "cross_field_bonus": params.cross_bonus if is_cross else 0.0,
                "nearest": profile.items[b].label if b >= 0 else None,
                "nearest_kind": profile.items[b].kind if b >= 0 else None,
                "is_old": is_old, "is_cross": is_cross}
        part["score"] = part["relevance"] + part["trend_penalty"] + part["old_bonus"] + part["cross_field_bonus"]
        parts.append(part)
    return parts


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, lam: float,
        capped: np.ndarray | None = None, cap: int | None = None) -> list[int]:
    """Greedy Maximal Marginal Relevance: good, and unlike what is already picked.

    At most ``cap`` of the items flagged in ``capped`` are taken.
    """
    chosen: list[int] = []
    remaining = list(np.argsort(-scores))
    max_sim = np.full(len(scores), -1.0)
    taken_capped = 0
    while remaining and len(chosen) < k:
        if capped is not None and cap is not None and taken_capped >= cap:
            remaining = [i for i in remaining if not capped[i]]
            if not remaining:
                break
        gains = [lam * scores[i] - (1 - lam) * (max_sim[i] if chosen else 0.0) for i in remaining]
        pick = remaining.pop(int(np.argmax(gains)))
        chosen.append(pick)
        taken_capped += int(capped[pick]) if capped is not None else 0
        max_sim = np.maximum(max_sim, vectors @ vectors[pick])
    return chosen


def _apply_quota(chosen: list[int], parts: list[dict], flag: str, minimum: int, min_rel: float,
                 protected: set[int]) -> list[int]:
    have = sum(parts[i][flag] for i in chosen)
    eligible = [i for i in np.argsort([-p["score"] for p in parts])
                if parts[i][flag] and parts[i]["relevance"] >= min_rel and i not in chosen]
    for candidate in eligible[:max(0, minimum - have)]:
        # Replace the weakest pick that does not itself fill a quota.
        replaceable = [i for i in reversed(chosen) if not parts[i][flag] and i not in protected]
        if not replaceable:
            break
        chosen[chosen.index(replaceable[0])] = int(candidate)
        protected.add(int(candidate))
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


def rank(profile: Profile, candidates: list[Candidate], *, limit: int = 10,
         params: RankParams | None = None) -> list[Pick]:
    params = params or RankParams()
    if not candidates or limit <= 0:
        return []
    parts = score_parts(profile, candidates, params)
    scores = np.array([p["score"] for p in parts])
    vectors = np.stack([c.vector for c in candidates])
    max_old = max(params.min_old, int(np.ceil(params.max_old_share * limit)))
    chosen = mmr(scores, vectors, limit, params.mmr_lambda, capped=np.array([p["is_old"] for p in parts]),
                 cap=max_old)
    protected: set[int] = set()
    chosen = _apply_quota(chosen, parts, "is_old", params.min_old, params.quota_relevance, protected)
    chosen = _apply_quota(chosen, parts, "is_cross", params.min_cross, params.quota_relevance, protected)
    chosen.sort(key=lambda i: -scores[i])
    return [Pick(paper_id=candidates[i].paper_id, title=candidates[i].title, year=candidates[i].year,
                 score=round(float(scores[i]), 4), relevance=round(parts[i]["relevance"], 4),
                 trend=round(candidates[i].trend, 4),
                 parts={k: round(v, 4) for k, v in parts[i].items() if isinstance(v, float)},
                 reason=reason(candidates[i], parts[i], params.window_days), pool=candidates[i].pool)
            for i in chosen]
