"""trend and rank through the CLI, on a small store embedded with the real model."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from pipelines.index_stage import index_pending
from pipelines.records import Paper
from service.accounts import create_user
from service.cli import main

pytestmark = pytest.mark.slow

NOW = datetime.now(timezone.utc)
BURST = ["Sparse mixture-of-experts routing for large language models",
         "Load balancing in sparse expert routing", "Expert routing with top-k gating at scale",
         "Efficient sparse mixture of experts inference", "Routing tokens to experts: a sparse MoE study",
         "Scaling sparse expert models with better routing"]
QUIET = ["Formal verification of distributed consensus protocols",
         "A type system for differential privacy", "Cache-oblivious algorithms for string matching"]
# The year before the window: many topics, a steady trickle of each, one of them on experts.
HISTORY = ["Query optimisation for column stores", "Garbage collection pauses in managed runtimes",
           "Register allocation by graph colouring", "Lock-free queues for multicore systems",
           "Model checking of hardware designs", "Static analysis of null pointer dereferences",
           "Program synthesis from input-output examples", "Consensus under Byzantine faults",
           "Compressed suffix arrays for genome indexing", "Energy-aware scheduling in data centres",
           "Gating networks for a mixture of experts", "Differential privacy for location data",
           "Fuzzing network protocol implementations", "Approximate nearest neighbour search with graphs",
           "Type inference for dynamic languages", "Verified compilation of C programs"]


def seed(store):
    """Six papers on sparse expert routing this week, from six author groups, against a year in which
    the topic came up once: a burst the test can confirm. Plus quiet papers, a canon classic and a
    neuroscience feed item that shares a concept with the reader's interests."""
    papers = []
    for i, title in enumerate(BURST):
        papers.append(Paper(id=f"arxiv:2611.{i:05d}", title=title, source="arxiv", abstract=title,
                            published=(NOW - timedelta(days=i % 5 + 1)).isoformat(), year=NOW.year,
                            primary_category="cs.LG", categories=["cs.LG"], authors=[f"Ada {'ABCDEF'[i]}lab"]))
    for i, title in enumerate(QUIET):
        papers.append(Paper(id=f"arxiv:2611.{100 + i:05d}", title=title, source="arxiv", abstract=title,
                            published=(NOW - timedelta(days=2)).isoformat(), year=NOW.year,
                            primary_category="cs.LO", categories=["cs.LO"], authors=[f"Bo {'XYZ'[i]}quiet"]))
    for i, title in enumerate(HISTORY):
        papers.append(Paper(id=f"arxiv:2511.{i:05d}", title=title, source="arxiv", abstract=title,
                            published=(NOW - timedelta(days=40 + 20 * i)).isoformat(), year=NOW.year - 1,
                            primary_category="cs.DS", categories=["cs.DS"], authors=["Past Author"]))
    papers.append(Paper(id="doi:10.1162/neco.1991.3.1.79", title="Adaptive mixtures of local experts",
                        source="canon", year=1991, venue="Neural Computation", field="machine learning",
                        is_classic=True, primary_category="cs.LG"))
    papers.append(Paper(id="url:neuro", title="Conditional computation in cortex: a mixture of experts",
                        source="feed:eLife", abstract="Cortical circuits act as a mixture of experts: conditional "
                        "computation routes signals to specialised populations of neurons.",
                        published=(NOW - timedelta(days=3)).isoformat(), year=NOW.year, field="neuroscience"))
    store.upsert_papers(papers)


def test_trend_and_rank(settings, store, capsys):
    seed(store)
    assert index_pending(store, settings).ok
    user, _ = create_user(store, "ada@example.org", interests="mixture of experts and conditional computation",
                          categories=["cs.LG"])
    env = {"GLEAN_HOME": str(settings.home), "GLEAN_TREND_RHO": "0.45"}

    assert main(["trend", "--json"], env=env) == 0
    trend = json.loads(capsys.readouterr().out)
    assert trend["window_papers"] == 10 and trend["history_papers"] == 16 and trend["bursting"] >= 1
    top = trend["clusters"][0]
    assert top["significant"] and top["observed"] >= 4 and top["author_groups"] >= 4
    assert top["expected"] < top["observed"] / 2 and top["p_value"] < 0.01
    assert "expert" in top["label"] or "routing" in top["label"]
    main(["trend"], env=env)
    assert "BURSTING" in capsys.readouterr().out

    assert main(["rank", "ada@example.org", "--limit", "5", "--json"], env=env) == 0
    ranked = json.loads(capsys.readouterr().out)
    items = {i["paper_id"]: i for i in ranked["items"]}
    assert ranked["user"] == user.id and 3 <= len(items) <= 5
    for item in ranked["items"]:
        assert {"paper_id", "title", "year", "score", "relevance", "trend", "reason"} <= set(item)
    classic = items["doi:10.1162/neco.1991.3.1.79"]
    assert classic["reason"].startswith("a 1991 classic — echoes this month's burst in")
    assert items["url:neuro"]["reason"].startswith("from neuroscience, a field new to your reading; close to your "
                                                   "interests — both on mixture of experts")
    for item in ranked["items"]:  # every pick clears the floor, and popular means a bursting cluster
        assert item["claims"]["cosine"] >= item["claims"]["floor"]
        if item["claims"]["kind"] == "popular":
            assert item["paper_id"] in top["paper_ids"]

    # The anti-trending dial: at full strength no burst paper clears the bar, at zero they all compete.
    def hot(anti_trend: float) -> int:
        store.update_user(user.id, anti_trend=anti_trend)
        main(["rank", str(user.id), "--limit", "5", "--json"], env=env)
        return sum(i["paper_id"].startswith("arxiv:2611.0000") for i in json.loads(capsys.readouterr().out)["items"])

    assert hot(3.0) == 0 < 2 <= hot(0.0)


def test_nothing_delivered_or_read_comes_back(settings, store, capsys):
    seed(store)
    index_pending(store, settings)
    user, _ = create_user(store, "ada@example.org", interests="mixture of experts")
    store.record_deliveries(user.id, ["doi:10.1162/neco.1991.3.1.79"], "digest", NOW.date().isoformat())
    store.add_reads(user.id, [("url:neuro", NOW.isoformat())])
    main(["rank", "1", "--json"], env={"GLEAN_HOME": str(settings.home)})
    ids = {i["paper_id"] for i in json.loads(capsys.readouterr().out)["items"]}
    assert "doi:10.1162/neco.1991.3.1.79" not in ids and "url:neuro" not in ids


def test_picks_and_trend_over_the_api(settings, store):
    from fastapi.testclient import TestClient

    from pipelines.trend import compute_trends
    from service.app import create_app

    seed(store)
    index_pending(store, settings)
    compute_trends(store, settings)
    user, token = create_user(store, "ada@example.org", interests="mixture of experts")
    other, _ = create_user(store, "bob@example.org")
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        picks = client.get(f"/api/users/{user.id}/picks", params={"limit": 3}, headers=headers).json()
        assert 1 <= len(picks["items"]) <= 3 and all(i["reason"] for i in picks["items"])
        assert (picks["shortfall"] is None) == (len(picks["items"]) == 3)  # a short list says so
        assert client.get(f"/api/users/{other.id}/picks", headers=headers).status_code == 404
        trend = client.get("/api/trend").json()
        assert trend["window_papers"] == 10 and trend["clusters"] and trend["clusters"][0]["significant"]
