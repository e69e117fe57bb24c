"""Offline evaluation of the diversity ranker: does every pick earn its slot? One command, one table.

    .venv/bin/python benchmarks/bench_ranker.py                  # table (embeds on first run, then cached)
    .venv/bin/python benchmarks/bench_ranker.py --json           # the same figures as JSON
    .venv/bin/python benchmarks/bench_ranker.py --save-json benchmarks/results_ranker.json
    .venv/bin/python benchmarks/bench_ranker.py --dump-picks benchmarks/pile_sort/picks.jsonl   # for grading
    .venv/bin/python benchmarks/bench_ranker.py --embed-only     # only fill the vector cache

Data: the real arXiv metadata sample ../shared/corpus/metadata/arxiv_sample.jsonl.gz (read only; ids in
arXiv's own form, so the vector cache is keyed on them).

Two populations, the same candidates for every ranker:

* **Authors** (hit rate): real authors as simulated users (names normalised; initials-only first names and
  names with > 60 papers skipped). A user is (author, first of ``--days`` weekly cutoffs from
  ``--first-cutoff`` at which the author has ≥ 3 papers in the year up to the cutoff and ≥ 1 in the
  ``--new-days`` after it). Reads = those papers (dated by their creation); ground truth = their later papers.
  Candidates: everything created in (cutoff, D] (new), the classic sample (pre-2010 records, ``--classics``,
  per field in proportion to the span's mix), and records of (D − 30 days, cutoff] outside the reader's
  home subfields (the service's cross-field pool is feed items from other fields).
* **Six readers from clearly different fields** (graph learning, hep-th, parsing, quantitative biology,
  causal inference, cosmology): 15 real papers each, chosen by category and topic words from the year
  before; eight consecutive daily digests at the end of the span, each excluding what that ranker already
  showed (and, for Glean, old papers offered on an earlier day), new papers only since the previous digest.

Trend per digest day: pipelines.trend.find_bursts over the embedded dated records up to that day (the
service's own burst test, with the records' real authors and titles). Rankers: (a) relevance-only (top K
by max cosine to the reads), (a') zotero-arxiv-daily's decayed weighted mean, (c) Glean's service.ranker.rank
with the reader's floor (service/picks.py's reader_floor over the reads, absolute ``--floor``). Each pick
of (c) is checked with service.ranker.false_claims against the day's stored burst test.

Metrics (per pick, then per user, then the mean; "reach ≥ 3 fields" is over distinct picked papers):
mean rel = a pick's highest cosine to the reads; below floor = picks under the reader's floor; burst exp =
picks inside a cluster that passed the burst test; false = picks whose reason makes a claim the data does
not support; popular ok = share of "popular" claims whose cluster passed the test; reach ≥ 3 fields =
distinct papers picked for ≥ 3 readers whose home fields (largest share of their reads) differ;
own hit = users whose own later paper was picked; picks/digest and empty digests; pre-2010 and cross-field
shares. Targets (issue 12): below floor 0, false 0, popular ok 1.0, reach ≥ 3 fields ≤ 2 %, burst exposure
≤ ⅓ of (a)'s, mean relevance ≥ 90 % of (a)'s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import random
import re
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np

from pipelines.concepts import Vocabulary
from pipelines.taxonomy import field_key, field_of, lookup
from pipelines.trend import HISTORY_DAYS, BurstRule, find_bursts
from service.ranker import (
    CLASSIC_BEFORE,
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

METADATA = ROOT.parent / "shared" / "corpus" / "metadata" / "arxiv_sample.jsonl.gz"
CACHE = ROOT / "benchmarks" / "cache" / "ranker_vectors"
MODEL = "all-MiniLM-L6-v2"
RECENCY_HALF_LIFE_DAYS = 90  # service/picks.py
WINDOW_DAYS = 30  # settings.trend_window_days
PROFILE_DAYS = 365
MAX_AUTHOR_PAPERS = 60


EMBED_CHUNK = 256
SEED = 20180305
CENTRE_QUANTILE = 0.4  # settings.rank_centre_quantile
ECHO_SIMILARITY = 0.6  # settings.trend_rho: an echo is as close as a near neighbour of the burst


# ------------------------------------------------------------------------------------------ data


@dataclass
class Record:
    idx: int
    id: str
    title: str
    abstract: str
    category: str
    field: str | None
    subfield: str
    authors: list[str]
    created: date
    year: int

    @property
    def text(self) -> str:  # pipelines.index_stage.paper_text
        return f"{self.title}. {self.abstract}".strip()


def load_records(path: Path = METADATA) -> list[Record]:
    out = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            r = json.loads(line)
            cat = r.get("primary_category") or (r.get("categories") or "").split(" ")[0]
            sub = lookup(cat)
            out.append(Record(len(out), r["id"], r["title"], r.get("abstract") or "", cat, field_of(cat),
                              sub.subfield if sub else cat, [a for a in split_authors(r.get("authors") or "")],
                              date.fromisoformat(r["created"][:10]), int(r["year"])))
    return out


def split_authors(value: str) -> list[str]:
    return [a.strip() for a in re.split(r",|\band\b", value) if a.strip()]


def normalise_name(name: str) -> str | None:
    """First + last token of a folded name; None for initials-only first names (too collision-prone)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    parts = re.sub(r"[^a-z ]", " ", folded).split()
    if len(parts) < 2 or len(parts[0]) < 2:
        return None
    return f"{parts[0]} {parts[-1]}"


