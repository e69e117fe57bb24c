"""What every HTTP answer needs whatever the route: security headers, a cap on request bodies,
and an access log that does not keep the private tokens some URLs carry."""

from __future__ import annotations

import json
import logging
import re

# Everything a page needs comes from this server: no CDN, no inline script, no framing.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Pages reached from a mail link carry its token in the URL; no other site gets to see it.
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """ASGI middleware: the headers above on every response (pages, API, feeds, static, errors)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413, before any parsing or auth.

    A declared Content-Length over the cap is refused without reading a byte; a body sent
    without one (chunked) is counted as it streams and cut off at the cap.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                return await _refuse(send, 400, "bad_request", "the Content-Length header is not a number")
            if too_large:
                return await _refuse(send, 413, "payload_too_large", self._message())
        received, exceeded, started = 0, False, False

        async def counting_receive():
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True  # the app sees the client go away and stops reading
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if exceeded:
                return  # whatever the app says about a cut-off body, the answer is the 413 below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(send, 413, "payload_too_large", self._message())

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes (GLEAN_MAX_REQUEST_BYTES)"


async def _refuse(send, status: int, code: str, message: str) -> None:
    """The API's one JSON error shape, sent straight from the middleware."""
    body = json.dumps({"error": {"status": status, "code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# Paths whose URL is a credential: the private feed's token is in the path; sign-in,
# feedback and unsubscribe links carry theirs in the query string.
_TOKEN_IN_PATH = re.compile(r"^(/feeds/old-paper/)[^/?]+(\.atom)")
_TOKEN_IN_QUERY = ("/feedback", "/unsubscribe", "/signin/verify")


def redact_path(path: str) -> str:
    """The request line as it may be logged: private tokens replaced by [redacted]."""
    path = _TOKEN_IN_PATH.sub(r"\1[redacted]\2", path)
    bare, sep, _ = path.partition("?")
    if sep and bare.rstrip("/") in _TOKEN_IN_QUERY:
        return f"{bare}?[redacted]"
    return path


class RedactTokens(logging.Filter):
    """For uvicorn's access log, whose records carry (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def install_access_log_redaction() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
