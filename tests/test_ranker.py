"""The ranker on small constructed cases, and trend scoring on constructed bursts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from pipelines.trend import burst_scores, title_label, trending_clusters
from service.ranker import Candidate, Profile, ProfileItem, RankParams, rank

DIM = 16
rng = np.random.default_rng(7)


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def around(centre, noise=0.15):
    return unit(centre + noise * rng.standard_normal(DIM))


TOPIC = unit(rng.standard_normal(DIM))
OTHER = unit(rng.standard_normal(DIM))


def cand(pid, vector, *, year=2026, pool="new", trend=0.0, field="Computer science", category="cs.LG",
         neighbours=0, echo=None):
    return Candidate(pid, f"title {pid}", year, vector, field, category, pool, trend, neighbours, echo)


def profile(beta=0.5):
    return Profile(items=[ProfileItem("A paper I loved", around(TOPIC, 0.05), 1.0)],
                   home_fields={"Computer science", "cs.LG"}, beta=beta)


def test_a_burst_cluster_is_pushed_down():
    hot = [cand(f"hot{i}", around(TOPIC, 0.2), trend=0.95, neighbours=40) for i in range(5)]
    quiet = [cand(f"quiet{i}", around(TOPIC, 0.25), trend=0.1, neighbours=1) for i in range(5)]
    picks = rank(profile(beta=1.0), hot + quiet, limit=5, params=RankParams(min_old=0, min_cross=0))
    assert sum(p.paper_id.startswith("quiet") for p in picks) >= 4
    # With the dial at zero, relevance alone decides and the hot ones come back.
    neutral = rank(profile(beta=0.0), hot + quiet, limit=5, params=RankParams(min_old=0, min_cross=0, mmr_lambda=1.0))
    assert sum(p.paper_id.startswith("hot") for p in neutral) >= 2


def test_an_old_relevant_paper_gets_in_with_its_reason():
    new = [cand(f"new{i}", around(TOPIC, 0.1)) for i in range(8)]
    old = cand("lstm1997", around(TOPIC, 0.4), year=1997, pool="classic", echo="recurrent memory (37 papers)")
    picks = rank(profile(), new + [old], limit=5)
    chosen = {p.paper_id: p for p in picks}
    assert "lstm1997" in chosen
    assert chosen["lstm1997"].reason.startswith("from 1997 — echoes this month's burst in recurrent memory")
    assert chosen["lstm1997"].parts["old_bonus"] > 0


def test_an_irrelevant_old_paper_does_not_fill_the_quota():
    new = [cand(f"new{i}", around(TOPIC, 0.1)) for i in range(8)]
    old = cand("unrelated", around(-TOPIC, 0.1), year=1950, pool="classic")
    assert "unrelated" not in {p.paper_id for p in rank(profile(), new + [old], limit=5)}


def test_cross_field_quota_and_reason():
    new = [cand(f"new{i}", around(TOPIC, 0.1)) for i in range(8)]
    neuro = cand("neuro", around(TOPIC, 0.5), pool="cross-field", field="neuroscience", category=None)
    picks = {p.paper_id: p for p in rank(profile(), new + [neuro], limit=4)}
    assert "neuro" in picks
    assert picks["neuro"].reason == "from neuroscience, close to “A paper I loved”"


def test_reasons_match_score_parts():
    quiet = cand("quiet", around(TOPIC, 0.1), trend=0.05, neighbours=2)
    hot = cand("hot", around(TOPIC, 0.05), trend=0.99, neighbours=55)
    picks = {p.paper_id: p for p in rank(profile(beta=0.1), [quiet, hot], limit=2,
                                         params=RankParams(min_old=0, min_cross=0))}
    assert picks["quiet"].reason.startswith("quiet corner: 2 papers near this one in the last 30 days")
    assert picks["hot"].reason.startswith("popular right now (55 similar papers lately)")
    for p in picks.values():
        parts = p.parts
        assert abs(p.score - (parts["relevance"] + parts["trend_penalty"] + parts["old_bonus"]
                              + parts["cross_field_bonus"])) < 1e-3
        assert parts["trend_penalty"] == -0.1 * p.trend or abs(parts["trend_penalty"] + 0.1 * p.trend) < 1e-3


def test_mmr_spreads_the_list():
    twins = [cand(f"twin{i}", around(TOPIC, 0.01)) for i in range(5)]
    other = [cand("other", around(unit(TOPIC + OTHER), 0.05))]
    picks = rank(profile(), twins + other, limit=3, params=RankParams(min_old=0, min_cross=0, mmr_lambda=0.3))
    assert "other" in {p.paper_id for p in picks}


def test_classics_never_take_over():
    old = [cand(f"old{i}", around(TOPIC, 0.05), year=1990, pool="classic") for i in range(10)]
    new = [cand(f"new{i}", around(TOPIC, 0.3)) for i in range(10)]
    picks = rank(profile(), old + new, limit=10)
    assert sum(p.year < 2010 for p in picks) == 3


def test_the_cross_field_quota_never_evicts_the_only_classic():
    # By score alone the list is new0, new1 and the classic; the cross-field quota then needs a slot.
    new = [cand(f"new{i}", around(TOPIC, 0.02)) for i in range(2)]
    old = cand("old", around(TOPIC, 0.3), year=1991, pool="classic")
    neuro = cand("neuro", around(TOPIC, 0.45), pool="cross-field", field="neuroscience", category=None)
    pure_score = RankParams(mmr_lambda=1.0)
    assert [p.paper_id for p in rank(profile(), new + [old, neuro], limit=3,
                                     params=RankParams(mmr_lambda=1.0, min_cross=0))][2] == "old"
    ids = {p.paper_id for p in rank(profile(), new + [old, neuro], limit=3, params=pure_score)}
    assert ids == {"new0", "old", "neuro"} or ids == {"new1", "old", "neuro"}


def test_the_cross_field_quota_keeps_the_classics_cap():
    # Three classics already fill the cap (30 % of 10); the only cross-field candidate is a classic too.
    old = [cand(f"old{i}", around(TOPIC, 0.05), year=1990, pool="classic") for i in range(3)]
    new = [cand(f"new{i}", around(TOPIC, 0.1)) for i in range(10)]
    old_cross = cand("old-neuro", around(TOPIC, 0.2), year=1985, pool="cross-field", field="neuroscience",
                     category=None)
    picks = rank(profile(), old + new + [old_cross], limit=10)
    assert sum(p.year < 2010 for p in picks) <= 3
    # It may come in only in place of another classic, never on top of them.
    assert len(picks) == 10


def test_a_quota_replaces_the_lowest_scored_pick_not_the_last_chosen():
    e = np.eye(DIM, dtype=np.float32)
    me = Profile(items=[ProfileItem("A paper I loved", e[0], 1.0)], home_fields={"Computer science", "cs.LG"})
    twins = [cand(f"twin{i}", unit(e[0] + 0.3 * e[3] + 0.01 * e[5 + i])) for i in range(3)]  # relevance .96
    diverse = cand("diverse", unit(e[0] + 0.5 * e[2]))  # relevance .89, unlike the twins: MMR takes it second
    neuro = cand("neuro", unit(0.4 * e[0] + e[3]), pool="cross-field", field="neuroscience", category=None)
    plain = rank(me, twins + [diverse, neuro], limit=4, params=RankParams(min_old=0, min_cross=0, mmr_lambda=0.5))
    assert {p.paper_id for p in plain} == {"twin0", "twin1", "twin2", "diverse"}
    assert min(plain, key=lambda p: p.score).paper_id == "diverse"
    picks = rank(me, twins + [diverse, neuro], limit=4, params=RankParams(min_old=0, mmr_lambda=0.5))
    assert {p.paper_id for p in picks} == {"twin0", "twin1", "twin2", "neuro"}


def test_precomputed_vectors_give_the_same_picks():
    cands = [cand(f"c{i}", around(TOPIC, 0.3), trend=i / 20) for i in range(20)]
    matrix = np.stack([c.vector for c in cands])
    me = profile()
    assert [p.paper_id for p in rank(me, cands, limit=5)] == [p.paper_id for p in rank(me, cands, limit=5, vectors=matrix)]


def test_burst_scores_find_the_crowded_neighbourhood():
    now = datetime(2026, 11, 29, tzinfo=timezone.utc)
    ids, vectors, dates, cats = [], [], [], []
    # A topic that was steady all year (one paper a week) and one that exploded this month.
    for week in range(52):
        ids.append(f"steady{week}")
        vectors.append(around(OTHER, 0.05))
        dates.append(now - timedelta(days=7 * week + 1))
        cats.append("cs.DB")
    for i in range(30):
        ids.append(f"burst{i}")
        vectors.append(around(TOPIC, 0.05))
        dates.append(now - timedelta(days=i % 20 + 1))
        cats.append("cs.LG")
    bursts = {b.paper_id: b for b in burst_scores(ids, np.stack(vectors), dates, cats, now, window_days=30, rho=0.8)}
    assert "steady10" not in bursts  # older than the window: history only
    assert bursts["burst0"].score > 5 > bursts["steady0"].score
    assert bursts["burst0"].recent == 29 and bursts["burst0"].expected == 0
    clusters = trending_clusters(list(bursts.values()), dict(zip(ids, vectors)),
                                 {i: ("Sparse expert routing at scale" if i.startswith("burst") else "Indexes")
                                  for i in ids}, rho=0.8, top=3)
    assert clusters[0].size == 30 and clusters[0].label.startswith("sparse expert routing")


def test_title_label():
    assert title_label(["Mixture of experts routing", "Sparse experts for routing", "Routing experts"]) == \
        "experts routing mixture"
    assert title_label([]) == "mixed topics"
