"""The daily digest: compose once per user and day, into the outbox.

Composing and sending are separate steps (service/mailer.py sends). The outbox's
unique key on (user, kind, day) is claimed before anything is built, so restarts,
reruns and two server processes can never compose two digests for one user and day.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from pipelines import health
from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.store_users import User

from .breadth import BreadthContext, breadth_context, breadth_report, summary_line
from .picks import DayContext, called_classic, day_context, moment, picks_for, shortfall_line
from .ranker import Pick
from .signing import Signer, load_secret
from .urls import safe_url

log = logging.getLogger(__name__)

KIND = "digest"
MAIL_POLICY = policy.SMTP.clone(max_line_length=998, cte_type="7bit")
EXCERPT_CHARS = 700
STALE_CLAIM = timedelta(minutes=30)
TEMPLATES = Path(__file__).resolve().parent / "templates" / "mail"

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
_env.filters["safe_url"] = safe_url  # links from stored data: http(s) only, checked again when rendered


@dataclass
class DigestItem:
    paper_id: str
    title: str
    authors: str
    year: int | None
    origin: str  # "arXiv cs.LG", "neuroscience (eLife)", "classic, Nature 323"
    reason: str
    excerpt: str
    excerpt_is_limitations: bool
    abs_url: str | None
    paper_url: str
    more_url: str
    not_for_me_url: str
    read_url: str
    score: float
    relevance: float
    trend: float
    # False while Glean has not read the paper's full text (no open-access PDF, or not yet):
    # then the abstract stands in without claiming the paper has no limitations section.
    full_text_read: bool = True


@dataclass
class ComposeResult:
    user: int
    date: str
    status: str  # queued | nothing_to_send | already_<status>
    reason: str | None
    items: list[dict]


def one_line(text: str | None) -> str:
    """Names and titles go into headers and text parts on one line, whatever they held."""
    return " ".join((text or "").split())


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = one_line(text)
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("; "))
    return (cut[:end + 1] if end > limit // 2 else cut.rsplit(" ", 1)[0]) + " …"


def signer_for(settings: Settings) -> Signer:
    return Signer(load_secret(settings.secret_key, settings.home))


def link(settings: Settings, path: str, **params: str) -> str:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return settings.base_url.rstrip("/") + path + (f"?{query}" if query else "")


def _origin(paper) -> str:
    if called_classic(paper):
        return "classic" + (f", {paper.venue}" if paper.venue else "")
    if paper.source.startswith("feed:"):
        return f"{paper.field or 'cross-field'} ({paper.source[5:]})"
    return f"arXiv {paper.primary_category or ''}".strip()


def build_items(store: Store, settings: Settings, signer: Signer, user: User, picks: list[Pick]) -> list[DigestItem]:
    papers = store.papers_by_id([p.paper_id for p in picks])
    ttl = settings.link_ttl_days * 86400
    items = []
    for pick in picks:
        paper = papers[pick.paper_id]
        limitation = next((p for p in store.passages(paper.id) if p["kind"] == "limitations"), None)
        extraction = store.extraction(paper.id)
        text = limitation["text"] if limitation else paper.abstract

        def feedback(action: str, paper_id: str = paper.id) -> str:
            token = signer.sign("feedback", {"u": user.id, "paper": paper_id, "a": action}, ttl)
            return link(settings, "/feedback", t=token)

        authors = ", ".join(one_line(a) for a in paper.authors[:4]) + (" et al." if len(paper.authors) > 4 else "")
        items.append(DigestItem(
            paper_id=paper.id, title=one_line(paper.title), authors=authors, year=paper.year,
            origin=_origin(paper), reason=pick.reason, excerpt=excerpt(text) if text else "",
            excerpt_is_limitations=limitation is not None, abs_url=paper.abs_url,
            paper_url=link(settings, f"/papers/{quote(paper.id, safe=':/')}"),
            more_url=feedback("more"), not_for_me_url=feedback("not"), read_url=feedback("read"),
            score=pick.score, relevance=pick.relevance, trend=pick.trend,
            full_text_read=bool(extraction) and extraction["status"] == "ok"))
    return items


def notices(store: Store) -> list[str]:
    """Sources that are failing or stale: said plainly in the digest, never a silent gap."""
    out = []
    for source in health.status(store)["sources"]:
        if source["state"] in ("failing", "stale"):
            out.append(f"{source['source']} is {source['state']}: {source['reason']}")
    return out


def message_id(settings: Settings, user: User, day: str) -> str:
    host = urlsplit(settings.base_url).hostname or socket.getfqdn()
    return f"<digest.{user.id}.{day}@{host}>"


def render(settings: Settings, signer: Signer, user: User, day: str, items: list[DigestItem],
           heads_up: list[str], breadth_line: str | None = None, shortfall: str | None = None) -> EmailMessage:
    unsubscribe = link(settings, "/unsubscribe",
                       t=signer.sign("unsubscribe", {"u": user.id}, settings.link_ttl_days * 86400 * 12))
    context = {"user_name": one_line(user.name) or None, "day": date.fromisoformat(day), "items": items,
               "notices": heads_up, "breadth_line": breadth_line, "breadth_url": link(settings, "/breadth"),
               "unsubscribe_url": unsubscribe, "settings_url": link(settings, "/settings"), "shortfall": shortfall,
               "base_url": settings.base_url}
    # Long header lines are allowed up to 998 characters (RFC 5322); the default 78 would
    # fold the unsubscribe URL into encoded words that mail clients cannot follow.
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = f"Glean: {len(items)} papers for {date.fromisoformat(day):%a %d %b %Y}"
    msg["From"] = settings.mail_from
    msg["To"] = Address(display_name=one_line(user.name), addr_spec=user.email)
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = message_id(settings, user, day)
    msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(_env.get_template("digest.txt").render(context))
    msg.add_alternative(_env.get_template("digest.html").render(context), subtype="html")
    return msg


def compose_digest(store: Store, settings: Settings, user: User, day: date, *, dry_run: bool = False,
                   worker: str | None = None, now: datetime | None = None,
                   context: DayContext | None = None, breadth: BreadthContext | None = None) -> ComposeResult:
    """Compose ``user``'s digest for ``day`` into the outbox, unless it exists already."""
    day_s = day.isoformat()
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    now = now or datetime.now(timezone.utc)
    existing = store.outbox_row(user.id, KIND, day_s)
    if existing and not dry_run:
        return ComposeResult(user.id, day_s, f"already_{existing['status']}", existing["reason"],
                             _json_items(existing["items"]))
    if not dry_run and not store.claim_compose(user.id, KIND, day_s, worker=worker, now=now.isoformat(),
                                               stale_before=(now - STALE_CLAIM).isoformat()):
        row = store.outbox_row(user.id, KIND, day_s) or {}
        return ComposeResult(user.id, day_s, f"already_{row.get('status', 'composing')}", row.get("reason"), [])
    try:
        signer = signer_for(settings)
        picks = picks_for(store, settings, user, on=day, limit=settings.digest_size, context=context)
        items = build_items(store, settings, signer, user, picks)
        reason = None if items else "no new paper was relevant enough to clear your bar today"
        message = render(settings, signer, user, day_s, items, notices(store),
                         weekly_breadth(store, settings, user, day, breadth),
                         shortfall_line(picks, settings.digest_size)) if items else None
    except BaseException:
        if not dry_run:
            store.abandon_compose(user.id, KIND, day_s, worker=worker)
        raise
    item_dicts = [asdict(i) for i in items]
    if dry_run:
        return ComposeResult(user.id, day_s, "dry_run" if items else "nothing_to_send", reason, item_dicts)
    store.finish_compose(user.id, KIND, day_s, worker=worker, message_id=message_id(settings, user, day_s) if items
                         else None, message=bytes(message) if message else None, items=item_dicts,
                         reason=reason, now=now.isoformat())
    if reason:
        log.info("digest for user %s on %s: nothing to send (%s)", user.id, day_s, reason)
    return ComposeResult(user.id, day_s, "queued" if items else "nothing_to_send", reason, item_dicts)


