"""Links that come from data (feeds, sources) are checked again where they are rendered."""

from __future__ import annotations

from pipelines.records import web_url


def safe_url(value: str | None) -> str:
    """A Jinja filter: the address if it is absolute http(s), else "" (the template then shows no link).

    Ingest already refuses other schemes; this catches rows stored before that, or by
    any other way in, so a ``javascript:`` link can never reach an ``href``.
    """
    return web_url(value) or ""