@dataclass
class Plan:
    cutoffs: list[date]
    digest_days: list[date]
    span: list[int]  # dated records to embed (trend history through last candidates)
    classics: list[int]

    def embed_ids(self, records: list[Record]) -> list[int]:
        return sorted(set(self.span) | set(self.classics))


def make_plan(records: list[Record], args) -> Plan:
    first = date.fromisoformat(args.first_cutoff)
    cutoffs = [first + timedelta(days=args.step * k) for k in range(args.days)]
    digest_days = [c + timedelta(days=args.new_days) for c in cutoffs]
    lo = digest_days[0] - timedelta(days=WINDOW_DAYS + HISTORY_DAYS)
    hi = digest_days[-1]
    span = [r.idx for r in records if lo < r.created <= hi and r.year >= CLASSIC_BEFORE]
    # Classics: pre-2010 records, per field in proportion to the span's field mix (fixed seed).
    rng = random.Random(SEED)
    span_fields = Counter(records[i].field for i in span)
    old_by_field: dict[str | None, list[int]] = defaultdict(list)
    for r in records:
        if r.year < CLASSIC_BEFORE and r.abstract.strip():
            old_by_field[r.field].append(r.idx)
    classics: list[int] = []
    total = sum(span_fields.values())
    for f, n in span_fields.most_common():
        pool = old_by_field.get(f, [])
        take = min(len(pool), round(args.classics * n / total))
        classics += rng.sample(pool, take)
    if len(classics) < args.classics:  # fields with too few old records: top up from the rest
        taken = set(classics)
        rest = [i for pool in old_by_field.values() for i in pool if i not in taken]
        classics += rng.sample(rest, min(len(rest), args.classics - len(classics)))
    return Plan(cutoffs, digest_days, span, sorted(classics[:args.classics]))


# ------------------------------------------------------------------------------------ embedding


def _cache_dir(model: str) -> Path:
    return CACHE / re.sub(r"[^A-Za-z0-9_.-]", "_", model)


