"""The "old paper of the week": a pre-2010 paper that echoes what the field is rediscovering now.

For an ISO week, every stored old paper is scored by how close it sits to this week's
*bursting* clusters (those that passed the burst test, pipelines/trend.py), weighted by
the cluster's size, minus a little for each time it was already shown to anyone; a paper
picked before is never picked again. The echo must be real: the cluster passed the test
and the paper's cosine to its centroid clears the relevance floor. Otherwise there is no
pick, and the reason says why. A per-user pick blends in relevance to that user's reading
and never offers a paper the user has read, rated or been shown. Ties break on the paper
id, so a week and a store state give one answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timezone

import numpy as np

from pipelines.embedding import get_embedder
from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.store_users import User

from .picks import build_profile, called_classic, seen_by
from .ranker import CLASSIC_BEFORE

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
    cluster_id: int
    label: str
    observed: int
    expected: float
    example: str
    centroid: np.ndarray
    weight: float


def _echoes(store: Store) -> list[Echo]:
    """This week's bursting clusters (none: nothing is rediscovered, so nothing echoes)."""
    clusters = store.trend_clusters(bursting_only=True)
    largest = max((c.observed for c in clusters), default=1)
    return [Echo(c.id, c.label, c.observed, c.expected, c.examples[0] if c.examples else "", c.centroid,
                 0.7 + 0.3 * c.observed / largest) for c in clusters]


def pick_old_paper(store: Store, settings: Settings, week: str, user: User | None = None) -> dict:
    """The week's pick (made once, then stable); raises NothingToPick when there can be none."""
    user_id = user.id if user else 0
    existing = store.old_paper_pick(week, user_id)
    if existing:
        return _describe(store, existing)
    monday = week_monday(week)
    dimension = get_embedder(settings.embedding_model).dimension
    excluded = store.picked_old_papers(user_id) | (seen_by(store, user) if user else set())
    stored = [p for p in store.classic_papers() if p.year and p.year < CLASSIC_BEFORE]
    old = [p for p in stored if p.id not in excluded]
    vectors = store.paper_vectors_for([p.id for p in old], dimension)
    # The reasons show on the old-paper page: what is the case, in a reader's terms (no commands).
    if not stored:
        raise NothingToPick("no old paper to pick from: Glean holds no paper from before 2010 yet")
    if not old:
        raise NothingToPick("no old paper left to pick: every paper from before 2010 that Glean holds was "
                            "picked in an earlier week, or read or shown already")
    old = [p for p in old if p.id in vectors]
    if not old:
        raise NothingToPick("no old paper to pick yet: Glean has not finished analysing its papers from before "
                            "2010")
    echoes = _echoes(store)
    if not echoes:
        raise NothingToPick("nothing is bursting this week: no cluster of recent papers passed the burst test, "
                            "so no old paper can be said to echo one")
    matrix = np.stack([vectors[p.id] for p in old])
    sims = np.stack([matrix @ e.centroid for e in echoes], axis=1)  # old papers × echoes
    best_echo = (sims * np.array([e.weight for e in echoes])).argmax(axis=1)
    echo_sim = sims[np.arange(len(old)), best_echo]
    bar = max(settings.trend_rho, settings.rank_floor)  # as close as a near neighbour of the burst
    clears = echo_sim >= bar
    if not clears.any():
        raise NothingToPick(f"no old paper echoes this week's bursts closely enough (best cosine "
                            f"{float(echo_sim.max()):.2f}, needed {bar:g})")
    weights = np.array([echoes[int(k)].weight for k in best_echo])
    score = echo_sim * weights
    shown = store.times_shown()
    score = score - SHOWN_PENALTY * np.array([math.log1p(shown.get(p.id, 0)) for p in old])
    if user is not None:
        profile = build_profile(store, settings, user, datetime.combine(monday, time(), timezone.utc))
        if profile.items:
            rel = (matrix @ profile.matrix.T).max(axis=1)
            score = (1 - USER_RELEVANCE_WEIGHT) * score + USER_RELEVANCE_WEIGHT * rel
    order = sorted(np.flatnonzero(clears), key=lambda i: (-round(float(score[i]), 6), old[i].id))
    i = int(order[0])
    paper, echo = old[i], echoes[int(best_echo[i])]
    what = ", a classic" if called_classic(paper) else ""
    reason = (f"{paper.year}, {paper.title}{what} — this week {echo.observed} new papers on {echo.label} "
              f"({echo.expected:.1f} expected), e.g. “{echo.example}”; cosine {float(echo_sim[i]):.2f} to them")
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


def made_in_its_week(row: dict, today: date) -> bool:
    """A pick belongs in the archive and the feeds when its week has come and it was made by then.

    ``glean old-paper --week`` can pick for a past week with this week's bursts; such a pick says
    nothing about what echoed back then, and a feed would announce it as new. Picks made ahead
    of their week (also by hand) wait until their week comes. ISO weeks like 2026-W48 sort as text.
    """
    picked = iso_week(datetime.fromisoformat(row["picked_at"]).astimezone(timezone.utc).date())
    return row["week"] <= iso_week(today) and picked <= row["week"]


def history(store: Store, user_id: int = 0, weeks: int = 52, today: date | None = None) -> list[dict]:
    """The last ``weeks`` picks shown in the archive and the feeds, newest first."""
    today = today or datetime.now(timezone.utc).date()
    # One row per week and reader: reading them all to filter is cheap.
    rows = [r for r in store.old_paper_history(user_id, -1) if made_in_its_week(r, today)]
    return [_describe(store, row) for row in rows[:weeks]]
