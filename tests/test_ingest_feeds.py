"""Cross-field feeds: recorded journal feeds over loopback, conditional GET, hostile input."""

from __future__ import annotations

import time

import pytest

from pipelines.ingest import ingest_feeds
from pipelines.sources.feeds import FeedConfig, FeedListError, load_feed_list, parse_feed
from tests.corpus import FEEDS, TESTING_PAGE
from tests.fakeweb import Reply

AJPH = FEEDS / "atypon_ajph_american_journal_of_public_health_toc_rss1.xml"  # starts with a blank line
BIORXIV = FEEDS / "netnewswire_biorxiv_plant_biology_2019_rss1.rdf"
SSRN = FEEDS / "scrapi_vcr_dailyssrn_rss-all-2.0.xml"
NATURE_OAI = FEEDS / "scrapi_vcr_nature_oai_ListRecords_oai_dc_2016-03-05_2016-03-07.xml"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>bomb</title>
<item><title>&lol9;</title><link>http://example.org/x</link></item></channel></rss>"""


def write_feeds(tmp_path, fakeweb, feeds):
    lines = []
    for name, path, field in feeds:
        lines += ["[[feed]]", f'name = "{name}"', f'url = "{fakeweb.url(path)}"', f'field = "{field}"', ""]
    target = tmp_path / "feeds.toml"
    target.write_text("\n".join(lines))
    return target


def test_recorded_feeds_are_stored(tmp_path, fakeweb, make_settings, store):
    fakeweb.add("/ajph", Reply(body=AJPH.read_bytes()))
    fakeweb.add("/biorxiv", Reply(body=BIORXIV.read_bytes()))
    fakeweb.add("/ssrn", Reply(body=SSRN.read_bytes()))
    fakeweb.add("/atom", Reply(body=TESTING_PAGE.read_bytes()))
    feeds = write_feeds(tmp_path, fakeweb, [("AJPH", "/ajph", "public health"),
                                            ("bioRxiv plant", "/biorxiv", "biology"),
                                            ("SSRN", "/ssrn", "economics"),
                                            ("Atom", "/atom", "software engineering")])

    report = ingest_feeds(store, make_settings(feeds=feeds))

    assert report.ok, report.error
    formats = {f["name"]: f["format"] for f in report.details["feeds"]}
    assert formats == {"AJPH": "rss10", "bioRxiv plant": "rss10", "SSRN": "rss20", "Atom": "atom10"}
    assert report.counts.new == store.count_papers() > 400
    paper = store.get_paper("doi:10.2105/ajph.2014.302274")
    assert paper.title.startswith("Effect of Systems Change and Use of Electronic Health Records")
    assert paper.authors[:2] == ["Sarah Moody-Thomas", "Laura Nasuti"]
    assert paper.field == "public health" and paper.source == "feed:AJPH"
    assert paper.doi == "10.2105/ajph.2014.302274"
    assert paper.published.startswith("2015-03-06")
    assert paper.venue == "American Journal of Public Health"
    bio = store.get_paper("doi:10.1101/743294")
    assert bio.field == "biology" and bio.abstract.startswith("Inositol pyrophosphates")

    again = ingest_feeds(store, make_settings(feeds=feeds))
    assert again.counts.new == 0 and again.counts.updated == 0


def test_conditional_get_uses_etag_and_last_modified(tmp_path, fakeweb, make_settings, store):
    headers = {"ETag": '"v1"', "Last-Modified": "Sun, 29 Nov 2026 10:00:00 GMT"}
    fakeweb.add("/bio", Reply(body=BIORXIV.read_bytes(), headers=headers))
    fakeweb.add("/bio", Reply(304), match=lambda q, h: h.get("If-None-Match") == '"v1"')
    feeds = write_feeds(tmp_path, fakeweb, [("bio", "/bio", "biology")])
    settings = make_settings(feeds=feeds)

    first = ingest_feeds(store, settings)
    second = ingest_feeds(store, settings)

    assert first.counts.new == 30
    assert second.details["feeds"][0]["status"] == "not_modified"
    assert second.counts.as_dict() == {"new": 0, "updated": 0, "unchanged": 0, "failed": 0}
    sent = fakeweb.requests_to("/bio")[-1].headers
    assert sent["If-Modified-Since"] == "Sun, 29 Nov 2026 10:00:00 GMT"


def test_bad_feeds_are_reported_and_the_rest_go_on(tmp_path, fakeweb, make_settings, store):
    fakeweb.add("/bomb", Reply(body=BILLION_LAUGHS))
    fakeweb.add("/huge", Reply(body=b"<rss>" + b" " * 200_000 + b"</rss>"))
    fakeweb.add("/oai", Reply(body=NATURE_OAI.read_bytes()[:90_000]))
    fakeweb.add("/gone", Reply(404, b"not found"))
    fakeweb.add("/slow", Reply(body=BIORXIV.read_bytes(), delay=30))
    fakeweb.add("/good", Reply(body=BIORXIV.read_bytes()))
    feeds = write_feeds(tmp_path, fakeweb, [("bomb", "/bomb", "x"), ("huge", "/huge", "x"),
                                            ("oai", "/oai", "x"), ("gone", "/gone", "x"),
                                            ("slow", "/slow", "x"), ("good", "/good", "biology")])
    started = time.monotonic()

    report = ingest_feeds(store, make_settings(feeds=feeds, feed_max_bytes=100_000, http_timeout=0.5))

    assert time.monotonic() - started < 10
    assert report.ok  # one good feed keeps the stage alive
    errors = {f["name"]: f.get("error", "") for f in report.details["feeds"]}
    assert "XML bomb" in errors["bomb"]
    assert "100000-byte cap" in errors["huge"]
    assert "not RSS or Atom" in errors["oai"]
    assert "HTTP 404" in errors["gone"]
    assert "no answer within 0.5s" in errors["slow"]
    assert errors["good"] == ""
    assert report.counts.failed == 5 and report.counts.new == 30
    assert store.get_feed_state(fakeweb.url("/bomb"))["last_status"] == "error"


def test_all_feeds_failing_fails_the_run(tmp_path, fakeweb, make_settings, store):
    fakeweb.add("/gone", Reply(500))
    feeds = write_feeds(tmp_path, fakeweb, [("gone", "/gone", "x")])
    report = ingest_feeds(store, make_settings(feeds=feeds))
    assert not report.ok and "all 1 feeds failed" in report.error
    assert store.runs("feeds")[0]["status"] == "failed"


def test_parse_is_pure_and_notes_bozo():
    broken = BIORXIV.read_bytes().replace(b"</rdf:RDF>", b"")
    parsed = parse_feed(broken, FeedConfig("b", "http://x", "biology"))
    assert parsed.bozo and len(parsed.papers) == 30


def test_feed_list_errors_are_clear(tmp_path):
    bad = tmp_path / "feeds.toml"
    bad.write_text('[[feed]]\nname = "x"\n')
    with pytest.raises(FeedListError, match="lacks url, field"):
        load_feed_list(bad)
    with pytest.raises(FeedListError, match="does not exist"):
        load_feed_list(tmp_path / "nope.toml")


def test_shipped_feed_list_is_broad():
    from pipelines.settings import DATA_DIR
    feeds = load_feed_list(DATA_DIR / "feeds.toml")
    assert len(feeds) >= 12
    assert len({f.field for f in feeds}) >= 6
