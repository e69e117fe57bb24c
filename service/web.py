"""The web pages: home, sign-in, settings, old paper of the week, breadth, and their feeds.

Server-rendered with Jinja2 (autoescaped), no JavaScript needed. Every page's
context is also served as JSON (its "twin") by the API, built by the same code.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import BackgroundTasks, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.store_users import User

from .accounts import AccountError, clean_fields, rotate_token
from .atom import etag_for, old_paper_feed
from .breadth import breadth_report
from .chart import breadth_chart, chart_description
from .digest import today_for
from .old_paper import NothingToPick, history, iso_week, pick_old_paper
from .sessions import (
    PRESESSION_COOKIE,
    check_csrf,
    create_signin_link,
    csrf_token,
    end_session,
    local_path,
    redeem_signin_link,
    session_user,
    start_session,
)
from .signin import RateLimit, send_signin_mail
from .signing import BadSignature, Signer

log = logging.getLogger(__name__)

# Feed readers keep a URL for years, so a feed token does not expire (revocation is by nonce),
# and its expiry is fixed: the address is a function of user and nonce, the same on every visit
# to the settings page until it is revoked. (Tokens made before carry a 10-year expiry; they
# stay good until then or until revoked.)
FEED_TOKEN_EXPIRES = 253402300799  # 9999-12-31T23:59:59Z
# Sign-in mails: a few per address (a typo, a slow inbox) and more per client (a shared
# office address), per quarter hour; beyond that someone is flooding an inbox or probing.
SIGNIN_PER_ADDRESS = 5
SIGNIN_PER_CLIENT = 20
SIGNIN_WINDOW_S = 15 * 60


class SignInRequired(Exception):
    """A page that needs a signed-in reader was opened by a signed-out browser."""


def session_context(request: Request) -> dict:
    """What every template knows (a context processor), so every page's navigation shows the session."""
    user = session_user(request)
    return {"me": user, "csrf": csrf_token(request)} if user else {"me": None}


def render_page(templates: Jinja2Templates, request: Request, name: str, context: dict,
                status: int = 200) -> HTMLResponse:
    """A page with a CSRF token for its forms (a pre-session cookie when signed out)."""
    response = templates.TemplateResponse(request, name, {"csrf": csrf_token(request), **context},
                                          status_code=status)
    if getattr(request.state, "new_presession", None):
        response.set_cookie(PRESESSION_COOKIE, request.state.new_presession, httponly=True, samesite="lax")
    return response


def feed_token(signer: Signer, store: Store, user: User) -> str:
    return signer.sign("feed", {"u": user.id, "n": store.feed_nonce(user.id)}, 0, expires_at=FEED_TOKEN_EXPIRES)


def feed_user(signer: Signer, store: Store, token: str) -> User:
    try:
        payload = signer.verify(token, "feed")
    except BadSignature:
        raise HTTPException(404, "no such feed") from None
    if store.feed_nonce(payload["u"]) != payload["n"]:
        raise HTTPException(404, "this feed link was revoked; your settings page has the new one")
    return store.get_user(payload["u"])


def try_pick(store: Store, settings: Settings, week: str, user: User | None = None) -> tuple[dict | None, str | None]:
    try:
        return pick_old_paper(store, settings, week, user), None
    except NothingToPick as exc:
        return None, str(exc)


def old_paper_context(store: Store, settings: Settings, user: User | None) -> dict:
    week = iso_week(datetime.now(timezone.utc).date())
    current, why_none = try_pick(store, settings, week)
    context = {"week": week, "current": current, "why_none": why_none, "archive": history(store, 0, 52)}
    if user is not None:
        context["mine"] = try_pick(store, settings, week, user)[0]
        context["my_archive"] = history(store, user.id, 52)
    return context


def atom_response(request: Request, body: bytes, updated: str | None) -> Response:
    """The feed with validators, or 304 when the reader already has this version."""
    etag = etag_for(body)
    last_modified = datetime.fromisoformat(updated) if updated else datetime(2026, 1, 1, tzinfo=timezone.utc)
    headers = {"ETag": etag, "Last-Modified": format_datetime(last_modified.astimezone(timezone.utc), usegmt=True),
               "Cache-Control": "max-age=3600"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    since = request.headers.get("if-modified-since")
    if since and not request.headers.get("if-none-match"):
        try:
            if last_modified.replace(microsecond=0) <= parsedate_to_datetime(since):
                return Response(status_code=304, headers=headers)
        except (TypeError, ValueError):
            pass
    if request.method == "HEAD":  # feed readers and link checkers ask first: the same headers, no body
        return Response(status_code=200, media_type="application/atom+xml; charset=utf-8",
                        headers={**headers, "Content-Length": str(len(body))})
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=headers)