def weekly_breadth(store: Store, settings: Settings, user: User, day: date,
                   context: BreadthContext | None) -> str | None:
    """On Mondays, one line on where the reader's reading went (the weekly breadth summary)."""
    if day.weekday() != 0:
        return None
    report = breadth_report(store, settings, user, context=context, entry_papers=False)
    return summary_line(report) if report["reads"] else None


def today_for(store: Store, settings: Settings, user: User, now: datetime | None = None) -> dict:
    """What "today" shows a reader: once today's digest is composed, exactly what it carried (and
    when), then what is new since; before that, today's picks as the digest would choose them."""
    now = now or datetime.now(timezone.utc)
    day = now.astimezone(ZoneInfo(user.timezone)).date()
    row = store.outbox_row(user.id, KIND, day.isoformat())
    sent = None
    if row and row["status"] not in ("composing", "nothing_to_send") and row["items"]:
        sent = {"status": row["status"], "composed_at": row["created_at"], "sent_at": row.get("sent_at"),
                "items": [{k: i[k] for k in ("paper_id", "title", "year", "reason", "origin", "excerpt",
                                             "excerpt_is_limitations")} for i in _json_items(row["items"])]}
    picks = picks_for(store, settings, user, on=day, limit=settings.digest_size)
    return {"user": user.id, "date": day.isoformat(), "digest": sent,
            "picks": [asdict(p) for p in picks],
            "shortfall": None if sent else shortfall_line(picks, settings.digest_size)}


