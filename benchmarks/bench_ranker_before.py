"""The ranker *before* issue 12, measured with the new offline evaluation: the "before" half of the issue.

    .venv/bin/python benchmarks/bench_ranker_before.py           # one Markdown table
    .venv/bin/python benchmarks/bench_ranker_before.py --json    # the same figures as JSON

Issue 12 asks that every pick earn its slot (a relevance floor, "popular" only for real bursts, reasons
that are true). To show what changed, this runs the PRE-change ranker on exactly what
benchmarks/bench_ranker.py gives the new one: the same data, plan, cached vectors (no model run), authors,
six topic readers, days and candidate lists (``bench_ranker.make_case``), and its ``evaluate``.

The old code comes from git at commit 481b7d5, written to a temporary folder and imported by path:
service/ranker.py as it was (numpy only), and pipelines/trend.py with its three relative imports removed
(they feed only the store-bound functions; ``burst_scores`` is pure). The old inputs are rebuilt as the
old service and benchmark built them: trend = the paper's percentile of the old burst score among all
scored papers of the day, (i + 1)/n (old service/picks.py ``_percentiles``; rho 0.6, 30-day window);
home fields = the categories and fields of the reads; β = 0.2; default RankParams; no echoes; K = 8.
Readers get eight daily digests; nothing shown is shown again (the old ranker had no other rotation).

Figures (per digest, then the mean over digests, as ``evaluate`` does; the authors have one digest each):
picks/digest; mean rel = a pick's highest cosine to the reads; below floor = under the NEW per-reader floor
``service.ranker.reader_floor(reads, 0.45)``; cos < 0.35 = under 0.35 to every read; wrong nearest = the
"close to “…”" read is not the one with the highest raw cosine; popular false = says "popular right now"
but is in no cluster that passes the new burst test (``bench_ranker.day_trend``), also given over the
"popular" claims; classic claim = says "a YYYY classic" (no paper of the sample is in the canon, so each
is false by the new definition); false (4 checks) = any of: wrong nearest, below the floor (every old
reason says "close to"), popular false, classic claim (a lower bound: "quiet" and "from <field>" are
not checked here); burst exp = picks in a cluster that passes the new burst test; reach ≥ 3 fields =
distinct picked papers reaching ≥ 3 readers with different home fields.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from datetime import time as dtime
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_ranker as br  # noqa: E402  (puts the repository root on sys.path too)
import numpy as np  # noqa: E402

OLD_COMMIT = "481b7d5"
FLOOR = 0.45  # the new settings.rank_floor
LOW_COSINE = 0.35
BETA = 0.2  # settings.rank_beta at 481b7d5
RHO = 0.6  # settings.trend_rho at 481b7d5
RELATIVE_IMPORTS = ["from .settings import Settings\n", "from .stages import Progress, StageReport, run_stage\n",
                    "from .store import Counts, Store\n"]


def git_show(path: str) -> str:
    return subprocess.run(["git", "show", f"{OLD_COMMIT}:{path}"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout


def load_old(folder: Path):
    """The old ranker module and the old trend module (pure functions only) from git."""
    def load(name: str, source: str):
        path = folder / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
        return module

    trend_src = git_show("pipelines/trend.py")
    for line in RELATIVE_IMPORTS:
        if line not in trend_src:
            raise SystemExit(f"{OLD_COMMIT}:pipelines/trend.py no longer has {line.strip()!r}")
        trend_src = trend_src.replace(line, "")
    return load("old_ranker_481b7d5", git_show("service/ranker.py")), load("old_trend_481b7d5", trend_src)


def old_trend(old_trend_mod, records, span, span_vecs, day) -> tuple[dict, dict]:
    """The old benchmark's day_trends: old burst scores → percentiles (old picks.py _percentiles)."""
    keep = [k for k, i in enumerate(span) if records[i].created <= day]
    bursts = old_trend_mod.burst_scores([records[span[k]].id for k in keep], span_vecs[keep],
                                        [br.utc(records[span[k]].created) for k in keep],
                                        [records[span[k]].category for k in keep], br.utc(day, dtime(23, 59)),
                                        window_days=br.WINDOW_DAYS, rho=RHO)
    ordered = sorted(bursts, key=lambda b: b.score)
    return {b.paper_id: (n + 1) / len(ordered) for n, b in enumerate(ordered)}, {b.paper_id: b.recent for b in bursts}


