"""Glean's own HTTP fetching: timeouts, size caps, conditional GET, typed errors.

Used for feeds and PDF downloads (the arXiv API goes through the arxiv package,
with :class:`pipelines.sources.arxiv.ArxivSession` adding the same policies).
Fetching returns bytes; parsing is somebody else's job.
"""

from __future__ import annotations

import email.utils
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

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


# -- whole-request deadlines ----------------------------------------------------------
#
# A socket timeout bounds one wait; a server that sends one byte every half second
# never trips it, and a check between body chunks never runs while a chunk fills.
# So every request made under :func:`request_deadline` registers its socket, and a
# timer shuts the socket down when the deadline passes, which ends any read in
# progress wherever it is blocked (headers, body, inside a library).

_active = threading.local()


class _Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def track(self, sock: socket.socket | None) -> None:
        with self._lock:
            if sock is None:
                return
            if self.expired:
                _shut(sock)
            else:
                self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv; close() alone does not
    except OSError:
        pass  # already closed


def _track_current(sock: socket.socket | None) -> None:
    deadline = getattr(_active, "deadline", None)
    if deadline is not None:
        deadline.track(sock)


class _TrackedHTTPConnection(HTTPConnection):
    def getresponse(self, *args, **kwargs):
        _track_current(self.sock)  # the request is sent; from here on we wait for the server
        return super().getresponse(*args, **kwargs)


class _TrackedHTTPSConnection(HTTPSConnection):
    def getresponse(self, *args, **kwargs):
        _track_current(self.sock)
        return super().getresponse(*args, **kwargs)


class _TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An adapter whose connections can be cut by :func:`request_deadline`."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackedHTTPPool, "https": _TrackedHTTPSPool}


def with_deadlines(session: requests.Session) -> requests.Session:
    """Mount :class:`DeadlineAdapter` on ``session`` (once), so its requests obey deadlines."""
    if not isinstance(session.get_adapter("http://"), DeadlineAdapter):
        session.mount("http://", DeadlineAdapter())
        session.mount("https://", DeadlineAdapter())
    return session


@contextmanager
def request_deadline(seconds: float) -> Iterator[_Deadline]:
    """Requests of a :func:`with_deadlines` session in this block end after ``seconds``.

    When the time is up the sockets are shut down and whatever was reading fails;
    check ``.expired`` to tell that apart from the server hanging up.
    """
    deadline = _Deadline(seconds)
    outer = getattr(_active, "deadline", None)
    _active.deadline = deadline
    deadline._timer.start()
    try:
        yield deadline
    finally:
        deadline._timer.cancel()
        _active.deadline = outer


def fetch(url: str, *, timeout: float, max_bytes: int, total_timeout: float | None = None,
          headers: dict[str, str] | None = None, limiter: RateLimiter | None = None,
          session: requests.Session | None = None) -> Fetched:
    """GET ``url``: ``timeout`` seconds for any one socket wait, ``total_timeout`` for the
    whole request, headers and body (default: ``timeout``), at most ``max_bytes`` of body.

    A 304 answer comes back as a :class:`Fetched` with an empty body; any other
    non-2xx answer raises :class:`HttpStatusError`; running out of time raises
    :class:`FetchTimeout`, however slowly the server trickles.
    """
    if limiter is not None:
        limiter.acquire()
    session = with_deadlines(session or requests.Session())
    request_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    total_timeout = total_timeout or timeout
    with request_deadline(total_timeout) as deadline:
        answered = False  # the status line and headers arrived

        def timed_out() -> FetchTimeout:
            if not answered:
                return FetchTimeout(url, f"no answer within {min(timeout, total_timeout):g}s")
            return FetchTimeout(url, f"the whole download took longer than {total_timeout:g}s")

        try:
            # No single wait may outlast the whole deadline either.
            with session.get(url, headers=request_headers, timeout=min(timeout, total_timeout),
                             stream=True) as resp:
                answered = True
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
                if deadline.expired:  # cut short: what arrived is not the whole body
                    raise timed_out()
                return Fetched(url, resp.status_code, bytes(body), dict(resp.headers))
        except requests.Timeout:
            raise timed_out() from None
        except requests.RequestException as exc:  # refused, reset, truncated body …
            if deadline.expired:
                raise timed_out() from None
            raise ConnectionFailed(url, f"connection failed: {exc.__class__.__name__}") from None
