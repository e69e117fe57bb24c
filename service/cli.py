"""The `glean` command. Errors become messages here, at the command boundary, and nowhere else."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime, timezone
from typing import Callable

from tqdm import tqdm

from pipelines import health
from pipelines.download import download_pdfs
from pipelines.ingest import SOURCES, ingest
from pipelines.settings import Settings, SettingsError, documented_settings
from pipelines.sources.classics import CanonError
from pipelines.sources.feeds import FeedListError
from pipelines.stages import StageReport
from pipelines.store import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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


def _progress(description: str, total: int | None = None) -> tqdm:
    # disable=None: bars on a terminal, silence in pipes, cron and CI logs.
    return tqdm(total=total, desc=description, unit="item", disable=None, file=sys.stderr, leave=False)


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
        reports = ingest(store, settings, args.source, since=args.since, progress=bar.update)
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


def cmd_download(args, settings: Settings) -> int:
    store = Store(settings.home)
    with _progress("download PDFs") as bar:
        report = download_pdfs(store, settings, limit=args.limit, progress=bar.update)
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        _print_report(report)
        print(f"          {report.details.get('pending', 0)} PDFs were pending")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_status(args, settings: Settings) -> int:
    store = Store(settings.home)
    state = health.status(store)
    if args.json:
        print(json.dumps(state, indent=2))
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
    return EXIT_OK


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from .app import create_app

    app = create_app(settings)
    print(f"Glean serving http://{args.host}:{args.port} (data folder {settings.home})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=settings.log_level.lower())
    return EXIT_OK


# -- parser ---------------------------------------------------------------


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
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP API and the pipeline scheduler",
                           description="Run the HTTP API and, unless another server on the same data "
                                       "folder already does, the scheduler that runs the pipelines.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
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

    dl = sub.add_parser("download", help="download the PDFs of stored papers that lack one",
                        description="Download PDFs of stored papers that need full text, once, within "
                                    "the size and time caps.")
    dl.add_argument("--pending", action="store_true", help="every paper still waiting for its PDF (default)")
    dl.add_argument("--limit", type=_positive, help="at most this many PDFs")
    dl.add_argument("--json", action="store_true", help="print one JSON object")
    dl.set_defaults(func=cmd_download)

    st = sub.add_parser("status", help="per source: last run, counts, stale or failing",
                        description="Show each source's last run and whether it is failing or stale "
                                    "(nothing new for longer than its rhythm).")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None, *, env: dict | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.load(env=env)
        level = logging.DEBUG if args.verbose else getattr(logging, settings.log_level.upper(), logging.INFO)
        logging.basicConfig(level=level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if not args.verbose:
            logging.getLogger("arxiv").setLevel(logging.WARNING)  # the package logs every page at INFO
        if getattr(args, "json", False) and not args.verbose:
            logging.getLogger().setLevel(logging.WARNING)  # keep stderr quiet for scripts
        return args.func(args, settings)
    except (SettingsError, FeedListError, CanonError, CommandError) as exc:
        print(f"glean: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("glean: interrupted; the next run continues where this one stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
