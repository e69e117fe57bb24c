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

from pipelines.files import private_folder, private_temp


class BadSignature(ValueError):
    """The token was tampered with, is for another purpose, or has expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class EmptySecretKey(RuntimeError):
    """The key file exists but holds nothing: signing with it would let anyone forge sessions."""


def load_secret(configured: str, home: Path) -> bytes:
    """The configured key, or one generated once and kept (mode 600) in the data folder.

    Processes starting together on a fresh folder all end with the same, complete key:
    each writes its own candidate to a private temporary file and hard-links it into place,
    which succeeds for exactly one of them and never exposes a half-written file.
    """
    if configured:
        return configured.encode()
    path = home / "secret.key"
    if not path.exists():
        candidate = private_temp(private_folder(home), "secret.key")
        try:
            candidate.write_text(secrets.token_urlsafe(48))
            os.link(candidate, path)
        except FileExistsError:
            pass  # another process won; its key is the key
        finally:
            candidate.unlink(missing_ok=True)
    key = path.read_text().strip()
    if not key:
        raise EmptySecretKey(f"the signing key {path} is empty: delete the file (a new key is made, and "
                             "everyone signs in again) or set GLEAN_SECRET_KEY")
    return key.encode()


class Signer:
    def __init__(self, secret: bytes):
        self.secret = secret

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self.secret, body.encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, data: dict, ttl_s: float, now: float | None = None, *,
             expires_at: int | None = None) -> str:
        """A token for ``purpose`` carrying ``data``, good for ``ttl_s`` seconds, or until ``expires_at``
        (a fixed expiry makes the token a function of its data alone: the same data, the same token)."""
        expiry = expires_at if expires_at is not None else int((now or time.time()) + ttl_s)
        payload = {"p": purpose, "e": expiry, **data}
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, purpose: str, now: float | None = None) -> dict:
        if not (token or "").isascii():  # tokens we make are ASCII; compare_digest refuses anything else
            raise BadSignature("this link is not valid (it was changed or cut short)")
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
