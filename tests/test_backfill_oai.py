"""The OAI-PMH backfill against recorded arXiv answers (and pages built from real records)."""

from __future__ import annotations

import dataclasses
import email.utils
import json
import unicodedata
from datetime import date, datetime, timezone
from xml.sax.saxutils import escape

import pytest

from pipelines.backfill import Coverage, backfill_arxiv, checkpoint_key, month_windows
from pipelines.ingest import ingest_arxiv
from pipelines.sources import oai
from pipelines.sources.oai import UnsupportedMetadataFormat, parse_oai_page, split_author_list
from tests.corpus import CORPUS, NS, TESTING_PAGE, entries_by_update
from tests.fakeweb import Reply

OAI_DIR = CORPUS / "arxiv" / "oai"
LIST_RECORDS_ARXIV = OAI_DIR / "arxiv_oai_ListRecords_arXiv_2015-01-01_2015-01-03.xml"
GET_RECORD_ARXIV = OAI_DIR / "arxiv_oai_GetRecord_arXiv_1412.8544.xml"
OAI_DC = OAI_DIR / "scrapi_vcr_arxiv_oai_ListRecords_oai_dc_2014-12-24_2014-12-25.xml"
NOCK_503_THEN_200 = OAI_DIR / "paperhive_nock_oaipmh-listrecords---should-list-identifiers-from-arxiv.json"

PATH = "/oai"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
# Headers that belong to the recorded connection, not to the answer.
HOP_BY_HOP = {"content-length", "connection", "transfer-encoding", "date", "server", "vary"}


# -- helpers ----------------------------------------------------------------------------


@pytest.fixture
def oai_settings(make_settings, fakeweb):
    """Settings pointing the OAI base URL at the loopback server."""
    def make(**overrides):
        settings = make_settings(oai_url=fakeweb.url(PATH), **overrides)
        if getattr(settings, "oai_url", None) != fakeweb.url(PATH):
            # Until the ``oai_url`` setting exists, put the value where backfill reads it.
            object.__setattr__(settings, "oai_url", fakeweb.url(PATH))
        return settings
    return make


def envelope(inner: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            '<responseDate>2026-11-29T12:00:00Z</responseDate>'
            f'<request verb="ListRecords">http://export.arxiv.org/oai2</request>{inner}</OAI-PMH>').encode()


NO_RECORDS = envelope('<error code="noRecordsMatch">The combination of the values of the from, until, set and '
                      'metadataPrefix arguments results in an empty list.</error>')
BAD_TOKEN = envelope('<error code="badResumptionToken">The value of the resumptionToken argument is invalid '
                     'or expired.</error>')

_TEX = {"\u0301": "'", "\u0300": "`", "\u0308": '"', "\u0302": "^", "\u0303": "~", "\u0327": "c"}


def as_tex(name: str) -> str:
    """An author name the way arXivRaw carries it: 'Ramírez' → 'Ram\\'{i}rez'."""
    out = []
    for ch in unicodedata.normalize("NFD", name):
        if ch in _TEX and out:
            out[-1] = f"\\{_TEX[ch]}{{{out[-1]}}}"
        else:
            out.append(ch)
    return "".join(out)


