"""The web pages in a real browser: Debian's chromium driven by Playwright, against `glean serve`.

Sign in through the magic link from the outbox, search limitations, open a paper,
view the breadth chart, change a setting and see the next ranking change.
Screenshots go to test-artifacts/ for people to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest

from pipelines.index_stage import index_pending
from pipelines.store import Store
from pipelines.trend import compute_trends
from service.accounts import create_user
from tests.test_index_search import PASSAGES
from tests.test_index_search import seed as seed_passages
from tests.test_rank_cli import seed as seed_burst
from tests.test_serve import free_port, wait_for

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True,
                                                       args=CHROMIUM_ARGS, viewport={"width": 420, "height": 900})
        yield context
        context.close()


@pytest.fixture
def server(tmp_path, make_settings):
    settings = make_settings(trend_rho=0.45, secret_key="browser-test")
    store = Store(settings.home)
    seed_burst(store)
    seed_passages(store, PASSAGES)
    assert index_pending(store, settings).ok
    compute_trends(store, settings)
    user, _ = create_user(store, "ada@example.org", name="Ada", interests="mixture of experts and routing",
                          categories=["cs.LG"])
    store.add_reads(user.id, [("arxiv:2401.00002", "2026-10-01T00:00:00+00:00"),
                              ("arxiv:2611.00003", "2026-11-20T00:00:00+00:00")])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GLEAN_HOME": str(settings.home), "GLEAN_BASE_URL": base, "GLEAN_SECRET_KEY": "browser-test",
           "GLEAN_TREND_RHO": "0.45", "GLEAN_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port), "--no-scheduler"],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(f"{base}/healthz")
        yield base, settings, store
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def latest_magic_link(settings, base: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        mails = sorted((settings.home / "outbox").glob("signin.*.eml"), key=lambda p: p.stat().st_mtime_ns)
        if mails:
            text = message_from_bytes(mails[-1].read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
            return re.search(rf"{re.escape(base)}/signin/verify\?t=\S+", text).group(0)
        time.sleep(0.2)
    raise AssertionError("no sign-in mail in the outbox")


def picks_on_home(page) -> list[str]:
    return [a.inner_text() for a in page.locator("#picks h2 a").all()]


def test_a_reader_signs_in_searches_reads_and_tunes(browser, server):
    base, settings, store = server
    page = browser.new_page()

    # Sign in through the magic link from the outbox.
    page.goto(f"{base}/signin")
    page.fill("#email", "ada@example.org")
    page.click("text=Mail me a sign-in link")
    assert "sign-in link is on its way" in page.inner_text("main")
    page.goto(latest_magic_link(settings, base))
    page.click("button:has-text('Sign in')")  # opening the link only asks; mail scanners open links too
    assert page.url.rstrip("/") == base
    assert "Today's picks for Ada" in page.inner_text("h1")
    shot(page, "01-home")
    before = picks_on_home(page)
    assert before and page.locator(".reason").count() == len(before)

    # Search limitations, then open a paper.
    page.goto(f"{base}/search")
    page.fill("#q", "results might not transfer to other hospitals")
    page.check("input[name=in][value=limitations]")
    page.click("button:has-text('Search')")
    assert page.locator("ol.hits li").count() >= 1
    assert "Clinical risk models" in page.locator("ol.hits li").first.inner_text()
    shot(page, "02-search")
    page.locator("ol.hits li h2 a").first.click()
    assert page.url.endswith("/papers/arxiv:2401.00002")
    assert "single hospital" in page.inner_text("main")
    shot(page, "03-paper")

    # The breadth report and its chart.
    page.goto(f"{base}/breadth")
    chart = page.locator("img.chart").first
    chart.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", chart.element_handle())
    assert chart.get_attribute("alt")
    shot(page, "04-breadth")

    # Change a setting: the strongest anti-trending dial changes the next ranking.
    page.goto(f"{base}/settings")
    page.fill("#anti_trend", "0")
    page.click("button:has-text('Save')")
    assert "Saved." in page.inner_text("main")
    page.goto(base)
    relaxed = picks_on_home(page)
    page.goto(f"{base}/settings")
    page.fill("#anti_trend", "3")
    page.click("button:has-text('Save')")
    page.goto(base)
    strict = picks_on_home(page)
    shot(page, "05-home-after-settings")
    assert store.get_user(1).anti_trend == 3.0
    assert relaxed != strict
    burst = [t for t in relaxed if "expert" in t.lower() or "routing" in t.lower()]
    assert sum(t in burst for t in strict) < len(burst) or strict.index(burst[0]) > relaxed.index(burst[0])


def test_pages_work_without_javascript_and_fit_a_phone(browser, server):
    base, _, _ = server
    page = browser.new_page()
    page.goto(f"{base}/search?q=single+hospital")
    assert page.locator("ol.hits li").count() >= 1
    assert page.locator("script").count() == 0, "no page needs JavaScript"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, "the page must not scroll sideways on a phone-sized screen"
    assert httpx.get(f"{base}/api/search", params={"q": "single hospital"}).json()["total"] >= 1


def test_signed_out_redirects_every_page_signed_in_and_feedback_confirms_acts_and_undoes(browser, server):
    from service.signing import Signer

    base, settings, store = server
    browser.clear_cookies()
    page = browser.new_page()
    blocked = []  # the Content-Security-Policy must not have to block anything the pages use
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)

    # Signed out, a personal page sends the browser to sign in, and back after the link.
    page.goto(f"{base}/breadth")
    assert "/signin?next=" in page.url
    page.fill("#email", "ada@example.org")
    page.click("text=Mail me a sign-in link")
    page.goto(latest_magic_link(settings, base))
    page.click("button:has-text('Sign in')")
    assert page.url == f"{base}/breadth"

    # Signed in, every page's navigation says so.
    for path in ("/", "/search?q=single+hospital", "/papers/arxiv:2401.00002", "/old-paper", "/breadth",
                 "/settings", "/docs"):
        page.goto(base + path)
        assert "Sign out (ada@example.org)" in page.inner_text("nav"), path
        assert page.locator("nav a[href='/settings']").count() == 1, path

    # A feedback link from a digest asks first; the button acts; Undo takes it back.
    token = Signer(b"browser-test").sign("feedback", {"u": 1, "paper": "arxiv:2401.00002", "a": "not"}, 3600)
    page.goto(f"{base}/feedback?t={token}")
    assert store.ratings(1) == []
    page.click("button:has-text('Not for me')")
    assert "Thanks, noted" in page.inner_text("h1")
    assert [r["rating"] for r in store.ratings(1)] == [-1]
    shot(page, "06-feedback-done")
    page.click("button:has-text('Undo')")
    assert "Undone" in page.inner_text("h1")
    assert store.ratings(1) == []

    # Sign out everywhere ends this session too.
    page.goto(f"{base}/settings")
    page.click("button:has-text('Sign out everywhere')")
    page.goto(f"{base}/settings")
    assert "/signin?next=" in page.url
    assert not blocked, blocked
