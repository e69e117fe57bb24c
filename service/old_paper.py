"""The "old paper of the week": a pre-2010 paper that echoes what the field is rediscovering now.

For an ISO week, every stored classic is scored by how close it sits to this
week's trending clusters (weighted by the cluster's size), minus a little for
each time it was already shown to anyone; a classic picked before is never picked
again. A per-user pick blends in relevance to that user's reading. Ties break on
the paper id, so a week and a store state give one answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import numpy as np

from pipelines.embedding import get_embedder
from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.store_users import User
from pipelines.trend import title_label

from .picks import build_profile, current_clusters
from .ranker import relevance

SHOWN_PENALTY = 0.02
USER_RELEVANCE_WEIGHT = 0.4


class WeekError(ValueError):
    pass


class NothingToPick(LookupError):
    """There is no pick for this week, and the message says why."""


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(week: str) -> date:
    try:
        year, w = week.split("-W")
        return date.fromisocalendar(int(year), int(w), 1)
    except ValueError:
        raise WeekError(f"{week!r} is not an ISO week like 2026-W48") from None


@dataclass
class Echo:
    label: str
    size: int
    example: str
    centroid: np.ndarray
    weight: float


def _echoes(store: Store, settings: Settings, dimension: int, monday: date) -> list[Echo]:
    """This week's trending clusters, or, without trend data, the recent papers as one theme."""
    clusters = current_clusters(store, store.trend_scores(), dimension, settings, top=5)
    groups = [(c.label, c.paper_ids, c.examples[0]) for c in clusters]
    if not groups:
        until = datetime.combine(monday, time(), timezone.utc)
        recent = store.recent_paper_ids((until - timedelta(days=settings.trend_window_days)).isoformat(),
                                        until.isoformat())
        if recent:
            titles = {pid: p.title for pid, p in store.papers_by_id(recent).items()}
            groups = [(title_label(list(titles.values())), recent, titles[recent[0]])]
    largest = max((len(ids) for _, ids, _ in groups), default=1)
    echoes = []
    for label, ids, example in groups:
        vectors = store.paper_vectors_for(ids, dimension)
        if not vectors:
            continue
        mean = np.mean(list(vectors.values()), axis=0)
        echoes.append(Echo(label, len(ids), example, mean / (np.linalg.norm(mean) or 1.0),
                           0.7 + 0.3 * len(ids) / largest))
    return echoes


def pick_old_paper(store: Store, settings: Settings, week: str, user: User | None = None) -> dict:
    """The week's pick (made once, then stable); raises NothingToPick when there can be none."""
    user_id = user.id if user else 0
    existing = store.old_paper_pick(week, user_id)
    if existing:
        return _describe(store, existing)
    monday = week_monday(week)
    dimension = get_embedder(settings.embedding_model).dimension
    picked = store.picked_old_papers(user_id)
    classics = [p for p in store.classic_papers() if p.id not in picked and p.year and p.year < 2010]
    vectors = store.paper_vectors_for([p.id for p in classics], dimension)
    classics = [p for p in classics if p.id in vectors]
    echoes = _echoes(store, settings, dimension, monday)
    if not classics:
        raise NothingToPick("no classic left to pick: ingest and index the classics (glean ingest classics, "
                            "glean index)")
    if not echoes:
        raise NothingToPick(f"nothing recent to echo: no papers from the {settings.trend_window_days} days "
                            f"before {monday} are embedded (glean ingest arxiv, glean index)")
    matrix = np.stack([vectors[p.id] for p in classics])
    echo_sims = np.stack([matrix @ e.centroid * e.weight for e in echoes], axis=1)  # classics × echoes
    best_echo = echo_sims.argmax(axis=1)
    score = echo_sims.max(axis=1)
    shown = store.times_shown()
    score = score - SHOWN_PENALTY * np.array([math.log1p(shown.get(p.id, 0)) for p in classics])
    if user is not None:
        profile = build_profile(store, settings, user, datetime.combine(monday, time(), timezone.utc))
        rel, _ = relevance(profile, matrix)
        score = (1 - USER_RELEVANCE_WEIGHT) * score + USER_RELEVANCE_WEIGHT * rel
    order = sorted(range(len(classics)), key=lambda i: (-round(float(score[i]), 6), classics[i].id))
    i = order[0]
    paper, echo = classics[i], echoes[int(best_echo[i])]
    reason = (f"{paper.year}, {paper.title} — this week {echo.size} new papers on {echo.label}, "
              f"e.g. “{echo.example}”")
    if user is not None:
        reason += "; close to your own reading"
    row = store.save_old_paper_pick(week=week, user_id=user_id, paper_id=paper.id, score=float(score[i]),
                                    echo=echo.label, reason=reason,
                                    now=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return _describe(store, row)


def _describe(store: Store, row: dict) -> dict:
    paper = store.get_paper(row["paper_id"])
    return {"week": row["week"], "paper_id": paper.id, "title": paper.title, "year": paper.year,
            "authors": paper.authors, "venue": paper.venue, "abs_url": paper.abs_url, "reason": row["reason"],
            "echo": row["echo"], "picked_at": row["picked_at"], "user": row["user_id"] or None}


def history(store: Store, user_id: int = 0, weeks: int = 52) -> list[dict]:
    return [_describe(store, row) for row in store.old_paper_history(user_id, weeks)]
