"""Browser sessions: signed cookies, CSRF tokens, and single-use magic sign-in links."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.store_users import User

from .signing import BadSignature, Signer

SESSION_COOKIE = "glean_session"
PRESESSION_COOKIE = "glean_csrf"  # protects the sign-in form itself, before there is a session
SESSION_TTL = timedelta(days=30)
SIGNIN_TTL = timedelta(minutes=15)
_UNKNOWN = object()


def session_user(request: Request) -> User | None:
    """The signed-in user, or None; a cookie from before the user's last sign-out does not count."""
    cached = getattr(request.state, "session_user", _UNKNOWN)  # the page, the nav and the guard ask: look once
    if cached is _UNKNOWN:
        cached = request.state.session_user = _cookie_user(request)
    return cached


def _cookie_user(request: Request) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    signer: Signer = request.app.state.signer
    store: Store = request.app.state.store
    try:
        payload = signer.verify(token, "session")
    except BadSignature:
        return None
    if payload.get("v") != store.session_version(payload["u"]):
        return None  # signed out since (here or everywhere), or a cookie from before versions existed
    return store.get_user(payload["u"])


def start_session(response: Response, user: User, settings: Settings, signer: Signer, store: Store) -> None:
    token = signer.sign("session", {"u": user.id, "v": store.session_version(user.id)},
                        SESSION_TTL.total_seconds())
    response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_TTL.total_seconds()), httponly=True,
                        samesite="lax", secure=settings.base_url.startswith("https://"))


def end_session(response: Response, store: Store, user: User | None) -> None:
    """Forget the cookie here and make every copy of it (and the user's other sessions) worthless."""
    if user is not None:
        store.bump_session_version(user.id)
    response.delete_cookie(SESSION_COOKIE)


def csrf_token(request: Request, response: Response | None = None) -> str:
    """A token tied to this browser: derived from the session cookie, or from a pre-session cookie."""
    signer: Signer = request.app.state.signer
    basis = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRESESSION_COOKIE)
    if not basis:
        basis = secrets.token_urlsafe(24)
        if response is not None:
            response.set_cookie(PRESESSION_COOKIE, basis, httponly=True, samesite="lax")
        request.state.new_presession = basis
    return hmac.new(signer.secret, b"csrf:" + basis.encode(), hashlib.sha256).hexdigest()[:40]


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = csrf_token(request)
    if not submitted or not hmac.compare_digest(submitted, expected):
        raise HTTPException(403, "the form expired or came from elsewhere; reload the page and try again")


def local_path(target: str | None) -> str:
    """``target`` if it is a path on this site, else "/": a ``next=`` must never lead elsewhere."""
    target = target or "/"
    parts = urlsplit(target)
    if (not target.startswith("/") or target.startswith("//") or "\\" in target or parts.scheme or parts.netloc
            or any(ord(c) < 32 or ord(c) == 127 for c in target)):
        return "/"
    return target


def create_signin_link(store: Store, settings: Settings, signer: Signer, user: User, next_path: str = "/") -> str:
    nonce = secrets.token_urlsafe(16)
    expires = datetime.now(timezone.utc) + SIGNIN_TTL
    store.create_signin_link(nonce, user.id, expires.isoformat())
    token = signer.sign("signin", {"u": user.id, "n": nonce, "next": local_path(next_path)},
                        SIGNIN_TTL.total_seconds())
    return settings.base_url.rstrip("/") + f"/signin/verify?t={token}"


def redeem_signin_link(store: Store, signer: Signer, token: str) -> tuple[User, str]:
    """The user a magic link signs in, once, and the local page to go on to.

    Raises BadSignature when the link is invalid, expired or used.
    """
    payload = signer.verify(token, "signin")
    user_id = store.use_signin_link(payload["n"], datetime.now(timezone.utc).isoformat())
    if user_id is None or user_id != payload["u"]:
        raise BadSignature("this sign-in link was already used or has expired; ask for a new one")
    return store.get_user(user_id), local_path(payload.get("next"))
