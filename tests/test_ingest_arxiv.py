"""The arXiv source against recorded arXiv API answers served on loopback."""

from __future__ import annotations

from datetime import datetime, timezone

from pipelines.ingest import ingest_arxiv
from tests.corpus import (EMPTY_PAGE, OLD_STYLE, TESTING_PAGE, as_new_version, atom_page,
                          entries_by_update)
from tests.fakeweb import Reply

API = "/api/query"
SINCE = datetime(2000, 1, 1, tzinfo=timezone.utc)


def serve_pages(fakeweb, pages, *, page_size):
    """Serve ``pages`` (lists of entries) by the ``start`` parameter, like arXiv does."""
    total = sum(len(p) for p in pages)
    for index, page in enumerate(pages):
        start = index * page_size
        fakeweb.add(API, Reply(body=atom_page(page, total=total, start=start)),
                    match=lambda q, h, s=str(start): q.get("start") == [s])


def test_recorded_page_is_stored_field_by_field(fakeweb, make_settings, store):
    fakeweb.add(API, Reply(body=TESTING_PAGE.read_bytes()),
                match=lambda q, h: q.get("start") == ["0"])
    settings = make_settings(arxiv_max_results=10, arxiv_page_size=10)

    report = ingest_arxiv(store, settings, since=SINCE)

    assert report.ok, report.error
    assert (report.counts.new, report.counts.updated, report.counts.unchanged) == (10, 0, 0)
    paper = store.get_paper("arxiv:2202.12139")
    assert paper.title == "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    assert paper.authors == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert paper.abstract.startswith("Deep Learning (DL) has revolutionized the capabilities")
    assert paper.published == "2022-02-24T15:05:19+00:00"
    assert paper.updated == "2022-02-24T15:05:19+00:00"
    assert paper.year == 2022
    assert paper.primary_category == "cs.SE"
    assert paper.categories == ["cs.SE", "cs.LG"]
    assert paper.doi == "10.1109/icstw55395.2022.00035"
    assert paper.journal_ref.startswith("Artificial Intelligence in Software Testing @ 2022 IEEE")
    assert paper.abs_url == "https://arxiv.org/abs/2202.12139"
    assert paper.pdf_url == fakeweb.url("/pdf/2202.12139v1")
    assert paper.version == 1
    assert paper.source == "arxiv"
    assert paper.is_classic is False
    # An entry without a DOI or journal reference keeps them empty, not invented.
    assert store.get_paper("arxiv:1812.11470").doi is None
    # The query asks by last-updated date in the followed categories, oldest first.
    query = fakeweb.requests_to(API)[0].query
    assert query["search_query"][0].startswith("(cat:cs.SE OR cat:cs.LG) AND lastUpdatedDate:[200001010000 TO ")
    assert query["sortBy"] == ["lastUpdatedDate"] and query["sortOrder"] == ["ascending"]


def test_rerun_changes_nothing_and_checkpoint_moves(fakeweb, make_settings, store):
    page = entries_by_update(TESTING_PAGE)
    serve_pages(fakeweb, [page], page_size=10)
    settings = make_settings(arxiv_page_size=10)

    first = ingest_arxiv(store, settings)
    second = ingest_arxiv(store, settings)

    assert first.counts.new == 10
    assert (second.counts.new, second.counts.updated, second.counts.unchanged) == (0, 0, 10)
    assert store.count_papers() == 10
    newest = page[-1].findtext("{http://www.w3.org/2005/Atom}updated")
    assert store.get_checkpoint("arxiv") == newest.replace("Z", "+00:00")
    # The second run asks from the checkpoint, not from the beginning.
    second_query = fakeweb.requests_to(API)[-1].query["search_query"][0]
    assert "lastUpdatedDate:[202508121408 TO " in second_query


def test_new_version_updates_the_paper_and_an_old_one_is_ignored(fakeweb, make_settings, store):
    page = entries_by_update(TESTING_PAGE)[:3]
    settings = make_settings(arxiv_page_size=10)
    serve_pages(fakeweb, [page], page_size=10)
    ingest_arxiv(store, settings, since=SINCE)
    target = page[0]
    v2 = as_new_version(target, 7, "2026-11-20T10:00:00Z", " (revised)")
    serve_pages(fakeweb, [[v2]], page_size=10)

    report = ingest_arxiv(store, settings, since=SINCE)

    assert (report.counts.new, report.counts.updated) == (0, 1)
    paper_id = "arxiv:" + target.findtext("{http://www.w3.org/2005/Atom}id").rsplit("/", 1)[1].split("v")[0]
    paper = store.get_paper(paper_id)
    assert paper.version == 7 and paper.title.endswith("(revised)")
    assert paper.pdf_url.endswith("v7")
    assert store.count_papers() == 3
    # Seeing v1 again afterwards (a stale mirror, a re-sorted page) changes nothing.
    serve_pages(fakeweb, [page], page_size=10)
    again = ingest_arxiv(store, settings, since=SINCE)
    assert (again.counts.new, again.counts.updated, again.counts.unchanged) == (0, 0, 3)
    assert store.get_paper(paper_id).version == 7


