"""Glean's own HTTP fetching: timeouts, size caps, conditional GET, typed errors.

Used for feeds and PDF downloads (the arXiv API goes through the arxiv package,
with :class:`pipelines.sources.arxiv.ArxivSession` adding the same policies).
Fetching returns bytes; parsing is somebody else's job.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import requests

from .ratelimit import RateLimiter

USER_AGENT = "Glean/0.1 (self-hosted literature service)"


class FetchError(Exception):
    """A fetch failed. Carries the URL, and the HTTP status when there was one."""

    kind = "error"

    def __init__(self, url: str, message: str, status: int | None = None):
        self.url = url
        self.status = status
        super().__init__(f"{message} ({url})")


class HttpStatusError(FetchError):
    kind = "http_error"


class FetchTimeout(FetchError):
    kind = "timeout"


class TooLarge(FetchError):
    kind = "too_large"


class ConnectionFailed(FetchError):
    kind = "connection_error"


@dataclass
class Fetched:
    url: str
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def retry_after_seconds(value: str | None, *, default: float, now: datetime | None = None) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def fetch(url: str, *, timeout: float, max_bytes: int, total_timeout: float | None = None,
          headers: dict[str, str] | None = None, limiter: RateLimiter | None = None,
          session: requests.Session | None = None) -> Fetched:
    """GET ``url``: ``timeout`` seconds for any one socket wait, ``total_timeout`` for the
    whole body (default: ``timeout``), at most ``max_bytes`` of body.

    A 304 answer comes back as a :class:`Fetched` with an empty body; any other
    non-2xx answer raises :class:`HttpStatusError`.
    """
    if limiter is not None:
        limiter.acquire()
    session = session or requests.Session()
    request_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    total_timeout = total_timeout or timeout
    deadline = time.monotonic() + total_timeout
    try:
        with session.get(url, headers=request_headers, timeout=timeout, stream=True) as resp:
            if resp.status_code == 304:
                return Fetched(url, 304, b"", dict(resp.headers))
            if resp.status_code >= 400:
                raise HttpStatusError(url, f"HTTP {resp.status_code}", resp.status_code)
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise TooLarge(url, f"body of {declared} bytes exceeds the {max_bytes}-byte cap")
            body = bytearray()
            for chunk in resp.iter_content(64 * 1024):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise TooLarge(url, f"body exceeds the {max_bytes}-byte cap")
                if time.monotonic() > deadline:
                    raise FetchTimeout(url, f"download took longer than {total_timeout:g}s")
            return Fetched(url, resp.status_code, bytes(body), dict(resp.headers))
    except requests.Timeout:
        raise FetchTimeout(url, f"no answer within {timeout:g}s") from None
    except requests.RequestException as exc:  # refused, reset, truncated body …
        raise ConnectionFailed(url, f"connection failed: {exc.__class__.__name__}") from None
