"""Offline evaluation of the diversity ranker against relevance-only and arxiv-sanity-lite, in one run.

    .venv/bin/python benchmarks/bench_ranker.py                  # table (embeds on first run, then cached)
    .venv/bin/python benchmarks/bench_ranker.py --json           # the same figures as JSON
    .venv/bin/python benchmarks/bench_ranker.py --users 200 --limit 10 --timing-users 10000
    .venv/bin/python benchmarks/bench_ranker.py --sweep          # also a small β / MMR λ / quota sweep
    .venv/bin/python benchmarks/bench_ranker.py --sweep --save-json /tmp/ranker.json   # table + JSON file
    .venv/bin/python benchmarks/bench_ranker.py --embed-only     # only fill the vector cache

Data: the real arXiv metadata sample ../shared/corpus/metadata/arxiv_sample.jsonl.gz (read only).

Simulation (all choices are flags; the defaults are what results_ranker.md reports):

* Days. ``--days`` cutoffs one ``--step`` apart from ``--first-cutoff`` (default 6 weekly cutoffs from
  2018-03-05). Digest day D = cutoff + ``--new-days`` (14). "Now" is D at 23:59 UTC, as picks_for does.
* Embedded subset (the only slow part; vectors are cached in benchmarks/cache/ranker_vectors/<model>/,
  keyed by record id and model name, so reruns skip it): every record created in
  (D_first − 395 days, D_last] — what the trend history of the first day needs through the candidates
  of the last day, ≈12.5k records — plus ``--classics`` pre-2010 records (default 600), sampled with a
  fixed seed per field in proportion to the field mix of that span (two thirds of the raw pre-2010
  sample is physics, mostly 1993–94, which no reader of this span would see as "their" classics). Text = title + ". " +
  abstract, exactly pipelines.index_stage.paper_text, model all-MiniLM-L6-v2 via pipelines.embedding.
* Trendiness per day: pipelines.trend.burst_scores over the embedded dated records up to D (window 30
  days, history the 365 before, ``--rho`` default 0.6 = settings.trend_rho), turned into percentiles
  exactly as service/picks.py._percentiles does (rank among all papers scored that day; unscored → 0).
* Users: real authors (names normalised: accents folded, lower case, punctuation dropped, first + last
  token; initials-only first names and names with > 60 papers in the sample are skipped as likely
  collisions). A user is (author, first cutoff at which the author has ≥ 3 papers in the 365 days up to
  the cutoff and ≥ 1 paper in (cutoff, D]). Profile = those ≥ 3 papers, weighted as picks.py weighs
  reads (0.5 ** (age / 90 days), age = D − created), interests none; home fields = their primary
  categories and fields (as build_profile does).
* Candidates per user (identical for every ranker): "new" = all records created in (cutoff, D] (the
  user's own later papers included: they are the ground truth); "classic" = the classic sample;
  "cross-field" = records created in (D − 30 days, cutoff] whose field and category are outside the
  user's home fields (the service's cross-field pool is feed items of the last trend window).
* Ground truth: the author's papers in (cutoff, D]. "own hit@K" = share of users with ≥ 1 of their own
  later papers among the picks; "cat hit" = share of picks whose primary category is the primary
  category of one of those later papers.
* Relevance (the same measure for every ranker) = the pick's highest cosine to any profile paper.

Rankers: (a) relevance-only, top K by that max cosine (zotero-arxiv-daily ranks by cosine to the
library; its exact decay-weighted mean is reported as an extra row); (b) arxiv-sanity-lite: tf-idf as
its compute.py (1–2-grams, 10k features, min_df 5, max_df 0.5, sublinear tf; title + abstract — not
its author names, which would hand it the author's identity) fitted on the embedded subset, and per user
sklearn LinearSVC(class_weight="balanced", C=0.1, tol=1e-6, max_iter=10000) as its serve.py, positives
the profile papers, negatives ``--svm-negatives`` (2,000) random pre-cutoff records of the span plus
the day's candidates (arxiv-sanity trains on its whole database, new papers included), candidates
ranked by decision_function; (c) Glean's service.ranker.rank at β = 0, settings.rank_beta, 0.5 and 1.5,
default RankParams otherwise.

Metrics are means over users (per pick, then per user), except pooled subfield entropy (Shannon
entropy, bits, of taxonomy subfields over all picks of a ranker); "entropy/list" is the mean of the
per-digest entropies. Trend exposure = share of picks whose trend percentile is ≥ 0.9 (the top decile
of that day's scored papers; classics have none). Cross-field = outside the user's home fields, the
ranker's own test. The two targets are checked at Glean's default strength (the declared default of
settings.rank_beta, or ``--beta``) against (a), with a paired bootstrap 95 % interval over users for
each ratio. Glean rows: β = 0, the default, 0.5 (the first default) and 1.5. ``--sweep`` adds Glean rows for other β, MMR λ, quotas, bonuses, the
classics cap, and a hinge mapping of the trend percentile (see SWEEP).

Timing: ``--timing-users`` (10,000) calls of rank() at the default β, the simulated users reused cyclically,
each on a fixed random ``--timing-candidates`` (1,000) of its real candidates; profiles and candidate
lists are built beforehand and only rank() is timed, with the BLAS thread pool as configured; interleaved
with those calls, a fifth as many run with BLAS limited to one thread (threadpoolctl) for comparison.
Wall and CPU seconds are both reported: other jobs share this machine, so wall time depends on its load
(the load average is recorded). The comparisons and the sweep themselves run with one BLAS thread.
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
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np

from pipelines.taxonomy import field_of, lookup
from pipelines.trend import HISTORY_DAYS, burst_scores
from service.ranker import (
    CLASSIC_BEFORE,
    Candidate,
    Profile,
    ProfileItem,
    RankParams,
    rank,
)

METADATA = ROOT.parent / "shared" / "corpus" / "metadata" / "arxiv_sample.jsonl.gz"
CACHE = ROOT / "benchmarks" / "cache" / "ranker_vectors"
MODEL = "all-MiniLM-L6-v2"
RECENCY_HALF_LIFE_DAYS = 90  # service/picks.py
WINDOW_DAYS = 30  # settings.trend_window_days
PROFILE_DAYS = 365
MAX_AUTHOR_PAPERS = 60
TOP_DECILE = 0.9
FIRST_DEFAULT_BETA = 0.5  # the default the targets were first checked at; always reported
EMBED_CHUNK = 256
SEED = 20180305


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


def percentiles(scores: dict[str, float]) -> dict[str, float]:
    """service/picks.py._percentiles: rank among all scored papers, (i + 1) / n."""
    ordered = sorted(scores, key=lambda pid: scores[pid])
    n = len(ordered)
    return {pid: (i + 1) / n for i, pid in enumerate(ordered)}


def day_trends(records: list[Record], span: list[int], vectors: np.ndarray, day: date, rho: float) -> dict:
    now = utc(day, dtime(23, 59))
    keep = [k for k, i in enumerate(span) if records[i].created <= day]
    ids = [records[span[k]].id for k in keep]
    bursts = burst_scores(ids, vectors[keep], [utc(records[span[k]].created) for k in keep],
                          [records[span[k]].category for k in keep], now, window_days=WINDOW_DAYS, rho=rho)
    scores = {b.paper_id: b.score for b in bursts}
    return {"percentile": percentiles(scores), "neighbours": {b.paper_id: b.recent for b in bursts},
            "scores": scores}


# ---------------------------------------------------------------------------------------- users


@dataclass
class User:
    author: str
    day: int  # index into plan.cutoffs
    profile: list[int]
    later: list[int]
    home: set[str] = field(default_factory=set)


def find_users(records: list[Record], plan: Plan) -> list[User]:
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
                home = set()
                for i in profile:
                    home |= {x for x in (records[i].category, records[i].field) if x}
                users.append(User(author, d, profile, later, home))
                break
    return users


# -------------------------------------------------------------------------------------- rankers


@dataclass
class Case:
    """One user's day: profile and candidates as every ranker sees them."""
    user: User
    cand: list[int]  # record indices
    pools: list[str]
    cand_vecs: np.ndarray
    prof_vecs: np.ndarray
    prof_weights: np.ndarray
    trend: np.ndarray  # percentile per candidate
    candidates: list[Candidate]  # for service.ranker.rank
    rel: np.ndarray  # max cosine to the profile, per candidate (the relevance measure)