def raw_record(entry, *, version: int | None = None, updated: str | None = None, title_suffix: str = "") -> str:
    """An arXivRaw <record> made from a real recorded arXiv API entry."""
    def text(path: str) -> str:
        return entry.findtext(path, namespaces=NS) or ""

    arxiv_id, _, v = text("atom:id").rsplit("/abs/", 1)[1].rpartition("v")
    version = version or int(v)
    published = datetime.fromisoformat(text("atom:published").replace("Z", "+00:00"))
    newest = datetime.fromisoformat((updated or text("atom:updated")).replace("Z", "+00:00"))
    versions = "".join(
        f'<version version="v{n}"><date>{email.utils.format_datetime(newest if n == version and n > 1 else published, usegmt=True)}'
        f"</date><size>100kb</size></version>" for n in range(1, version + 1))
    authors = ", ".join(as_tex(a.findtext("atom:name", namespaces=NS)) for a in entry.findall("atom:author", NS))
    categories = " ".join(c.get("term") for c in entry.findall("atom:category", NS))
    optional = "".join(f"<{tag}>{escape(text(path))}</{tag}>" for tag, path in
                       (("journal-ref", "arxiv:journal_ref"), ("doi", "arxiv:doi")) if text(path))
    return (f"<record><header><identifier>oai:arXiv.org:{arxiv_id}</identifier><datestamp>2015-01-02</datestamp>"
            f"<setSpec>cs</setSpec></header><metadata>"
            f'<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>{arxiv_id}</id><submitter>Someone</submitter>'
            f"{versions}<title>{escape(text('atom:title') + title_suffix)}</title><authors>{escape(authors)}</authors>"
            f"<categories>{categories}</categories>{optional}<abstract>{escape(text('atom:summary'))}</abstract>"
            f"</arXivRaw></metadata></record>")


def list_records(records: list[str], token: str | None = None, *, size: int | None = None) -> bytes:
    attrs = f' completeListSize="{size}" cursor="0"' if size is not None else ""
    tail = f"<resumptionToken{attrs}>{token}</resumptionToken>" if token else f"<resumptionToken{attrs}/>"
    return envelope(f"<ListRecords>{''.join(records)}{tail}</ListRecords>")


def first_request_of(start: str):
    return lambda q, h: q.get("from") == [start] and "resumptionToken" not in q


def token_is(token: str):
    return lambda q, h: q.get("resumptionToken") == [token]


def serve_window(fakeweb, start: str, pages: list[list[str]], prefix: str = "w"):
    """One window's pages, chained by resumption tokens, as arXiv serves them."""
    total = sum(len(p) for p in pages)
    for index, records in enumerate(pages):
        token = f"{prefix}|{index + 1}" if index + 1 < len(pages) else None
        body = list_records(records, token, size=total)
        match = first_request_of(start) if index == 0 else token_is(f"{prefix}|{index}")
        fakeweb.add(PATH, Reply(body=body), match=match)


def empty_elsewhere(fakeweb):
    fakeweb.add(PATH, Reply(body=NO_RECORDS), optional=True)


def api_records():
    return entries_by_update(TESTING_PAGE)


def window_requests(fakeweb, start: str):
    return [r for r in fakeweb.requests_to(PATH) if r.query.get("from") == [start]]


# -- the recorded answers ---------------------------------------------------------------------


def test_recorded_503_with_retry_after_is_waited_out_then_stored(fakeweb, oai_settings, store, clock):
    exchanges = json.loads(NOCK_503_THEN_200.read_text())
    assert [e["status"] for e in exchanges] == [503, 200]
    replies = []
    for exchange in exchanges:
        raw = exchange["rawHeaders"]
        headers = {k: v for k, v in zip(raw[::2], raw[1::2]) if k.lower() not in HOP_BY_HOP}
        replies.append(Reply(exchange["status"], exchange["response"].encode(), headers))
    assert replies[0].headers["Retry-After"] == "10"
    empty_elsewhere(fakeweb)
    fakeweb.add(PATH, *replies, match=first_request_of("2015-01-01"))

    report = backfill_arxiv(store, oai_settings(), from_year=2015, until_year=2015, metadata_prefix="arXiv", now=NOW)

    assert report.ok, report.error
    assert (report.counts.new, report.counts.failed) == (2, 0)
    assert store.get_paper("arxiv:1412.8544").title.startswith("A Kochen-Specker system")
    assert store.get_paper("arxiv:hep-th/9504118").is_classic
    # The 10 s arXiv asked for went through the shared limiter's clock; no real sleep.
    assert clock.sleeps[0] == 10.0
    assert clock.sleeps[1:] == [3.0] * 11  # then one request every 3 s, one per month
    january = window_requests(fakeweb, "2015-01-01")
    assert len(january) == 2
    assert january[0].query == {"verb": ["ListRecords"], "metadataPrefix": ["arXiv"],
                                "from": ["2015-01-01"], "until": ["2015-01-31"]}
    assert store.get_checkpoint(checkpoint_key(None, "arXiv")) == "2015-01-01/2015-12-31"


