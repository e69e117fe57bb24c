"""Atom 1.0 (RFC 4287) for the old-paper feeds, built as XML elements, never by string pasting."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from pipelines.records import web_url

ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("", ATOM)


# Characters XML 1.0 forbids even as references (C0 controls other than tab, newline and
# return; lone surrogates; U+FFFE, U+FFFF). ElementTree writes them as they are, and one
# of them (a \x0b from a malformed source feed, say) makes every feed reader reject the feed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML cannot carry."""
    return _NOT_XML.sub("", text)


def _el(parent, tag: str, text: str | None = None, **attrs) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = xml_text(text)
    return el


def _rfc3339(ts: str) -> str:
    dt = datetime.fromisoformat(ts)
    dt = dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def tag_uri(base_url: str, specific: str) -> str:
    """Stable ids (RFC 4151 tag URIs): they never change when the server moves or a title changes."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"tag:{host},2026:{specific}"


def old_paper_feed(picks: list[dict], *, base_url: str, self_url: str, title: str, feed_key: str) -> bytes:
    """An Atom document for weekly picks (newest first), with required elements only from real data."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _el(feed, "id", tag_uri(base_url, f"old-paper/{feed_key}"))
    _el(feed, "title", title)
    _el(feed, "subtitle", "One pre-2010 paper a week that echoes what the field is rediscovering now.")
    updated = max((p["picked_at"] for p in picks), default="2026-01-01T00:00:00+00:00")
    _el(feed, "updated", _rfc3339(updated))
    _el(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    _el(feed, "link", rel="alternate", href=base_url.rstrip("/") + "/old-paper", type="text/html")
    author = _el(feed, "author")
    _el(author, "name", "Glean")
    _el(feed, "generator", "Glean")
    for pick in picks:
        entry = _el(feed, "entry")
        _el(entry, "id", tag_uri(base_url, f"old-paper/{feed_key}/{pick['week']}"))
        _el(entry, "title", f"{pick['week']}: {pick['title']} ({pick['year']})")
        _el(entry, "updated", _rfc3339(pick["picked_at"]))
        _el(entry, "published", _rfc3339(pick["picked_at"]))
        page = base_url.rstrip("/") + "/papers/" + pick["paper_id"]
        _el(entry, "link", rel="alternate", href=web_url(pick["abs_url"]) or page, type="text/html")
        _el(entry, "link", rel="related", href=page, type="text/html", title="In Glean")
        for name in pick["authors"] or ["Unknown"]:
            _el(_el(entry, "author"), "name", name)
        _el(entry, "summary", pick["reason"], type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
