"""The ranker on small constructed cases: the floor, true reasons, bridges, the old-share cap.

Each reason kind has a case where a careless ranker would make a false claim; every
test also runs :func:`service.ranker.false_claims` over the picks it gets.
"""

from __future__ import annotations

import numpy as np
import pytest

from service.ranker import (
    Candidate,
    ClusterRef,
    Profile,
    ProfileItem,
    RankParams,
    false_claims,
    rank,
    reader_centre,
    reader_floor,
)

DIM = 16
E = np.eye(DIM, dtype=np.float32)
NO_QUOTAS = RankParams(min_old=0, min_cross=0)
READ_TEXT = "Sparse mixture of experts with learned routing for language modelling"


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def at(cos: float, axis: int = 1) -> np.ndarray:
    """A vector at exactly ``cos`` to E[0], leaning towards ``axis``."""
    return unit(cos * E[0] + np.sqrt(1 - cos ** 2) * E[axis])


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def cand(pid, vector, *, year=2026, pool="new", text=None, field="Computer science", subfield="Machine learning",
         classic=False, cluster=None, neighbours=None, echo=None):
    return Candidate(paper_id=pid, title=f"title {pid}", year=year, vector=vector, field=field, category="cs.LG",
                     pool=pool, text=text if text is not None else f"title {pid}. {READ_TEXT}", subfield=subfield,
                     classic=classic, trend=1.0 if cluster else 0.0, cluster=cluster, neighbours=neighbours,
                     echo=echo)


def profile(*, beta=0.2, floor=0.4, items=None):
    items = items or [ProfileItem("A paper I loved", E[0], 1.0, paper_id="arxiv:1", text=READ_TEXT)]
    return Profile(items=items, subfield_shares={"Machine learning": 1.0}, field_shares={"computer science": 1.0},
                   beta=beta, floor=floor)


def checked(picks, cands, me, bursting=None):
    by_id = {c.paper_id: c for c in cands}
    for p in picks:
        assert false_claims(p, by_id[p.paper_id], me, bursting=bursting) == [], p.reason
    return {p.paper_id: p for p in picks}


# -- the floor -----------------------------------------------------------------------------------------


def test_nothing_below_the_floor_is_picked_and_the_list_may_be_short():
    cands = [cand("close", at(0.8)), cand("fair", at(0.45, 2)), cand("filler", at(0.3, 3)), cand("noise", at(0.1, 4))]
    me = profile(floor=0.4)
    picks = checked(rank(me, cands, limit=8, params=NO_QUOTAS), cands, me)
    assert set(picks) == {"close", "fair"}


def test_the_reader_floor_follows_how_close_their_own_reads_are(rng):
    tight = np.stack([unit(E[0] + 0.2 * rng.standard_normal(DIM)) for _ in range(10)])
    scattered = np.stack([unit(rng.standard_normal(DIM)) for _ in range(10)])
    assert reader_floor(scattered, 0.4) == 0.4  # spread-out reading: the absolute floor
    assert 0.4 < reader_floor(tight, 0.4) <= 0.6  # close reads: a higher floor, capped
    assert reader_floor(tight[:2], 0.4) == 0.4  # too few reads to say


def test_a_pick_must_sit_near_the_centre_of_the_reading():
    core = [ProfileItem(f"Core {k}", unit(E[0] + 0.3 * E[5 + k]), 1.0, paper_id=f"arxiv:{k}", text=READ_TEXT)
            for k in range(5)]
    side = ProfileItem("Side interest", E[4], 1.0, paper_id="arxiv:9", text="Side topic")
    vectors = np.stack([i.vector for i in core + [side]])
    centre, bar = reader_centre(vectors, quantile=0.4)
    me = profile(items=core + [side])
    me.centre, me.centre_floor = centre, bar
    by_side = cand("by-side", unit(E[4] + 0.2 * E[12]), text="x")  # very close to the side read only
    by_core = cand("by-core", unit(E[0] + 0.2 * E[13]), text="y")
    assert {p.paper_id for p in rank(me, [by_side, by_core], limit=8, params=NO_QUOTAS)} == {"by-core"}
    assert reader_centre(vectors[:4])[0] is None  # too few reads to say where the centre is


