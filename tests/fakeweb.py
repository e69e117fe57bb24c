"""A real HTTP server on loopback that answers from a route table.

Sources under test are pointed at it through their URL settings, so the code that
runs is the code that runs against arXiv and the journals. Every route must be
requested at least once, or the test fails (an unused fixture is a test that no
longer tests what it says).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (a server that never answers)
    drop: bool = False  # close the connection without any answer


@dataclass
class Route:
    path: str
    replies: list[Reply]
    match: Callable[[dict[str, list[str]], dict[str, str]], bool] | None = None
    optional: bool = False
    hits: int = 0

    def next_reply(self) -> Reply:
        # Replies are used in order; the last one repeats.
        reply = self.replies[min(self.hits, len(self.replies) - 1)]
        self.hits += 1
        return reply


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class FakeWeb:
    def __init__(self, port: int = 0) -> None:
        self.routes: list[Route] = []
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, *replies: Reply, match=None, optional: bool = False) -> Route:
        route = Route(path, list(replies) or [Reply()], match, optional)
        with self._lock:
            self.routes.insert(0, route)  # later routes take precedence
        return route

    def requests_to(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def unused_routes(self) -> list[str]:
        return [r.path for r in self.routes if r.hits == 0 and not r.optional]

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    def _pick(self, path: str, query: dict, headers: dict) -> Reply | None:
        with self._lock:
            self.requests.append(Seen(path, query, headers))
            for route in self.routes:
                if route.path == path and (route.match is None or route.match(query, headers)):
                    return route.next_reply()
        return None

    def _handler_class(self):
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                reply = web._pick(parts.path, parse_qs(parts.query), dict(self.headers))
                if reply is None:
                    reply = Reply(404, b"no such route in the test server")
                if reply.delay:
                    web._stop.wait(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                headers = {"Content-Length": str(len(reply.body)), **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
