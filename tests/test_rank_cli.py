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


def seed(store):
    papers = []
    for i, title in enumerate(BURST):
        papers.append(Paper(id=f"arxiv:2611.{i:05d}", title=title, source="arxiv", abstract=title,
                            published=(NOW - timedelta(days=i % 5 + 1)).isoformat(), year=NOW.year,
                            primary_category="cs.LG", categories=["cs.LG"]))
    for i, title in enumerate(QUIET):
        papers.append(Paper(id=f"arxiv:2611.{100 + i:05d}", title=title, source="arxiv", abstract=title,
                            published=(NOW - timedelta(days=2)).isoformat(), year=NOW.year,
                            primary_category="cs.LO", categories=["cs.LO"]))
    papers.append(Paper(id="doi:10.1162/neco.1991.3.1.79", title="Adaptive mixtures of local experts",
                        source="canon", year=1991, venue="Neural Computation", field="machine learning",
                        is_classic=True, primary_category="cs.LG"))
    papers.append(Paper(id="url:neuro", title="Gating of neural activity by competing expert populations in cortex",
                        source="feed:eLife", abstract="Cortical circuits route signals to specialised populations.",
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
    assert trend["scored"] == 10
    top = trend["clusters"][0]
    assert top["size"] >= 4 and ("experts" in top["label"] or "routing" in top["label"])

    assert main(["rank", "ada@example.org", "--limit", "5", "--json"], env=env) == 0
    ranked = json.loads(capsys.readouterr().out)
    items = {i["paper_id"]: i for i in ranked["items"]}
    assert ranked["user"] == user.id and len(items) == 5
    for item in ranked["items"]:
        assert {"paper_id", "title", "year", "score", "relevance", "trend", "reason"} <= set(item)
    classic = items["doi:10.1162/neco.1991.3.1.79"]
    assert classic["reason"].startswith("from 1991 — echoes this month's burst in")
    assert items["url:neuro"]["reason"].startswith("from neuroscience, close to")

    # The anti-trending dial: at full strength the burst papers fall, at zero they rise.
    strong = store.update_user(user.id, anti_trend=3.0)
    main(["rank", str(strong.id), "--limit", "5", "--json"], env=env)
    hot_strong = sum(i["paper_id"].startswith("arxiv:2611.0000") for i in json.loads(capsys.readouterr().out)["items"])
    store.update_user(user.id, anti_trend=0.0)
    main(["rank", str(strong.id), "--limit", "5", "--json"], env=env)
    hot_none = sum(i["paper_id"].startswith("arxiv:2611.0000") for i in json.loads(capsys.readouterr().out)["items"])
    assert hot_strong < hot_none


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
        assert len(picks["items"]) == 3 and all(i["reason"] for i in picks["items"])
        assert client.get(f"/api/users/{other.id}/picks", headers=headers).status_code == 404
        trend = client.get("/api/trend").json()
        assert trend["scored"] == 10 and "clusters" in trend