def test_quotas_apply_only_among_papers_that_clear_the_floor():
    new = [cand(f"new{i}", at(0.9 - 0.01 * i, 2 + i)) for i in range(4)]
    weak_old = cand("old", at(0.3, 9), year=1991, pool="classic", classic=True)
    assert "old" not in {p.paper_id for p in rank(profile(), new + [weak_old], limit=5)}


# -- reasons that are true ----------------------------------------------------------------------------


def test_close_to_names_the_read_that_really_is_nearest():
    # Weighted by recency the old read wins; by cosine the other one is nearer: the reason names that one.
    items = [ProfileItem("Recent read", E[0], 1.0, paper_id="arxiv:1", text=READ_TEXT),
             ProfileItem("Old read", unit(E[0] + E[1]), 0.05, paper_id="arxiv:2", text="Old read on routing")]
    me = profile(items=items)
    c = cand("x", unit(0.8 * E[0] + 1.0 * E[1]))
    pick = checked(rank(me, [c], limit=1, params=NO_QUOTAS), [c], me)["x"]
    assert pick.claims["nearest"] == "Old read" and "“Old read”" in pick.reason


def test_close_to_says_what_links_the_two_texts():
    c = cand("x", at(0.8), text="Routing tokens in a sparse mixture of experts at scale")
    me = profile()
    pick = checked(rank(me, [c], limit=1, params=NO_QUOTAS), [c], me)["x"]
    assert pick.reason == "Close to “A paper I loved” — both on sparse mixture of experts"


def test_false_claims_catches_a_reason_that_says_more_than_the_data():
    c = cand("x", at(0.8), text="Routing tokens in a sparse mixture of experts")
    me = profile()
    pick = rank(me, [c], limit=1, params=NO_QUOTAS)[0]
    for tamper, expected in [({"nearest": "Some other paper"}, "nearest"), ({"shared": ["graph kernels"]}, "shared"),
                             ({"kind": "classic", "year": 2026}, "classic"),
                             ({"kind": "popular", "cluster": 3}, "popular"),
                             ({"kind": "quiet", "neighbours": 0}, "quiet"),
                             ({"kind": "cross-field", "field": "Computer science"}, "cross-field"),
                             ({"echo": {"cluster": 3}}, "echo")]:
        bad = type(pick)(**{**pick.__dict__, "claims": {**pick.claims, **tamper}})
        assert any(w.startswith(expected) for w in false_claims(bad, c, me)), tamper
    below = profile(floor=0.9)
    assert any(w.startswith("close") for w in false_claims(pick, c, below))


def test_popular_only_inside_a_cluster_that_passed_the_burst_test():
    burst = ClusterRef(3, "sparse expert routing", observed=40, expected=4.2)
    hot = cand("hot", at(0.85, 2), cluster=burst, neighbours=40)
    crowded = cand("crowded", at(0.84, 3), neighbours=35)  # many neighbours, but no significant burst
    me = profile(beta=0.1)
    picks = checked(rank(me, [hot, crowded], limit=2, params=NO_QUOTAS), [hot, crowded], me,
                    bursting={3: {"hot"}})
    assert picks["hot"].reason.startswith("popular right now: one of 40 papers this month on sparse expert routing "
                                          "(4.2 expected)")
    assert picks["hot"].parts["trend_penalty"] == -0.1
    assert picks["crowded"].parts["trend_penalty"] == 0  # no penalty below significance
    assert "popular" not in picks["crowded"].reason and "quiet" not in picks["crowded"].reason


def test_a_bursting_paper_must_clear_the_floor_by_beta():
    burst = ClusterRef(3, "sparse expert routing", observed=40, expected=4.2)
    near = cand("near", at(0.8, 2), cluster=burst)
    fair = cand("fair", at(0.55, 3), cluster=burst)  # clears the floor, but not the floor + β
    me = profile(beta=0.2, floor=0.45)
    picks = checked(rank(me, [near, fair], limit=8, params=NO_QUOTAS), [near, fair], me, bursting={3: {"near", "fair"}})
    assert set(picks) == {"near"}
    assert {p.paper_id for p in rank(profile(beta=0.0, floor=0.45), [near, fair], limit=8, params=NO_QUOTAS)} == \
        {"near", "fair"}  # with the dial at zero, the floor alone decides