def build_cases(records, plan, users, vec, trends) -> list[Case]:
    day_new: list[list[int]] = []
    day_recent: list[list[int]] = []
    for d, cut in enumerate(plan.cutoffs):
        D = plan.digest_days[d]
        day_new.append([i for i in plan.span if cut < records[i].created <= D])
        day_recent.append([i for i in plan.span if D - timedelta(days=WINDOW_DAYS) < records[i].created <= cut])
    cases = []
    for u in users:
        D = plan.digest_days[u.day]
        own = set(u.profile)
        cand, pools = [], []
        for i in day_new[u.day]:
            cand.append(i), pools.append("new")
        for i in plan.classics:
            cand.append(i), pools.append("classic")
        for i in day_recent[u.day]:
            r = records[i]
            if i not in own and not ({r.field, r.category} & u.home):
                cand.append(i), pools.append("cross-field")
        cand_vecs = np.stack([vec[records[i].id] for i in cand])
        prof_vecs = np.stack([vec[records[i].id] for i in u.profile])
        weights = np.array([min(1.0, 0.5 ** ((D - records[i].created).days / RECENCY_HALF_LIFE_DAYS))
                            for i in u.profile])
        pct, nb = trends[u.day]["percentile"], trends[u.day]["neighbours"]
        trend = np.array([pct.get(records[i].id, 0.0) for i in cand])
        candidates = [Candidate(paper_id=records[i].id, title=records[i].title, year=records[i].year,
                                vector=cand_vecs[k], field=records[i].field, category=records[i].category,
                                pool=pools[k], trend=float(trend[k]), trend_neighbours=nb.get(records[i].id, 0))
                      for k, i in enumerate(cand)]
        rel = (cand_vecs @ prof_vecs.T).max(axis=1)
        cases.append(Case(u, cand, pools, cand_vecs, prof_vecs, weights, trend, candidates, rel))
    return cases


