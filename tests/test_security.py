"""Probes as an attacker would make them: hostile links, headers, public output, file modes,
the signing key, request sizes, hostile inputs and the access log."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from pipelines.records import Paper, web_url
from pipelines.sources.classics import CanonError, canon_entry_to_paper
from pipelines.sources.feeds import FeedConfig, parse_feed
from service.app import create_app
from service.atom import old_paper_feed
from service.digest import DigestItem, render, signer_for
from service.urls import safe_url

HOSTILE_LINKS = ["javascript:alert(document.cookie)", "JavaScript:alert(1)", " javascript:alert(1)",
                 "java\tscript:alert(1)", "java\nscript:alert(1)", "data:text/html,<script>alert(1)</script>",
                 "vbscript:msgbox(1)", "/relative/path", "//evil.example/x", "ftp://example.org/a.pdf", "", None]


@pytest.fixture
def client(make_settings, store):
    settings = make_settings(base_url="https://glean.test", secret_key="k")
    with TestClient(create_app(settings, run_scheduler=False), base_url="https://glean.test") as c:
        yield c


# -- stored XSS through links from feeds ---------------------------------------------------------


@pytest.mark.parametrize("link", HOSTILE_LINKS)
def test_only_absolute_http_links_are_web_urls(link):
    assert web_url(link) is None and safe_url(link) == ""


def test_http_links_are_kept():
    for link in ("https://doi.org/10.1/x", "http://example.org/a?b=c#d", "HTTPS://Example.org/"):
        assert web_url(link) == link


def rss_with_link(link: str) -> bytes:
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>J</title>
      <item><title>A hostile paper</title><link>{link}</link><guid>urn:x:1</guid></item>
      <item><title>A fine paper</title><link>https://journal.example/a/2</link></item>
    </channel></rss>""".encode()


@pytest.mark.parametrize("link", ["javascript:alert(document.cookie)", "data:text/html,hi", "vbscript:x"])
def test_feed_items_with_non_http_links_are_refused_at_ingest(link):
    parsed = parse_feed(rss_with_link(link), FeedConfig("j", "https://journal.example/rss", "biology"))
    assert [p.title for p in parsed.papers] == ["A fine paper"] and parsed.skipped == 1
    assert all(p.abs_url.startswith("https://") for p in parsed.papers)


def test_canon_entries_with_non_http_urls_are_refused():
    with pytest.raises(CanonError, match="http"):
        canon_entry_to_paper({"title": "T", "authors": ["A"], "year": 1950, "url": "javascript:alert(1)"})


def test_pages_never_render_a_stored_javascript_link(client, store):
    # A row stored before ingest checked links (or by any other way in) is checked again on the page.
    store.upsert_papers([Paper(id="url:hostile", title="Hostile", source="feed:j", abs_url="javascript:alert(1)",
                               pdf_url="data:application/pdf,x")])
    html = client.get("/papers/url:hostile").text
    assert "Hostile" in html and "javascript:" not in html and "data:application" not in html


def test_digest_mail_and_atom_never_carry_a_javascript_link(make_settings):
    settings = make_settings(base_url="https://glean.test", secret_key="k")
    item = DigestItem(paper_id="url:hostile", title="Hostile", authors="A", year=2026, origin="biology (j)",
                      reason="because", excerpt="", excerpt_is_limitations=False, abs_url="javascript:alert(1)",
                      paper_url="https://glean.test/papers/url:hostile", more_url="https://glean.test/feedback?t=1",
                      not_for_me_url="https://glean.test/feedback?t=2", read_url="https://glean.test/feedback?t=3",
                      score=1.0, relevance=1.0, trend=0.0)
    from service.accounts import create_user
    from pipelines.store import Store

    user, _ = create_user(Store(settings.home), "ada@example.org")
    msg = render(settings, signer_for(settings), user, date.today().isoformat(), [item], [])
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            assert "javascript:" not in part.get_content()
    feed = old_paper_feed([{"week": "2026-W01", "title": "Hostile", "year": 1950, "picked_at": "2026-01-01T00:00:00",
                            "paper_id": "url:hostile", "abs_url": "javascript:alert(1)", "authors": ["A"],
                            "reason": "r"}], base_url="https://glean.test", self_url="https://glean.test/f.atom",
                          title="t", feed_key="global")
    assert b"javascript:" not in feed