def test_recorded_arxiv_format_parses_field_by_field():
    page = parse_oai_page(LIST_RECORDS_ARXIV.read_bytes(), pdf_base="https://arxiv.org/pdf/")

    assert (page.resumption_token, page.error_code, page.deleted, page.failed) == (None, None, [], 0)
    assert [p.id for p in page.records] == ["arxiv:1412.8544", "arxiv:hep-th/9504118"]
    paper = page.records[0]
    assert paper.title == "A Kochen-Specker system has at least 22 vectors (extended abstract)"
    assert paper.authors == ["Sander Uijlen", "Bas Westerbaan"]
    assert paper.categories == ["cs.DM"] and paper.primary_category == "cs.DM"
    assert paper.doi == "10.4204/eptcs.172.11"
    assert paper.journal_ref == "EPTCS 172, 2014, pp. 154-164"
    assert paper.abstract.startswith("At the heart of the Conway-Kochen Free Will theorem")
    assert paper.abstract.endswith("improve the lower bound to 22.")
    assert paper.published == paper.updated == "2014-12-29T00:00:00+00:00"
    assert paper.year == 2014 and paper.is_classic is False
    assert paper.abs_url == "https://arxiv.org/abs/1412.8544"
    assert paper.pdf_url == "https://arxiv.org/pdf/1412.8544v1"
    assert paper.version == 1
    assert paper.source == oai.SOURCE_ARXIV_FORMAT
    old = page.records[1]
    assert old.authors == ["M. Requardt"] and old.doi is None and old.journal_ref is None
    assert old.year == 1995 and old.is_classic is True
    # GetRecord carries the same record.
    assert parse_oai_page(GET_RECORD_ARXIV.read_bytes()).records == [paper]


def test_oai_dc_recording_is_refused_with_a_clear_error(fakeweb, oai_settings, store):
    with pytest.raises(UnsupportedMetadataFormat, match="oai_dc metadata format; Glean reads only arXivRaw and arXiv"):
        parse_oai_page(OAI_DC.read_bytes())
    fakeweb.add(PATH, Reply(body=OAI_DC.read_bytes()))

    report = backfill_arxiv(store, oai_settings(), from_year=2014, until_year=2014, now=NOW)

    assert not report.ok and "oai_dc metadata format" in report.error
    assert store.runs("backfill-arxiv")[0]["status"] == "failed"
    assert store.get_checkpoint(checkpoint_key(None, "arXivRaw")) is None


# -- constructed harvests -----------------------------------------------------------------


def test_no_records_match_is_an_empty_success_and_a_finished_range_asks_nothing(fakeweb, oai_settings, store):
    fakeweb.add(PATH, Reply(body=NO_RECORDS))
    settings = oai_settings()

    first = backfill_arxiv(store, settings, from_year=2009, now=NOW.replace(year=2009, month=3, day=10))
    assert first.ok, first.error
    assert first.counts.as_dict() == {"new": 0, "updated": 0, "unchanged": 0, "failed": 0}
    assert first.details["windows_done"] == 3 and first.details["pages"] == 3
    # The window that reaches today is remembered only up to yesterday.
    assert store.get_checkpoint(checkpoint_key(None, "arXivRaw")) == "2009-01-01/2009-03-09"

    asked = len(fakeweb.requests_to(PATH))
    again = backfill_arxiv(store, settings, from_year=2009, until_year=2009, now=NOW.replace(year=2009, month=3, day=10))
    assert again.ok and again.counts.as_dict() == first.counts.as_dict()
    assert again.details["windows_skipped"] == 3 and len(fakeweb.requests_to(PATH)) == asked

    # Two days later only March is asked again, from the first day not harvested yet.
    later = backfill_arxiv(store, settings, from_year=2009, now=NOW.replace(year=2009, month=3, day=12))
    assert later.ok and later.details["windows_skipped"] == 2
    assert [r.query["from"] for r in fakeweb.requests_to(PATH)[asked:]] == [["2009-03-10"]]
    assert store.get_checkpoint(checkpoint_key(None, "arXivRaw")) == "2009-01-01/2009-03-11"