def settings_beta() -> float:
    """The shipped default strength: the declared default of Settings.rank_beta (not the environment)."""
    import dataclasses

    from pipelines.settings import Settings

    return float(next(f.default for f in dataclasses.fields(Settings) if f.name == "rank_beta"))


def glean_profile(records, case: Case, beta: float) -> Profile:
    items = [ProfileItem(label=records[i].title, vector=case.prof_vecs[k], weight=float(case.prof_weights[k]))
             for k, i in enumerate(case.user.profile)]
    return Profile(items=items, home_fields=set(case.user.home), beta=beta)


def rank_glean(records, case: Case, k: int, beta: float, params: RankParams | None = None) -> list[int]:
    picks = rank(glean_profile(records, case, beta), case.candidates, limit=k, params=params)
    where = {c.paper_id: n for n, c in enumerate(case.candidates)}
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


class SanityLite:
    """arxiv-sanity-lite: tf-idf features (compute.py) and a per-user linear SVM (serve.py)."""

    def __init__(self, records: list[Record], plan: Plan, negatives: int):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.index = {i: n for n, i in enumerate(plan.embed_ids(records))}
        self.v = TfidfVectorizer(input="content", encoding="utf-8", decode_error="replace",
                                 strip_accents="unicode", lowercase=True, analyzer="word", stop_words="english",
                                 token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
                                 max_features=10000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
                                 max_df=0.5, min_df=5)
        order = sorted(self.index, key=self.index.get)
        self.x = self.v.fit_transform([f"{records[i].title} {records[i].abstract}" for i in order]).astype(np.float32)
        self.records, self.plan, self.negatives = records, plan, negatives
        self.rng = np.random.default_rng(SEED)

    def rank(self, case: Case, k: int) -> list[int]:
        from scipy.sparse import vstack
        from sklearn import svm

        cut = self.plan.cutoffs[case.user.day]
        own = set(case.user.profile)
        pre = [i for i in self.plan.span if self.records[i].created <= cut and i not in own]
        neg = self.rng.choice(pre, size=min(self.negatives, len(pre)), replace=False)
        rows_pos = [self.index[i] for i in case.user.profile]
        rows_cand = [self.index[i] for i in case.cand]
        x = vstack([self.x[rows_pos], self.x[[self.index[i] for i in neg]], self.x[rows_cand]])
        y = np.zeros(x.shape[0], dtype=np.float32)
        y[:len(rows_pos)] = 1.0
        clf = svm.LinearSVC(class_weight="balanced", verbose=False, max_iter=10000, tol=1e-6, C=0.1)
        clf.fit(x, y)
        s = clf.decision_function(self.x[rows_cand])
        return list(np.argsort(-s, kind="stable")[:k])


# -------------------------------------------------------------------------------------- metrics


def entropy(labels) -> float:
    counts = Counter(labels)
    n = sum(counts.values())
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


