"""`glean serve` as real processes on loopback: health, jobs, one scheduler per folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.corpus import EMPTY_PAGE, FEEDS
from tests.fakeweb import Reply


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def serve_env(tmp_path, fakeweb):
    fakeweb.add("/api/query", Reply(body=EMPTY_PAGE.read_bytes()), optional=True)
    fakeweb.add("/feed", Reply(body=(FEEDS / "netnewswire_biorxiv_plant_biology_2019_rss1.rdf").read_bytes()),
                optional=True)
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feed]]\nname = "bio"\nurl = "{fakeweb.url("/feed")}"\nfield = "biology"\n')
    return {**os.environ, "GLEAN_HOME": str(tmp_path / "home"), "GLEAN_ARXIV_API_URL": fakeweb.url("/api/query"),
            "GLEAN_ARXIV_DELAY": "0", "GLEAN_FEEDS": str(feeds), "GLEAN_LOG_LEVEL": "WARNING"}


def test_two_servers_on_one_folder_run_one_scheduler(serve_env, tmp_path):
    ports = [free_port(), free_port()]
    procs = []
    try:
        for port in ports:
            procs.append(subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port)],
                                          env=serve_env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE))
            wait_for(f"http://127.0.0.1:{port}/healthz")  # start one after the other: a known winner
        states = [httpx.get(f"http://127.0.0.1:{p}/healthz").json() for p in ports]
        assert states[0]["status"] == "ok"
        assert states[0]["scheduler"]["state"] == "active"
        assert sorted(j["id"] for j in states[0]["scheduler"]["jobs"]) == [
            "compute-trend", "download-pending", "ingest-arxiv", "ingest-classics", "ingest-feeds", "old-paper-of-the-week",
            "send-digests"]
        assert states[1]["scheduler"] == {"state": "standby", "lock_holder_pid": str(procs[0].pid), "jobs": []}

        # The active server caught up on the jobs that never ran: the feed ingest shows in its status.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = httpx.get(f"http://127.0.0.1:{ports[1]}/api/status").json()
            feeds = next(s for s in status["sources"] if s["source"] == "feeds")
            if feeds["last_run"] and feeds["last_run"]["status"] != "running":
                break
            time.sleep(0.5)
        assert feeds["state"] == "ok", feeds
        assert status["papers"]["by_source"]["feeds"] == 30
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def test_health_and_error_shape_in_process(settings):
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        health = client.get("/healthz").json()
        assert health["status"] == "ok" and health["scheduler"]["state"] == "standby"
        missing = client.get("/no/such/page")
        assert missing.status_code == 404
        assert missing.json() == {"error": {"status": 404, "code": "not_found", "message": "Not Found"}}
        assert "/api/status" in client.get("/openapi.json").json()["paths"]
