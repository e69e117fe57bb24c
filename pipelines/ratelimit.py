"""A rate limiter shared by every client in the process that talks to one host.

arXiv asks for at most one request every three seconds over one connection. The
arxiv package spaces requests per ``Client`` object; Glean may hold several clients
(ingest, classics, PDF downloads, a user import), so the spacing lives here, keyed
by host, and every request to arXiv passes through :func:`limiter_for`.
"""

from __future__ import annotations

import threading
import time
from typing import Callable


class RateLimiter:
    """Leaves at least ``interval`` seconds between the starts of two requests."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_allowed = float("-inf")

    def acquire(self) -> float:
        """Wait for our turn; returns how long we waited.

        The slot is reserved under the lock and the wait happens outside it, so
        concurrent callers queue up one interval apart instead of all at once.
        """
        with self._lock:
            now = self._clock()
            start = max(now, self._next_allowed)
            self._next_allowed = start + self.interval
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return wait

    def defer(self, seconds: float) -> None:
        """Push the next allowed request at least ``seconds`` from now (Retry-After)."""
        with self._lock:
            self._next_allowed = max(self._next_allowed, self._clock() + seconds)


_limiters: dict[str, RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(name: str, interval: float) -> RateLimiter:
    """The process-wide limiter called ``name``, created on first use."""
    with _registry_lock:
        limiter = _limiters.get(name)
        if limiter is None:
            limiter = _limiters[name] = RateLimiter(interval)
        return limiter


def reset_limiters() -> None:
    """Forget every limiter (tests start from a clean process state)."""
    with _registry_lock:
        _limiters.clear()


def install_limiter(name: str, limiter: RateLimiter) -> None:
    """Put a specific limiter in place (a custom clock, or one shared with other code)."""
    with _registry_lock:
        _limiters[name] = limiter