def test_quiet_corner_only_with_few_stored_neighbours():
    quiet = cand("quiet", at(0.8, 2), neighbours=1)
    me = profile()
    pick = checked(rank(me, [quiet], limit=1, params=NO_QUOTAS), [quiet], me)["quiet"]
    assert pick.reason.startswith("quiet corner: 1 paper near this one in the last 30 days")


def test_classic_only_for_the_canon_other_old_papers_are_from_their_year():
    canon = cand("lstm", at(0.8, 2), year=1997, pool="classic", classic=True)
    preprint = cand("hepth", at(0.79, 3), year=1994, pool="classic")
    new = [cand(f"new{i}", at(0.7, 4 + i)) for i in range(8)]
    me = profile()
    params = RankParams(min_cross=0, max_old_share=0.5)
    picks = checked(rank(me, [canon, preprint] + new, limit=6, params=params), [canon, preprint] + new, me)
    assert picks["lstm"].reason.startswith("a 1997 classic")
    assert picks["hepth"].reason.startswith("from 1994;")


def test_an_echo_is_claimed_only_for_a_bursting_cluster():
    burst = ClusterRef(5, "recurrent memory", observed=37, expected=6.0)
    old = cand("lstm", at(0.8, 2), year=1997, pool="classic", classic=True, echo=burst)
    new = [cand(f"new{i}", at(0.7, 3 + i)) for i in range(6)]
    me = profile()
    picks = checked(rank(me, [old] + new, limit=4, params=RankParams(min_cross=0)), [old] + new, me,
                    bursting={5: {"someone"}})
    assert picks["lstm"].reason.startswith("a 1997 classic — echoes this month's burst in recurrent memory "
                                           "(37 papers, 6.0 expected)")
    assert picks["lstm"].parts["old_bonus"] > 0
    assert false_claims(picks["lstm"], old, me, bursting={})  # had the cluster not passed, the claim is false


# -- cross-field needs a bridge ------------------------------------------------------------------------


def test_cross_field_needs_a_shared_concept_with_a_read():
    new = [cand(f"new{i}", at(0.9, 2 + i)) for i in range(6)]
    bridged = cand("neuro", at(0.6, 9), pool="cross-field", field="neuroscience", subfield=None,
                   text="Sparse mixture of experts in cortical circuits")
    coincidence = cand("chem", at(0.62, 10), pool="cross-field", field="chemistry", subfield=None,
                       text="Reaction kinetics of routing catalysts")  # one shared word: not an idea
    me = profile()
    picks = checked(rank(me, new + [bridged, coincidence], limit=4), new + [bridged, coincidence], me)
    assert "chem" not in picks
    assert picks["neuro"].reason.startswith("from neuroscience, a field new to your reading; close to "
                                            "“A paper I loved” — both on sparse mixture of experts")
    assert picks["neuro"].parts["cross_field_bonus"] > 0


def test_a_field_the_reader_reads_is_not_cross_field():
    stats = cand("stats", at(0.7, 2), field="Statistics", subfield="Methodology",
                 text="Sparse mixture of experts for Bayesian regression")
    me = profile()
    me.subfield_shares = {"Machine learning": 0.8, "Methodology": 0.2}
    pick = checked(rank(me, [stats], limit=1), [stats], me)["stats"]
    assert pick.parts["cross_field_bonus"] == 0 and not pick.reason.startswith("from Statistics")


def test_a_pick_with_one_read_behind_it_must_share_a_term_with_it():
    items = [ProfileItem(f"Read {k}", E[k], 1.0, paper_id=f"arxiv:{k}", text=f"Topic {k}") for k in range(3)]
    items[0].text = READ_TEXT
    me = profile(items=items)
    linked = cand("linked", unit(E[0] + 0.5 * E[9]))  # shares "sparse mixture of experts" with Read 0
    mute = cand("mute", unit(E[0] + 0.5 * E[10]), text="Question answering over tables")  # nothing shared
    assert set(checked(rank(me, [linked, mute], limit=8, params=NO_QUOTAS), [linked, mute], me)) == {"linked"}


