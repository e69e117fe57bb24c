"""The subfield breadth report: how widely a user reads, and what lies next door.

Every read is placed in one subfield of arXiv's taxonomy (``data/arxiv_subfields.toml``
via :mod:`pipelines.taxonomy`): by its primary category when it has one, otherwise
(journal-feed items, uncategorised classics) by the nearest *subfield centroid*, the
normalised mean embedding of the store's papers in that subfield. From the shares per
subfield come the breadth figures (:func:`breadth_figures`), per month and against the
median user, and the "neighbouring territory": the subfields closest to what the user
reads that they hardly read themselves, each with a classic and a recent way in.

Everything that reads the store is here; the arithmetic (:func:`breadth_figures`,
:func:`assign_subfield`, :func:`summary_line`) is pure. ``docs/breadth.md`` has the
definitions.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from pipelines.records import Paper
from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.store_users import User
from pipelines.taxonomy import Subfield, lookup

NEIGHBOUR_MAX_SHARE = 0.05  # a subfield the user reads less than this is "hardly read"
NEIGHBOURS = 3
RECENT_DAYS = 730  # "recent" entry papers: published within the last two years
MONTHS = 12  # the monthly series covers the last twelve months that have reads
BY_CATEGORY = "category"
BY_CENTROID = "nearest centroid"


# -- subfield centroids -----------------------------------------------------------------


@dataclass
class SubfieldSpace:
    """The subfield centroids and what the report needs to know about each subfield."""

    centroids: dict[str, np.ndarray]  # subfield -> unit vector
    fields: dict[str, str]  # subfield -> field (by most papers: "Machine learning" is cs.LG and stat.ML)
    codes: dict[str, list[str]]  # subfield -> the primary categories seen for it
    papers: dict[str, int]  # subfield -> papers behind its centroid

    def matrix(self) -> tuple[list[str], np.ndarray]:
        names = sorted(self.centroids)
        if not names:
            return [], np.zeros((0, 0), dtype=np.float32)
        return names, np.stack([self.centroids[n] for n in names]).astype(np.float32)


def subfield_space(store: Store, dimension: int | None = None) -> SubfieldSpace:
    """Centroids from every paper with a primary category and a vector (one streamed pass over the store).

    Vectors whose length differs from ``dimension`` (default: the first vector's) are skipped,
    so a half-finished change of embedding model cannot mix spaces.
    """
    sums: dict[str, np.ndarray] = {}
    counts: Counter = Counter()
    for category, vector in store.categorised_vectors():
        if dimension is None:
            dimension = len(vector)
        if len(vector) != dimension:
            continue
        if category in sums:
            sums[category] += vector
        else:
            sums[category] = vector.astype(np.float64)
        counts[category] += 1
    by_subfield: dict[str, np.ndarray] = {}
    papers: Counter = Counter()
    field_votes: dict[str, Counter] = defaultdict(Counter)
    codes: dict[str, list[str]] = defaultdict(list)
    for category in sorted(sums):
        found = lookup(category)
        if found is None:
            continue
        name = found.subfield
        by_subfield[name] = by_subfield.get(name, 0) + sums[category]
        papers[name] += counts[category]
        field_votes[name][found.field] += counts[category]
        codes[name].append(category)
    centroids = {}
    for name, total in by_subfield.items():
        norm = float(np.linalg.norm(total))
        if norm > 0:
            centroids[name] = (total / norm).astype(np.float32)
    fields = {name: min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0]
              for name, votes in field_votes.items()}
    return SubfieldSpace(centroids=centroids, fields=fields, codes=dict(codes), papers=dict(papers))


def subfield_centroids(store: Store, dimension: int | None = None) -> dict[str, np.ndarray]:
    """Subfield name -> unit vector: the normalised mean vector of the papers in that subfield."""
    return subfield_space(store, dimension).centroids


# -- placing a paper ------------------------------------------------------------------------


def _category_subfield(paper: Paper) -> Subfield | None:
    for code in (paper.primary_category, *(paper.categories or [])):
        found = lookup(code)
        if found is not None:
            return found
    return None


def assign_subfield(paper: Paper, vector: np.ndarray | None,
                    centroids: dict[str, np.ndarray]) -> tuple[str | None, str | None]:
    """(subfield, how): by the paper's own category, else by the nearest centroid, else (None, None).

    ``how`` is "category" or "nearest centroid". Nearest means the largest cosine; ties go to
    the alphabetically first subfield, so placement never depends on dict order.
    """
    found = _category_subfield(paper)
    if found is not None:
        return found.subfield, BY_CATEGORY
    if vector is None or not centroids:
        return None, None
    names = sorted(centroids)
    sims = np.stack([centroids[n] for n in names]) @ np.asarray(vector, dtype=np.float32)
    return names[int(np.argmax(sims))], BY_CENTROID


# -- the figures ------------------------------------------------------------------------------


class _DistanceTable:
    """All pairwise d_ij of one centroids dict, computed once (reports evaluate thousands of distributions)."""

    def __init__(self, centroids: dict[str, np.ndarray]):
        self.centroids = centroids  # held, so the id() this table is cached under stays this dict's
        self.names = sorted(centroids)
        self.index = {name: i for i, name in enumerate(self.names)}
        if self.names:
            m = np.stack([centroids[n] for n in self.names]).astype(np.float64)
            self.d = np.clip(1.0 - m @ m.T, 0.0, None)
        else:
            self.d = np.zeros((0, 0))
        pairs = self.d[np.triu_indices(len(self.names), 1)]
        self.fallback = float(pairs.mean()) if pairs.size else 1.0


_TABLES: dict[int, _DistanceTable] = {}


def _table(centroids: dict[str, np.ndarray]) -> _DistanceTable:
    table = _TABLES.get(id(centroids))
    if table is None or table.centroids is not centroids or len(table.names) != len(centroids):
        if len(_TABLES) >= 8:
            _TABLES.pop(next(iter(_TABLES)))
        table = _TABLES[id(centroids)] = _DistanceTable(centroids)
    return table


def _distances(names: list[str], centroids: dict[str, np.ndarray]) -> np.ndarray:
    """d_ij = max(0, 1 - cos) between subfield centroids; a subfield without a centroid sits at the
    mean distance of the known pairs (1.0 when there are none)."""
    table = _table(centroids)
    index = [table.index.get(n) for n in names]
    d = np.full((len(names), len(names)), table.fallback)
    known = [i for i, j in enumerate(index) if j is not None]
    if known:
        rows = [index[i] for i in known]
        d[np.ix_(known, known)] = table.d[np.ix_(rows, rows)]
    np.fill_diagonal(d, 0.0)
    return d


def breadth_figures(shares: dict[str, float], centroids: dict[str, np.ndarray]) -> dict:
    """Two breadth figures for one distribution of reading over subfields.

    ``effective_subfields`` = exp(H), H = −Σ p_i ln p_i (Shannon entropy, natural log): the number
    of equally-read subfields that would be as diverse. One subfield gives 1, two halves give 2,
    and it does not care *which* subfields they are.

    ``rao_stirling`` = Σ_{i≠j} d_ij p_i p_j with d_ij = max(0, 1 − cos(c_i, c_j)) between the
    subfield centroids c: the expected distance between two reads drawn at random. It adds what
    exp(H) ignores, disparity: three neighbouring subfields (close centroids, small d) count for
    less than three distant ones, though exp(H) is 3 for both. It is 0 for one subfield and at most
    (1 − 1/n)·max d for n subfields; with p = ½, ½ it is 2·¼·d = d/2.

    Shares are renormalised to sum to 1; zero and negative shares are ignored. Empty input gives
    zeros (not exp(0) = 1: no reading is not "one subfield").
    """
    items = sorted((name, float(p)) for name, p in shares.items() if p and p > 0)
    total = sum(p for _, p in items)
    if total <= 0:
        return {"effective_subfields": 0.0, "rao_stirling": 0.0, "shannon": 0.0}
    names = [n for n, _ in items]
    p = np.array([s for _, s in items]) / total
    shannon = float(-(p * np.log(p)).sum())
    rao = float(p @ _distances(names, centroids) @ p)
    return {"effective_subfields": math.exp(shannon), "rao_stirling": max(0.0, rao), "shannon": max(0.0, shannon)}


# -- a user's placed reads ---------------------------------------------------------------------------


@dataclass
class PlacedRead:
    paper_id: str
    month: str  # "2026-10", of read_at in UTC
    subfield: str
    field: str | None
    how: str
    vector: np.ndarray | None


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _place(rows: list[dict], space: SubfieldSpace) -> tuple[list[PlacedRead], int]:
    """Place rows of ``store.breadth_reads``: by category, else by nearest centroid; and count the unplaceable."""
    names, matrix = space.matrix()
    placed, unplaced, pending = [], 0, []
    for r in rows:
        vector = r["vector"]
        if vector is not None and matrix.size and len(vector) != matrix.shape[1]:
            vector = None  # embedded by another model: unusable in this space
        month = _when(r["read_at"]).strftime("%Y-%m")
        found = _category_subfield(Paper(id=r["paper_id"], title="", source="", primary_category=r["primary_category"],
                                         categories=r["categories"]))
        if found is not None:
            placed.append(PlacedRead(r["paper_id"], month, found.subfield, found.field, BY_CATEGORY, vector))
        elif vector is not None and names:
            pending.append((r["paper_id"], month, vector))
        else:
            unplaced += 1
    if pending:
        best = np.argmax(np.stack([v for _, _, v in pending]) @ matrix.T, axis=1)
        for (paper_id, month, vector), i in zip(pending, best):
            name = names[int(i)]
            placed.append(PlacedRead(paper_id, month, name, space.fields.get(name), BY_CENTROID, vector))
    return placed, unplaced


def placed_reads(store: Store, user_id: int, space: SubfieldSpace, now: datetime) -> tuple[list[PlacedRead], int]:
    """The user's reads up to ``now``, each placed in a subfield (with its vector, for the reading centroid);
    and how many could not be placed (no category and no vector yet)."""
    rows = [r for r in store.breadth_reads(user_id, all_vectors=True) if _when(r["read_at"]) <= now]
    return _place(rows, space)


def _shares(reads: list[PlacedRead], key: str) -> dict[str, float]:
    counts = Counter(getattr(r, key) or "Unknown" for r in reads)
    total = sum(counts.values())
    return {k: counts[k] / total for k in sorted(counts, key=lambda k: (-counts[k], k))} if total else {}


def _home_field(fields: dict[str, float]) -> str | None:
    return min(fields.items(), key=lambda kv: (-kv[1], kv[0]))[0] if fields else None


def _figures(reads: list[PlacedRead], space: SubfieldSpace, home: str | None = None) -> dict:
    """exp(H), Rao–Stirling and the share outside ``home`` (default: these reads' own largest field)."""
    figures = breadth_figures(_shares(reads, "subfield"), space.centroids)
    fields = _shares(reads, "field")
    home = home or _home_field(fields)
    outside = 1.0 - fields.get(home, 0.0) if reads else 0.0
    return {"effective_subfields": figures["effective_subfields"], "rao_stirling": figures["rao_stirling"],
            "outside_home_share": max(0.0, outside)}


def _monthly(reads: list[PlacedRead]) -> dict[str, list[PlacedRead]]:
    groups: dict[str, list[PlacedRead]] = defaultdict(list)
    for r in reads:
        groups[r.month].append(r)
    return groups


# -- the population: what the median user looks like ---------------------------------------------------


@dataclass
class BreadthContext:
    """What every user's report shares: the subfield space and every user's figures.

    Build it once (:func:`breadth_context`) when reporting on many users, e.g. for the digest.
    """

    now: datetime
    space: SubfieldSpace
    overall: dict[int, dict] = field(default_factory=dict)  # user id -> figures over all their reads
    monthly: dict[int, dict[str, float]] = field(default_factory=dict)  # user id -> month -> exp(H)


def breadth_context(store: Store, now: datetime | None = None, space: SubfieldSpace | None = None) -> BreadthContext:
    """Centroids and every user's figures as of ``now``, in two passes over the store (one for the centroids)."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    context = BreadthContext(now=now, space=space or subfield_space(store))
    by_user: dict[int, list[dict]] = defaultdict(list)
    for row in store.breadth_reads():
        if _when(row["read_at"]) <= now:
            by_user[row["user_id"]].append(row)
    for user_id, rows in by_user.items():
        reads, _ = _place(rows, context.space)
        if not reads:
            continue
        context.overall[user_id] = _figures(reads, context.space)
        context.monthly[user_id] = {month: breadth_figures(_shares(group, "subfield"),
                                                           context.space.centroids)["effective_subfields"]
                                    for month, group in _monthly(reads).items()}
    return context


def _median_user(context: BreadthContext, months: list[str]) -> dict:
    users = list(context.overall.values())

    def median(key: str) -> float:
        return round(statistics.median(u[key] for u in users), 4) if users else 0.0

    monthly = []
    for month in months:
        values = [m[month] for m in context.monthly.values() if month in m]
        monthly.append({"month": month, "users": len(values),
                        "effective_subfields": round(statistics.median(values), 4) if values else None})
    return {"users": len(users), "effective_subfields": median("effective_subfields"),
            "rao_stirling": median("rao_stirling"), "outside_home_share": median("outside_home_share"),
            "monthly": monthly}


# -- neighbouring territory -------------------------------------------------------------------------------


def _unit(vector: np.ndarray) -> np.ndarray | None:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else None


def reading_centroid(reads: list[PlacedRead], space: SubfieldSpace) -> np.ndarray | None:
    """The normalised mean of the read papers' vectors; without any, the share-weighted mean of their
    subfields' centroids."""
    dimension = next(iter(space.centroids.values())).shape[0] if space.centroids else None
    vectors = [r.vector for r in reads if r.vector is not None and (dimension is None or len(r.vector) == dimension)]
    if vectors:
        return _unit(np.mean(np.stack(vectors), axis=0))
    known = [space.centroids[r.subfield] for r in reads if r.subfield in space.centroids]
    return _unit(np.mean(np.stack(known), axis=0)) if known else None


def neighbours(store: Store, space: SubfieldSpace, shares: dict[str, float], centre: np.ndarray | None,
               *, user_id: int | None, now: datetime, entry_papers: bool = True) -> list[dict]:
    """The NEIGHBOURS subfields nearest ``centre`` that the user reads less than NEIGHBOUR_MAX_SHARE of,
    each with a classic and a recent entry paper (unread, most similar to ``centre``) where the store has one."""
    if centre is None or not space.centroids:
        return []
    candidates = sorted(((float(space.centroids[name] @ centre), name) for name in space.centroids
                         if shares.get(name, 0.0) < NEIGHBOUR_MAX_SHARE), key=lambda t: (-t[0], t[1]))
    chosen = candidates[:NEIGHBOURS]
    entries: dict[str, dict[str, dict]] = {name: {} for _, name in chosen}
    if entry_papers and chosen:
        codes = sorted({code for _, name in chosen for code in space.codes.get(name, [])})
        since = (now - timedelta(days=RECENT_DAYS)).isoformat()
        for row in store.entry_paper_candidates(codes, recent_since=since, unread_by=user_id):
            found = lookup(row["primary_category"])
            if found is None or found.subfield not in entries or len(row["vector"]) != len(centre):
                continue
            if row["is_classic"]:
                kind = "classic"
            elif (row["published"] or "") >= since and _when(row["published"]) <= now:
                kind = "recent"
            else:
                continue
            sim = float(row["vector"] @ centre)
            best = entries[found.subfield].get(kind)
            if best is None or (-sim, row["paper_id"]) < (-best["similarity"], best["paper_id"]):
                entries[found.subfield][kind] = {"paper_id": row["paper_id"], "title": row["title"],
                                                 "year": row["year"], "kind": kind, "similarity": sim,
                                                 "url": row["abs_url"]}
    out = []
    for sim, name in chosen:
        papers = [{**entries[name][k], "similarity": round(entries[name][k]["similarity"], 4)}
                  for k in ("classic", "recent") if k in entries[name]]
        out.append({"subfield": name, "field": space.fields.get(name), "similarity": round(sim, 4),
                    "share": round(shares.get(name, 0.0), 4), "entry_papers": papers})
    return out


# -- the report ----------------------------------------------------------------------------------------------


def _rounded(figures: dict) -> dict:
    return {k: round(v, 4) for k, v in figures.items()}


def breadth_report(store: Store, settings: Settings | None, user: User, now: datetime | None = None, *,
                   context: BreadthContext | None = None, entry_papers: bool = True) -> dict:
    """The JSON-ready breadth report of ``user`` as of ``now`` (reads after ``now`` are ignored).

    ``context`` (from :func:`breadth_context`) saves recomputing centroids and everyone's figures when
    reporting on many users; its ``now`` then wins over the argument. ``entry_papers=False`` skips the
    one heavier query (the digest needs only the neighbours' names). ``settings`` is accepted for
    symmetry with the other services; nothing in it is needed today.
    """
    now = (context.now if context else None) or now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    context = context or breadth_context(store, now)
    space = context.space
    reads, unplaced = placed_reads(store, user.id, space, now)
    report = {"user": user.id, "user_name": user.name or user.email, "as_of": now.isoformat(timespec="seconds"),
              "reads": len(reads),
              "unplaced": unplaced, "assigned_by_centroid": sum(r.how == BY_CENTROID for r in reads)}
    if not reads:
        # Shown on the breadth page as well: what is the case, in a reader's terms (no commands).
        note = ("No reads yet: add papers you have read to see how widely you read." if not unplaced else
                f"None of your reads can be placed in a subfield yet: {'it has' if unplaced == 1 else 'they have'} "
                f"no arXiv category, and Glean has not finished analysing "
                f"{'it' if unplaced == 1 else f'all {unplaced}'}; {'it is' if unplaced == 1 else 'they are'} "
                f"placed once it has.")
        report.update({"shares": {}, "subfields": [], "fields": {}, "home_field": None, "outside_home_share": 0.0,
                       "effective_subfields": 0.0, "rao_stirling": 0.0, "monthly": [],
                       "median_user": _median_user(context, []), "neighbours": [], "note": note})
        return report

    shares = _shares(reads, "subfield")
    fields = _shares(reads, "field")
    home = _home_field(fields)
    overall = _figures(reads, space, home)
    counts = Counter(r.subfield for r in reads)
    groups = _monthly(reads)
    months = sorted(groups)[-MONTHS:]
    monthly = [{"month": m, "reads": len(groups[m]), **_rounded(_figures(groups[m], space, home))} for m in months]
    centre = reading_centroid(reads, space)
    report.update({
        "shares": {k: round(v, 4) for k, v in shares.items()},
        "subfields": [{"subfield": k, "field": space.fields.get(k) or _field_of_reads(reads, k), "reads": counts[k],
                       "share": round(v, 4)} for k, v in shares.items()],
        "fields": {k: round(v, 4) for k, v in fields.items()},
        "home_field": home,
        **_rounded(overall),
        "monthly": monthly,
        "median_user": _median_user(context, months),
        "neighbours": neighbours(store, space, shares, centre, user_id=user.id, now=now, entry_papers=entry_papers),
    })
    if unplaced:
        report["note"] = (f"{unplaced} of your reads could not be placed in a subfield yet (no arXiv category, and "
                          f"Glean has not finished analysing them); they are left out until it has.")
    return report


def _field_of_reads(reads: list[PlacedRead], subfield: str) -> str | None:
    votes = Counter(r.field for r in reads if r.subfield == subfield and r.field)
    return min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0] if votes else None


# -- one line for the weekly digest ---------------------------------------------------------------------------------


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def summary_line(report: dict) -> str:
    """One plain sentence for the weekly digest."""
    if not report.get("reads"):
        return "Glean has no reading of yours to measure breadth on yet."
    effective = report["effective_subfields"]
    median = report.get("median_user") or {}
    text = f"Your reading spans {effective:.1f} effective subfield{'s' if round(effective, 1) != 1 else ''}"
    if median.get("users", 0) > 1:
        text += f" (median reader: {median['effective_subfields']:.1f})"
    if report.get("home_field"):
        text += f", {report['outside_home_share']:.0%} of it outside {report['home_field']}"
    names = [n["subfield"] for n in report.get("neighbours", [])]
    if names:
        text += f"; next door: {_join(names)}"
    return text + "."