def rank_old(old, records, case, old_day, k: int):
    """The old rank() on the case's candidates; picks as candidate indices, and the Pick objects."""
    pct, nb = old_day
    cands = [old.Candidate(paper_id=c.paper_id, title=c.title, year=c.year, vector=c.vector, field=c.field,
                           category=c.category, pool=c.pool, trend=pct.get(c.paper_id, 0.0),
                           trend_neighbours=nb.get(c.paper_id, 0), echo=None) for c in case.candidates]
    home: set[str] = set()
    for i in case.user.profile:
        home |= {x for x in (records[i].category, records[i].field) if x}
    items = [old.ProfileItem(label=records[i].title, vector=case.prof_vecs[n], weight=float(case.prof_weights[n]))
             for n, i in enumerate(case.user.profile)]
    picks = old.rank(old.Profile(items=items, home_fields=home, beta=BETA), cands, limit=k, vectors=case.cand_vecs)
    where = {c.paper_id: n for n, c in enumerate(cands)}
    return [where[p.paper_id] for p in picks], picks


def reason_checks(records, case, chosen, picks) -> list[dict]:
    """Per pick: which of the old reason's claims are false by the new definitions."""
    titles = [records[i].title for i in case.user.profile]
    out = []
    for j, p in zip(chosen, picks):
        raw = case.prof_vecs @ case.cand_vecs[j]
        at = p.reason.find("close to “")
        named = p.reason[at + len("close to “"):].removesuffix("”") if at >= 0 else None
        wrong = named is not None and not any(t == named and raw[n] >= raw.max() - 1e-4 for n, t in enumerate(titles))
        popular = "popular right now" in p.reason
        row = {"cos_low": float(raw.max()) < LOW_COSINE, "below": float(raw.max()) < case.profile.floor - 1e-6,
               "wrong_nearest": wrong, "popular": popular,
               "popular_false": popular and case.candidates[j].paper_id not in case.trend.member,
               "classic": bool(re.match(r"a \d{4} classic", p.reason))}
        row["false"] = row["wrong_nearest"] or row["below"] or row["popular_false"] or row["classic"]
        out.append(row)
    return out


def summarise(records, outcomes, checks, k: int) -> dict:
    m = br.evaluate(records, outcomes, k)
    digests = [c for c in checks if c]
    share = lambda key: float(np.mean([np.mean([r[key] for r in d]) for d in digests]))  # noqa: E731
    claims = [r for d in digests for r in d if r["popular"]]
    return {"digests": m["digests"], "picks_per_digest": m["picks_per_digest"], "relevance": m["relevance"],
            "below_floor": m["below_floor"], "cos_below_035": share("cos_low"),
            "wrong_nearest": share("wrong_nearest"), "popular_false": share("popular_false"),
            "popular_claims": len(claims),
            "popular_claims_false": float(np.mean([r["popular_false"] for r in claims])) if claims else float("nan"),
            "classic_claims": share("classic"), "false_any": share("false"), "burst_exposure": m["burst_exposure"],
            "reach3_fields": m["reach3_fields"], "reach3_count": m["reach3_count"],
            "distinct_picks": m["distinct_picks"], "own_hit": m["own_hit"], "pre2010": m["pre2010"]}


ROWS = [("picks_per_digest", "picks/digest", "{:.2f}"), ("relevance", "mean rel (max cosine to reads)", "{:.3f}"),
        ("below_floor", "below floor (reader_floor, 0.45)", "{:.3f}"),
        ("cos_below_035", "cos < 0.35 to every read", "{:.3f}"),
        ("wrong_nearest", "“close to” names a read that is not nearest", "{:.3f}"),
        ("popular_false", "“popular right now”, no burst (of picks)", "{:.3f}"),
        ("popular_claims_false", "… of the “popular” claims", "{:.3f}"), ("popular_claims", "“popular” claims", "{}"),
        ("classic_claims", "“a YYYY classic” (pre-2010, none canon)", "{:.3f}"),
        ("false_any", "false (nearest, floor, popular, classic)", "{:.3f}"),
        ("burst_exposure", "burst exposure (new burst test)", "{:.3f}"),
        ("reach3_fields", "reach ≥ 3 home fields (distinct papers)", "{:.3f}"), ("own_hit", "own hit", "{:.3f}"),
        ("pre2010", "pre-2010 share", "{:.3f}")]


