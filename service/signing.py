"""Signed, expiring tokens for links in mails and for sessions (HMAC-SHA256, standard library).

A token is ``base64url(json payload) . base64url(hmac)``; the payload carries its
purpose and expiry, so a feedback link cannot be replayed as an unsubscribe link
and an old link stops working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path


class BadSignature(ValueError):
    """The token was tampered with, is for another purpose, or has expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(configured: str, home: Path) -> bytes:
    """The configured key, or one generated once and kept (mode 600) in the data folder."""
    if configured:
        return configured.encode()
    path = home / "secret.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


class Signer:
    def __init__(self, secret: bytes):
        self.secret = secret

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self.secret, body.encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, data: dict, ttl_s: float, now: float | None = None) -> str:
        payload = {"p": purpose, "e": int((now or time.time()) + ttl_s), **data}
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, purpose: str, now: float | None = None) -> dict:
        body, _, mac = (token or "").partition(".")
        if not body or not hmac.compare_digest(mac, self._mac(body)):
            raise BadSignature("this link is not valid (it was changed or cut short)")
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            raise BadSignature("this link is not valid") from None
        if payload.get("p") != purpose:
            raise BadSignature("this link is not meant for this page")
        if payload["e"] < (now or time.time()):
            raise BadSignature("this link has expired; newer mails carry fresh links")
        return payload
