"""Whole-request deadlines: a server that trickles bytes cannot hold a fetch past its limit."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pipelines.download import download_pdfs
from pipelines.http import FetchTimeout, fetch
from pipelines.ingest import ingest
from pipelines.records import Paper

GENEROUS_S = 20  # far above every deadline below; only a hang can reach it


class DripServer:
    """Loopback HTTP server that sends its answer one byte every 0.2 s, for ever.

    ``headers_too``: drip the status line as well, so not even the headers arrive.
    """

    def __init__(self, *, headers_too: bool = False):
        self.headers_too = headers_too
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str = "/slow") -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}{path}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)  # the request
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: application/pdf\r\n\r\n"
            if not self.headers_too:
                conn.sendall(head)
            payload = (head if self.headers_too else b"") + b"%PDF-" + b"x" * 100000
            for byte in payload:
                if self.stop.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # the client gave up, as it should

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def drip():
    servers = []

    def make(**kw) -> DripServer:
        servers.append(DripServer(**kw))
        return servers[-1]
    yield make
    for server in servers:
        server.close()


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_trickling_server_times_out_within_the_deadline(drip, headers_too):
    server = drip(headers_too=headers_too)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        fetch(server.url(), timeout=5, total_timeout=1, max_bytes=10_000_000)
    assert time.monotonic() - started < GENEROUS_S
    assert caught.value.kind == "timeout"
    assert ("no answer within 1s" if headers_too else "longer than 1s") in str(caught.value)


def test_total_timeout_defaults_to_the_socket_timeout(drip):
    server = drip()
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        fetch(server.url(), timeout=1, max_bytes=10_000_000)
    assert time.monotonic() - started < GENEROUS_S


def test_a_fast_answer_is_not_cut(fakeweb):
    from tests.fakeweb import Reply
    fakeweb.add("/ok", Reply(body=b"fine"))
    assert fetch(fakeweb.url("/ok"), timeout=5, max_bytes=100).body == b"fine"


def test_feed_ingest_ends_within_the_timeout(drip, tmp_path, make_settings, store):
    server = drip()
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feed]]\nname = "slow"\nurl = "{server.url("/feed")}"\nfield = "biology"\n')
    settings = make_settings(feeds=feeds, http_timeout=1)
    started = time.monotonic()
    report = ingest(store, settings, "feeds")[0]
    assert time.monotonic() - started < GENEROUS_S
    [feed] = report.details["feeds"]
    assert feed["status"] == "error" and "longer than 1s" in feed["error"]


def test_pdf_download_ends_within_its_timeout(drip, make_settings, store):
    server = drip()
    store.upsert_papers([Paper(id="feed:slow", title="slow", source="feed:x", pdf_url=server.url("/p.pdf"))])
    settings = make_settings(http_timeout=5, pdf_timeout=1)
    started = time.monotonic()
    report = download_pdfs(store, settings)
    assert time.monotonic() - started < GENEROUS_S
    assert report.counts.failed == 1
    assert store.pdf_record("feed:slow")["status"] == "timeout"
    assert not list(store.pdf_dir.rglob("*")) if store.pdf_dir.exists() else True


def test_arxiv_api_request_ends_within_its_deadline(drip, make_settings, store):
    server = drip()
    settings = make_settings(arxiv_api_url=server.url("/api/query"), http_timeout=0.5, arxiv_retries=0)
    started = time.monotonic()
    report = ingest(store, settings, "arxiv")[0]
    assert time.monotonic() - started < GENEROUS_S
    assert not report.ok and "no answer in time" in report.error


def test_oai_page_ends_within_its_deadline(drip, make_settings):
    from pipelines.ratelimit import RateLimiter
    from pipelines.sources.oai import fetch_oai_page
    server = drip()
    settings = make_settings(http_timeout=0.5, arxiv_retries=0)
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        fetch_oai_page(server.url("/oai"), {"verb": "ListRecords"}, settings=settings, limiter=RateLimiter(0))
    assert time.monotonic() - started < GENEROUS_S