def test_429_and_503_are_retried_after_the_time_arxiv_asks(fakeweb, make_settings, store, clock):
    body = atom_page(entries_by_update(TESTING_PAGE)[:2], total=2, start=0)
    fakeweb.add(API, Reply(429, b"slow down", {"Retry-After": "20"}),
                Reply(503, b"busy", {"Retry-After": "40"}), Reply(body=body))

    report = ingest_arxiv(store, make_settings(), since=SINCE)

    assert report.ok, report.error
    assert report.counts.new == 2
    assert len(fakeweb.requests_to(API)) == 3
    # The shared limiter waited as long as each Retry-After asked, without real sleep.
    assert clock.sleeps[-2:] == [20.0, 40.0]


def test_errors_that_persist_fail_the_run_plainly(fakeweb, make_settings, store):
    fakeweb.add(API, Reply(503, b"busy"))

    report = ingest_arxiv(store, make_settings(arxiv_retries=2), since=SINCE)

    assert not report.ok
    assert "arXiv answered HTTP 503 after 3 tries" in report.error
    assert store.runs("arxiv")[0]["status"] == "failed"
    assert store.get_checkpoint("arxiv") is None


def test_empty_answer_is_a_quiet_success(fakeweb, make_settings, store):
    fakeweb.add(API, Reply(body=EMPTY_PAGE.read_bytes()))

    report = ingest_arxiv(store, make_settings())

    assert report.ok and report.counts.as_dict() == {"new": 0, "updated": 0, "unchanged": 0, "failed": 0}


def test_empty_page_that_claims_results_is_retried(fakeweb, make_settings, store):
    entries = entries_by_update(TESTING_PAGE)[:2]
    fakeweb.add(API, Reply(body=atom_page([], total=2, start=0)), Reply(body=atom_page(entries, total=2, start=0)))

    report = ingest_arxiv(store, make_settings(), since=SINCE)

    assert report.ok and report.counts.new == 2


def test_malformed_atom_fails_the_run_and_stores_nothing(fakeweb, make_settings, store):
    truncated = TESTING_PAGE.read_bytes()[:5000]
    fakeweb.add(API, Reply(body=truncated))

    report = ingest_arxiv(store, make_settings(), since=SINCE)

    assert not report.ok
    assert "malformed Atom" in report.error
    assert store.count_papers() == 0


def test_a_server_that_never_answers_times_out(fakeweb, make_settings, store):
    fakeweb.add(API, Reply(body=EMPTY_PAGE.read_bytes(), delay=30))

    report = ingest_arxiv(store, make_settings(http_timeout=0.5, arxiv_retries=0), since=SINCE)

    assert not report.ok
    assert "no answer in time" in report.error


def test_crash_between_pages_resumes_without_loss_or_duplicates(fakeweb, make_settings, store):
    ordered = entries_by_update(TESTING_PAGE)
    first, second = ordered[:5], ordered[5:]
    settings = make_settings(arxiv_page_size=5, arxiv_retries=1)
    fakeweb.add(API, Reply(body=atom_page(first, total=10, start=0)), match=lambda q, h: q["start"] == ["0"])
    broken = fakeweb.add(API, Reply(drop=True), match=lambda q, h: q["start"] == ["5"])

    crashed = ingest_arxiv(store, settings)

    assert not crashed.ok
    assert crashed.counts.new == 5 and store.count_papers() == 5
    checkpoint = store.get_checkpoint("arxiv")
    assert checkpoint == first[-1].findtext("{http://www.w3.org/2005/Atom}updated").replace("Z", "+00:00")

    fakeweb.routes.remove(broken)
    fakeweb.add(API, Reply(body=atom_page(second, total=10, start=5)), match=lambda q, h: q["start"] == ["5"])
    resumed = ingest_arxiv(store, settings)

    assert resumed.ok, resumed.error
    assert (resumed.counts.new, resumed.counts.unchanged) == (5, 5)
    assert store.count_papers() == 10
    assert "lastUpdatedDate:[202202241505 TO " in fakeweb.requests_to(API)[-1].query["search_query"][0]


def test_old_style_ids(fakeweb, make_settings, store):
    fakeweb.add(API, Reply(body=OLD_STYLE.read_bytes()))

    report = ingest_arxiv(store, make_settings(), since=SINCE)

    assert report.counts.new == 1
    paper = store.get_paper("arxiv:astro-ph/0601001")
    assert paper is not None
    assert paper.abs_url == "https://arxiv.org/abs/astro-ph/0601001"
    assert paper.is_classic is True  # submitted in 2006