def evaluate(records, cases: list[Case], picks: list[list[int]]) -> dict:
    rel, cat_hit, own_hit, hot, ild, old, cross, ent_list, subs = [], [], [], [], [], [], [], [], []
    any_old, any_cross = [], []
    for case, chosen in zip(cases, picks):
        if not chosen:
            continue
        ids = [case.cand[k] for k in chosen]
        later = set(case.user.later)
        later_cats = {records[i].category for i in later}
        rel.append(float(np.mean(case.rel[chosen])))
        cat_hit.append(np.mean([records[i].category in later_cats for i in ids]))
        own_hit.append(float(bool(later & set(ids))))
        hot.append(np.mean([case.trend[k] >= TOP_DECILE for k in chosen]))
        v = case.cand_vecs[chosen]
        if len(chosen) > 1:
            sims = v @ v.T
            m = len(chosen)
            ild.append(float((1 - sims[~np.eye(m, dtype=bool)]).mean()))
        old.append(np.mean([records[i].year < CLASSIC_BEFORE for i in ids]))
        cross.append(np.mean([case.pools[k] == "cross-field"
                              or not ({records[i].field, records[i].category} & case.user.home)
                              for k, i in zip(chosen, ids)]))
        any_old.append(old[-1] > 0)
        any_cross.append(cross[-1] > 0)
        labels = [records[i].subfield for i in ids]
        ent_list.append(entropy(labels))
        subs += labels
    mean = lambda xs: float(np.mean(xs)) if xs else float("nan")
    return {"users": len(rel), "relevance": mean(rel), "cat_hit": mean(cat_hit), "own_hit": mean(own_hit),
            "trend_exposure": mean(hot), "ild": mean(ild), "pre2010": mean(old), "cross_field": mean(cross),
            "entropy_pooled": entropy(subs), "entropy_list": mean(ent_list), "subfields": len(set(subs)),
            "digests_with_pre2010": mean(any_old), "digests_with_cross_field": mean(any_cross),
            "_per_user": {"relevance": np.array(rel), "trend_exposure": np.array(hot)}}


def quota_misses(records, cases: list[Case], picks: list[list[int]], beta: float,
                 params: RankParams | None = None) -> dict:
    """Digests where the ranker's own quota should have placed a pre-2010 / cross-field pick and did not:
    an eligible candidate (flag set, weighted relevance ≥ quota_relevance) existed, yet no pick has the flag."""
    from service.ranker import score_candidates

    params = params or RankParams()
    miss = {"is_old": 0, "is_cross": 0}
    for case, chosen in zip(cases, picks):
        scored = score_candidates(glean_profile(records, case, beta), case.candidates,
                                  np.stack([c.vector for c in case.candidates]), params)
        relevant = scored.relevance >= params.quota_relevance
        for flag in miss:
            flags = getattr(scored, flag)
            if (flags & relevant).any() and not flags[list(chosen)].any():
                miss[flag] += 1
    return {"old_quota_missed": miss["is_old"], "cross_quota_missed": miss["is_cross"], "digests": len(cases)}


# ---------------------------------------------------------------------------------------- output


COLUMNS = [("relevance", "mean rel", "{:.3f}"), ("cat_hit", "cat hit", "{:.3f}"), ("own_hit", "own hit@K", "{:.3f}"),
           ("trend_exposure", "trend exp", "{:.3f}"), ("ild", "ILD", "{:.3f}"), ("pre2010", "pre-2010", "{:.3f}"),
           ("cross_field", "cross-field", "{:.3f}"), ("entropy_list", "H/list", "{:.2f}"),
           ("entropy_pooled", "H pooled", "{:.2f}")]


