"""The diversity ranker: relevant, but deliberately not what everyone else is reading.

A pure function. It takes the reader's profile (weighted vectors and texts of what they
read and rated, and their stated interests) and candidate papers (vectors, texts, their
burst-test membership), and returns picks with their score parts, the claims their
reason makes, and the reason in plain words.

Every pick earns its slot:

* **A floor.** A pick's cosine to its nearest read or interest must clear the reader's
  floor: the deployment's absolute floor (calibrated on unrelated pairs, BENCHMARKS.md)
  or, when higher, the low end of how close the reader's own reads sit to each other.
  Nothing is picked to fill a list; a digest may be short.
* **Score** = relevance − β·trend + old bonus + cross-field bonus, where trend is 1 only
  for papers in a cluster that passed the burst test (pipelines/trend.py), 0 otherwise. Such a
  paper must also clear the floor by β: "popular, but very close to your reading".
* **Cross-field needs a bridge:** a paper from a subfield the reader hardly reads is
  eligible only if it clears the floor against a specific read *and* shares a concept
  (a key phrase) with it. Old papers and cross-field papers also need a second read near
  them; any other pick with only one read near it must share a concept with that read.
* **Variety** by Maximal Marginal Relevance among eligible papers, then quotas (one old,
  one cross-field paper when an eligible one exists); at most ``max_old_share`` of the list's
  slots go to old papers and ``max_cross_share`` to papers from other fields (rounded down).

Reasons only say what the stored data can confirm; :func:`false_claims` checks a pick's
claims against its inputs, and the tests and the benchmark run it on every pick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from pipelines.concepts import KeyPhrases, Vocabulary, fold, phrases, shared_concepts
from pipelines.taxonomy import field_key

CLASSIC_BEFORE = 2010
QUIET_NEIGHBOURS = 2  # "quiet corner": at most this many near neighbours in the trend window
MMR_REDUNDANT = 0.5  # only picks this similar to each other count as redundant
MIN_SUPPORT_ITEMS = 3  # with fewer profile items, a paper's support is its nearest one
PER_READ = 2  # at most this many picks in one list may hang on the same read


@dataclass
class ProfileItem:
    label: str  # what the reason may quote: a read paper's title, or "your interests"
    vector: np.ndarray
    weight: float = 1.0  # recency and rating; negatives are separate
    kind: str = "read"  # read | rated | interests
    paper_id: str | None = None
    text: str = ""  # title + abstract (or the interests text): where shared concepts come from


@dataclass
class Profile:
    items: list[ProfileItem]
    negatives: list[np.ndarray] = field(default_factory=list)
    subfield_shares: dict[str, float] = field(default_factory=dict)  # weighted share of reads per subfield
    field_shares: dict[str, float] = field(default_factory=dict)  # the same per field_key (feeds have only that)
    beta: float = 0.2  # the deployment default (GLEAN_RANK_BETA), measured in BENCHMARKS.md
    floor: float = 0.4  # this reader's relevance floor (see reader_floor)
    centre: np.ndarray | None = None  # where the reading is centred (see reader_centre); None: no test
    centre_floor: float = -1.0  # how close to the centre a pick must be

    @cached_property
    def matrix(self) -> np.ndarray:
        return np.stack([i.vector for i in self.items]) if self.items else np.zeros((0, 0), dtype=np.float32)

    @cached_property
    def item_phrases(self) -> list[KeyPhrases]:
        return [KeyPhrases.of(i.text) for i in self.items]

    def share_of(self, candidate: "Candidate") -> float | None:
        """How much of the reader's reading is in the candidate's subfield (else field); None: unknown
        (also when the reader has no reading to compare with: then nothing is "another field")."""
        if not (self.subfield_shares or self.field_shares):
            return None
        if candidate.subfield:
            return self.subfield_shares.get(candidate.subfield, 0.0)
        if candidate.field:
            return self.field_shares.get(field_key(candidate.field), 0.0)
        return None


@dataclass(frozen=True)
class ClusterRef:
    """A bursting cluster as a reason may cite it."""

    id: int
    label: str
    observed: int
    expected: float


@dataclass
class Candidate:
    paper_id: str
    title: str
    year: int | None
    vector: np.ndarray
    field: str | None  # a readable field (feed field, or the category's field)
    category: str | None
    pool: str  # new | classic | cross-field
    text: str = ""  # title + abstract
    subfield: str | None = None
    classic: bool = False  # in the canon, or highly cited for its field and year
    trend: float = 0.0  # 1 inside a bursting cluster, 0 otherwise
    cluster: ClusterRef | None = None  # the bursting cluster it belongs to
    neighbours: int | None = None  # near neighbours in the trend window (None: not scored)
    echo: ClusterRef | None = None  # old papers: a bursting cluster whose centroid it clears the floor against

    @cached_property
    def key_phrases(self) -> KeyPhrases:
        return KeyPhrases.of(self.text)


@dataclass
class RankParams:
    mmr_lambda: float = 0.7
    old_bonus: float = 0.05
    cross_bonus: float = 0.05
    min_old: int = 1
    min_cross: int = 1
    max_old_share: float = 0.3  # classics season a digest; they do not take it over
    cross_share: float = 0.05  # a subfield under this share of the reader's reading is "another field"
    cross_floor: float = 0.5  # ... and a paper from there must be at least this close to a read
    max_cross_share: float = 0.25  # at most this share of the slots go to papers from other fields
    window_days: int = 30


@dataclass
class Pick:
    paper_id: str
    title: str
    year: int | None
    score: float
    relevance: float
    trend: float
    parts: dict
    reason: str
    pool: str
    claims: dict = field(default_factory=dict)


def reader_floor(vectors: np.ndarray, absolute: float, *, quantile: float = 0.2, cap: float = 0.6) -> float:
    """The reader's floor: the absolute floor, or the low end (``quantile``) of how close each of
    their reads sits to its nearest other read, when that is higher (capped, so a reader of one
    narrow topic still gets picks)."""
    if len(vectors) < 3:
        return absolute
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1.0)
    own = float(np.quantile(sims.max(axis=1), quantile))
    return max(absolute, min(own, cap))


MIN_CENTRE_READS = 5


def reader_centre(vectors: np.ndarray, *, quantile: float = 0.4) -> tuple[np.ndarray | None, float]:
    """The centre of the reader's reading (mean direction of their reads) and the bar a pick must
    reach there: the ``quantile`` of how close each read sits to the centre of the others.

    Graded picks (benchmarks/pile_sort/) showed that a pick close to one read can still be far from
    the reader — a side interest, or a method shared with one paper; closeness to the centre told good
    picks from bad ones better than any single-read cosine. Readers with few reads get no such test."""
    if len(vectors) < MIN_CENTRE_READS or quantile <= 0:
        return None, -1.0
    total = vectors.sum(axis=0)
    loo = []
    for v in vectors:
        rest = total - v
        loo.append(float(v @ rest) / (np.linalg.norm(rest) or 1.0))
    centre = total / (np.linalg.norm(total) or 1.0)
    return centre.astype(np.float32), float(np.quantile(loo, quantile))


@dataclass
class Scored:
    """Score parts of every candidate, as arrays (one row per candidate)."""

    relevance: np.ndarray  # weighted, minus "not for me"
    cosine: np.ndarray  # raw cosine to the nearest profile item
    nearest: np.ndarray  # index of that item, -1 when there is none
    trend_penalty: np.ndarray
    old_bonus: np.ndarray
    cross_bonus: np.ndarray
    is_old: np.ndarray
    is_cross: np.ndarray  # another field *and* a bridge to a read
    other_field: np.ndarray  # a subfield the reader hardly reads (bridged or not)
    eligible: np.ndarray  # may be picked: clears the floors and has the support or bridge its kind needs
    bridges: dict[int, list[str]]  # candidate → shared concepts with its nearest item (computed lazily)

    @cached_property
    def score(self) -> np.ndarray:
        return self.relevance + self.trend_penalty + self.old_bonus + self.cross_bonus


def score_candidates(profile: Profile, candidates: list[Candidate], vectors: np.ndarray, params: RankParams,
                     vocab: Vocabulary | None = None) -> Scored:
    n = len(candidates)
    if not profile.items:
        empty = np.zeros(n)
        none = np.zeros(n, bool)
        return Scored(empty, empty, np.full(n, -1), empty, empty, empty, none, none, none, none, {})
    sims = vectors @ profile.matrix.T  # candidates × items
    nearest = sims.argmax(axis=1)
    cosine = sims[np.arange(n), nearest]
    # Support: how close the second-nearest read is. An old paper or one from another field must be
    # near two of the reader's papers, not hang on one side interest (graded picks, BENCHMARKS.md).
    support = np.sort(sims, axis=1)[:, -2] if sims.shape[1] >= MIN_SUPPORT_ITEMS else cosine
    weights = np.clip(np.array([i.weight for i in profile.items]), 0, 1)
    rel = (sims * (0.7 + 0.3 * weights)).max(axis=1)  # a weak or old read still counts, but less
    trend = np.array([c.trend for c in candidates], dtype=float)
    # A paper in a bursting cluster must be closer to the reading by β to get in at all: on a day
    # when fewer papers clear the floor than there are slots, a penalty on the score alone would
    # only reorder the list, not keep the crowd's papers out of it.
    eligible = cosine - profile.beta * trend >= profile.floor
    if profile.centre is not None:
        eligible &= vectors @ profile.centre >= profile.centre_floor
    if profile.negatives:
        neg = (vectors @ np.stack(profile.negatives).T).max(axis=1)
        rel = rel - 0.5 * np.clip(neg - 0.3, 0, None)  # only close "not for me" papers push down
        eligible &= neg < cosine  # closer to what they rejected than to what they read: not for them
    shares: dict[tuple, float | None] = {}  # few distinct subfields/fields a day: look each up once
    other_field = np.zeros(n, dtype=bool)
    for i, c in enumerate(candidates):
        key = (c.subfield, c.field)
        if key not in shares:
            shares[key] = profile.share_of(c)
        share = shares[key]
        other_field[i] = share is not None and share < params.cross_share
    bridges: dict[int, list[str]] = {}
    for i in np.flatnonzero(other_field & eligible & (cosine >= params.cross_floor)):
        bridges[int(i)] = shared_concepts(candidates[i].key_phrases, profile.item_phrases[nearest[i]], vocab)
    has_bridge = np.array([bool(bridges.get(i)) for i in range(n)], dtype=bool)
    # From a field the reader hardly reads, embedding similarity is weaker evidence (the null there is
    # the similarity of unrelated papers), so such a paper needs a higher bar and a shared concept.
    eligible &= ~other_field | (has_bridge & (cosine >= max(profile.floor, params.cross_floor))
                                & (support >= profile.floor))
    is_cross = other_field & has_bridge
    is_old = np.array([c.year is not None and c.year < CLASSIC_BEFORE for c in candidates], dtype=bool)
    eligible &= ~is_old | (support >= profile.floor)
    if sims.shape[1] >= MIN_SUPPORT_ITEMS:
        # A pick with one read behind it must say what links them: a shared term, not a broad task.
        for i in np.flatnonzero(eligible & (support < profile.floor)):
            if int(i) not in bridges:
                bridges[int(i)] = shared_concepts(candidates[i].key_phrases, profile.item_phrases[nearest[i]],
                                                  vocab)
            eligible[i] = bool(bridges[int(i)])
    return Scored(relevance=rel, cosine=cosine, nearest=nearest, trend_penalty=-profile.beta * trend,
                  old_bonus=np.where(is_old, params.old_bonus, 0.0),
                  cross_bonus=np.where(is_cross, params.cross_bonus, 0.0), is_old=is_old, is_cross=is_cross,
                  other_field=other_field, eligible=eligible, bridges=bridges)


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, lam: float, open_: np.ndarray,
        caps: list[tuple[np.ndarray, int]] = (), nearest: np.ndarray | None = None) -> list[int]:
    """Greedy Maximal Marginal Relevance over the ``open_`` candidates: good, and unlike what is
    already picked. Only similarity above MMR_REDUNDANT counts against a candidate (scaled so a
    near-twin counts fully), so variety never trades a strong paper for a weak one that merely differs.
    ``caps``: (flags, most) pairs — at most ``most`` of the flagged candidates are taken; with
    ``nearest`` (each candidate's nearest read), at most PER_READ picks hang on any one read, so a
    single side interest cannot fill the list."""
    open_ = open_.copy()
    redundancy = np.zeros(len(scores))
    chosen: list[int] = []
    taken = [0] * len(caps)
    while len(chosen) < k:
        for n, (flags, most) in enumerate(caps):
            if taken[n] >= most:
                open_ &= ~flags
        if not open_.any():
            break
        gains = np.where(open_, lam * scores - (1 - lam) * redundancy, -np.inf)
        pick = int(np.argmax(gains))
        chosen.append(pick)
        open_[pick] = False
        for n, (flags, _) in enumerate(caps):
            taken[n] += int(flags[pick])
        if nearest is not None and sum(int(nearest[j] == nearest[pick]) for j in chosen) >= PER_READ:
            open_ &= nearest != nearest[pick]
        # 0 at the threshold, 1 for a twin
        overlap = (vectors @ vectors[pick] - MMR_REDUNDANT) / (1 - MMR_REDUNDANT)
        redundancy = np.maximum(redundancy, np.clip(overlap, 0, 1))
    return chosen


def meet_quota(chosen: list[int], flag: np.ndarray, minimum: int, eligible: np.ndarray, scores: np.ndarray,
               keeps=lambda trial: True) -> list[int]:
    """Swap the best eligible flagged candidates in for the lowest-scored unflagged picks until
    ``minimum`` picks carry ``flag``; ``keeps(trial)`` says whether a swap keeps the other rules."""
    chosen = list(chosen)
    have = int(flag[chosen].sum()) if chosen else 0
    if have >= minimum:
        return chosen
    pool = np.flatnonzero(flag & eligible)
    for candidate in pool[np.argsort(-scores[pool], kind="stable")]:
        if have >= minimum:
            break
        if candidate in chosen:
            continue
        for drop in sorted((j for j in chosen if not flag[j]), key=lambda j: scores[j]):
            trial = [int(candidate) if j == drop else j for j in chosen]
            if keeps(trial):
                chosen, have = trial, have + 1
                break
    return chosen


def slots(share: float, length: int) -> int:
    """Slots a share allows in a list of ``length`` (for old papers, or papers from other fields): the
    share means what it says (30 % of 8 is 2, not 3). It counts the digest's slots, not the papers
    that cleared the floor: a short day keeps a relevant old paper rather than drop it for a ratio."""
    return math.floor(share * length + 1e-9)


def claims_for(c: Candidate, i: int, scored: Scored, profile: Profile, params: RankParams,
               vocab: Vocabulary | None = None) -> dict:
    """What the reason will say, as checkable facts."""
    b = int(scored.nearest[i])
    item = profile.items[b]
    shared = (scored.bridges[i] if i in scored.bridges
              else shared_concepts(c.key_phrases, profile.item_phrases[b], vocab))
    out = {"nearest": item.label, "nearest_kind": item.kind, "nearest_paper": item.paper_id,
           "cosine": round(float(scored.cosine[i]), 4), "floor": round(profile.floor, 4), "shared": shared,
           "kind": "close"}
    if scored.is_old[i]:
        out["kind"] = "classic" if c.classic else "old"
        out["year"] = c.year
        if c.echo:
            out["echo"] = {"cluster": c.echo.id, "label": c.echo.label, "observed": c.echo.observed,
                           "expected": c.echo.expected}
    elif scored.is_cross[i]:
        out.update(kind="cross-field", field=c.subfield or c.field, level="subfield" if c.subfield else "field",
                   share=round(profile.share_of(c) or 0.0, 4))
    elif c.cluster is not None:
        out.update(kind="popular", cluster=c.cluster.id, label=c.cluster.label, observed=c.cluster.observed,
                   expected=c.cluster.expected)
    elif c.neighbours is not None and c.neighbours <= QUIET_NEIGHBOURS:
        out.update(kind="quiet", neighbours=c.neighbours, window_days=params.window_days)
    return out


def _about(claims: dict) -> str:
    if claims["nearest_kind"] == "interests":
        about = "your interests"
    else:
        about = f"“{claims['nearest']}”"
    shared = claims["shared"]
    return f"close to {about}" + (f" — both on {', '.join(shared)}" if shared else "")


def reason(claims: dict) -> str:
    """One sentence, built only from the claims (so the words cannot say more than the data)."""
    kind, about = claims["kind"], _about(claims)
    if kind in ("classic", "old"):
        head = f"a {claims['year']} classic" if kind == "classic" else f"from {claims['year']}"
        if "echo" in claims:
            e = claims["echo"]
            head += (f" — echoes this month's burst in {e['label']} ({e['observed']} papers, "
                     f"{e['expected']:.1f} expected)")
        return f"{head}; {about}"
    if kind == "cross-field":
        share, level = claims["share"], claims["level"]
        if share == 0:
            return f"from {claims['field']}, a {level} new to your reading; {about}"
        how = f"{share:.0%}" if share >= 0.01 else "under 1 %"
        return f"from {claims['field']}, a {level} you rarely read ({how} of your reading); {about}"
    if kind == "popular":
        return (f"popular right now: one of {claims['observed']} papers this month on {claims['label']} "
                f"({claims['expected']:.1f} expected); {about}")
    if kind == "quiet":
        n = claims["neighbours"]
        return (f"quiet corner: {n} paper{'s' if n != 1 else ''} near this one in the last "
                f"{claims['window_days']} days; {about}")
    return about[0].upper() + about[1:]


def rank(profile: Profile, candidates: list[Candidate], *, limit: int = 10, params: RankParams | None = None,
         vectors: np.ndarray | None = None, vocab: Vocabulary | None = None) -> list[Pick]:
    """At most ``limit`` picks, best first; fewer when fewer clear the reader's floor. ``vectors``
    (the candidates' vectors stacked) saves stacking them again; ``vocab`` (phrase document
    frequencies of the day's papers) decides which single words are specific enough to be a concept."""
    params = params or RankParams()
    if not candidates or limit <= 0 or not profile.items:
        return []
    if vectors is None:
        vectors = np.stack([c.vector for c in candidates])
    scored = score_candidates(profile, candidates, vectors, params, vocab)
    scores, is_old, eligible = scored.score, scored.is_old, scored.eligible
    max_old = slots(params.max_old_share, limit)
    max_cross = slots(params.max_cross_share, limit)
    # Papers from fields the reader hardly reads, bridged or not, season a list; they do not fill it.
    other = scored.other_field
    chosen = mmr(scores, vectors, limit, params.mmr_lambda, eligible, caps=[(is_old, max_old), (other, max_cross)],
                 nearest=scored.nearest if len(profile.items) >= MIN_SUPPORT_ITEMS else None)
    if max_old >= 1:
        chosen = meet_quota(chosen, is_old, min(params.min_old, max_old), eligible, scores,
                            keeps=lambda trial: int(other[trial].sum()) <= max_cross)
    floor = min(params.min_old, int(is_old[chosen].sum()))
    chosen = meet_quota(chosen, scored.is_cross, min(params.min_cross, max_cross), eligible, scores,
                        keeps=lambda trial: floor <= int(is_old[trial].sum()) <= max_old
                        and int(other[trial].sum()) <= max_cross)
    chosen.sort(key=lambda i: -scores[i])
    picks = []
    for i in chosen:
        c = candidates[i]
        claims = claims_for(c, i, scored, profile, params, vocab)
        parts = {"relevance": float(scored.relevance[i]), "cosine": float(scored.cosine[i]),
                 "trend_penalty": float(scored.trend_penalty[i]), "old_bonus": float(scored.old_bonus[i]),
                 "cross_field_bonus": float(scored.cross_bonus[i]), "score": float(scores[i])}
        picks.append(Pick(paper_id=c.paper_id, title=c.title, year=c.year, score=round(float(scores[i]), 4),
                          relevance=round(float(scored.relevance[i]), 4), trend=round(c.trend, 4),
                          parts={k: round(v, 4) for k, v in parts.items()}, reason=reason(claims), pool=c.pool,
                          claims=claims))
    return picks


# -- checking a reason against the data -------------------------------------------------------------


def _holds_phrase(text: str, phrase: str) -> bool:
    return " ".join(fold(w) for w in phrase.lower().split()) in phrases(text)


def false_claims(pick: Pick, candidate: Candidate, profile: Profile, *, bursting: dict[int, set[str]] | None = None,
                 params: RankParams | None = None) -> list[str]:
    """The claims in ``pick``'s reason that the inputs do not support (empty: every claim is true).

    ``bursting``: the bursting clusters as stored, id → member paper ids (the burst test's verdict).
    """
    params = params or RankParams()
    bursting = bursting or {}
    claims, wrong = pick.claims, []
    sims = profile.matrix @ candidate.vector
    best = int(np.argmax(sims))
    named = [k for k, item in enumerate(profile.items) if item.label == claims["nearest"]]
    if not named or float(sims[best]) - max(float(sims[k]) for k in named) > 1e-4:
        wrong.append(f"nearest: says “{claims['nearest']}”, the nearest is “{profile.items[best].label}”")
    if float(sims[best]) < profile.floor - 1e-6:
        wrong.append(f"close: cosine {float(sims[best]):.3f} is below the floor {profile.floor:.3f}")
    near_text = profile.items[best].text
    for phrase in claims["shared"]:
        if not (_holds_phrase(candidate.text, phrase) and _holds_phrase(near_text, phrase)):
            wrong.append(f"shared: “{phrase}” is not in both texts")
    kind = claims["kind"]
    if kind == "classic" and not candidate.classic:
        wrong.append("classic: not in the canon and not highly cited")
    if kind in ("classic", "old") and not (candidate.year and candidate.year < CLASSIC_BEFORE):
        wrong.append(f"old: the paper is from {candidate.year}")
    if "echo" in claims:
        e = claims["echo"]
        if e["cluster"] not in bursting or candidate.echo is None or candidate.echo.id != e["cluster"]:
            wrong.append("echo: that cluster did not pass the burst test")
    if kind == "popular" and candidate.paper_id not in bursting.get(claims["cluster"], set()):
        wrong.append("popular: the paper is not in a cluster that passed the burst test")
    if kind == "quiet" and (candidate.neighbours is None or candidate.neighbours != claims["neighbours"]
                            or candidate.neighbours > QUIET_NEIGHBOURS or candidate.cluster is not None):
        wrong.append("quiet: the stored neighbourhood says otherwise")
    if kind == "cross-field":
        share = profile.share_of(candidate)
        if (candidate.subfield or candidate.field) != claims["field"] or share is None or share >= params.cross_share \
                or abs(share - claims["share"]) > 1e-3:
            wrong.append("cross-field: the reader does read this field")
        if not claims["shared"]:
            wrong.append("cross-field: no shared concept bridges it to a read")
    return wrong
