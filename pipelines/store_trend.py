"""The store's trend tables: the burst test's clusters and each recent paper's neighbourhood.

A mixin of :class:`pipelines.store.Store`. A daily computation replaces all rows at once,
so readers never see half of one run and half of another.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Cluster:
    """A cluster the burst test tested (pipelines/trend.py), as computed and as stored. Members are
    the window papers at cosine ≥ ρ to the centroid."""

    label: str
    phrases: list[str]
    observed: int
    expected: float
    p_value: float
    groups: int  # independent author groups
    significant: bool
    verdict: str  # "bursting", or why not
    centroid: np.ndarray
    paper_ids: list[str]  # most central first
    examples: list[str]
    id: int = 0  # set by the store
    computed_at: str = ""
    member_titles: list[str] = field(default_factory=list, repr=False)  # for labelling; not stored

    @property
    def size(self) -> int:
        return self.observed

    @property
    def ratio(self) -> float:
        return self.observed / self.expected if self.expected else math.inf

    def public(self) -> dict:
        """What `glean trend --json` and the API show (no centroid)."""
        return {"id": self.id, "label": self.label, "phrases": self.phrases, "observed": self.observed,
                "expected": self.expected, "p_value": self.p_value, "author_groups": self.groups,
                "significant": self.significant, "verdict": self.verdict, "examples": self.examples,
                "paper_ids": self.paper_ids}


@dataclass
class PaperTrend:
    paper_id: str
    recent_neighbours: int
    expected: float
    cluster_id: int | None  # the bursting cluster it belongs to; None: not trending


class TrendTables:
    def save_trends(self, result, computed_at: str) -> None:
        """Replace the stored trend state with ``result`` (a pipelines.trend.TrendResult)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM trend_scores")
            conn.execute("DELETE FROM trend_clusters")
            for n, c in enumerate(result.clusters, 1):
                c.id = n
                conn.execute(
                    "INSERT INTO trend_clusters (id, label, phrases, observed, expected, p_value, groups, significant, "
                    "verdict, centroid, paper_ids, examples, computed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (n, c.label, json.dumps(c.phrases), c.observed, c.expected, c.p_value, c.groups, int(c.significant),
                     c.verdict, np.asarray(c.centroid, dtype=np.float32).tobytes(), json.dumps(c.paper_ids),
                     json.dumps(c.examples), computed_at))
            conn.executemany(
                "INSERT INTO trend_scores (paper_id, recent_neighbours, expected, cluster_id, computed_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(h.paper_id, h.recent, h.expected,
                  (result.member_of[h.paper_id] + 1) if h.paper_id in result.member_of else None, computed_at)
                 for h in result.neighbourhoods])
            conn.execute("INSERT INTO trend_meta (id, computed_at, window_papers, history_papers, volume_ratio, tests) "
                         "VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET computed_at=excluded.computed_at, "
                         "window_papers=excluded.window_papers, history_papers=excluded.history_papers, "
                         "volume_ratio=excluded.volume_ratio, tests=excluded.tests",
                         (computed_at, result.window_papers, result.history_papers, result.volume_ratio, result.tests))

    def trend_clusters(self, *, bursting_only: bool = False) -> list[Cluster]:
        sql = "SELECT * FROM trend_clusters" + (" WHERE significant = 1" if bursting_only else "") + " ORDER BY id"
        return [Cluster(id=r["id"], label=r["label"], phrases=json.loads(r["phrases"]), observed=r["observed"],
                              expected=r["expected"], p_value=r["p_value"], groups=r["groups"],
                              significant=bool(r["significant"]), verdict=r["verdict"],
                              centroid=np.frombuffer(r["centroid"], dtype=np.float32),
                              paper_ids=json.loads(r["paper_ids"]), examples=json.loads(r["examples"]),
                              computed_at=r["computed_at"]) for r in self.query(sql)]

    def paper_trends(self) -> dict[str, PaperTrend]:
        return {r["paper_id"]: PaperTrend(r["paper_id"], r["recent_neighbours"], r["expected"], r["cluster_id"])
                for r in self.query("SELECT * FROM trend_scores")}

    def trend_meta(self) -> dict | None:
        rows = self.query("SELECT * FROM trend_meta WHERE id = 1")
        return dict(rows[0]) if rows else None
