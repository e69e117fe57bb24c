"""Probes as an attacker would make them: hostile links, headers, public output, file modes,
the signing key, request sizes, hostile inputs and the access log."""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from pipelines.records import Paper, web_url
from pipelines.store import Store
from pipelines.sources.classics import CanonError, canon_entry_to_paper
from pipelines.sources.feeds import FeedConfig, parse_feed
from service.app import create_app
from service.atom import old_paper_feed
from service.digest import DigestItem, render, signer_for
from service.security import RedactTokens
from service.urls import safe_url
from tests.test_web import sign_in, web  # noqa: F401 (fixture)

HOSTILE_LINKS = ["javascript:alert(document.cookie)", "JavaScript:alert(1)", " javascript:alert(1)",
                 "java\tscript:alert(1)", "java\nscript:alert(1)", "data:text/html,<script>alert(1)</script>",
                 "vbscript:msgbox(1)", "/relative/path", "//evil.example/x", "ftp://example.org/a.pdf", "", None]


@pytest.fixture
def client(make_settings, store):
    settings = make_settings(base_url="https://glean.test", secret_key="k")
    with TestClient(create_app(settings, run_scheduler=False), base_url="https://glean.test") as c:
        yield c


@pytest.fixture
def web_signed_in(web, store):
    settings, client, _ = web
    store.upsert_papers([Paper(id="url:hostile", title="Hostile", source="feed:j", abs_url="javascript:alert(1)")])
    sign_in(settings, client)
    return client


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


# -- security headers on everything; nothing loads from another host ----------------------------------


def test_every_kind_of_answer_carries_the_security_headers(client):
    for path in ("/", "/search?q=x", "/signin", "/docs", "/openapi.json", "/api/status", "/api/me",
                 "/static/glean.css", "/feeds/old-paper.atom", "/feeds/old-paper/forged.atom", "/nowhere"):
        answer = client.get(path, follow_redirects=False)
        csp = answer.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp, path
        assert answer.headers.get("x-content-type-options") == "nosniff", path


def loads_from(html: str) -> list[str]:
    """Addresses a page makes the browser fetch by itself: scripts, images, frames, stylesheets."""
    found = re.findall(r'<(?:script|img|iframe|embed|source|audio|video)\b[^>]*\bsrc="([^"]*)"', html)
    found += re.findall(r'<link\b[^>]*\bhref="([^"]*)"', html)
    return found


def test_no_page_loads_anything_from_another_host(web_signed_in):
    client = web_signed_in
    for path in ("/", "/search?q=limits", "/signin", "/docs", "/old-paper", "/settings", "/breadth",
                 "/papers/url:hostile"):
        html = client.get(path).text
        for address in loads_from(html):
            assert address.startswith("/") and not address.startswith("//"), (path, address)
        assert "<script" not in html and " style=" not in html and "<style" not in html, path  # CSP would block them
        assert "cdn" not in html.lower(), path


