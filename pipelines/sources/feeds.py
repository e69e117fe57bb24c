"""Cross-field journal and preprint feeds (RSS 1.0, RSS 2.0, Atom).

We fetch with our own HTTP client (feedparser's fetcher has no timeout) and hand
the bytes to feedparser. Parsing is pure: bytes and a feed's configuration in,
papers out.
"""

from __future__ import annotations

import html
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from time import struct_time

import feedparser

from ..records import DOI_RE, Paper, normalise_doi, stable_id, web_url


class FeedListError(ValueError):
    """The feeds list file cannot be used."""


class NotAFeedError(ValueError):
    """The body parsed, but it is no RSS or Atom feed (an HTML error page, an API answer …)."""


class HostileFeedError(ValueError):
    """A feed body we refuse to parse (entity declarations: the XML-bomb pattern)."""


@dataclass(frozen=True)
class FeedConfig:
    name: str
    url: str
    field: str

    @property
    def source(self) -> str:
        return f"feed:{self.name}"


@dataclass
class ParsedFeed:
    papers: list[Paper]
    bozo: str | None  # feedparser's complaint, if any, recorded with the fetch
    version: str  # rss10, rss20, atom10 … as feedparser names it
    skipped: int  # entries without a title or a link


def load_feed_list(path: Path) -> list[FeedConfig]:
    """Read ``[[feed]]`` tables with name, url and field."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FeedListError(f"feeds list {path} does not exist (set GLEAN_FEEDS)") from None
    except tomllib.TOMLDecodeError as exc:
        raise FeedListError(f"feeds list {path} is not valid TOML: {exc}") from None
    feeds = []
    for number, table in enumerate(data.get("feed", []), start=1):
        missing = [key for key in ("name", "url", "field") if not table.get(key)]
        if missing:
            raise FeedListError(f"feed #{number} in {path} lacks {', '.join(missing)}")
        feeds.append(FeedConfig(table["name"], table["url"], table["field"]))
    if not feeds:
        raise FeedListError(f"feeds list {path} has no [[feed]] entries")
    return feeds


# Entity declarations are what billion-laughs and external-entity attacks need;
# no real journal feed declares entities, so refusing them costs nothing.
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


def screen_feed(body: bytes) -> bytes:
    """Refuse entity-declaring documents; drop leading blank lines before ``<?xml``."""
    if _ENTITY_DECL.search(body):
        raise HostileFeedError("the feed declares XML entities (an XML bomb pattern); refused")
    return body.lstrip()


def parse_feed(body: bytes, feed: FeedConfig) -> ParsedFeed:
    parsed = feedparser.parse(screen_feed(body))
    bozo = None
    if parsed.get("bozo"):
        bozo = f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}"
    if not parsed.entries and not parsed.get("version"):
        raise NotAFeedError(f"the body is not RSS or Atom ({bozo or 'no feed elements found'})")
    # The journal's name: some feeds (AJPH) put each article's *title* in the
    # item-level prism:publicationName, so only the channel's is trusted.
    channel_venue = _strip_html(parsed.feed.get("prism_publicationname", "")) or None
    papers, skipped = [], 0
    for entry in parsed.entries:
        paper = entry_to_paper(entry, feed, channel_venue)
        if paper is None:
            skipped += 1
        else:
            papers.append(paper)
    return ParsedFeed(papers, bozo, parsed.get("version") or "unknown", skipped)


def _strip_html(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text or "")).split())


def _entry_doi(entry) -> str | None:
    candidates = [entry.get("prism_doi"), entry.get("dc_identifier"), entry.get("id"), entry.get("link")]
    candidates += [link.get("href") for link in entry.get("links", [])]
    for candidate in candidates:
        if candidate and DOI_RE.search(candidate):
            return normalise_doi(candidate)
    return None


def _entry_date(entry) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, struct_time):
            return datetime(*value[:6], tzinfo=timezone.utc)
    return None


def _entry_authors(entry) -> list[str]:
    names = [a.get("name", "") for a in entry.get("authors", []) if a.get("name")]
    if len(names) == 1 and ("," in names[0] or ";" in names[0]) and " and " not in names[0]:
        # Many journal feeds put all authors in one dc:creator, comma-separated.
        names = [n.strip() for n in re.split(r"[;,]", names[0]) if n.strip()]
    return names


def entry_to_paper(entry, feed: FeedConfig, channel_venue: str | None = None) -> Paper | None:
    title = _strip_html(entry.get("title", ""))
    link = entry.get("link") or ""
    if not title or not (link or entry.get("id")):
        return None
    if link and not web_url(link):
        return None  # a javascript:, data: or relative link is refused with its entry, never stored
    doi = _entry_doi(entry)
    when = _entry_date(entry)
    abs_url = f"https://doi.org/{doi}" if doi and not link else link or None
    return Paper(
        id=stable_id(doi=doi, url=link or entry.get("id")),
        title=title,
        source=feed.source,
        abstract=_strip_html(entry.get("summary", "")),
        authors=_entry_authors(entry),
        published=when.isoformat() if when else None,
        updated=when.isoformat() if when else None,
        year=when.year if when else None,
        field=feed.field,
        abs_url=abs_url,
        doi=doi,
        venue=_strip_html(entry.get("dc_source", "")) or channel_venue,
    )