def load_cache(model: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for part in sorted(_cache_dir(model).glob("part-*.npz")):
        with np.load(part, allow_pickle=False) as data:
            for pid, vec in zip(data["ids"], data["vectors"]):
                out[str(pid)] = vec
    return out


def embed(records: list[Record], wanted: list[int], model: str, *, quiet: bool = False) -> dict[str, np.ndarray]:
    """Vectors for the wanted records: the cache, then the model for what is missing (cached per chunk)."""
    cache = load_cache(model)
    missing = [i for i in wanted if records[i].id not in cache]
    if missing:
        from tqdm import tqdm

        from pipelines.embedding import get_embedder

        embedder = get_embedder(model)
        folder = _cache_dir(model)
        folder.mkdir(parents=True, exist_ok=True)
        start = len(list(folder.glob("part-*.npz")))
        missing.sort(key=lambda i: len(records[i].text))  # similar lengths per batch: less padding
        bar = tqdm(total=len(missing), desc=f"embedding ({len(cache)} cached)", unit="text", disable=quiet,
                   file=sys.stderr, smoothing=0.05)
        for n, s in enumerate(range(0, len(missing), EMBED_CHUNK)):
            chunk = missing[s:s + EMBED_CHUNK]
            vectors = embedder.encode([records[i].text for i in chunk])
            ids = np.array([records[i].id for i in chunk])
            tmp = folder / f"part-{start + n:05d}.tmp.npz"
            np.savez(tmp, ids=ids, vectors=vectors)
            tmp.rename(folder / f"part-{start + n:05d}.npz")
            cache.update(zip(ids.tolist(), vectors))
            bar.update(len(chunk))
        bar.close()
    return {records[i].id: cache[records[i].id] for i in wanted}


# --------------------------------------------------------------------------------------- trends


def utc(d: date, at: dtime = dtime()) -> datetime:
    return datetime.combine(d, at, UTC)


# --------------------------------------------------------------------------------------- trends


@dataclass
class DayTrend:
    """The burst test on one day, as the ranker and the claim checker see it."""

    member: dict[str, ClusterRef]  # paper → the bursting cluster it belongs to
    bursting: dict[int, set[str]]  # cluster id → its papers
    neighbours: dict[str, int]
    centroids: np.ndarray | None
    refs: list[ClusterRef]
    tested: int
    labels: list[dict]  # every tested cluster, for the report


def day_trend(records: list[Record], span: list[int], vectors: np.ndarray, day: date, rule: BurstRule) -> DayTrend:
    now = utc(day, dtime(23, 59))
    keep = [k for k, i in enumerate(span) if records[span[k]].created <= day]
    rows = [records[span[k]] for k in keep]
    result = find_bursts([r.id for r in rows], vectors[keep], [utc(r.created) for r in rows], [r.authors for r in rows],
                         [r.title for r in rows], now, rule)
    refs, bursting, centroids = [], {}, []
    for n, c in enumerate(result.clusters, 1):
        c.id = n
        if c.significant:
            refs.append(ClusterRef(n, c.label, c.observed, c.expected))
            bursting[n] = set(c.paper_ids)
            centroids.append(c.centroid)
    member = {pid: ClusterRef(k + 1, result.clusters[k].label, result.clusters[k].observed, result.clusters[k].expected)
              for pid, k in result.member_of.items()}
    labels = [{"label": c.label, "observed": c.observed, "expected": round(c.expected, 2), "p": c.p_value,
               "groups": c.groups, "significant": c.significant, "verdict": c.verdict} for c in result.clusters]
    return DayTrend(member, bursting, {h.paper_id: h.recent for h in result.neighbourhoods},
                    np.stack(centroids) if centroids else None, refs, result.tests, labels)


# ---------------------------------------------------------------------------------------- users


@dataclass
class Reader:
    name: str
    profile: list[int]  # record indices of the reads
    home_field: str | None = None
    later: list[int] = field(default_factory=list)  # authors only: their own later papers
    day: int = 0  # authors only: index into plan.cutoffs


def home_field_of(records: list[Record], reads: list[int]) -> str | None:
    counts = Counter(field_key(records[i].field) for i in reads if records[i].field)
    return counts.most_common(1)[0][0] if counts else None


def find_authors(records: list[Record], plan: Plan) -> list[Reader]:
    by_author: dict[str, list[int]] = defaultdict(list)
    for r in records:
        for a in dict.fromkeys(filter(None, map(normalise_name, r.authors))):
            by_author[a].append(r.idx)
    users = []
    for author, papers in sorted(by_author.items()):
        if len(papers) > MAX_AUTHOR_PAPERS or len(papers) < 4:
            continue
        for d, cut in enumerate(plan.cutoffs):
            profile = [i for i in papers if cut - timedelta(days=PROFILE_DAYS) < records[i].created <= cut]
            later = [i for i in papers if cut < records[i].created <= plan.digest_days[d]]
            if len(profile) >= 3 and later:
                users.append(Reader(author, profile, home_field_of(records, profile), later, d))
                break
    return users


# Six readers in clearly different fields: (name, primary categories, topic words in title or abstract).
# The sample has hep-th and cosmology only before 2000, so the physicists here read quantum information
# and the history and philosophy of physics (the categories the 2017–18 span holds).
TOPIC_READERS = [
    ("graph learning", ("cs.LG", "stat.ML", "cs.SI", "cs.AI"), r"\bgraph"),
    ("quantum information", ("quant-ph",), r"quantum"),
    ("parsing", ("cs.CL",), r"\bpars(e|es|ing|er|ers)\b|dependency tree|constituen"),
    ("quantitative biology", ("q-bio.PE", "q-bio.NC", "q-bio.QM", "q-bio.MN", "q-bio.GN", "q-bio.BM", "q-bio.CB"),
     r"protein|gene|neuron|population|evolution"),
    ("causal inference", ("stat.ME", "stat.ML", "econ.EM", "stat.AP"), r"causal|treatment effect|instrumental variable"),
    ("history and philosophy of physics", ("physics.hist-ph",), r"."),
]
TOPIC_READS = 15


def find_topic_readers(records: list[Record], plan: Plan, first_day: date) -> list[Reader]:
    rng = random.Random(SEED)
    readers = []
    for name, cats, words in TOPIC_READERS:
        pattern = re.compile(words, re.IGNORECASE)
        pool = [i for i in plan.span
                if records[i].category in cats and first_day - timedelta(days=PROFILE_DAYS) < records[i].created
                < first_day - timedelta(days=7) and pattern.search(f"{records[i].title} {records[i].abstract}")]
        reads = sorted(rng.sample(pool, min(TOPIC_READS, len(pool))), key=lambda i: records[i].created)
        readers.append(Reader(name, reads, home_field_of(records, reads)))
    return readers


# -------------------------------------------------------------------------------------- rankers


@dataclass
class Case:
    """One reader's day: profile and candidates as every ranker sees them."""

    user: Reader
    day: date
    cand: list[int]  # record indices
    pools: list[str]
    cand_vecs: np.ndarray
    prof_vecs: np.ndarray
    prof_weights: np.ndarray
    candidates: list[Candidate]  # for service.ranker.rank
    rel: np.ndarray  # max cosine to the reads, per candidate (the relevance measure)
    profile: Profile  # Glean's profile at the default strength
    trend: DayTrend
    vocab: Vocabulary


def shares(records: list[Record], reads: list[int], weights: np.ndarray) -> tuple[dict, dict]:
    sub: dict[str, float] = defaultdict(float)
    fld: dict[str, float] = defaultdict(float)
    total = float(weights.sum()) or 1.0
    for i, w in zip(reads, weights):
        lk = lookup(records[i].category)
        if lk:
            sub[lk.subfield] += w / total
        if records[i].field:
            fld[field_key(records[i].field)] += w / total
    return dict(sub), dict(fld)


def make_case(records, vec, user: Reader, day: date, new: list[int], classics: list[int], recent: list[int],
              trend: DayTrend, beta: float, floor: float, vocab: Vocabulary, exclude: set[int] = frozenset(),
              exclude_old: set[int] = frozenset()) -> Case:
    prof_vecs = np.stack([vec[records[i].id] for i in user.profile])
    weights = np.array([min(1.0, 0.5 ** ((day - records[i].created).days / RECENCY_HALF_LIFE_DAYS))
                        for i in user.profile])
    sub, fld = shares(records, user.profile, weights)
    own = set(user.profile)
    cand, pools = [], []
    for i in new:
        if i not in own and i not in exclude:
            cand.append(i), pools.append("new")
    for i in classics:
        if i not in exclude and i not in exclude_old:
            cand.append(i), pools.append("classic")
    for i in recent:  # the cross-field pool: other fields only, as feed items are
        lk = lookup(records[i].category)
        if i not in own and i not in exclude and sub.get(lk.subfield if lk else "", 0.0) < 0.05:
            cand.append(i), pools.append("cross-field")
    cand_vecs = np.stack([vec[records[i].id] for i in cand])
    candidates = []
    for k, i in enumerate(cand):
        r = records[i]
        lk = lookup(r.category)
        echo = None
        if pools[k] == "classic" and trend.centroids is not None:
            sims = trend.centroids @ cand_vecs[k]
            if sims.max() >= max(floor, ECHO_SIMILARITY):
                echo = trend.refs[int(sims.argmax())]
        member = trend.member.get(r.id)
        candidates.append(Candidate(paper_id=r.id, title=r.title, year=r.year, vector=cand_vecs[k], field=r.field,
                                    category=r.category, pool=pools[k], text=r.text,
                                    subfield=lk.subfield if lk else None, classic=False,  # no canon in the sample
                                    trend=1.0 if member else 0.0, cluster=member,
                                    neighbours=trend.neighbours.get(r.id), echo=echo))
    items = [ProfileItem(label=records[i].title, vector=prof_vecs[n], weight=float(weights[n]), paper_id=records[i].id,
                         text=records[i].text) for n, i in enumerate(user.profile)]
    centre, centre_floor = reader_centre(prof_vecs, quantile=CENTRE_QUANTILE)
    profile = Profile(items=items, subfield_shares=sub, field_shares=fld, beta=beta,
                      floor=reader_floor(prof_vecs, floor), centre=centre, centre_floor=centre_floor)
    rel = (cand_vecs @ prof_vecs.T).max(axis=1)
    return Case(user, day, cand, pools, cand_vecs, prof_vecs, weights, candidates, rel, profile, trend, vocab)


def rank_glean(case: Case, k: int, beta: float | None = None, params: RankParams | None = None) -> list[int]:
    profile = case.profile if beta is None else replace(case.profile, beta=beta)
    picks = rank(profile, case.candidates, limit=k, params=params, vectors=case.cand_vecs, vocab=case.vocab)
    where = {c.paper_id: n for n, c in enumerate(case.candidates)}
    case.glean_picks = {p.paper_id: p for p in picks}  # type: ignore[attr-defined]  # for the claim check
    return [where[p.paper_id] for p in picks]


def rank_relevance(case: Case, k: int) -> list[int]:
    return list(np.argsort(-case.rel, kind="stable")[:k])


def rank_zotero(records, case: Case, k: int) -> list[int]:
    """zotero-arxiv-daily: library newest first, weights 1/(1+log10(rank+1)) normalised, weighted mean sim."""
    order = sorted(range(len(case.user.profile)), key=lambda n: records[case.user.profile[n]].created, reverse=True)
    w = 1 / (1 + np.log10(np.arange(len(order)) + 1))
    w = w / w.sum()
    scores = (case.cand_vecs @ case.prof_vecs[order].T * w).sum(axis=1)
    return list(np.argsort(-scores, kind="stable")[:k])


# -------------------------------------------------------------------------------------- metrics


def entropy(labels) -> float:
    counts = Counter(labels)
    n = sum(counts.values())
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


@dataclass
class Outcome:
    case: Case
    chosen: list[int]
    glean: dict | None = None  # paper id → Pick, for Glean


def evaluate(records, outcomes: list[Outcome], k: int) -> dict:
    per_user: dict[str, list] = defaultdict(list)
    rel, below, burst, hit, old, cross, sizes, ild, ent = [], [], [], [], [], [], [], [], []
    false_n = popular_n = popular_ok = picks_n = 0
    reached: dict[str, set] = defaultdict(set)
    for o in outcomes:
        c, chosen = o.case, o.chosen
        sizes.append(len(chosen))
        ids = [c.cand[j] for j in chosen]
        for i in ids:
            reached[records[i].id].add((c.user.name, c.user.home_field))
        if not chosen:
            continue
        rels = c.rel[chosen]
        rel.append(float(rels.mean()))
        per_user[c.user.name].append(float(rels.mean()))
        below.append(float((rels < c.profile.floor - 1e-9).mean()))
        burst.append(float(np.mean([c.candidates[j].trend > 0 for j in chosen])))
        if c.user.later:
            hit.append(float(bool(set(c.user.later) & set(ids))))
        old.append(float(np.mean([records[i].year < CLASSIC_BEFORE for i in ids])))
        cross.append(float(np.mean([(c.profile.share_of(c.candidates[j]) or 0.0) < 0.05 for j in chosen])))
        if len(chosen) > 1:
            v = c.cand_vecs[chosen]
            sims = v @ v.T
            ild.append(float((1 - sims[~np.eye(len(chosen), dtype=bool)]).mean()))
        ent.append(entropy(records[i].subfield for i in ids))
        if o.glean is not None:
            for j in chosen:
                pick = o.glean[c.candidates[j].paper_id]
                wrong = false_claims(pick, c.candidates[j], c.profile, bursting=c.trend.bursting)
                false_n += bool(wrong)
                picks_n += 1
                if pick.claims["kind"] == "popular":
                    popular_n += 1
                    popular_ok += c.candidates[j].paper_id in c.trend.bursting.get(pick.claims["cluster"], set())
    distinct = len(reached)
    multi = sum(1 for readers in reached.values()
                if len({home for _, home in readers}) >= 3 and len(readers) >= 3)
    mean = lambda xs: float(np.mean(xs)) if xs else float("nan")  # noqa: E731
    out = {"digests": len(outcomes), "picks_per_digest": mean(sizes), "empty_digests": mean([s == 0 for s in sizes]),
           "full_digests": mean([s == k for s in sizes]), "relevance": mean(rel), "below_floor": mean(below),
           "burst_exposure": mean(burst), "own_hit": mean(hit), "pre2010": mean(old), "cross_field": mean(cross),
           "ild": mean(ild), "entropy_list": mean(ent), "distinct_picks": distinct,
           "reach3_fields": multi / distinct if distinct else 0.0, "reach3_count": multi,
           "_per_user_rel": {u: float(np.mean(v)) for u, v in per_user.items()},
           "_per_user_burst": np.array(burst)}
    if picks_n:
        out.update(false_reasons=false_n / picks_n, popular_claims=popular_n,
                   popular_ok=popular_ok / popular_n if popular_n else 1.0)
    return out


# ------------------------------------------------------------------------------------ simulations


def day_vocab(records, plan, day: date) -> Vocabulary:
    """Phrase frequencies over the day's candidate universe (the service builds one per day too)."""
    return Vocabulary.of([records[i].text for i in plan.span
                          if day - timedelta(days=WINDOW_DAYS) < records[i].created <= day]
                         + [records[i].text for i in plan.classics])


def author_cases(records, plan, vec, users: list[Reader], trends: list[DayTrend], beta: float, floor: float,
                 vocabs: dict[date, Vocabulary]):
    cases = []
    for u in users:
        cut, D = plan.cutoffs[u.day], plan.digest_days[u.day]
        new = [i for i in plan.span if cut < records[i].created <= D]
        recent = [i for i in plan.span if D - timedelta(days=WINDOW_DAYS) < records[i].created <= cut]
        cases.append(make_case(records, vec, u, D, new, plan.classics, recent, trends[u.day], beta, floor, vocabs[D]))
    return cases


def run_readers(records, plan, vec, readers: list[Reader], days: list[date], trends: dict[date, DayTrend],
                vocabs: dict[date, Vocabulary], ranker: str, k: int, beta: float, floor: float,
                params: RankParams | None = None) -> list[Outcome]:
    """Daily digests for each reader, as the service runs them: nothing shown twice, new papers since
    the previous digest, and (Glean) old papers offered on an earlier day not again."""
    outcomes = []
    for reader in readers:
        shown: set[int] = set()
        offered_old: set[int] = set()
        previous = None
        for day in days:
            since = previous or day - timedelta(days=7)
            new = [i for i in plan.span if since < records[i].created <= day]
            recent = [i for i in plan.span if day - timedelta(days=WINDOW_DAYS) < records[i].created <= since]
            case = make_case(records, vec, reader, day, new, plan.classics, recent, trends[day], beta, floor,
                             vocabs[day], exclude=shown, exclude_old=offered_old)
            if ranker == "glean":
                chosen = rank_glean(case, k, params=params)
                glean = case.glean_picks  # type: ignore[attr-defined]
            else:
                chosen, glean = (rank_relevance(case, k) if ranker == "relevance" else rank_zotero(records, case, k)), None
            ids = [case.cand[j] for j in chosen]
            shown |= set(ids)
            offered_old |= {i for i in ids if records[i].year < CLASSIC_BEFORE}
            outcomes.append(Outcome(case, chosen, glean))
            previous = day
    return outcomes


def dump_picks(records, outcomes: list[Outcome], path: Path) -> int:
    """The six readers' Glean picks, one JSON line each, for grading by hand (benchmarks/pile_sort/)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w") as fh:
        for o in outcomes:
            c = o.case
            for j in o.chosen:
                r = records[c.cand[j]]
                pick = o.glean[r.id]
                fh.write(json.dumps({"reader": c.user.name, "day": c.day.isoformat(), "paper": r.id, "year": r.year,
                                     "category": r.category, "title": r.title, "abstract": r.abstract[:600],
                                     "reason": pick.reason, "cosine": round(float(c.rel[j]), 3),
                                     "floor": round(c.profile.floor, 3), "kind": pick.claims["kind"],
                                     "reads": [records[i].title for i in c.user.profile]}) + "\n")
                n += 1
    return n


# ---------------------------------------------------------------------------------------- output


COLUMNS = [("picks_per_digest", "picks/digest", "{:.2f}"), ("empty_digests", "empty", "{:.2f}"),
           ("relevance", "mean rel", "{:.3f}"), ("below_floor", "below floor", "{:.3f}"),
           ("burst_exposure", "burst exp", "{:.3f}"), ("reach3_fields", "reach≥3 fields", "{:.3f}"),
           ("own_hit", "own hit", "{:.3f}"), ("pre2010", "pre-2010", "{:.3f}"), ("cross_field", "cross-field", "{:.3f}"),
           ("ild", "ILD", "{:.3f}"), ("false_reasons", "false", "{:.3f}"), ("popular_ok", "popular ok", "{:.2f}")]


def table(rows: list[tuple[str, dict]]) -> str:
    head = ["ranker"] + [c[1] for c in COLUMNS]
    body = [[name] + [fmt.format(m[key]) if key in m and m[key] == m[key] else "–" for key, _, fmt in COLUMNS]
            for name, m in rows]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                       for i, (c, w) in enumerate(zip(r, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(head), sep] + [line(r) for r in body])


def paired_ratio(glean: dict, base: dict) -> float:
    """Mean over users of Glean's mean relevance, over the same users' relevance-only mean."""
    users = [u for u in glean if u in base]
    return float(np.mean([glean[u] for u in users]) / np.mean([base[u] for u in users])) if users else float("nan")


def targets(base: dict, glean: dict) -> dict:
    ratio = paired_ratio(glean["_per_user_rel"], base["_per_user_rel"])
    burst_ratio = glean["burst_exposure"] / base["burst_exposure"] if base["burst_exposure"] else float("nan")
    return {"below_floor": glean["below_floor"], "below_floor_ok": glean["below_floor"] == 0,
            "false_reasons": glean.get("false_reasons"), "false_ok": glean.get("false_reasons") == 0,
            "popular_ok": glean.get("popular_ok"), "popular_claims": glean.get("popular_claims"),
            "reach3_fields": glean["reach3_fields"], "reach3_ok": glean["reach3_fields"] <= 0.02,
            "burst_exposure": glean["burst_exposure"], "burst_exposure_base": base["burst_exposure"],
            "burst_ratio": burst_ratio, "burst_ok": glean["burst_exposure"] <= base["burst_exposure"] / 3,
            "relevance_ratio": ratio, "relevance_ok": ratio >= 0.9}



# ------------------------------------------------------------------------------------------ main


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(), "numpy": np.__version__,
            "load_1min_at_start": os.getloadavg()[0],
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def settings_default(name: str):
    """A shipped default: the declared default of a Settings field (not the environment)."""
    import dataclasses

    from pipelines.settings import Settings

    return next(f.default for f in dataclasses.fields(Settings) if f.name == name)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--users", type=int, default=0, help="simulated authors (0 = all that qualify)")
    p.add_argument("--limit", type=int, default=8, help="picks per digest (K; GLEAN_DIGEST_SIZE)")
    p.add_argument("--first-cutoff", default="2018-03-05")
    p.add_argument("--days", type=int, default=6, help="weekly cutoffs for the authors")
    p.add_argument("--step", type=int, default=7, help="days between cutoffs")
    p.add_argument("--new-days", type=int, default=14, help="days of new papers after a cutoff")
    p.add_argument("--reader-days", type=int, default=13, help="daily digests for the six readers")
    p.add_argument("--classics", type=int, default=600, help="pre-2010 records in the classic pool")
    p.add_argument("--floor", type=float, default=None, help="absolute floor (default: settings.rank_floor)")
    p.add_argument("--beta", type=float, default=None, help="anti-trending strength (default: settings.rank_beta)")
    p.add_argument("--betas", default="0.5,1.0", help="other anti-trending strengths to report (comma-separated)")
    p.add_argument("--timing-users", type=int, default=10000, help="rank() calls for the timing (0 = skip)")
    p.add_argument("--timing-candidates", type=int, default=1000, help="candidates per timed rank() call")
    p.add_argument("--save-json", metavar="PATH", help="also write the JSON figures to PATH")
    p.add_argument("--dump-picks", metavar="PATH", help="write the six readers' Glean picks as JSON lines")
    p.add_argument("--model", default=MODEL)
    p.add_argument("--embed-only", action="store_true")
    return p.parse_args(argv)


def log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def unrelated_pairs(records, vec, ids: list[int], n: int = 200_000) -> dict:
    """How similar unrelated papers are (different top-level fields): what the absolute floor is set against."""
    rng = np.random.default_rng(SEED)
    v = np.stack([vec[records[i].id] for i in ids])
    fields = np.array([records[i].field or "?" for i in ids])
    a, b = rng.integers(0, len(ids), n), rng.integers(0, len(ids), n)
    sims = (v[a] * v[b]).sum(axis=1)[fields[a] != fields[b]]
    maxes = []  # a paper against 15 reads from other fields: the max is what the floor meets
    for _ in range(5000):
        r = rng.integers(0, len(ids), 40)
        others = [j for j in r[1:] if fields[j] != fields[r[0]]][:15]
        maxes.append(float((v[others] @ v[r[0]]).max()))
    q = lambda x, p: round(float(np.quantile(x, p)), 3)  # noqa: E731
    return {"pairs": int(len(sims)), "median": q(sims, 0.5), "p95": q(sims, 0.95), "p99": q(sims, 0.99),
            "p999": q(sims, 0.999), "max15_median": q(maxes, 0.5), "max15_p95": q(maxes, 0.95),
            "max15_p99": q(maxes, 0.99)}


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet = args.json
    started = time.perf_counter()
    info = machine()
    records = load_records()
    plan = make_plan(records, args)
    wanted = plan.embed_ids(records)
    log(f"{len(records)} records; embedding subset {len(wanted)} ({len(plan.span)} dated, "
        f"{len(plan.classics)} classics)", quiet)
    vec = embed(records, wanted, args.model, quiet=quiet)
    if args.embed_only:
        return 0
    beta = args.beta if args.beta is not None else float(settings_default("rank_beta"))
    floor = args.floor if args.floor is not None else float(settings_default("rank_floor"))
    rule = BurstRule(rho=float(settings_default("trend_rho")), window_days=WINDOW_DAYS,
                     alpha=float(settings_default("trend_alpha")), min_size=int(settings_default("trend_min_size")),
                     min_groups=int(settings_default("trend_min_groups")),
                     min_ratio=float(settings_default("trend_min_ratio")))
    K = args.limit
    calibration = unrelated_pairs(records, vec, plan.span)

    t0 = time.perf_counter()
    span_vecs = np.stack([vec[records[i].id] for i in plan.span])
    last = plan.digest_days[-1]
    reader_days = [last - timedelta(days=args.reader_days - 1 - n) for n in range(args.reader_days)]
    trend_days = sorted(set(plan.digest_days) | set(reader_days))
    trends = {d: day_trend(records, plan.span, span_vecs, d, rule) for d in trend_days}
    vocabs = {d: day_vocab(records, plan, d) for d in trend_days}
    trend_s = time.perf_counter() - t0
    log(f"burst test and phrase frequencies on {len(trends)} days in {trend_s:.1f} s", quiet)

    authors = find_authors(records, plan)
    qualifying = len(authors)
    if args.users and args.users < len(authors):
        authors = sorted(random.Random(SEED).sample(authors, args.users), key=lambda u: (u.day, u.name))
    # The readers' reads end before a fixed day, so changing --reader-days keeps the same readers.
    readers = find_topic_readers(records, plan, plan.digest_days[-1] - timedelta(days=12))
    log(f"{qualifying} authors qualify; simulating {len(authors)}, and {len(readers)} readers × "
        f"{len(reader_days)} days", quiet)

    cases = author_cases(records, plan, vec, authors, [trends[d] for d in plan.digest_days], beta, floor, vocabs)
    results, seconds = {}, {}
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        for name, fn in [("(a) relevance-only", lambda c: (rank_relevance(c, K), None)),
                         ("(a') zotero-arxiv-daily", lambda c: (rank_zotero(records, c, K), None)),
                         (f"(c) Glean β={beta:g}, floor {floor:g}", lambda c: (rank_glean(c, K), c.glean_picks))]:
            t0 = time.perf_counter()
            outcomes = [Outcome(c, *fn(c)) for c in cases]
            seconds[f"authors {name}"] = time.perf_counter() - t0
            results[f"authors {name}"] = evaluate(records, outcomes, K)
            log(f"  authors {name}: {seconds[f'authors {name}']:.1f} s", quiet)
        reader_outcomes = {}
        for name, key in [("(a) relevance-only", "relevance"), ("(a') zotero-arxiv-daily", "zotero"),
                          (f"(c) Glean β={beta:g}, floor {floor:g}", "glean")]:
            t0 = time.perf_counter()
            reader_outcomes[key] = run_readers(records, plan, vec, readers, reader_days, trends, vocabs, key, K, beta,
                                               floor)
            results[f"readers {name}"] = evaluate(records, reader_outcomes[key], K)
            seconds[f"readers {name}"] = time.perf_counter() - t0
        for other in [float(b) for b in args.betas.split(",") if b.strip()]:
            name = f"(c) Glean β={other:g}, floor {floor:g}"
            results[f"authors {name}"] = evaluate(records, [Outcome(c, rank_glean(c, K, beta=other), c.glean_picks)
                                                            for c in cases], K)
            results[f"readers {name}"] = evaluate(
                records, run_readers(records, plan, vec, readers, reader_days, trends, vocabs, "glean", K, other, floor),
                K)
    glean_name = f"(c) Glean β={beta:g}, floor {floor:g}"
    check = {"authors": targets(results["authors (a) relevance-only"], results[f"authors {glean_name}"]),
             "readers": targets(results["readers (a) relevance-only"], results[f"readers {glean_name}"])}
    dumped = dump_picks(records, reader_outcomes["glean"], Path(args.dump_picks)) if args.dump_picks else None
    timing = time_rank(cases, K, args.timing_users, args.timing_candidates, quiet) if args.timing_users else None
    for m in results.values():
        for key in [k for k in m if k.startswith("_")]:
            m.pop(key)
    out = {
        "command": " ".join(["benchmarks/bench_ranker.py"] + (sys.argv[1:] if argv is None else list(argv))),
        "machine": info,
        "setup": {"model": args.model, "limit": K, "beta": beta, "floor": floor, "rule": asdict(rule),
                  "cutoffs": [c.isoformat() for c in plan.cutoffs], "reader_days": [d.isoformat() for d in reader_days],
                  "embedded": len(wanted), "classics": len(plan.classics), "authors_qualifying": qualifying,
                  "authors": len(authors), "readers": {r.name: {"reads": len(r.profile), "home_field": r.home_field}
                                                      for r in readers},
                  "candidates_mean": float(np.mean([len(c.cand) for c in cases])), "trend_s": round(trend_s, 1)},
        "floor_calibration": calibration,
        "bursts": {d.isoformat(): {"tested": t.tested, "bursting": [c for c in t.labels if c["significant"]]}
                   for d, t in trends.items()},
        "results": results, "ranker_seconds": {k: round(v, 2) for k, v in seconds.items()},
        "targets": check, "timing": timing, "dumped_picks": dumped,
        "total_s": round(time.perf_counter() - started, 1),
    }
    if args.save_json:
        Path(args.save_json).write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(json.dumps(out, indent=2, default=float) if args.json else report(out))
    return 0


def time_rank(cases: list[Case], k: int, n: int, pool: int, quiet: bool) -> dict:
    """rank() for n users (the simulated authors reused cyclically), each on ``pool`` of its candidates;
    profiles and candidate rows are prepared beforehand, only rank() is timed (one BLAS thread)."""
    from threadpoolctl import threadpool_limits

    rng = random.Random(SEED)
    rows = [sorted(rng.sample(range(len(c.candidates)), pool)) if pool and len(c.candidates) > pool
            else list(range(len(c.candidates))) for c in cases]
    lists = [[c.candidates[i] for i in r] for c, r in zip(cases, rows)]
    vocabs = [c.vocab for c in cases]
    with threadpool_limits(limits=1):
        t0, p0 = time.perf_counter(), time.process_time()
        for j in range(n):
            c = j % len(cases)
            rank(cases[c].profile, lists[c], limit=k, vectors=cases[c].cand_vecs[rows[c]], vocab=vocabs[c])
        wall, cpu = time.perf_counter() - t0, time.process_time() - p0
    log(f"timing: {n} rank() calls in {wall:.1f} s", quiet)
    return {"users": n, "candidates_mean": float(np.mean([len(x) for x in lists])), "seconds": round(wall, 1),
            "ms_per_user": round(1000 * wall / n, 2), "cpu_seconds": round(cpu, 1),
            "seconds_for_10000": round(wall / n * 10000, 1)}


def report(out: dict) -> str:
    s, m, cal = out["setup"], out["machine"], out["floor_calibration"]
    lines = [f"Glean ranker offline evaluation — {s['authors']} simulated authors ({s['authors_qualifying']} qualify) "
             f"on {len(s['cutoffs'])} days, and six readers × {len(s['reader_days'])} daily digests; K={s['limit']}, "
             f"β={s['beta']:g}, absolute floor {s['floor']:g}; {s['candidates_mean']:.0f} candidates per author-day",
             f"machine: {m['nproc']} × {m['cpu']}, Python {m['python']}; burst test on "
             f"{len(out['bursts'])} days in {s['trend_s']:.0f} s", "",
             f"Floor calibration (unrelated pairs = different top-level fields, {cal['pairs']} pairs): cosine median "
             f"{cal['median']}, p95 {cal['p95']}, p99 {cal['p99']}, p99.9 {cal['p999']}; the highest cosine of a paper "
             f"to 15 reads from other fields: median {cal['max15_median']}, p95 {cal['max15_p95']}, "
             f"p99 {cal['max15_p99']}.", "",
             table(list(out["results"].items())), "",
             "Bursting clusters per day (passed the test): " + "; ".join(
                 f"{d}: {len(b['bursting'])}/{b['tested']}" for d, b in out["bursts"].items())]
    for scope, t in out["targets"].items():
        lines.append(f"Targets, {scope}: below floor {t['below_floor']:.3f} (0), false reasons "
                     f"{t['false_reasons']:.3f} (0), popular ok {t['popular_ok']:.2f} of {t['popular_claims']} (1.0), "
                     f"reach ≥ 3 fields {t['reach3_fields']:.3f} (≤ 0.02), burst exposure {t['burst_exposure']:.3f} vs "
                     f"(a) {t['burst_exposure_base']:.3f} (≤ ⅓: {'PASS' if t['burst_ok'] else 'FAIL'}), relevance "
                     f"ratio {t['relevance_ratio']:.3f} (≥ 0.90: {'PASS' if t['relevance_ok'] else 'FAIL'})")
    if out["timing"]:
        tm = out["timing"]
        lines.append(f"rank() for 10,000 users, {tm['candidates_mean']:.0f} candidates each (one BLAS thread): "
                     f"{tm['seconds_for_10000']:.1f} s ({tm['ms_per_user']:.2f} ms/user)")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