def test_docs_describe_the_api_from_here(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/api/search" in page.text and "/api/users/{user_id}/token" in page.text and "Bearer" in page.text
    assert client.get("/redoc").status_code == 404


# -- /api/status: counts for everyone, details only for their owner ------------------------------------


def test_public_status_names_no_recipient(make_settings, store):
    from service.accounts import create_user

    settings = make_settings(secret_key="k")
    ada, token = create_user(store, "ada@example.org")
    bob, _ = create_user(store, "bob@example.org")
    for user in (ada, bob):
        store.claim_compose(user.id, "digest", "2026-12-01", worker="w", now="2026-12-01T00:00:00+00:00",
                            stale_before="2026-12-01T00:00:00+00:00")
        store.finish_compose(user.id, "digest", "2026-12-01", worker="w", message_id=f"<m{user.id}@x>",
                             message=b"x", items=[], reason=None, now="2026-12-01T00:00:00+00:00")
        with store.transaction() as conn:  # the relay refused the address, which its error names
            conn.execute("UPDATE outbox SET status='gave_up', last_error=? WHERE user_id=?",
                         (f"550 <{user.email}> unknown user", user.id))
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        public = client.get("/api/status")
        assert "@example.org" not in public.text
        assert public.json()["mail"]["problem_count"] == 2
        mine = client.get("/api/status", headers={"Authorization": f"Bearer {token}"}).json()["mail"]
        assert [p["email"] for p in mine["my_problems"]] == ["ada@example.org"]
        assert "bob@example.org" not in json.dumps(mine)


# -- request bodies are capped before parsing and before auth ---------------------------------------


def test_a_declared_oversized_body_is_refused_before_auth(make_settings, store):
    settings = make_settings(secret_key="k", max_request_bytes=1000)
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        answer = client.post("/api/users/1/reads", content=b"x" * 5000, headers={"Content-Type": "application/json"})
        assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert client.post("/signin", data={"email": "a" * 5000}).status_code == 413
        # Under the cap, the request goes on to auth as before.
        assert client.post("/api/users/1/reads", json={"ids": ["x"]}).status_code == 401


def test_a_streamed_body_without_length_is_counted_and_cut_off(make_settings, store):
    settings = make_settings(secret_key="k", max_request_bytes=1000)

    def chunks():
        for _ in range(50):
            yield b"y" * 100

    with TestClient(create_app(settings, run_scheduler=False)) as client:
        answer = client.post("/api/users/1/reads", content=chunks(), headers={"Content-Type": "application/json"})
        assert answer.status_code == 413


# -- the access log keeps no private token -------------------------------------------------------------


@pytest.mark.parametrize("path, logged", [
    ("/feeds/old-paper/eyJ1IjoxfQ.c2ln.atom", "/feeds/old-paper/[redacted].atom"),
    ("/feedback?t=eyJ1IjoxfQ.c2ln", "/feedback?[redacted]"),
    ("/unsubscribe?t=eyJ1IjoxfQ.c2ln", "/unsubscribe?[redacted]"),
    ("/signin/verify?t=eyJ1IjoxfQ.c2ln", "/signin/verify?[redacted]"),
    ("/search?q=eyJ1IjoxfQ", "/search?q=eyJ1IjoxfQ"),
    ("/feeds/old-paper.atom", "/feeds/old-paper.atom"),
])
def test_access_log_redacts_tokens(path, logged):
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", path, "1.1", 200), None)
    assert RedactTokens().filter(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {logged} HTTP/1.1" 200'


# -- the data folder is private ----------------------------------------------------------------------


def mode(path) -> int:
    return os.stat(path).st_mode & 0o777


def test_data_folder_and_its_files_are_private(make_settings):
    old_umask = os.umask(0o022)  # the usual, permissive default
    try:
        settings = make_settings(base_url="https://glean.test")
        store = Store(settings.home)
        store.upsert_papers([Paper(id="arxiv:2401.00001", title="T", source="arxiv",
                                   pdf_url="https://arxiv.org/pdf/2401.00001v1")])
        pdf = store.save_pdf(store.get_paper("arxiv:2401.00001"), b"%PDF-1.4 x")
        from service.accounts import create_user
        from service.sessions import create_signin_link
        from service.signin import send_signin_mail

        user, _ = create_user(store, "ada@example.org")
        signer = signer_for(settings)  # makes secret.key
        send_signin_mail(store, settings, user, create_signin_link(store, settings, signer, user))
        import numpy as np

        from pipelines.vector_index import VectorIndex

        vectors = np.eye(4, dtype=np.float32)
        VectorIndex.build("flat", 4, np.arange(4, dtype=np.int64), vectors).save(settings.home / "index" / "p.faiss")
    finally:
        os.umask(old_umask)
    home = settings.home
    assert mode(home) == 0o700
    files = [p for p in home.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"glean.sqlite3", "glean.sqlite3-wal", "glean.sqlite3-shm", "secret.key",
                                       pdf.name}
    assert any(p.suffix == ".eml" for p in files)
    for path in files:
        assert mode(path) == 0o600, path
    for folder in [p for p in home.rglob("*") if p.is_dir()]:
        assert mode(folder) == 0o700, folder


def test_a_data_folder_from_before_is_tightened_at_start(tmp_path):
    home = tmp_path / "home"
    Store(home).close()
    os.chmod(home, 0o755)
    for name in ("glean.sqlite3", "glean.sqlite3-wal", "glean.sqlite3-shm"):
        if (home / name).exists():
            os.chmod(home / name, 0o644)
    Store(home).close()
    assert mode(home) == 0o700
    assert all(mode(p) == 0o600 for p in home.iterdir() if p.is_file())


# -- the signing key ---------------------------------------------------------------------------------

RACE = """
import sys, time
from pathlib import Path
from service.signing import load_secret
start = float(sys.argv[2])
while time.time() < start:
    pass
print(load_secret("", Path(sys.argv[1])).decode())
"""


def test_processes_racing_on_a_fresh_folder_all_get_the_same_key(tmp_path):
    import subprocess
    import sys
    import time

    for attempt in range(3):
        home = tmp_path / f"home{attempt}"
        start = time.time() + 1.5  # all start reading the clock together, then race
        procs = [subprocess.Popen([sys.executable, "-c", RACE, str(home), str(start)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
        keys = [p.communicate(timeout=60)[0].strip() for p in procs]
        assert all(p.returncode == 0 for p in procs)
        assert len(set(keys)) == 1 and len(keys[0]) >= 48
        assert (home / "secret.key").read_text().strip() == keys[0]
        assert [p.name for p in home.iterdir()] == ["secret.key"]  # no temporary file left behind


def test_an_empty_key_file_is_refused_with_a_clear_error(tmp_path):
    from service.signing import EmptySecretKey, load_secret

    (tmp_path / "secret.key").write_text("\n")
    with pytest.raises(EmptySecretKey, match="delete the file"):
        load_secret("", tmp_path)
    assert load_secret("configured", tmp_path) == b"configured"


# -- hostile input answers 4xx, never 500 -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/search?q=x&from=²²²²", "/search?q=x&from=²²²²", "/api/search?q=x&to=١٢٣٤",
                                  "/unsubscribe?t=é.é", "/feedback?t=é.é", "/signin/verify?t=%ED%A0%80.x",
                                  "/feeds/old-paper/é.x.atom", "/api/search?q=%ED%A0%80", "/papers/%ED%A0%80"])
def test_non_ascii_and_lone_surrogates_in_urls_are_client_errors(client, path):
    assert client.get(path).status_code < 500
    assert client.post(path).status_code < 500


def test_non_ascii_tokens_and_cookies_are_refused_not_crashed_on(client):
    for token in ("Bearer glean_é".encode(), "Bearer \xff\xfe".encode("latin-1")):
        answer = client.get("/api/me", headers=[(b"authorization", token)])
        assert answer.status_code == 401, token
    cookie = [(b"cookie", "glean_session=é.é".encode())]
    assert client.get("/", headers=cookie).status_code == 200
    assert client.get("/settings", headers=cookie, follow_redirects=False).status_code == 303


def test_lone_surrogates_in_json_bodies_are_refused(make_settings, store):
    from service.accounts import create_user

    settings = make_settings(secret_key="k")
    user, token = create_user(store, "ada@example.org")
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        answer = client.patch(f"/api/users/{user.id}", content=b'{"interests": "x\\udc80"}', headers=auth)
        assert answer.status_code == 422 and "surrogate" in answer.json()["error"]["message"]
        assert client.post(f"/api/users/{user.id}/reads", content=b'{"ids": ["\\ud800"]}', headers=auth).status_code == 422
        assert client.get(f"/api/users/{user.id}", headers=auth).status_code == 200


def test_profile_fields_have_length_limits_and_a_name_is_one_line(make_settings, store):
    from service.accounts import create_user

    settings = make_settings(secret_key="k")
    user, token = create_user(store, "ada@example.org")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        # A 2 MB name is over the request cap (413); under the cap, each field has its own limit (400).
        assert client.patch(f"/api/users/{user.id}", json={"name": "x" * 2_000_000}, headers=auth).status_code == 413
        for changes in ({"name": "x" * 201}, {"interests": "y" * 5001}, {"timezone": "z" * 100_000},
                        {"categories": ["cs.LG"] * 1000}, {"name": "Ada\r\nBcc: everyone@example.org"}):
            answer = client.patch(f"/api/users/{user.id}", json=changes, headers=auth)
            assert answer.status_code == 400, changes
        assert client.patch(f"/api/users/{user.id}", json={"name": "Ada Lovelace", "interests": "i" * 5000},
                            headers=auth).status_code == 200
    assert store.get_user(user.id).name == "Ada Lovelace"


def test_feeds_answer_head_like_get_without_a_body(client):
    get, head = client.get("/feeds/old-paper.atom"), client.head("/feeds/old-paper.atom")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-type"] == get.headers["content-type"]
    assert int(head.headers["content-length"]) == len(get.content)
    assert client.head("/feeds/old-paper/forged.atom").status_code == 404