def _json_items(raw: str | None) -> list[dict]:
    return json.loads(raw or "[]")


def local_day_if_due(user: User, now: datetime) -> date | None:
    """The user's local date if their digest hour has come today (DST included), else None.

    "Has come" is at-or-after, so a skipped hour (spring forward) or a server that
    was down at the hour still delivers that day; the outbox key stops a second one.
    """
    local = now.astimezone(ZoneInfo(user.timezone))
    return local.date() if local.hour >= user.digest_hour else None



def deliver(store: Store, settings: Settings, user: User, day: date, transport=None) -> dict:
    """Compose (once) and send one user's digest for one day; the answer `glean digest` prints."""
    from .mailer import send_due

    result = compose_digest(store, settings, user, day)
    answer = {"user": user.id, "date": result.date, "status": result.status, "reason": result.reason,
              "items": result.items}
    if result.status == "queued":
        send_due(store, settings, transport, only_user=user.id)
        row = store.outbox_row(user.id, KIND, result.date)
        answer["status"] = {"sent": "sent", "failed": "send_failed", "gave_up": "send_failed"}.get(
            row["status"], row["status"])
        answer["error"] = row["last_error"]
    return answer


def deliver_due(store: Store, settings: Settings, now: datetime | None = None, transport=None) -> dict:
    """The hourly job: compose for every subscribed user whose local hour has come, then send."""
    from .mailer import send_due

    now = now or datetime.now(timezone.utc)
    composed = nothing = already = 0
    contexts: dict[date, DayContext] = {}  # users in different timezones may be on different days
    breadth_contexts: dict[date, BreadthContext] = {}
    for user in store.users():
        if user.unsubscribed:
            continue
        day = local_day_if_due(user, now)
        if day is None or store.outbox_row(user.id, KIND, day.isoformat()):
            already += day is not None
            continue
        context = contexts.get(day) or contexts.setdefault(day, day_context(store, settings, moment(day)))
        breadth = None
        if day.weekday() == 0:
            breadth = breadth_contexts.get(day) or breadth_contexts.setdefault(day, breadth_context(store, now))
        status = compose_digest(store, settings, user, day, now=now, context=context, breadth=breadth).status
        composed += status == "queued"
        nothing += status == "nothing_to_send"
        already += status.startswith("already_")
    sent = send_due(store, settings, transport, now=now)
    return {"composed": composed, "nothing_to_send": nothing, "already": already, "sent": sent.sent,
            "failed": sent.failed}
