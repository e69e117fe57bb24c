"""The `glean` command. Errors become messages here, at the command boundary, and nowhere else."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import socket
import sqlite3
import sys
import threading
import time
from dataclasses import asdict
from datetime import date, datetime, timezone
from difflib import get_close_matches
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from zoneinfo import ZoneInfo

from tqdm import tqdm

from pipelines import health
from pipelines.backfill import backfill_arxiv
from pipelines.batch_backfill import EMBEDDING_BATCH, PDF_BATCH, backfill_embeddings, backfill_pdfs
from pipelines.download import download_pdfs
from pipelines.executor import executor_from_settings
from pipelines.extract import to_json
from pipelines.extract_stage import extract_pending
from pipelines.index_stage import index_pending
from pipelines.ingest import SOURCES, ingest
from pipelines.reading import add_reads, import_file, reference_for
from pipelines.settings import Settings, SettingsError, documented_settings
from pipelines.sources.classics import CanonError
from pipelines.sources.feeds import FeedListError
from pipelines.sources.oai import SUPPORTED_PREFIXES
from pipelines.stages import DropReported, StageReport
from pipelines.store import Store
from pipelines.store_users import UserExists
from pipelines.taxonomy import taxonomy, unknown_categories
from pipelines.trend import compute_trends

from .accounts import AccountError, create_user, rotate_token
from .accounts import clean_fields
from .breadth import breadth_report
from .chart import breadth_chart
from .digest import compose_digest, deliver, local_day_if_due
from .old_paper import NothingToPick, WeekError, iso_week, pick_old_paper
from .picks import picks_for, shortfall_line
from .search import SOURCES as SEARCH_SOURCES
from .search import Searcher, SearchError, SearchQuery

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_OAI_FORMAT = "arXivRaw"  # carries every version and its exact date


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _date(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01") from None


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def _anti_trend(text: str) -> float | str:
    if text == "default":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 3, nor 'default'") from None


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give a number from 1 to 65535")
    return int(text)


def _year(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1991 <= value <= 9999:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year like 2015 (arXiv starts in 1991)")
    return value


PROGRESS_LOG_EVERY_S = 10.0
progress_log = logging.getLogger("glean.progress")


class _Progress:
    """Progress of a long command, given to a stage as its ``progress`` callable.

    On a terminal: a bar, with a total once the stage announces one (``start``).
    Elsewhere (a pipe, cron, CI): a line in the log every PROGRESS_LOG_EVERY_S
    seconds, also while one slow item is under way, so a long run is never silent.
    """

    def __init__(self, description: str, total: int | None = None):
        self.description, self.total, self.done = description, total, 0
        self._began = time.monotonic()
        self._bar = (tqdm(total=total, desc=description, unit=" items", file=sys.stderr, leave=False)
                     if sys.stderr.isatty() else None)
        self._stop = threading.Event()
        self._ticker = None if self._bar else threading.Thread(target=self._tick, name="progress", daemon=True)

    def __enter__(self) -> "_Progress":
        if self._ticker:
            self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._ticker:
            self._ticker.join()
        if self._bar:
            self._bar.close()

    def __call__(self, n: int = 1) -> None:
        self.done += n
        if self._bar:
            self._bar.update(n)

    update = __call__

    def start(self, total: int | None, what: str | None = None) -> None:
        """A stage (or its next phase) goes through ``total`` items (None: not known)."""
        self.total, self.done = total, 0
        self.description = what or self.description
        if self._bar:
            self._bar.reset(total=total)
            self._bar.set_description(self.description)

    def reset(self, total: int | None = None) -> None:
        self.start(total)

    def line(self) -> str:
        of = f" of {self.total} ({self.done / self.total:.0%})" if self.total else ""
        return f"{self.description}: {self.done}{of} items done, {time.monotonic() - self._began:.0f}s so far"

    def _tick(self) -> None:
        while not self._stop.wait(PROGRESS_LOG_EVERY_S):
            progress_log.info("%s", self.line())


def _progress(description: str, total: int | None = None) -> _Progress:
    return _Progress(description, total)


def _print_report(report: StageReport) -> None:
    c = report.counts
    line = f"{report.source:9} {c.new:6} new {c.updated:6} updated {c.unchanged:6} unchanged {c.failed:4} failed"
    print(line + (f"   FAILED: {report.error}" if report.error else ""))
    for feed in report.details.get("feeds", []):
        if feed["status"] == "error":
            print(f"          feed {feed['name']!r}: {feed['error']}")


# -- commands -------------------------------------------------------------


def cmd_ingest(args, settings: Settings) -> int:
    store = Store(settings.home)
    with _progress(f"ingest {args.source}") as bar:
        reports = ingest(store, settings, args.source, since=args.since, progress=bar)
    if args.json:
        if len(reports) == 1:
            print(json.dumps(reports[0].as_json()))
        else:
            totals = {k: sum(getattr(r.counts, k) for r in reports) for k in ("new", "updated", "unchanged", "failed")}
            print(json.dumps({**totals, "sources": [r.as_json() for r in reports]}))
    else:
        for report in reports:
            _print_report(report)
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED


def cmd_backfill(args, settings: Settings) -> int:
    if args.source == "arxiv":
        return _backfill_arxiv(args, settings)
    arxiv_only = [flag for flag, value in (("--from", args.from_year), ("--until", args.until), ("--set", args.set),
                                           ("--format", args.format)) if value is not None]
    if arxiv_only:
        raise CommandError(f"{', '.join(arxiv_only)}: only for glean backfill arxiv, not {args.source}")
    store = Store(settings.home)
    drive = backfill_pdfs if args.source == "pdfs" else backfill_embeddings
    options = {"limit": args.limit}
    if args.batch is not None:
        options["batch_size"] = args.batch
    with _progress(f"backfill {args.source}") as bar:
        report = drive(store, settings, progress=bar, announce=lambda total: bar.start(total),
                       **options)
    if args.json:
        print(json.dumps(report.as_json()))
        return EXIT_OK if report.ok else EXIT_FAILED
    _print_report(report)
    d = report.details
    print(f"          {d.get('planned', 0)} papers planned, {d.get('batches', 0)} batches of up to "
          f"{d.get('batch_size')} on the {d.get('executor', '?')} executor")
    steps = d.get("steps", {})
    if "download" in steps:
        dl, ex = steps["download"], steps["extract"]
        print(f"          download: {dl.get('new', 0)} new, {dl.get('updated', 0)} updated, {dl.get('failed', 0)} failed")
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(ex.get("outcomes", {}).items())) or "nothing to do"
        print(f"          extract: {outcomes}")
    if "embed" in steps:
        em = steps["embed"]
        print(f"          {em.get('papers_embedded', 0)} paper vectors, {em.get('papers_rechunked', 0)} papers "
              f"re-chunked ({em.get('chunks_written', 0)} chunks)")
        for ix in d.get("indexes", []):
            print(f"          index {ix['index']}: {ix['size']} vectors, {ix['kind']}, {ix['action']}")
    return EXIT_OK if report.ok else EXIT_FAILED


def _backfill_arxiv(args, settings: Settings) -> int:
    if args.from_year is None:
        raise CommandError("glean backfill arxiv needs --from YEAR (the first year to harvest)")
    if args.limit is not None or args.batch is not None:
        raise CommandError("--limit and --batch are for glean backfill pdfs|embeddings; "
                           "backfill arxiv is bounded by --from and --until")
    if args.until is not None and args.until < args.from_year:
        raise CommandError(f"--until {args.until} is before --from {args.from_year}")
    store = Store(settings.home)
    try:
        with _progress(f"backfill {args.source}") as bar:
            report = backfill_arxiv(store, settings, from_year=args.from_year, until_year=args.until,
                                    set_spec=args.set, metadata_prefix=args.format or DEFAULT_OAI_FORMAT,
                                    progress=bar)
    except ValueError as exc:  # the range or format is unusable; the harvest never started
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        _print_report(report)
        print(f"          {report.details.get('windows_done', 0)} months harvested, "
              f"{report.details.get('windows_skipped', 0)} already done; "
              f"harvested so far: {report.details.get('checkpoint') or 'nothing'}")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_download(args, settings: Settings) -> int:
    store = Store(settings.home)
    with _progress("download PDFs") as bar:
        report = download_pdfs(store, settings, limit=args.limit, progress=bar)
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        _print_report(report)
        print(f"          {report.details.get('pending', 0)} PDFs were pending")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_extract(args, settings: Settings) -> int:
    if args.files and args.pending:
        raise CommandError("give PDF files or --pending, not both")
    if not args.files and not args.pending:
        raise CommandError("nothing to extract: give PDF files, or --pending for the downloaded papers")
    if args.pending:
        store = Store(settings.home)
        with _progress("extract") as bar:
            report = extract_pending(store, settings, limit=args.limit, progress=bar)
        if args.json:
            print(json.dumps(report.as_json()))
        else:
            _print_report(report)
            outcomes = report.details.get("outcomes", {})
            print(f"          outcomes: {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items())) or 'nothing to do'}")
        return EXIT_OK if report.ok else EXIT_FAILED
    return _extract_files(args, settings)


def _extract_files(args, settings: Settings) -> int:
    def read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None

    files = [Path(f) for f in args.files]
    items = ((str(path), read(path)) for path in files)
    worst = EXIT_OK
    executor = executor_from_settings(settings)
    try:
        for name, result, elapsed_ms in executor.extract(items, workers=settings.extract_workers,
                                                         timeout_s=settings.extract_timeout,
                                                         memory_mb=settings.extract_memory_mb):
            if args.json:
                print(json.dumps(to_json(result, name, elapsed_ms)), flush=True)
            else:
                _print_extraction(name, result, elapsed_ms)
            if not result.ok:
                worst = EXIT_FAILED
    finally:
        executor.close()
    return worst


def _print_extraction(name: str, result, elapsed_ms: float) -> None:
    if not result.ok:
        print(f"{name}: {result.status.upper()} — {result.error}")
        return
    print(f"{name}: {result.pages} pages, {len(result.sections)} sections, {elapsed_ms:.0f} ms")
    print(f"  title: {result.title or '(none found)'}")
    for span in result.limitations:
        pages = f"p{span.page_start}" + (f"–{span.page_end}" if span.page_end != span.page_start else "")
        print(f"  limitations ({span.kind}, {pages}): {span.title or ''} — {len(span.text.split())} words")
    if not result.limitations:
        print("  limitations: none stated")
    if result.appendix:
        heads = "; ".join(h.title for h in result.appendix.sections[:4])
        print(f"  appendix from p{result.appendix.page_start}: {heads}")


def cmd_index(args, settings: Settings) -> int:
    store = Store(settings.home)
    with _progress("embed") as bar:
        report = index_pending(store, settings, rebuild=args.rebuild, progress=bar)
    if args.json:
        print(json.dumps(report.as_json()))
        return EXIT_OK if report.ok else EXIT_FAILED
    _print_report(report)
    if report.ok:
        d = report.details
        print(f"          {d['papers_embedded']} paper vectors, {d['papers_rechunked']} papers re-chunked "
              f"({d['chunks_written']} chunks)")
        for ix in d["indexes"]:
            print(f"          index {ix['index']}: {ix['size']} vectors, {ix['kind']}, {ix['action']}")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_search(args, settings: Settings) -> int:
    store = Store(settings.home)
    query = SearchQuery(q=args.query, where=args.where, year_from=args.year_from, year_to=args.year_to,
                        category=args.category, source=args.source, limit=args.limit, mode=args.mode)
    if args.category:
        _check_category_filter(store, args.category)
    try:
        answer = Searcher(store, settings).search(query)
    except SearchError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps(answer))
        return EXIT_OK
    if answer.get("degraded"):
        print(f"warning: {answer['degraded']}", file=sys.stderr)
    if not answer["results"]:
        active = {flag: value for flag, value in answer["filters"].items()
                  if value is not None and (flag, value) != ("in", "all")}
        filters = " with " + " ".join(f"--{flag} {value}" for flag, value in active.items()) if active else ""
        print(f"no passages match {answer['query']!r}{filters}" +
              ("" if store.vector_count("chunks") else " (nothing is indexed yet: run glean index)"))
        return EXIT_OK
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("[", "]")
    for n, hit in enumerate(answer["results"], 1):
        where = f"{hit['kind']}: {hit['section']}" + (f", p. {hit['page']}" if hit["page"] else "")
        print(f"{n:2}. {hit['title']} ({hit['year'] or 'n.d.'}) — {where}   [{hit['paper_id']}]")
        snippet, pos, out = hit["snippet"], 0, []
        for start, end in hit["highlights"]:
            out += [snippet[pos:start], bold, snippet[start:end], plain]
            pos = end
        out.append(snippet[pos:])
        print("    " + "".join(out))
        if hit["pdf_url"]:
            print(f"    {hit['pdf_url']}")
    print(f"({answer['total']} hits, {answer['took_ms']} ms)")
    return EXIT_OK


def _categories(text: str) -> list[str]:
    """A comma-separated list of arXiv categories, each one in the taxonomy."""
    codes = [c.strip() for c in text.split(",") if c.strip()]
    unknown = unknown_categories(codes)
    if unknown:
        hints = [f"{c} (did you mean {close[0]}?)" if (close := get_close_matches(c, taxonomy(), n=1)) else c
                 for c in unknown]
        raise argparse.ArgumentTypeError(f"unknown arXiv categories: {', '.join(hints)}; use codes like "
                                         f"cs.CL (arxiv.org/category_taxonomy)")
    return codes


def _check_category_filter(store: Store, category: str) -> None:
    """A search's --category is an arXiv category or a field (a feed's, or a taxonomy's)."""
    wanted = category.lower()
    if category in taxonomy() or any(wanted == s.field.lower() for s in taxonomy().values()):
        return
    fields = {r[0].lower(): r[0] for r in store.query("SELECT DISTINCT field FROM papers WHERE field IS NOT NULL")}
    if wanted not in fields:
        some = ", ".join(sorted(fields.values())[:8]) or "none stored yet"
        raise CommandError(f"unknown category or field {category!r}: give an arXiv category like cs.CL or a "
                           f"field the papers carry ({some})")