def table(results: dict) -> str:
    cols = list(results)
    body = [[label] + [fmt.format(results[c][key]) if results[c][key] == results[c][key] else "–" for c in cols]
            for key, label, fmt in ROWS]
    head = [f"old ranker ({OLD_COMMIT})"] + [f"{c} ({results[c]['digests']} digests)" for c in cols]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                       for i, (c, w) in enumerate(zip(r, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(head), sep] + [line(r) for r in body])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    started = time.perf_counter()
    bargs = br.parse_args([])  # the new benchmark's defaults: plan, K, reader days
    log = lambda msg: None if args.json else print(msg, file=sys.stderr, flush=True)  # noqa: E731
    records = br.load_records()
    plan = br.make_plan(records, bargs)
    vec = br.embed(records, plan.embed_ids(records), bargs.model, quiet=True)
    K = bargs.limit
    rule = br.BurstRule(rho=float(br.settings_default("trend_rho")), window_days=br.WINDOW_DAYS,
                        alpha=float(br.settings_default("trend_alpha")),
                        min_size=int(br.settings_default("trend_min_size")),
                        min_groups=int(br.settings_default("trend_min_groups")),
                        min_ratio=float(br.settings_default("trend_min_ratio")))
    span_vecs = np.stack([vec[records[i].id] for i in plan.span])
    last = plan.digest_days[-1]
    reader_days = [last - timedelta(days=bargs.reader_days - 1 - n) for n in range(bargs.reader_days)]
    days = sorted(set(plan.digest_days) | set(reader_days))
    with tempfile.TemporaryDirectory() as tmp:
        old, old_trend_mod = load_old(Path(tmp))
        t0 = time.perf_counter()
        olds = {d: old_trend(old_trend_mod, records, plan.span, span_vecs, d) for d in days}
        news = {d: br.day_trend(records, plan.span, span_vecs, d, rule) for d in days}
        log(f"old and new trend on {len(days)} days in {time.perf_counter() - t0:.0f} s")
        authors = br.find_authors(records, plan)
        readers = br.find_topic_readers(records, plan, reader_days[0])
        out_a, chk_a = [], []
        for u in authors:
            cut, D = plan.cutoffs[u.day], plan.digest_days[u.day]
            new = [i for i in plan.span if cut < records[i].created <= D]
            recent = [i for i in plan.span if D - timedelta(days=br.WINDOW_DAYS) < records[i].created <= cut]
            case = br.make_case(records, vec, u, D, new, plan.classics, recent, news[D], BETA, FLOOR, None)
            chosen, picks = rank_old(old, records, case, olds[D], K)
            out_a.append(br.Outcome(case, chosen)), chk_a.append(reason_checks(records, case, chosen, picks))
        out_r, chk_r = [], []
        for reader in readers:
            shown: set[int] = set()
            previous = None
            for day in reader_days:
                since = previous or day - timedelta(days=7)
                new = [i for i in plan.span if since < records[i].created <= day]
                recent = [i for i in plan.span if day - timedelta(days=br.WINDOW_DAYS) < records[i].created <= since]
                case = br.make_case(records, vec, reader, day, new, plan.classics, recent, news[day], BETA, FLOOR,
                                    None, exclude=shown)
                chosen, picks = rank_old(old, records, case, olds[day], K)
                shown |= {case.cand[j] for j in chosen}
                out_r.append(br.Outcome(case, chosen)), chk_r.append(reason_checks(records, case, chosen, picks))
                previous = day
    results = {"authors": summarise(records, out_a, chk_a, K), "readers": summarise(records, out_r, chk_r, K)}
    out = {"command": "benchmarks/bench_ranker_before.py" + (" --json" if args.json else ""), "old_commit": OLD_COMMIT,
           "setup": {"limit": K, "beta": BETA, "rho": RHO, "floor": FLOOR, "authors": len(authors),
                     "readers": [r.name for r in readers], "reader_days": [d.isoformat() for d in reader_days]},
           "results": results, "total_s": round(time.perf_counter() - started, 1)}
    print(json.dumps(out, indent=2, default=float) if args.json else
          f"Old ranker ({OLD_COMMIT}, β={BETA:g}, K={K}) on bench_ranker.py's cases: {len(authors)} authors, "
          f"{len(readers)} readers × {len(reader_days)} days ({out['total_s']:.0f} s)\n\n" + table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