def test_an_old_paper_needs_two_reads_behind_it():
    items = [ProfileItem(f"Read {k}", unit(E[0] + 0.2 * E[5 + k]), 1.0, paper_id=f"arxiv:{k}", text=READ_TEXT)
             for k in range(3)] + [ProfileItem("Side interest", E[4], 1.0, paper_id="arxiv:9", text="Side topic")]
    me = profile(items=items)
    side_old = cand("side-old", unit(E[4] + 0.3 * E[12]), year=1994, pool="classic")  # near one side read only
    core_old = cand("core-old", unit(E[0] + 0.3 * E[13]), year=1997, pool="classic")  # near the core
    picks = checked(rank(me, [side_old, core_old], limit=8, params=RankParams(min_cross=0, max_old_share=1.0)),
                    [side_old, core_old], me)
    assert set(picks) == {"core-old"}


def test_no_single_read_fills_the_list():
    items = [ProfileItem("Main read", E[0], 1.0, paper_id="arxiv:1", text=READ_TEXT),
             ProfileItem("Other read", E[1], 1.0, paper_id="arxiv:2", text="Spectral graph wavelets"),
             ProfileItem("Third read", E[2], 1.0, paper_id="arxiv:3", text="Third topic")]
    me = profile(items=items)
    cands = [cand(f"main{i}", unit(E[0] + 0.4 * E[3 + i])) for i in range(6)] + \
            [cand("other", unit(E[1] + 0.5 * E[10]), text="Spectral graph wavelets on manifolds")]
    picks = rank(me, cands, limit=5, params=NO_QUOTAS)
    assert sum(p.claims["nearest"] == "Main read" for p in picks) == 2 and "other" in {p.paper_id for p in picks}


# -- the list as a whole --------------------------------------------------------------------------------


def test_the_old_share_means_what_it_says():
    old = [cand(f"old{i}", at(0.9, 2 + i), year=1990, pool="classic") for i in range(6)]
    new = [cand(f"new{i}", at(0.7, 8 + i)) for i in range(6)]
    assert sum(p.year < 2010 for p in rank(profile(), old + new, limit=8)) == 2  # 30 % of 8 is 2, not 3
    assert sum(p.year < 2010 for p in rank(profile(), old + new, limit=3)) == 0  # 30 % of 3 slots is none


def test_mmr_spreads_the_list_but_never_for_a_weaker_paper_that_merely_differs():
    twins = [cand(f"twin{i}", unit(E[0] + 0.3 * E[2] + 0.01 * E[5 + i])) for i in range(4)]
    other = cand("other", unit(E[0] + 0.5 * E[3]))
    weak = cand("weak", at(0.45, 4))
    picks = rank(profile(), twins + [other, weak], limit=3, params=NO_QUOTAS)
    ids = [p.paper_id for p in picks]
    assert "other" in ids and "weak" not in ids


def test_score_parts_add_up():
    cands = [cand(f"c{i}", at(0.5 + 0.02 * i, 2 + i % 10)) for i in range(20)]
    for p in rank(profile(), cands, limit=8):
        parts = p.parts
        assert abs(p.score - (parts["relevance"] + parts["trend_penalty"] + parts["old_bonus"]
                              + parts["cross_field_bonus"])) < 1e-3


def test_precomputed_vectors_give_the_same_picks():
    cands = [cand(f"c{i}", at(0.5 + 0.02 * i, 2 + i % 10)) for i in range(20)]
    matrix = np.stack([c.vector for c in cands])
    me = profile()
    assert [p.paper_id for p in rank(me, cands, limit=5)] == [p.paper_id for p in rank(me, cands, limit=5, vectors=matrix)]


def test_no_profile_no_picks():
    assert rank(Profile(items=[]), [cand("x", at(0.9))], limit=5) == []