def test_multi_page_arxivraw_harvest_stores_every_page_once(fakeweb, oai_settings, store):
    records = [raw_record(e) for e in api_records()]
    deleted = ("<record><header status=\"deleted\"><identifier>oai:arXiv.org:0704.0001</identifier>"
               "<datestamp>2015-01-02</datestamp></header></record>")
    empty_elsewhere(fakeweb)
    serve_window(fakeweb, "2015-01-01", [records[:4], records[4:8] + [deleted], records[8:]])
    seen = []

    report = backfill_arxiv(store, oai_settings(), from_year=2015, until_year=2015, set_spec="cs",
                            progress=seen.append, now=NOW)

    assert report.ok, report.error
    assert (report.counts.new, report.counts.updated, report.counts.unchanged) == (10, 0, 0)
    assert store.count_papers() == 10
    assert report.details["deleted"] == 1 and report.details["pages"] == 3 + 11
    assert sum(seen) == 10
    january = [r.query for r in fakeweb.requests_to(PATH)[:3]]
    assert january[0] == {"verb": ["ListRecords"], "metadataPrefix": ["arXivRaw"], "set": ["cs"],
                          "from": ["2015-01-01"], "until": ["2015-01-31"]}
    # A resumption request carries the token and nothing else (OAI-PMH's rule).
    assert january[1:] == [{"verb": ["ListRecords"], "resumptionToken": ["w|1"]},
                           {"verb": ["ListRecords"], "resumptionToken": ["w|2"]}]
    paper = store.get_paper("arxiv:2204.08348")
    assert paper.version == 3 and paper.pdf_url.endswith("/pdf/2204.08348v3")
    assert paper.published == "2022-04-18T14:46:24+00:00" and paper.updated == "2022-07-06T05:12:56+00:00"
    assert store.get_checkpoint(checkpoint_key("cs", "arXivRaw")) == "2015-01-01/2015-12-31"


def test_crash_mid_window_then_rerun_resumes_without_loss_or_duplicates(fakeweb, oai_settings, store):
    records = [raw_record(e) for e in api_records()]
    empty_elsewhere(fakeweb)
    serve_window(fakeweb, "2015-01-01", [records[:2]], prefix="jan")
    fakeweb.add(PATH, Reply(body=list_records(records[2:5], "feb|1", size=8)), match=first_request_of("2015-02-01"))
    # The second February page: the connection drops once, then it answers.
    fakeweb.add(PATH, Reply(drop=True), Reply(body=list_records(records[5:8], "feb|2", size=8)),
                match=token_is("feb|1"))
    fakeweb.add(PATH, Reply(body=list_records(records[8:], size=8)), match=token_is("feb|2"))
    settings = oai_settings()

    crashed = backfill_arxiv(store, settings, from_year=2015, until_year=2015, now=NOW.replace(year=2015, month=3, day=1))

    assert not crashed.ok and "connection failed" in crashed.error
    assert crashed.counts.new == 5  # January, and February's first page
    key = checkpoint_key(None, "arXivRaw")
    assert store.get_checkpoint(key) == "2015-01-01/2015-01-31"

    rerun = backfill_arxiv(store, settings, from_year=2015, until_year=2015, now=NOW.replace(year=2015, month=3, day=1))

    assert rerun.ok, rerun.error
    assert (rerun.counts.new, rerun.counts.updated, rerun.counts.unchanged) == (5, 0, 3)
    assert store.count_papers() == 10
    assert len(window_requests(fakeweb, "2015-01-01")) == 1  # January was not asked again
    assert len(window_requests(fakeweb, "2015-02-01")) == 2  # February was redone from its start
    assert store.get_checkpoint(key) == "2015-01-01/2015-02-28"