def _user_arg(store: Store, ref: str):
    user = store.find_user(ref)
    if user is None:
        raise CommandError(f"no user {ref!r}: give a user id or email (glean users list shows them)")
    return user


def cmd_users(args, settings: Settings) -> int:
    store = Store(settings.home)
    if args.action == "add":
        try:
            user, token = create_user(store, args.email, name=args.name, interests=args.interests,
                                      categories=args.categories, timezone=args.timezone, digest_hour=args.hour,
                                      anti_trend=args.anti_trend)
        except (AccountError, UserExists) as exc:
            raise CommandError(str(exc)) from None
        if args.json:
            print(json.dumps({**user.public(), "token": token}))
        else:
            print(f"user {user.id} <{user.email}> created; digest at {user.digest_hour}:00 {user.timezone}")
            print(f"API token (shown once, keep it): {token}")
        _warn_if_nothing_to_rank_by(user, reads=0)
        return EXIT_OK
    if args.action == "list":
        users = store.users()
        if args.json:
            print(json.dumps([u.public() for u in users]))
        for u in [] if args.json else users:
            flag = " (unsubscribed)" if u.unsubscribed else ""
            print(f"{u.id:4}  {u.email:32} {u.name or '':20} {u.digest_hour:02d}:00 {u.timezone}{flag}")
        return EXIT_OK
    user = _user_arg(store, args.user)
    if args.action == "edit":
        return _edit_user(args, store, user)
    if args.action == "show":
        reads = store.reads(user.id)
        if args.json:
            print(json.dumps({**user.public(), "reads": len(reads)}))
        else:
            for key, value in user.public().items():
                print(f"{key:13} {value}")
            print(f"{'reads':13} {len(reads)}")
        return EXIT_OK
    if args.action == "token":
        token = rotate_token(store, user.id)
        print(json.dumps({"user": user.id, "token": token}) if args.json else
              f"new API token for user {user.id} <{user.email}> (shown once; the old one no longer works): {token}")
        return EXIT_OK
    if not args.yes:
        if not sys.stdin.isatty():
            raise CommandError(f"not removing user {user.id} <{user.email}> without confirmation: "
                               f"add --yes to remove them and their reads for good")
        answer = input(f"remove user {user.id} <{user.email}> and their reads, for good? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return EXIT_FAILED
    store.remove_user(user.id)
    print(json.dumps({"removed": user.id}) if args.json else f"user {user.id} <{user.email}> removed")
    return EXIT_OK


def _edit_user(args, store: Store, user) -> int:
    given = {"name": args.name, "timezone": args.timezone, "digest_hour": args.digest_hour,
             "interests": args.interests, "categories": args.categories}
    if args.anti_trend not in (None, "default"):
        given["anti_trend"] = args.anti_trend
    try:
        changes = clean_fields(**given)
    except AccountError as exc:
        raise CommandError(str(exc)) from None
    if args.anti_trend == "default":
        changes["anti_trend"] = None  # stored as NULL: the deployment's GLEAN_RANK_BETA applies
    if not changes:
        raise CommandError("nothing to change: give --name, --timezone, --digest-hour, --interests, "
                           "--categories or --anti-trend")
    user = store.update_user(user.id, **changes)
    if args.json:
        print(json.dumps(user.public()))
    else:
        shown = {**changes, "anti_trend": "default" if user.anti_trend is None else user.anti_trend} \
            if "anti_trend" in changes else changes
        print(f"user {user.id} <{user.email}> changed: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    _warn_if_nothing_to_rank_by(user, reads=len(store.reads(user.id)))
    return EXIT_OK


def _warn_if_nothing_to_rank_by(user, *, reads: int) -> None:
    if not (user.interests or "").strip() and not reads:
        print(f"glean: warning: user {user.id} has no interests and no reads, so their digest has nothing to "
              f"go by: add --interests with glean users edit {user.id}, or reads with glean reads import "
              f"{user.id} FILE.bib", file=sys.stderr)


def cmd_reads(args, settings: Settings) -> int:
    store = Store(settings.home)
    user = _user_arg(store, args.user)
    if args.action == "list":
        reads = store.reads(user.id)
        if args.json:
            print(json.dumps(reads))
        for r in [] if args.json else reads:
            rating = {1: "+1", -1: "-1"}.get(r["rating"], "  ")
            print(f"{r['read_at'][:10]}  {rating}  {r['paper_id']:28} {r['title']}")
        return EXIT_OK
    if args.action == "add":
        refs = [reference_for(x) for x in args.ids]
        report = add_reads(store, settings, user.id, refs, rating=args.rating)
    else:
        try:
            text = Path(args.file).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise CommandError(f"cannot read {args.file}: {exc.strerror}") from None
        report = import_file(store, settings, user.id, text)
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        c = report.counts
        print(f"{len(report.matched)} matched ({c.get('new', 0)} new reads, {c.get('updated', 0)} updated); "
              f"{len(report.fetched)} fetched from arXiv; {len(report.unmatched)} unmatched")
        if args.action == "import" and report.read_dates_line():
            print(report.read_dates_line())
        for miss in report.unmatched:
            title = f" “{miss['title']}”" if miss.get("title") else ""
            print(f"  unmatched {miss['label']}{title}: {miss['reason']}")
    return EXIT_OK


def cmd_trend(args, settings: Settings) -> int:
    store = Store(settings.home)
    with _progress("trend") as bar:  # one step, but minutes on a big store: the log says it is alive
        report = compute_trends(store, settings, progress=bar)
    if not report.ok:
        raise CommandError(f"trend computation failed: {report.error}")
    d = report.details
    clusters = store.trend_clusters()
    shown = [c for c in clusters if c.significant] + [c for c in clusters if not c.significant][:args.top]
    if args.json:
        print(json.dumps({"window_days": settings.trend_window_days, "rho": settings.trend_rho,
                          "window_papers": d["window_papers"], "history_papers": d["history_papers"],
                          "clusters_tested": d["clusters_tested"], "bursting": d["bursting"],
                          "alpha": settings.trend_alpha, "clusters": [c.public() for c in shown]}))
        return EXIT_OK
    print(f"{d['window_papers']} papers in the last {settings.trend_window_days} days against "
          f"{d['history_papers']} in the year before (near neighbours at cosine ≥ {settings.trend_rho}); "
          f"{d['clusters_tested']} cluster{'s' if d['clusters_tested'] != 1 else ''} tested, {d['bursting']} bursting "
          f"(Poisson, α = {settings.trend_alpha:g} Bonferroni-corrected, ≥ {settings.trend_min_size} papers, "
          f"≥ {settings.trend_min_ratio:g}× baseline, ≥ {settings.trend_min_groups} author groups)")
    if not d["history_papers"]:
        print("no history before the window: no baseline, so nothing can be called a burst yet")
    for c in shown:
        mark = "BURSTING" if c.significant else "not a trend"
        print(f"{c.id:3}. {c.label} — {c.observed} papers, {c.expected:.1f} expected, p = {c.p_value:.2g}, "
              f"{c.groups} author groups: {mark}" + ("" if c.significant else f" ({c.verdict})"))
        for title in c.examples:
            print(f"       · {title}")
    return EXIT_OK


def cmd_rank(args, settings: Settings) -> int:
    store = Store(settings.home)
    user = _user_arg(store, args.user)
    picks = picks_for(store, settings, user, on=args.date, limit=args.limit)
    if args.json:
        print(json.dumps({"user": user.id, "date": (args.date or datetime.now(timezone.utc).date()).isoformat(),
                          "items": [asdict(p) for p in picks]}))
        return EXIT_OK
    print(shortfall_line(picks, args.limit) or f"{len(picks)} picks")
    for n, p in enumerate(picks, 1):
        print(f"{n:2}. {p.title} ({p.year or 'n.d.'})  [{p.paper_id}]")
        print(f"    score {p.score:+.3f} = relevance {p.relevance:.3f} {p.parts['trend_penalty']:+.3f} trend "
              f"{p.parts['old_bonus']:+.3f} old {p.parts['cross_field_bonus']:+.3f} cross-field")
        print(f"    why: {p.reason}")
    return EXIT_OK


def cmd_digest(args, settings: Settings) -> int:
    store = Store(settings.home)
    outbox = settings.home / "outbox"
    mail_before = set(outbox.glob("*.eml"))
    if args.all == bool(args.user):
        raise CommandError("give one USER, or --all")
    if args.all:
        if args.dry_run:
            raise CommandError("--dry-run works for one user")
        now = datetime.now(timezone.utc)
        answers = []
        for user in store.users():
            if user.unsubscribed:
                continue
            day = args.date or local_day_if_due(user, now) or now.astimezone(ZoneInfo(user.timezone)).date()
            answers.append(deliver(store, settings, user, day))
    else:
        user = _user_arg(store, args.user)
        if user.unsubscribed and not args.dry_run:
            raise CommandError(f"user {user.id} <{user.email}> has unsubscribed; nothing is sent")
        day = args.date or datetime.now(ZoneInfo(user.timezone)).date()
        if args.dry_run:
            result = compose_digest(store, settings, user, day, dry_run=True)
            answers = [{"user": user.id, "date": result.date, "status": result.status, "reason": result.reason,
                        "items": result.items}]
        else:
            answers = [deliver(store, settings, user, day)]
    for answer in answers:
        answer["items"] = [{k: i[k] for k in ("paper_id", "title", "year", "score", "relevance", "trend", "reason")}
                           for i in answer["items"]]
    written = sorted(set(outbox.glob("*.eml")) - mail_before)
    if args.json:
        print(json.dumps(answers[0] if args.user else {"digests": answers}))
    else:
        for a in answers:
            extra = f" ({a['reason']})" if a.get("reason") else ""
            extra += f": {a['error']}" if a.get("error") else ""
            print(f"user {a['user']} {a['date']}: {a['status']}, {len(a['items'])} papers{extra}")
            for n, item in enumerate(a["items"] if args.dry_run else [], 1):
                print(f"  {n:2}. {item['title']} ({item['year'] or 'n.d.'})  [{item['paper_id']}]")
                print(f"      why: {item['reason']}")
        for path in written:
            print(f"mail written to {path} (no SMTP server is set, GLEAN_SMTP_HOST; open it in a mail program)")
        if any(a["status"] == "sent" for a in answers) and settings.smtp_host:
            print(f"mail sent through {settings.smtp_host}:{settings.smtp_port}")
    failed = any(a["status"] == "send_failed" for a in answers)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_old_paper(args, settings: Settings) -> int:
    store = Store(settings.home)
    user = _user_arg(store, args.user) if args.user else None
    week = args.week or iso_week(datetime.now(timezone.utc).date())
    try:
        pick = pick_old_paper(store, settings, week, user)
    except (WeekError, NothingToPick) as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps({k: pick[k] for k in ("week", "paper_id", "title", "year", "reason", "echo", "abs_url")}))
    else:
        print(f"{pick['week']}: {pick['title']} ({pick['year']})  [{pick['paper_id']}]")
        print(f"  {pick['reason']}")
        if pick["picked_at"] and iso_week(datetime.fromisoformat(pick["picked_at"]).date()) > pick["week"]:
            print("  (picked after its week, so it stays out of the archive and the feeds)")
    return EXIT_OK


def cmd_breadth(args, settings: Settings) -> int:
    # Refused before any work: PNG bytes under a .jpg name open nowhere and look like corruption.
    charts = []
    for path in args.png or []:
        suffix = Path(path).suffix.lower()
        if suffix not in ("", ".png", ".svg"):
            raise CommandError(f"--png {path}: the chart comes as PNG or SVG, not {suffix[1:].upper()}; "
                               f"name the file {Path(path).with_suffix('.png')} or {Path(path).with_suffix('.svg')}")
        charts.append((path, "svg" if suffix == ".svg" else "png"))
    store = Store(settings.home)
    user = _user_arg(store, args.user)
    report = breadth_report(store, settings, user)
    for path, fmt in charts:
        Path(path).write_bytes(breadth_chart(report, fmt))
    if args.json:
        print(json.dumps(report))
        return EXIT_OK
    if not report["reads"]:
        print(report.get("note") or "no reads yet: add some with glean reads add / glean reads import")
        return EXIT_OK
    print(f"{report['reads']} reads; home field {report['home_field']}; "
          f"{report['effective_subfields']:.2f} effective subfields, Rao–Stirling {report['rao_stirling']:.3f}, "
          f"{report['outside_home_share']:.0%} outside the home field")
    median = report.get("median_user") or {}
    if median.get("users", 0) > 1:
        print(f"median reader (of {median['users']}): {median.get('effective_subfields', 0):.2f} effective "
              f"subfields, Rao–Stirling {median.get('rao_stirling', 0):.3f}")
    else:  # the median of one reader is that reader
        print("median reader: none to compare with, this is the only reader here")
    for name, share in list(report["shares"].items())[:10]:
        print(f"  {share:6.1%}  {'█' * max(1, round(share * 40))} {name}")
    for n in report["neighbours"]:
        entries = "; ".join(f"{e['title']} ({e['year']})" for e in n["entry_papers"])
        print(f"  next door: {n['subfield']} — start with {entries or 'no stored papers yet'}")
    for path in args.png or []:
        print(f"chart written to {path}")
    return EXIT_OK


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-30") from None


def cmd_status(args, settings: Settings) -> int:
    store = Store(settings.home)
    state = health.status(store)
    if args.json:
        print(json.dumps({"data_folder": str(settings.home), **state}, indent=2))
        return EXIT_OK
    print(f"data folder {settings.home}: {state['papers']['total']} papers "
          f"({', '.join(f'{k} {v}' for k, v in sorted(state['papers']['by_source'].items())) or 'none yet'})")
    for source in state["sources"]:
        run = source["last_run"]
        when = f"last run {run['finished_at'] or run['started_at']}: {run['new']} new, {run['updated']} updated, " \
               f"{run['failed']} failed" if run else "never run"
        flag = source["state"].upper()
        print(f"  {source['source']:9} {flag:9} {when}")
        if source["reason"] and source["state"] != "ok":
            print(f"  {'':9} {'':9} {source['reason']}")
    if state["pdfs"]:
        print("  PDFs: " + ", ".join(f"{k} {v}" for k, v in sorted(state["pdfs"].items())))
    mail = state["mail"]
    if mail["outbox"]:
        print("  mail: " + ", ".join(f"{k} {v}" for k, v in sorted(mail["outbox"].items())))
    for problem in mail["problems"]:
        retry = f"next try {problem['next_attempt_at']}" if problem["status"] == "failed" else "gave up"
        print(f"    {problem['kind']} {problem['day']} to {problem['email']}: {problem['attempts']} attempts, "
              f"{retry}: {problem['last_error']}")
    if state["extractions"]:
        print("  extraction outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(state["extractions"].items())))
    search = state["search"]
    print(f"  search: {search['state'].upper()}, {search['indexed']} of {search['vectors']} passage vectors indexed"
          + (f": {search['reason']}" if search["reason"] else ""))
    return EXIT_OK


def _check_can_listen(host: str, port: int) -> None:
    """Fail with a sentence, not a server log, when the address cannot be listened on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(infos[0][4])
    except socket.gaierror:
        raise CommandError(f"--host {host}: no such address; give an IP address like 127.0.0.1") from None
    except OSError as exc:
        why = "is in use (another server?)" if exc.errno == errno.EADDRINUSE else f"cannot be used: {exc.strerror}"
        raise CommandError(f"{host}:{port} {why}; stop the other server or choose another --port") from None


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from pipelines.embedding import limit_cpu_threads

    from .app import create_app

    limit_cpu_threads(settings.serve_threads)
    _check_can_listen(args.host, args.port)  # before the scheduler starts, not after
    app = create_app(settings, run_scheduler=not args.no_scheduler)
    print(f"Glean serving http://{args.host}:{args.port} (data folder {settings.home})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=settings.log_level.lower())
    return EXIT_OK


# -- parser ---------------------------------------------------------------


def _glean_version() -> str:
    try:
        return version("glean")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _settings_help() -> str:
    lines = ["settings (environment, then .env, then default):"]
    lines += [f"  {key:26} {doc}" for key, _, doc in documented_settings()]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glean",
        description="Glean: read against the consensus. Ingests arXiv, classic papers and cross-field "
                    "feeds; reads limitations sections and appendices.",
        epilog=_settings_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens in detail")
    parser.add_argument("--version", action="version", version=f"glean {_glean_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP API and the pipeline scheduler",
                           description="Run the HTTP API and, unless another server on the same data "
                                       "folder already does, the scheduler that runs the pipelines.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--no-scheduler", action="store_true",
                       help="serve HTTP only; the pipelines run elsewhere (cron, another server)")
    serve.set_defaults(func=cmd_serve)

    ing = sub.add_parser("ingest", help="fetch new papers from a source (arxiv, classics, feeds, all)",
                         description="Fetch new and updated papers. arxiv: the followed categories since "
                                     "the last run; classics: the canon and a slice of arXiv before 2010; "
                                     "feeds: the cross-field feeds list. Exit status 1 if a source failed.")
    ing.add_argument("source", choices=[*SOURCES, "all"])
    ing.add_argument("--since", type=_date, help="arxiv only: look back to this date (YYYY-MM-DD) "
                                                 "instead of the last checkpoint")
    ing.add_argument("--json", action="store_true", help="print one JSON object with new, updated, "
                                                         "unchanged and failed")
    ing.set_defaults(func=cmd_ingest)

    bf = sub.add_parser("backfill", help="bulk work: arXiv metadata over OAI-PMH; PDFs; embeddings",
                        description="arxiv: harvest arXiv's OAI-PMH interface (GLEAN_OAI_URL) for records "
                                    "whose datestamp (last change) lies between Jan 1 of --from and Dec 31 of "
                                    "--until (default: today), one month at a time, oldest first; resumes "
                                    "after the last finished month. pdfs: download and extract the full text "
                                    "of every stored paper still waiting for it. embeddings: embed and index "
                                    "every paper and passage not yet embedded. pdfs and embeddings plan the "
                                    "backlog once, then work through it in batches on the executor "
                                    "GLEAN_EXECUTOR names, each batch committed, so an interrupted run "
                                    "resumes where it stopped. Exit status 1 if the run failed.")
    bf.add_argument("source", choices=["arxiv", "pdfs", "embeddings"])
    bf.add_argument("--from", dest="from_year", type=_year, metavar="YEAR",
                    help="arxiv (required): first year to harvest")
    bf.add_argument("--until", type=_year, metavar="YEAR", help="arxiv: last year to harvest (default: this year)")
    bf.add_argument("--set", help="arxiv: an OAI-PMH set: cs, math, physics:hep-th … (default: all of arXiv)")
    bf.add_argument("--format", choices=list(SUPPORTED_PREFIXES),
                    help=f"arxiv: metadata format (default {DEFAULT_OAI_FORMAT}: carries versions and exact dates)")
    bf.add_argument("--limit", type=_positive, metavar="N", help="pdfs, embeddings: at most N papers this run")
    bf.add_argument("--batch", type=_positive, metavar="N",
                    help=f"pdfs, embeddings: papers per committed batch (default {PDF_BATCH} for pdfs, "
                         f"{EMBEDDING_BATCH} for embeddings)")
    bf.add_argument("--json", action="store_true", help="print one JSON object with new, updated, "
                                                        "unchanged and failed")
    bf.set_defaults(func=cmd_backfill)

    dl = sub.add_parser("download", help="download the PDFs of stored papers that lack one",
                        description="Download PDFs of stored papers that need full text, once, within "
                                    "the size and time caps.")
    dl.add_argument("--pending", action="store_true", help="every paper still waiting for its PDF (default)")
    dl.add_argument("--limit", type=_positive, help="at most this many PDFs")
    dl.add_argument("--json", action="store_true", help="print one JSON object")
    dl.set_defaults(func=cmd_download)

    ex = sub.add_parser("extract", help="read PDFs: sections, the limitations section, the appendices",
                        description="Extract sections, limitations spans and appendices. With --pending: every "
                                    "downloaded PDF not yet extracted (or extracted by an older extractor), into "
                                    "the store. With files: print what each file holds; --json gives one object "
                                    "per file per line.")
    ex.add_argument("files", nargs="*", metavar="FILE.pdf", help="PDF files to read")
    ex.add_argument("--pending", action="store_true", help="extract the downloaded papers into the store")
    ex.add_argument("--limit", type=_positive, help="with --pending: at most this many papers")
    ex.add_argument("--json", action="store_true", help="JSON output")
    ex.set_defaults(func=cmd_extract)

    ix = sub.add_parser("index", help="embed new or changed papers and passages; update the vector indexes",
                        description="Embed what is new or changed (paper titles and abstracts; limitations and "
                                    "appendix passages in chunks that fit the model) and bring the faiss "
                                    "indexes in GLEAN_HOME/index up to date.")
    ix.add_argument("--rebuild", action="store_true", help="forget every vector and start over")
    ix.add_argument("--json", action="store_true", help="print one JSON object")
    ix.set_defaults(func=cmd_index)

    se = sub.add_parser("search", help="search limitations sections and appendices (keyword + semantic)",
                        description="Hybrid search: BM25 over the passages and cosine similarity over their "
                                    "chunks, fused by reciprocal rank; at most two hits per paper.")
    se.add_argument("query", help="what to look for, in your own words")
    se.add_argument("--in", dest="where", choices=["limitations", "appendix", "all"], default="all",
                    help="search limitations, appendices or both (default all)")
    se.add_argument("--from", dest="year_from", type=int, metavar="YEAR", help="earliest year")
    se.add_argument("--to", dest="year_to", type=int, metavar="YEAR", help="latest year")
    se.add_argument("--category", help="arXiv category (cs.CL) or feed field (neuroscience)")
    se.add_argument("--source", choices=list(SEARCH_SOURCES), help="where papers came from")
    se.add_argument("--limit", type=_positive, default=10, help="most hits (default 10)")
    se.add_argument("--mode", choices=["hybrid", "keyword", "semantic"], default="hybrid",
                    help="hybrid (default), or one ranker alone")
    se.add_argument("--json", action="store_true", help="print one JSON object with a results list")
    se.set_defaults(func=cmd_search)

    us = sub.add_parser("users", help="add, list, show or remove users",
                        description="Users get a daily digest at their hour in their timezone, and an API token "
                                    "(shown once when the user is added).")
    us_sub = us.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = us_sub.add_parser("add", help="add a user (prints their API token once)")
    add.add_argument("email")
    add.add_argument("--name")
    add.add_argument("--interests", help="free text: what you work on and care about")
    add.add_argument("--categories", type=_categories,
                     help="arXiv categories you follow, comma-separated (cs.CL,stat.ML)")
    add.add_argument("--timezone", default="UTC", help="IANA timezone, e.g. Europe/Berlin (default UTC)")
    add.add_argument("--hour", type=int, default=7, help="local hour of the daily digest, 0-23 (default 7)")
    add.add_argument("--anti-trend", type=float, help="0 (off) to 3 (strong); default: the deployment's")
    edit = us_sub.add_parser("edit", help="change a user's name, timezone, digest hour, interests, "
                                          "categories or anti-trending strength")
    edit.add_argument("user", help="user id or email")
    edit.add_argument("--name")
    edit.add_argument("--timezone", help="IANA timezone, e.g. Europe/Berlin")
    edit.add_argument("--digest-hour", type=int, help="local hour of the daily digest, 0-23")
    edit.add_argument("--interests", help="free text: what you work on and care about")
    edit.add_argument("--categories", type=_categories, help="arXiv categories, comma-separated (cs.CL,stat.ML)")
    edit.add_argument("--anti-trend", type=_anti_trend, metavar="{0..3,default}",
                      help="0 (off) to 3 (strong), or default: the deployment's GLEAN_RANK_BETA")
    for name, helptext in (("list", "list users"), ("show", "show one user"), ("remove", "remove a user"),
                           ("token", "make a new API token for a user; the old one stops working")):
        p = us_sub.add_parser(name, help=helptext)
        if name != "list":
            p.add_argument("user", help="user id or email")
    us_sub.choices["remove"].add_argument("--yes", action="store_true",
                                          help="remove without asking (needed when not on a terminal)")
    for p in us_sub.choices.values():
        p.add_argument("--json", action="store_true", help="JSON output")
    us.set_defaults(func=cmd_users)

    rd = sub.add_parser("reads", help="a user's reading history: add, import, list",
                        description="What a user has read (and liked or not): the ranker's profile.")
    rd_sub = rd.add_subparsers(dest="action", required=True, metavar="ACTION")
    ra = rd_sub.add_parser("add", help="add papers by id (arxiv:2401.01234, 2401.01234, hep-th/9901001, doi:…)")
    ra.add_argument("user", help="user id or email")
    ra.add_argument("ids", nargs="+", help="stored ids, bare arXiv ids or DOIs")
    ra.add_argument("--rating", type=int, choices=[1, -1], help="+1 more like this, -1 not for me")
    ri = rd_sub.add_parser("import", help="import a BibTeX file or a plain list of arXiv ids / DOIs")
    ri.add_argument("user", help="user id or email")
    ri.add_argument("file", help="a .bib file, or one id per line")
    rl = rd_sub.add_parser("list", help="list a user's reads")
    rl.add_argument("user", help="user id or email")
    for p in rd_sub.choices.values():
        p.add_argument("--json", action="store_true", help="JSON output")
    rd.set_defaults(func=cmd_reads)

    tr = sub.add_parser("trend", help="what is trending now: clusters that pass the burst test",
                        description="Recompute the burst test: clusters of the last GLEAN_TREND_WINDOW_DAYS days "
                                    "against their own baseline in the year before (Poisson test, minimum size, "
                                    "independent author groups). Shows every bursting cluster with the test's "
                                    "numbers, then the largest clusters that did not pass and why.")
    tr.add_argument("--top", type=_positive, default=10,
                    help="how many clusters that did not pass to show as well (default 10)")
    tr.add_argument("--json", action="store_true", help="JSON output")
    tr.set_defaults(func=cmd_trend)

    rk = sub.add_parser("rank", help="a user's ranked picks, with score parts and reasons",
                        description="Rank new papers, old papers and cross-field items for a user. Only papers "
                                    "that clear the reader's relevance floor are picked (the list may be shorter "
                                    "than --limit, and says so); papers in a bursting cluster must clear it by "
                                    "the anti-trending strength; then bonuses for old and bridged cross-field "
                                    "papers and MMR for variety. Each pick has a reason built from checkable "
                                    "claims (--json shows them). Shows what the digest would carry; delivers "
                                    "nothing (old papers shown here are not offered again on later days).")
    rk.add_argument("user", help="user id or email")
    rk.add_argument("--date", type=_day, help="rank as of this day (YYYY-MM-DD; default today)")
    rk.add_argument("--limit", type=_positive, default=10, help="how many picks (default 10)")
    rk.add_argument("--json", action="store_true", help="one JSON object with an items list")
    rk.set_defaults(func=cmd_rank)

    dg = sub.add_parser("digest", help="compose and send a user's daily digest (once per day)",
                        description="Compose the digest for a user's day into the outbox (once: a second run "
                                    "says already_sent) and send it over SMTP, or to GLEAN_HOME/outbox as .eml "
                                    "when no SMTP server is set. --dry-run shows the picks and sends nothing.")
    dg.add_argument("user", nargs="?", help="user id or email")
    dg.add_argument("--all", action="store_true", help="every subscribed user")
    dg.add_argument("--date", type=_day, help="the day (YYYY-MM-DD; default: the user's today)")
    dg.add_argument("--dry-run", action="store_true", help="compose and show, store and send nothing")
    dg.add_argument("--json", action="store_true", help="JSON output")
    dg.set_defaults(func=cmd_digest)

    op = sub.add_parser("old-paper", help="the old paper of the week (global, or for one user)",
                        description="Pick (once per ISO week, then stable) the pre-2010 paper that best echoes "
                                    "this week's trending clusters; with --user, picked against that user's reading.")
    op.add_argument("--week", help="ISO week like 2026-W48 (default: this week); a pick made after its week "
                                   "stays out of the archive and the feeds")
    op.add_argument("--user", help="user id or email: their personal pick")
    op.add_argument("--json", action="store_true", help="JSON: week, paper_id, title, year, reason")
    op.set_defaults(func=cmd_old_paper)

    br = sub.add_parser("breadth", help="a user's subfield breadth report, with a chart",
                        description="Where a user's reading goes: shares per subfield, effective number of "
                                    "subfields, Rao–Stirling diversity, share outside the home field, month by "
                                    "month and against the median reader, and three neighbouring subfields to "
                                    "visit next.")
    br.add_argument("user", help="user id or email")
    br.add_argument("--png", action="append", metavar="FILE", help="write the chart (FILE.png, or FILE.svg)")
    br.add_argument("--json", action="store_true", help="JSON: shares, effective_subfields, rao_stirling, "
                                                       "outside_home_share, neighbours, monthly, median_user")
    br.set_defaults(func=cmd_breadth)

    st = sub.add_parser("status", help="per source: last run, counts, stale or failing",
                        description="Show each source's last run and whether it is failing or stale "
                                    "(nothing new for longer than its rhythm).")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=cmd_status)
    return parser


class _StderrHandler(logging.StreamHandler):
    """Logs to whatever ``sys.stderr`` is at the time (tests swap it), one line a record.

    Without --verbose it drops what the command prints itself (the stage summaries,
    failed feeds) and leaves tracebacks out: the CLI says everything once, in a line.
    `glean serve` keeps all of it: there the log is the only record of the scheduled runs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.verbose = False
        self._drop_reported = DropReported()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass  # always the current sys.stderr

    def filter(self, record: logging.LogRecord) -> bool:
        return self.verbose or self._drop_reported.filter(record)

    def format(self, record: logging.LogRecord) -> str:
        if self.verbose or not record.exc_info:
            return super().format(record)
        plain = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return super().format(plain) + " (glean -v … shows the traceback)"


def _setup_logging(args, level_name: str) -> None:
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        root.addHandler(handler)
    handler.verbose = args.verbose or args.command == "serve"
    level = logging.DEBUG if args.verbose else getattr(logging, level_name)
    if getattr(args, "json", False) and not args.verbose:
        level = logging.WARNING  # keep stderr quiet for scripts
    root.setLevel(level)
    # The arxiv package logs every page at INFO.
    logging.getLogger("arxiv").setLevel(logging.NOTSET if args.verbose else logging.WARNING)


_OS_ERROR_HINTS = {
    errno.ENOENT: "no such file or folder: {path} (check the path; missing folders are not created)",
    errno.EACCES: "permission denied: {path} (choose a place you may write, or fix its permissions)",
    errno.EPERM: "permission denied: {path} (choose a place you may write, or fix its permissions)",
    errno.EISDIR: "{path} is a folder: give a file name",
    errno.ENOTDIR: "a part of {path} is a file, not a folder: check the path (and GLEAN_HOME)",
    errno.EEXIST: "{path} exists and is not a folder: move it away, or point GLEAN_HOME at a folder",
    errno.ENOSPC: "no space left on the device holding {path}: free some space and run again",
    errno.EROFS: "{path} is on a read-only file system: choose another place",
}


def describe_failure(exc: BaseException, settings: Settings | None) -> str:
    """One line a user can act on, for a failure no command turned into a message itself."""
    if isinstance(exc, OSError) and exc.errno in _OS_ERROR_HINTS:
        return _OS_ERROR_HINTS[exc.errno].format(path=exc.filename or (settings and settings.home) or "a file")
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    if isinstance(exc, sqlite3.Error):
        where = settings.home if settings else "GLEAN_HOME"
        if "full" in str(exc):
            return f"the disk holding the data folder {where} is full: free some space and run again"
        return (f"the database in {where} failed ({exc}): if another glean runs on the same folder, "
                f"wait for it and run again")
    return f"unexpected {type(exc).__name__}: {exc} (run again with glean -v … for the traceback to report)"


def _announce_new_data_folder(home: Path) -> None:
    # Without GLEAN_HOME the folder is ./var wherever glean runs: say so once, when it appears.
    default = home == Settings().home
    why = " (GLEAN_HOME is not set, so it is ./var here; set GLEAN_HOME to keep one data folder)" if default else ""
    print(f"glean: created the data folder {home}{why}", file=sys.stderr)


def _reader_went_away() -> int:
    """stdout's reader stopped reading (``glean status | head -1``): end quietly, as Unix tools do."""
    try:  # later writes (the final flush at exit) go nowhere instead of raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # a stdout with no file behind it (tests)
    return 128 + 13  # killed by SIGPIPE, as the shell would report


def main(argv: list[str] | None = None, *, env: dict | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = None
    # The command boundary: every failure leaves here as one line on stderr and a
    # non-zero status. Commands raise CommandError for what the user can fix.
    try:
        _setup_logging(args, "INFO")  # before the settings, so that their own warnings show
        settings = Settings.load(env=env)
        _setup_logging(args, settings.log_level)
        home_existed = settings.home.exists()
        code = args.func(args, settings)
        if not home_existed and settings.home.is_dir():
            _announce_new_data_folder(settings.home)
        sys.stdout.flush()  # inside the boundary: a closed pipe is noticed here, not at exit
        return code
    except (SettingsError, FeedListError, CanonError, CommandError) as exc:
        print(f"glean: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("glean: interrupted; the next run continues where this one stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_went_away()
    except Exception as exc:  # noqa: BLE001 — the one place that turns any failure into a message
        logging.getLogger("glean").debug("the command failed", exc_info=True)  # the traceback, with -v
        print(f"glean: {describe_failure(exc, settings)}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