def install_web(app: FastAPI, templates: Jinja2Templates, store: Store, settings: Settings, signer: Signer) -> None:
    signin_per_address = RateLimit(SIGNIN_PER_ADDRESS, SIGNIN_WINDOW_S)
    signin_per_client = RateLimit(SIGNIN_PER_CLIENT, SIGNIN_WINDOW_S)
    app.state.signin_limits = (signin_per_address, signin_per_client)

    def page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
        return render_page(templates, request, name, context, status)

    def signed_in(request: Request) -> User:
        user = session_user(request)
        if user is None:
            raise SignInRequired()
        return user

    @app.exception_handler(SignInRequired)
    async def to_signin(request: Request, exc: SignInRequired):
        # A browser goes to the sign-in page and, once signed in, back where it was; the API
        # (current_user in app.py) keeps answering JSON 401s.
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(here, safe='')}", status_code=303)

    def settings_context(user: User, **extra) -> dict:
        feed_url = settings.base_url.rstrip("/") + f"/feeds/old-paper/{feed_token(signer, store, user)}.atom"
        return {"active": "settings", "user": user.public(), "saved": False, "error": None, "feed_url": feed_url,
                "new_token": None, "revoked": False, "json_url": "/api/me",
                "default_anti_trend": settings.rank_beta, **extra}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request):
        user = session_user(request)
        today = today_for(store, settings, user) if user else {"digest": None, "picks": [], "shortfall": None}
        return page(request, "home.html", {"active": "home", **today,
                                           "json_url": f"/api/users/{user.id}/today" if user else "/api/status"})

    @app.get("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin_form(request: Request, next: str = "/"):
        return page(request, "signin.html", {"active": "signin", "sent": False, "next": local_path(next),
                                             "json_url": "/api/status"})

    def mail_signin_link(address: str, next_path: str) -> None:
        # Runs after the answer has gone out, so its time (a slow relay) says nothing about the address.
        try:
            user = store.find_user(address)
            if user is not None:
                send_signin_mail(store, settings, user, create_signin_link(store, settings, signer, user, next_path))
        except Exception:
            log.exception("could not send a sign-in mail")

    @app.post("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin_request(request: Request, background: BackgroundTasks, email: Annotated[str, Form()],
                       csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"):
        check_csrf(request, csrf)
        address = email.strip()
        client = request.client.host if request.client else "unknown"
        if not signin_per_client.allow(client) or not signin_per_address.allow(address.lower()):
            return page(request, "message.html", {
                "heading": "Too many sign-in requests",
                "lines": [f"Sign-in links were asked for too often; wait {SIGNIN_WINDOW_S // 60} minutes, then "
                          "try again. A link already mailed to you still works for 15 minutes."]}, status=429)
        if not address.isdigit():  # an email, never a user id typed into the form
            background.add_task(mail_signin_link, address, local_path(next))
        # The same answer whether or not the address is known: no probing for accounts. Without a
        # mail server the mail is a file in the outbox, and whoever runs Glean needs to know where.
        outbox = None if settings.smtp_host else str(settings.home / "outbox")
        return page(request, "signin.html", {"active": "signin", "sent": True, "outbox": outbox,
                                             "json_url": "/api/status"})

    @app.get("/signin/verify", include_in_schema=False)
    def signin_confirm(request: Request, t: str = ""):
        # A GET only asks: mail scanners follow links, and must not use up (or use) a sign-in link.
        try:
            signer.verify(t, "signin")
        except BadSignature as exc:
            return page(request, "message.html", {"heading": "This sign-in link does not work",
                                                  "lines": [str(exc)]}, status=400)
        return page(request, "message.html", {"heading": "Sign in to Glean?", "lines": [],
                                              "form_action": "/signin/verify", "form_button": "Sign in",
                                              "form_fields": {"t": t}})

    @app.post("/signin/verify", include_in_schema=False)
    def signin_verify(request: Request, t: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""):
        check_csrf(request, csrf)
        try:
            user, next_path = redeem_signin_link(store, signer, t)
        except BadSignature as exc:
            return page(request, "message.html", {"heading": "This sign-in link does not work",
                                                  "lines": [str(exc)]}, status=400)
        response = RedirectResponse(next_path, status_code=303)
        start_session(response, user, settings, signer, store)
        return response

    @app.post("/signout", include_in_schema=False)
    def signout(request: Request, csrf: Annotated[str, Form()] = ""):
        check_csrf(request, csrf)
        response = RedirectResponse("/", status_code=303)
        end_session(response, store, session_user(request))
        return response

    @app.post("/settings/signout-everywhere", include_in_schema=False)
    def signout_everywhere(request: Request, csrf: Annotated[str, Form()] = ""):
        # Sessions carry the user's session version, so ending this one ends all of them.
        user = signed_in(request)
        check_csrf(request, csrf)
        response = RedirectResponse("/signin", status_code=303)
        end_session(response, store, user)
        return response

    @app.post("/settings/token", response_class=HTMLResponse, include_in_schema=False)
    def new_api_token(request: Request, csrf: Annotated[str, Form()] = ""):
        user = signed_in(request)
        check_csrf(request, csrf)
        return page(request, "settings.html", settings_context(user, new_token=rotate_token(store, user.id)))

    @app.get("/settings", response_class=HTMLResponse, include_in_schema=False)
    def settings_page(request: Request, saved: bool = False, revoked: bool = False):
        user = signed_in(request)
        return page(request, "settings.html", settings_context(user, saved=saved, revoked=revoked))

    @app.post("/settings", include_in_schema=False)
    def settings_save(request: Request, csrf: Annotated[str, Form()] = "",
                      digest_hour: Annotated[int, Form()] = 7, timezone_name: Annotated[str, Form()] = "UTC",
                      anti_trend: Annotated[str, Form()] = "", interests: Annotated[str, Form()] = "",
                      categories: Annotated[str, Form()] = "", subscribed: Annotated[str | None, Form()] = None):
        user = signed_in(request)
        check_csrf(request, csrf)
        try:
            # An empty strength means "the deployment's default" (GLEAN_RANK_BETA), stored as such, so a
            # later change of the default reaches this reader too.
            values = clean_fields(digest_hour=digest_hour, timezone=timezone_name,
                                  anti_trend=_strength(anti_trend), interests=interests,
                                  categories=categories.split(","))
        except AccountError as exc:
            return page(request, "settings.html", settings_context(user, error=str(exc)), status=400)
        store.update_user(user.id, unsubscribed=subscribed is None, **values)
        return RedirectResponse("/settings?saved=true", status_code=303)

    @app.post("/settings/revoke-feed", include_in_schema=False)
    def revoke_feed(request: Request, csrf: Annotated[str, Form()] = ""):
        user = signed_in(request)
        check_csrf(request, csrf)
        store.bump_feed_nonce(user.id)
        return RedirectResponse("/settings?revoked=true#feed", status_code=303)

    @app.get("/breadth", response_class=HTMLResponse, include_in_schema=False)
    def breadth_page(request: Request):
        user = signed_in(request)
        report = breadth_report(store, settings, user)
        return page(request, "breadth.html", {"active": "breadth", "report": report,
                                              "description": chart_description(report),
                                              "json_url": f"/api/users/{user.id}/breadth"})

    @app.get("/breadth.{fmt}", include_in_schema=False)
    def breadth_image(request: Request, fmt: str):
        if fmt not in ("png", "svg"):
            raise HTTPException(404, "the chart comes as .png or .svg")
        user = signed_in(request)
        media = {"png": "image/png", "svg": "image/svg+xml"}[fmt]
        return Response(breadth_chart(breadth_report(store, settings, user), fmt), media_type=media,
                        headers={"Cache-Control": "private, max-age=300"})

    @app.get("/api/old-paper", summary="This week's old paper, the archive, and (signed in) your own")
    def api_old_paper(request: Request) -> dict:
        return old_paper_context(store, settings, session_user(request))

    @app.get("/old-paper", response_class=HTMLResponse, include_in_schema=False)
    def old_paper_page(request: Request):
        user = session_user(request)
        context = old_paper_context(store, settings, user)
        if user is not None:
            context["feed_url"] = f"/feeds/old-paper/{feed_token(signer, store, user)}.atom"
        return page(request, "old_paper.html", {"active": "old-paper", **context, "json_url": "/api/old-paper"})

    @app.api_route("/feeds/old-paper.atom", methods=["GET", "HEAD"], include_in_schema=False)
    def global_feed(request: Request):
        try_pick(store, settings, iso_week(datetime.now(timezone.utc).date()))
        picks = history(store, 0, 52)
        body = old_paper_feed(picks, base_url=settings.base_url, title="Glean: old paper of the week",
                              self_url=settings.base_url.rstrip("/") + "/feeds/old-paper.atom", feed_key="global")
        return atom_response(request, body, picks[0]["picked_at"] if picks else None)

    @app.api_route("/feeds/old-paper/{token}.atom", methods=["GET", "HEAD"], include_in_schema=False)
    def user_feed(request: Request, token: str):
        user = feed_user(signer, store, token)
        try_pick(store, settings, iso_week(datetime.now(timezone.utc).date()), user)
        picks = history(store, user.id, 52)
        body = old_paper_feed(picks, base_url=settings.base_url, title="Glean: your old paper of the week",
                              self_url=settings.base_url.rstrip("/") + f"/feeds/old-paper/{token}.atom",
                              feed_key=f"user-{user.id}")
        return atom_response(request, body, picks[0]["picked_at"] if picks else None)


def _strength(text: str) -> float | None:
    """The anti-trending strength a form sent: empty for the deployment default, else a number."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise AccountError(f"{text!r} is not a number: give 0 (off) to 3 (strong), or leave it empty for the "
                           "default") from None