def test_backfill_is_idempotent_with_the_regular_ingest(fakeweb, oai_settings, store):
    fakeweb.add("/api/query", Reply(body=TESTING_PAGE.read_bytes()))
    settings = oai_settings(arxiv_page_size=10, arxiv_max_results=10)
    ingested = ingest_arxiv(store, settings, since=datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert ingested.ok and ingested.counts.new == 10
    before = {pid: store.get_paper(pid) for pid in store.paper_ids()}
    entries = api_records()
    empty_elsewhere(fakeweb)
    serve_window(fakeweb, "2015-01-01", [[raw_record(e) for e in entries]], prefix="same")

    same = backfill_arxiv(store, settings, from_year=2015, until_year=2015, now=NOW)

    assert same.ok, same.error
    assert (same.counts.new, same.counts.updated, same.counts.unchanged) == (0, 0, 10)
    assert {pid: store.get_paper(pid) for pid in store.paper_ids()} == before

    # A newer version over OAI updates the paper the API stored.
    target = entries[0]
    serve_window(fakeweb, "2016-01-01", [[raw_record(target, version=2, updated="2026-11-20T10:00:00Z",
                                                      title_suffix=" (revised)")]], prefix="newer")
    newer = backfill_arxiv(store, settings, from_year=2016, until_year=2016, now=NOW)

    assert (newer.counts.new, newer.counts.updated) == (0, 1)
    paper = store.get_paper("arxiv:1202.4527")
    assert paper.version == 2 and paper.title.endswith("(revised)")
    assert paper.updated == "2026-11-20T10:00:00+00:00" and paper.pdf_url.endswith("1202.4527v2")
    assert paper.source == "arxiv" and store.count_papers() == 10


def test_arxiv_format_never_overwrites_what_the_api_stored(fakeweb, oai_settings, store):
    """The arXiv format has dates without times: at the same version it only fills gaps."""
    fakeweb.add("/api/query", Reply(body=TESTING_PAGE.read_bytes()))
    settings = oai_settings(arxiv_page_size=10, arxiv_max_results=10)
    ingest_arxiv(store, settings, since=datetime(2000, 1, 1, tzinfo=timezone.utc))
    stored = store.get_paper("arxiv:1202.4527")
    as_arxiv = dataclasses.replace(stored, source=oai.SOURCE_ARXIV_FORMAT, published="2012-02-21T00:00:00+00:00",
                                   updated="2012-02-21T00:00:00+00:00", pdf_url="x", abstract="other")
    assert store.upsert_papers([as_arxiv]).unchanged == 1
    assert store.get_paper("arxiv:1202.4527") == stored


def test_bad_resumption_token_restarts_the_window_and_is_bounded(fakeweb, oai_settings, store):
    records = [raw_record(e) for e in api_records()]
    empty_elsewhere(fakeweb)
    fakeweb.add(PATH, Reply(body=list_records(records[:5], "t|1")), match=first_request_of("2015-01-01"))
    fakeweb.add(PATH, Reply(body=BAD_TOKEN), Reply(body=list_records(records[5:])), match=token_is("t|1"))
    settings = oai_settings()

    report = backfill_arxiv(store, settings, from_year=2015, until_year=2015, now=NOW)

    assert report.ok, report.error
    assert report.details["restarts"] == 1
    assert (report.counts.new, report.counts.unchanged) == (10, 5)  # the first page twice
    assert len(window_requests(fakeweb, "2015-01-01")) == 2

    fakeweb.add(PATH, Reply(body=list_records(records[:5], "x|1")), match=first_request_of("2016-01-01"))
    fakeweb.add(PATH, Reply(body=BAD_TOKEN), match=token_is("x|1"))
    stuck = backfill_arxiv(store, settings, from_year=2016, until_year=2016, now=NOW)

    assert not stuck.ok and "badResumptionToken" in stuck.error and "after 3 restarts" in stuck.error
    assert len(window_requests(fakeweb, "2016-01-01")) == 4
    assert store.get_checkpoint(checkpoint_key(None, "arXivRaw")) == "2015-01-01/2015-12-31"


def test_flow_control_that_never_ends_fails_plainly(fakeweb, oai_settings, store, clock):
    fakeweb.add(PATH, Reply(503, b"busy", {"Retry-After": "30"}))

    report = backfill_arxiv(store, oai_settings(arxiv_retries=2), from_year=2015, until_year=2015, now=NOW)

    assert not report.ok and "OAI-PMH answered HTTP 503 after 3 tries" in report.error
    assert clock.sleeps == [30.0, 30.0]
    assert len(fakeweb.requests_to(PATH)) == 3


def test_other_oai_errors_fail_the_run_with_their_code(fakeweb, oai_settings, store):
    fakeweb.add(PATH, Reply(body=envelope('<error code="noSetHierarchy">no such set</error>')))

    report = backfill_arxiv(store, oai_settings(), from_year=2015, until_year=2015, set_spec="nope", now=NOW)

    assert not report.ok and "noSetHierarchy" in report.error


def test_unsupported_format_is_refused_before_any_request(oai_settings, store):
    with pytest.raises(ValueError, match="oai_dc"):
        backfill_arxiv(store, oai_settings(), from_year=2015, metadata_prefix="oai_dc", now=NOW)


# -- pure pieces --------------------------------------------------------------------------------


def test_arxivraw_versions_give_version_published_and_updated():
    entry = api_records()[0]
    page = parse_oai_page(list_records([raw_record(entry, version=3, updated="2020-01-02T03:04:05Z")]))
    paper = page.records[0]
    assert paper.version == 3 and paper.pdf_url == "https://arxiv.org/pdf/1202.4527v3"
    assert paper.published == "2012-02-21T05:12:13+00:00" and paper.updated == "2020-01-02T03:04:05+00:00"
    assert paper.source == "arxiv" and paper.year == 2012


def test_author_strings_lose_affiliations_and_tex_accents():
    assert split_author_list(r"C. Bal\'azs, E. L. Berger (ANL), P. M. Nadolsky and C.-P. Yuan ((1) MSU)") == [
        "C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert split_author_list(r"Aurora Ram\'{\i}rez, Kurt G{\"o}del, Fran\c{c}ois Anderson") == [
        "Aurora Ramírez", "Kurt Gödel", "François Anderson"]


def test_month_windows_and_coverage():
    windows = list(month_windows(date(2015, 1, 15), date(2015, 3, 10)))
    assert [(w.start.isoformat(), w.end.isoformat()) for w in windows] == [
        ("2015-01-15", "2015-01-31"), ("2015-02-01", "2015-02-28"), ("2015-03-01", "2015-03-10")]
    coverage = Coverage.parse("2016-01-01/2016-12-31").added(date(2014, 1, 1), date(2014, 12, 31))
    assert str(coverage) == "2014-01-01/2014-12-31 2016-01-01/2016-12-31"
    assert coverage.first_gap(date(2014, 1, 1), date(2016, 12, 31)) == date(2015, 1, 1)
    assert str(coverage.added(date(2015, 1, 1), date(2015, 12, 31))) == "2014-01-01/2016-12-31"
    assert Coverage.parse(str(coverage)).spans == coverage.spans
