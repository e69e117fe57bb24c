from __future__ import annotations

import pytest

from pipelines import ratelimit
from pipelines.settings import Settings
from pipelines.store import Store
from tests.fakeweb import FakeWeb


@pytest.fixture
def fakeweb():
    web = FakeWeb()
    yield web
    web.close()
    unused = web.unused_routes()
    assert not unused, f"routes the test registered but never requested: {unused}"


class FakeClock:
    """A clock whose sleep advances time instantly: rate limiting without real waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    """The arXiv limiter on a fake clock, so tests keep real spacing rules but never sleep."""
    fake = FakeClock()
    ratelimit.reset_limiters()
    ratelimit.install_limiter("arxiv", ratelimit.RateLimiter(3.0, clock=fake, sleep=fake.sleep))
    yield fake
    ratelimit.reset_limiters()


@pytest.fixture
def make_settings(tmp_path, fakeweb, clock):
    def make(**overrides) -> Settings:
        env = {
            "GLEAN_HOME": str(tmp_path / "home"),
            "GLEAN_ARXIV_API_URL": fakeweb.url("/api/query"),
            "GLEAN_ARXIV_PDF_BASE": fakeweb.url("/pdf/"),
            "GLEAN_ARXIV_CATEGORIES": "cs.SE,cs.LG",
            "GLEAN_ARXIV_DELAY": "3",
            "GLEAN_HTTP_TIMEOUT": "5",
        }
        env.update({f"GLEAN_{k.upper()}": str(v) for k, v in overrides.items()})
        return Settings.load(env=env, dotenv=tmp_path / "no.env")
    return make


@pytest.fixture
def settings(make_settings):
    return make_settings()


@pytest.fixture
def store(settings):
    s = Store(settings.home)
    yield s
    s.close()
