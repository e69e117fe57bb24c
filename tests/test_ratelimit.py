"""The shared arXiv rate limiter: spacing, Retry-After, many clients, no real sleep."""

from __future__ import annotations

import threading

from pipelines.ratelimit import RateLimiter, limiter_for, reset_limiters
from tests.conftest import FakeClock


def test_requests_are_spaced_by_the_interval():
    clock = FakeClock()
    limiter = RateLimiter(3.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(4):
        limiter.acquire()
        starts.append(clock.now)
    assert [b - a for a, b in zip(starts, starts[1:])] == [3.0, 3.0, 3.0]
    assert clock.sleeps == [3.0, 3.0, 3.0]


def test_time_already_passed_counts():
    clock = FakeClock()
    limiter = RateLimiter(3.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 10
    assert limiter.acquire() == 0


def test_defer_pushes_the_next_request_back():
    clock = FakeClock()
    limiter = RateLimiter(3.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.defer(60)
    assert limiter.acquire() == 60


def test_concurrent_callers_queue_one_interval_apart():
    """Threads reserve distinct slots: n callers wait 0, 3, 6 … seconds."""
    waits = []
    lock = threading.Lock()
    clock = FakeClock()
    limiter = RateLimiter(3.0, clock=clock, sleep=lambda s: None)  # time stands still

    def call():
        wait = limiter.acquire()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [0, 3, 6, 9, 12, 15]


def test_one_limiter_per_name_for_the_whole_process():
    reset_limiters()
    try:
        assert limiter_for("arxiv", 3) is limiter_for("arxiv", 3)
        assert limiter_for("arxiv", 3) is not limiter_for("other", 3)
    finally:
        reset_limiters()


def test_two_arxiv_clients_share_the_spacing(settings, clock):
    from pipelines.sources.arxiv_api import GleanArxivClient
    a, b = GleanArxivClient(settings), GleanArxivClient(settings)
    assert a._session.limiter is b._session.limiter
