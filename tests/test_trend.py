"""The burst test on constructed histories: what is a trend, and what only looks like one."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from pipelines.trend import BurstRule, author_groups, ctfidf_labels, find_bursts, poisson_sf

DIM = 16
NOW = datetime(2026, 11, 29, tzinfo=timezone.utc)
RULE = BurstRule(rho=0.8, window_days=30)


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def unit(v):
    return (v / np.linalg.norm(v)).astype(np.float32)


def letters(n: int) -> str:
    """A distinct surname per number (author keys ignore digits)."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out += chr(ord("a") + r)
        if not n:
            return out.capitalize()


class History:
    """Papers on topics, each with a date, authors and a title."""

    def __init__(self, rng):
        self.rng = rng
        self.ids, self.vectors, self.dates, self.authors, self.titles = [], [], [], [], []
        self.topics: dict[str, np.ndarray] = {}

    def topic(self, name):
        return self.topics.setdefault(name, unit(self.rng.standard_normal(DIM)))

    def add(self, name, days_ago, *, authors=None, title=None):
        n = len(self.ids)
        self.ids.append(f"{name}{n}")
        self.vectors.append(unit(self.topic(name) + 0.05 * self.rng.standard_normal(DIM)))
        self.dates.append(NOW - timedelta(days=days_ago))
        self.authors.append(authors or [f"Ann {letters(n)}"])  # a different group per paper by default
        self.titles.append(title or f"Paper {n} on {name}")

    def steady(self, name, every_days, *, until_days=395):
        for d in range(1, until_days, every_days):
            self.add(name, d + 0.5)

    def bursts(self, rule=RULE):
        return find_bursts(self.ids, np.stack(self.vectors), self.dates, self.authors, self.titles, NOW, rule)


def test_poisson_tail():
    assert poisson_sf(0, 3.0) == 1.0
    assert math.isclose(poisson_sf(1, 1.0), 1 - math.exp(-1), rel_tol=1e-9)
    assert math.isclose(poisson_sf(3, 2.0), 1 - math.exp(-2) * (1 + 2 + 2), rel_tol=1e-9)
    assert 0 < poisson_sf(40, 2.0) < 1e-20  # far in the tail, no cancellation to zero


def test_a_topic_that_exploded_is_a_burst_and_a_steady_one_is_not(rng):
    h = History(rng)
    h.steady("databases", 3)  # ten a month all year
    h.steady("routing", 30)  # one a month all year ...
    for i in range(25):  # ... then twenty-five this month, from many groups
        h.add("routing", 1 + i, title="Sparse expert routing for language models")
    result = h.bursts()
    by_topic = {c.paper_ids[0].rstrip("0123456789"): c for c in result.clusters}
    burst, steady = by_topic["routing"], by_topic.get("databases")
    assert burst.significant and burst.verdict == "bursting"
    assert burst.observed >= 25 and burst.expected < 5 and burst.groups >= 25
    assert steady is None or not steady.significant
    assert result.member_of[burst.paper_ids[0]] == result.clusters.index(burst)


def test_one_labs_bulk_upload_is_not_a_trend(rng):
    h = History(rng)
    h.steady("databases", 3)
    for i in range(10):  # ten consecutive papers, the same three authors
        h.add("bulk", 2, authors=["Jane Doe", "Wei Zhang", "Ravi Kumar"])
    result = h.bursts()
    bulk = next(c for c in result.clusters if c.paper_ids[0].startswith("bulk"))
    assert bulk.groups == 1 and not bulk.significant and "author group" in bulk.verdict
    assert not result.member_of


def test_growth_with_the_whole_corpus_is_not_a_burst(rng):
    # Everything doubled this month (the corpus grew): the topic kept its share, so no burst.
    h = History(rng)
    for name in ("a", "b", "c", "d"):
        h.steady(name, 6)
        for i in range(10):
            h.add(name, 1 + 2.9 * i)
    result = h.bursts()
    assert result.volume_ratio > 0.15  # far above 30/365: the baseline is scaled by volume, not by days
    assert not any(c.significant for c in result.clusters)


def test_too_small_and_no_history(rng):
    h = History(rng)
    h.steady("databases", 3)
    for i in range(3):
        h.add("tiny", 1 + i)
    tiny = next((c for c in h.bursts().clusters if c.paper_ids[0].startswith("tiny")), None)
    assert tiny is None or not tiny.significant
    fresh = History(rng)
    for i in range(20):
        fresh.add("new", 1 + i)
    result = fresh.bursts()
    assert result.volume_ratio is None and result.clusters == [] and len(result.neighbourhoods) == 20


def test_author_groups():
    assert author_groups([["Jane Doe"], ["J. Doe", "Ann Lee"], ["Ann Lee"], ["Bo Li"]]) == 2
    assert author_groups([["A One"], ["B Two"], ["C Three"]]) == 3


def test_labels_are_phrases_that_set_a_cluster_apart():
    routing = ["Sparse mixture of experts for translation", "Load balancing in sparse mixture of experts",
               "Sparse mixture of experts at scale", "Expert routing with sparse mixture of experts"]
    graphs = ["Graph neural networks for molecules", "Message passing on molecular graphs",
              "Equivariant message passing for molecules"]
    background = ["Language models at scale", "A survey of language models", "Scaling laws for language models"]
    labels = ctfidf_labels([routing, graphs], background)
    assert labels[0][0] == "sparse mixture of experts"
    assert "message passing" in labels[1]
    assert not any("language model" in phrase for phrase in labels[0] + labels[1])


def test_one_topic_is_one_burst_even_when_seeds_split_it():
    # Greedy seeds split the real 2018 speech-synthesis burst into two clusters whose centres nearly
    # coincide; both passed the test. The weaker one is the same burst, not a second trend.
    from pipelines.trend import Cluster, _merge_overlapping

    def cluster(name, centroid, p):
        return Cluster(label=name, phrases=[], observed=30, expected=10.0, p_value=p, groups=15, significant=True,
                       verdict="bursting", centroid=unit(np.asarray(centroid, dtype=np.float32)), paper_ids=[name],
                       examples=[f"{name} example"])

    e = np.eye(DIM)
    speech, speech_too, graphs = cluster("speech", e[0], 1e-7), cluster("speech too", e[0] + 0.3 * e[1], 1e-5), \
        cluster("graphs", e[0] + 1.2 * e[2], 1e-6)
    _merge_overlapping([speech, speech_too, graphs], RULE)
    assert speech.significant and graphs.significant  # cos(speech, graphs) ≈ 0.64: another topic
    assert not speech_too.significant and "same burst" in speech_too.verdict