def table(rows: list[tuple[str, dict]], first: str = "ranker") -> str:
    head = [first] + [c[1] for c in COLUMNS]
    body = [[name] + [fmt.format(m[key]) for key, _, fmt in COLUMNS] for name, m in rows]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                       for i, (c, w) in enumerate(zip(r, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(head), sep] + [line(r) for r in body])


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "numpy": np.__version__, "load_1min_at_start": load,
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def bootstrap_ratio(num: np.ndarray, den: np.ndarray, n: int = 2000) -> list[float]:
    """95 % interval of mean(num) / mean(den), resampling users (paired: the same users for both)."""
    rng = np.random.default_rng(SEED)
    idx = rng.integers(0, len(num), size=(n, len(num)))
    d = den[idx].mean(axis=1)
    ratios = np.divide(num[idx].mean(axis=1), d, out=np.full(n, np.nan), where=d > 0)
    lo, hi = np.nanpercentile(ratios, [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


def targets(base: dict, glean: dict) -> dict:
    exp_ok = glean["trend_exposure"] <= base["trend_exposure"] / 3
    rel_ok = glean["relevance"] >= 0.85 * base["relevance"]
    ci = {}
    if "_per_user" in base and "_per_user" in glean:
        ci = {"relevance_ratio_ci95": bootstrap_ratio(glean["_per_user"]["relevance"], base["_per_user"]["relevance"]),
              "trend_ratio_ci95": bootstrap_ratio(glean["_per_user"]["trend_exposure"],
                                                  base["_per_user"]["trend_exposure"])}
    return {**ci, "trend_exposure": glean["trend_exposure"], "trend_exposure_max": base["trend_exposure"] / 3,
            "trend_ok": bool(exp_ok), "relevance": glean["relevance"], "relevance_min": 0.85 * base["relevance"],
            "relevance_ok": bool(rel_ok), "relevance_ratio": glean["relevance"] / base["relevance"],
            "trend_ratio": glean["trend_exposure"] / base["trend_exposure"] if base["trend_exposure"] else float("nan")}


# ------------------------------------------------------------------------------------------ main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--users", type=int, default=0, help="simulated users (0 = all that qualify)")
    p.add_argument("--limit", type=int, default=10, help="picks per digest (K)")
    p.add_argument("--first-cutoff", default="2018-03-05")
    p.add_argument("--days", type=int, default=6, help="simulated cutoffs")
    p.add_argument("--step", type=int, default=7, help="days between cutoffs")
    p.add_argument("--new-days", type=int, default=14, help="days of new papers after a cutoff")
    p.add_argument("--classics", type=int, default=600, help="pre-2010 records in the classic pool")
    p.add_argument("--rho", type=float, default=0.6, help="trend neighbour threshold (settings.trend_rho)")
    p.add_argument("--svm-negatives", type=int, default=2000)
    p.add_argument("--beta", type=float, default=None,
                   help="Glean's default strength to check the targets at (default: settings.rank_beta)")
    p.add_argument("--timing-users", type=int, default=10000, help="rank() calls for the timing (0 = skip)")
    p.add_argument("--timing-candidates", type=int, default=1000,
                   help="candidates per rank() call in the timing (a fixed random subset; 0 = the full pool)")
    p.add_argument("--sweep", action="store_true", help="also sweep β, MMR λ and the quotas")
    p.add_argument("--save-json", metavar="PATH", help="also write the JSON figures to PATH")
    p.add_argument("--model", default=MODEL)
    p.add_argument("--embed-only", action="store_true")
    return p.parse_args(argv)


def log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


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
    t0 = time.perf_counter()
    vec = embed(records, wanted, args.model, quiet=quiet)
    embed_s = time.perf_counter() - t0
    if args.embed_only:
        log(f"embedded/cached {len(vec)} vectors in {embed_s:.0f} s", quiet)
        return 0

    users = find_users(records, plan)
    qualifying = len(users)
    if args.users and args.users < len(users):
        users = sorted(random.Random(SEED).sample(users, args.users), key=lambda u: (u.day, u.author))
    log(f"{qualifying} authors qualify as users; simulating {len(users)} on {len(plan.cutoffs)} days", quiet)

    t0 = time.perf_counter()
    span_vecs = np.stack([vec[records[i].id] for i in plan.span])
    trends = [day_trends(records, plan.span, span_vecs, d, args.rho) for d in plan.digest_days]
    trend_s = time.perf_counter() - t0
    trend_diag = trend_diagnostics(trends)
    log(f"trend scores for {len(trends)} days in {trend_s:.1f} s", quiet)

    cases = build_cases(records, plan, users, vec, trends)
    own = [trends[c.user.day]["percentile"].get(records[i].id, 0.0) for c in cases for i in c.user.later]
    trend_diag["own_later_papers"] = {"mean_percentile": float(np.mean(own)),
                                      "share_top_decile": float(np.mean(np.array(own) >= TOP_DECILE))}
    trend_diag["candidates_top_decile_share"] = float(np.mean([np.mean(c.trend >= TOP_DECILE) for c in cases]))
    trend_diag["new_pool_top_decile_share"] = float(np.mean(
        [np.mean(c.trend[np.array(c.pools) == "new"] >= TOP_DECILE) for c in cases]))
    K = args.limit
    sanity = SanityLite(records, plan, args.svm_negatives)
    default_beta = args.beta if args.beta is not None else settings_beta()
    glean_betas = {0.0: "off", FIRST_DEFAULT_BETA: "first default", 1.5: "strong", default_beta: "default"}
    default_name = f"(c) Glean β={default_beta:g} (default)"
    rankers = [
        ("(a) relevance-only (max cosine)", lambda c: rank_relevance(c, K)),
        ("(a') zotero-arxiv-daily decay mean", lambda c: rank_zotero(records, c, K)),
        ("(b) arxiv-sanity-lite tf-idf+SVM", lambda c: sanity.rank(c, K)),
    ] + [(f"(c) Glean β={b:g} ({label})", lambda c, b=b: rank_glean(records, c, K, b))
         for b, label in sorted(glean_betas.items())]
    from threadpoolctl import threadpool_limits

    results, seconds = {}, {}
    single = threadpool_limits(limits=1)  # the comparisons and the sweep: one BLAS thread, less contention
    for name, fn in rankers:
        t0 = time.perf_counter()
        picks = [fn(c) for c in cases]
        seconds[name] = time.perf_counter() - t0
        results[name] = evaluate(records, cases, picks)
        if name.startswith("(c)"):
            results[name].update(quota_misses(records, cases, picks, float(name.split("β=")[1].split()[0])))
        log(f"  {name}: {seconds[name]:.1f} s", quiet)
    base = results["(a) relevance-only (max cosine)"]
    check = targets(base, results[default_name])
    check["beta"] = default_beta

    sweep = run_sweep(records, cases, K, base, quiet) if args.sweep else None
    single.restore_original_limits()
    timing = (time_rank(records, cases, K, args.timing_users, args.timing_candidates, default_beta, quiet)
              if args.timing_users else None)

    for m in list(results.values()) + [r["metrics"] for r in sweep or []]:
        m.pop("_per_user", None)
    out = {
        "command": " ".join(["benchmarks/bench_ranker.py"] + (sys.argv[1:] if argv is None else list(argv))),
        "machine": info,
        "setup": {"model": args.model, "limit": K, "cutoffs": [c.isoformat() for c in plan.cutoffs],
                  "digest_days": [d.isoformat() for d in plan.digest_days], "new_days": args.new_days,
                  "rho": args.rho, "window_days": WINDOW_DAYS, "history_days": HISTORY_DAYS,
                  "embedded": len(wanted), "embedded_dated": len(plan.span), "classics": len(plan.classics),
                  "embed_s": round(embed_s, 1), "trend_s": round(trend_s, 1),
                  "users_qualifying": qualifying, "users": len(cases),
                  "users_per_day": dict(Counter(plan.cutoffs[c.user.day].isoformat() for c in cases)),
                  "profile_papers_mean": float(np.mean([len(c.user.profile) for c in cases])),
                  "later_papers_mean": float(np.mean([len(c.user.later) for c in cases])),
                  "candidates_mean": float(np.mean([len(c.cand) for c in cases])),
                  "candidates_by_pool_mean": {p: float(np.mean([c.pools.count(p) for c in cases]))
                                              for p in ("new", "classic", "cross-field")},
                  "home_fields": dict(Counter(records[c.user.profile[-1]].field for c in cases).most_common()),
                  "svm_negatives": args.svm_negatives},
        "trend": trend_diag,
        "results": results,
        "ranker_seconds": {k: round(v, 2) for k, v in seconds.items()},
        "targets_at_default": check,
        "timing": timing,
        "sweep": sweep,
        "total_s": round(time.perf_counter() - started, 1),
    }
    if args.save_json:
        Path(args.save_json).write_text(json.dumps(out, indent=2, default=float) + "\n")
    if args.json:
        print(json.dumps(out, indent=2, default=float))
    else:
        print(report(out))
    return 0


def trend_diagnostics(trends: list[dict]) -> dict:
    per_day = []
    for t in trends:
        scores = np.array(list(t["scores"].values()))
        nb = np.array(list(t["neighbours"].values()))
        pct = t["percentile"]
        top = [pid for pid, p in pct.items() if p >= TOP_DECILE]
        per_day.append({"scored": len(scores), "zero_neighbours": float((nb == 0).mean()),
                        "median_neighbours": float(np.median(nb)),
                        "top_decile_min_score": float(min(t["scores"][p] for p in top)) if top else None,
                        "top_decile_mean_neighbours": float(np.mean([t["neighbours"][p] for p in top])) if top else None,
                        "distinct_scores": len(np.unique(np.round(scores, 6)))})
    return {"per_day": per_day,
            "scored_mean": float(np.mean([d["scored"] for d in per_day])),
            "zero_neighbours_mean": float(np.mean([d["zero_neighbours"] for d in per_day]))}


def time_rank(records, cases: list[Case], k: int, n: int, pool: int, beta: float, quiet: bool) -> dict:
    """rank() for n users, the simulated ones reused cyclically, each on ``pool`` of its candidates (a fixed
    random subset; all of them when pool is 0). Profiles and candidate lists are built beforehand; only rank()
    is timed. The n calls run with the BLAS thread pool as it comes (what the service does); interleaved with
    them, in blocks, n/5 more calls run with BLAS limited to one thread, so both see the same machine load."""
    from threadpoolctl import threadpool_info, threadpool_limits

    rng = random.Random(SEED)
    profiles = [glean_profile(records, c, beta) for c in cases]
    # As the service does it (service/picks.py): the day's candidate vectors are stacked once,
    # and each user's call takes its rows of that matrix (the row selection is timed).
    rows = [sorted(rng.sample(range(len(c.candidates)), pool)) if pool and len(c.candidates) > pool
            else list(range(len(c.candidates))) for c in cases]
    day_matrices = [np.stack([x.vector for x in c.candidates]) for c in cases]
    lists = [[c.candidates[i] for i in r] for c, r in zip(cases, rows)]
    params = RankParams()

    def call(c: int) -> None:
        rank(profiles[c], lists[c], limit=k, params=params, vectors=day_matrices[c][rows[c]])

    call(0)  # warm up
    out = {"users": n, "candidates_mean": float(np.mean([len(lists[j % len(lists)]) for j in range(n)])),
           "target_s": 60, "load_1min_before": os.getloadavg()[0],
           "blas_threads_default": max((p.get("num_threads", 1) for p in threadpool_info()), default=1)}
    spent = {"default_threads": 0.0, "one_thread": 0.0}
    cpu = {"default_threads": 0.0, "one_thread": 0.0}
    calls = {"default_threads": 0, "one_thread": 0}
    block, j, j1 = 500, 0, 0
    while j < n:
        t0, p0 = time.perf_counter(), time.process_time()
        for _ in range(min(block, n - j)):
            call(j % len(cases))
            j += 1
        spent["default_threads"] += time.perf_counter() - t0
        cpu["default_threads"] += time.process_time() - p0
        with threadpool_limits(limits=1):
            t0, p0 = time.perf_counter(), time.process_time()
            for _ in range(block // 5):
                call(j1 % len(cases))
                j1 += 1
            spent["one_thread"] += time.perf_counter() - t0
            cpu["one_thread"] += time.process_time() - p0
    calls = {"default_threads": j, "one_thread": j1}
    for label, secs in spent.items():
        per = secs / calls[label]
        out[label] = {"calls": calls[label], "seconds_measured": round(secs, 2),
                      "ms_per_user": round(1000 * per, 2), "seconds_for_n": round(per * n, 1),
                      "seconds_for_10000": round(per * 10000, 1), "ok": per * 10000 <= 60,
                      "cpu_seconds_for_10000": round(cpu[label] / calls[label] * 10000, 1)}
        log(f"timing ({label}): {calls[label]} rank() calls in {secs:.1f} s", quiet)
    out["load_1min_after"] = os.getloadavg()[0]
    return out


# The sweep: β, MMR λ, the quotas and bonuses, the classics cap; two rows also try a different *input*
# mapping of the trend percentile (hinge: only the top fifth of the day's trendiness is penalised,
# max(0, p − 0.8) / 0.2), which is a change to what picks.py would pass, not to the ranker.
SWEEP = ([{"beta": b} for b in (0.1, 0.2, 0.3, 0.5, 1.0, 1.5)]
         + [{"beta": b, "mmr_lambda": lam} for b in (0.2, 0.5) for lam in (0.5, 0.9)]
         + [{"beta": b, "min_old": 0, "min_cross": 0} for b in (0.2, 0.5)]
         + [{"beta": b, "max_old_share": 0.1} for b in (0.2, 0.5)]
         + [{"beta": 0.5, "old_bonus": 0.0, "cross_bonus": 0.0}]
         + [{"beta": b, "trend_map": "hinge0.8"} for b in (0.5, 1.0)])
SWEEP_FIELDS = ("mmr_lambda", "old_bonus", "cross_bonus", "min_old", "min_cross", "max_old_share")


def hinge_cases(cases: list[Case], knee: float) -> list[Case]:
    out = []
    for c in cases:
        trend = np.clip((c.trend - knee) / (1 - knee), 0, None)
        cands = [replace(x, trend=float(t)) for x, t in zip(c.candidates, trend)]
        out.append(replace(c, candidates=cands))
    return out


def run_sweep(records, cases: list[Case], k: int, base: dict, quiet: bool) -> list[dict]:
    rows = []
    hinged = None
    for cfg in SWEEP:
        cfg = dict(cfg)
        beta = cfg.pop("beta")
        trend_map = cfg.pop("trend_map", "percentile")
        if trend_map != "percentile" and hinged is None:
            hinged = hinge_cases(cases, 0.8)
        use = hinged if trend_map != "percentile" else cases
        params = RankParams(**cfg)
        picks = [rank_glean(records, c, k, beta, params) for c in use]
        m = evaluate(records, cases, picks)  # metrics on the real percentiles
        rows.append({"beta": beta, "trend_map": trend_map, **{f: getattr(params, f) for f in SWEEP_FIELDS},
                     "metrics": m, "targets": targets(base, m)})
        log(f"  sweep β={beta} {trend_map} {cfg}: rel {m['relevance']:.3f} trend {m['trend_exposure']:.3f}", quiet)
    return rows


def report(out: dict) -> str:
    s, m, t = out["setup"], out["machine"], out["targets_at_default"]
    lines = [(f"Glean ranker offline evaluation — {s['users']} simulated authors ({s['users_qualifying']} qualify), "
             f"{len(s['cutoffs'])} days {s['digest_days'][0]}…{s['digest_days'][-1]}, K={s['limit']}, "
             f"{s['candidates_mean']:.0f} candidates/user "
             f"(new {s['candidates_by_pool_mean']['new']:.0f}, classic {s['candidates_by_pool_mean']['classic']:.0f}, "
             f"cross-field {s['candidates_by_pool_mean']['cross-field']:.0f}), rho={s['rho']}"),
             (f"machine: {m['nproc']} × {m['cpu']}, Python {m['python']}; embedded {s['embedded']} texts "
             f"({s['embed_s']:.0f} s this run), trends {s['trend_s']:.0f} s"), "",
             table(list(out["results"].items())), "",
             ("mean rel = max cosine of a pick to the profile; cat hit = share of picks in a primary category of the "
             "author's later papers; own hit@K = users with their own later paper picked; trend exp = share of "
             "picks in the day's top trend decile; ILD = mean pairwise 1 − cos; H = subfield entropy (bits), per "
             "list averaged / pooled over all picks."), "",
             ("Digests carrying ≥ 1 pre-2010 / ≥ 1 cross-field pick (Glean's quotas ask for one of each when a "
             "candidate with weighted relevance ≥ 0.25 exists; 'missed' = such a candidate existed, none was picked):")]
    for name, r in out["results"].items():
        extra = (f"; quota missed: pre-2010 {r['old_quota_missed']}, cross-field {r['cross_quota_missed']} "
                 f"of {r['digests']}" if "old_quota_missed" in r else "")
        lines.append(f"  {name}: {r['digests_with_pre2010']:.3f} / {r['digests_with_cross_field']:.3f}{extra}")
    lines += ["",
             f"Targets at the default strength (β={t['beta']:g}, settings.rank_beta) against (a):",
             (f"  trend exposure {t['trend_exposure']:.3f} ≤ {t['trend_exposure_max']:.3f} (1/3 of (a)): "
             f"{'PASS' if t['trend_ok'] else 'FAIL'}  (ratio {t['trend_ratio']:.3f}, 95 % CI over users "
             f"{t['trend_ratio_ci95'][0]:.3f}–{t['trend_ratio_ci95'][1]:.3f})"),
             (f"  mean relevance {t['relevance']:.3f} ≥ {t['relevance_min']:.3f} (85 % of (a)): "
             f"{'PASS' if t['relevance_ok'] else 'FAIL'}  (ratio {t['relevance_ratio']:.3f}, 95 % CI over users "
             f"{t['relevance_ratio_ci95'][0]:.3f}–{t['relevance_ratio_ci95'][1]:.3f})")]
    if out["timing"]:
        tm = out["timing"]
        for label in ("default_threads", "one_thread"):
            r = tm[label]
            how = (f"BLAS threads as configured ({tm['blas_threads_default']}), {r['calls']} calls measured"
                   if label == "default_threads" else f"BLAS 1 thread, {r['calls']} calls measured")
            if r["calls"] != 10000:
                how += ", scaled to 10,000"
            lines.append(f"  rank() for 10,000 users, {tm['candidates_mean']:.0f} candidates each ({how}): "
                         f"{r['seconds_for_10000']:.1f} s ({r['ms_per_user']:.2f} ms/user) ≤ 60 s: "
                         f"{'PASS' if r['ok'] else 'FAIL'}; CPU time {r['cpu_seconds_for_10000']:.1f} s")
        lines.append(f"  (load average {tm['load_1min_before']:.1f} before, {tm['load_1min_after']:.1f} after the timing)")
    if out["sweep"]:
        lines += ["", "Sweep (Glean, same users and days; other RankParams at their defaults):",
                  sweep_table(out["sweep"])]
    return "\n".join(lines)


def sweep_table(rows: list[dict]) -> str:
    head = ["β", "trend input", "λ", "old/cross bonus", "min old/cross", "old cap", "mean rel", "rel/(a)",
            "rel/(a) 95 % CI", "trend exp", "trend/(a)",
            "ILD", "own hit@K", "cat hit", "pre-2010", "cross-field", "H/list", "both targets"]
    body = []
    for r in rows:
        m, t = r["metrics"], r["targets"]
        body.append([f"{r['beta']:g}", r["trend_map"], f"{r['mmr_lambda']:g}",
                     f"{r['old_bonus']:g}/{r['cross_bonus']:g}", f"{r['min_old']}/{r['min_cross']}",
                     f"{r['max_old_share']:g}", f"{m['relevance']:.3f}", f"{t['relevance_ratio']:.3f}",
                     f"{t['relevance_ratio_ci95'][0]:.3f}–{t['relevance_ratio_ci95'][1]:.3f}",
                     f"{m['trend_exposure']:.3f}", f"{t['trend_ratio']:.2f}", f"{m['ild']:.3f}",
                     f"{m['own_hit']:.3f}", f"{m['cat_hit']:.3f}", f"{m['pre2010']:.3f}", f"{m['cross_field']:.3f}", f"{m['entropy_list']:.2f}",
                     "PASS" if t["trend_ok"] and t["relevance_ok"] else "fail"])
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"] + [line(r) for r in body])


if __name__ == "__main__":
    raise SystemExit(main())
