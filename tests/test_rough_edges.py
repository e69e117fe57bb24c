"""The rough edges of issue 13 that a reader meets: ids as pasted, messages in reader terms,
honest scheduler counts, a public archive of real weekly picks, what a paper page says about
its full text, a stable private feed address, the breadth report for a lone reader, Atom with
control characters, and search without a paper's old version."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone

import feedparser
import pytest
from fastapi.testclient import TestClient

from pipelines.paper_ids import resolve_paper_id
from pipelines.records import Paper
from service.accounts import create_user
from service.app import create_app
from tests.test_web import csrf_of, sign_in

ARXIV = Paper(id="arxiv:2302.07302", title="A paper on arXiv", source="arxiv", year=2023,
              doi="10.5555/journal.2023.1", abs_url="https://arxiv.org/abs/2302.07302",
              pdf_url="https://arxiv.org/pdf/2302.07302")
CLASSIC = Paper(id="doi:10.1038/323533a0", title="Learning representations by back-propagating errors",
                source="canon", year=1986, doi="10.1038/323533a0", is_classic=True,
                abs_url="https://www.nature.com/articles/323533a0")


@pytest.fixture
def client(make_settings, store):
    settings = make_settings(base_url="https://glean.test", secret_key="k")
    store.upsert_papers([ARXIV, CLASSIC])
    with TestClient(create_app(settings, run_scheduler=False), base_url="https://glean.test") as c:
        yield settings, c


# -- 1. every id a reader can paste ------------------------------------------------------------------


@pytest.mark.parametrize("text, stored", [
    ("arxiv:2302.07302", "arxiv:2302.07302"),
    ("2302.07302", "arxiv:2302.07302"),
    ("2302.07302v1", "arxiv:2302.07302"),
    ("arxiv:2302.07302v1", "arxiv:2302.07302"),
    ("arXiv:2302.07302v3", "arxiv:2302.07302"),
    ("https://arxiv.org/abs/2302.07302v1", "arxiv:2302.07302"),
    ("https:/arxiv.org/pdf/2302.07302v2.pdf", "arxiv:2302.07302"),  # a path with its // folded
    ("arxiv.org/abs/2302.07302", "arxiv:2302.07302"),
    ("10.48550/arXiv.2302.07302", "arxiv:2302.07302"),  # arXiv's own DOI
    ("10.5555/journal.2023.1", "arxiv:2302.07302"),  # an arXiv paper's journal DOI
    ("10.1038/323533a0", "doi:10.1038/323533a0"),
    ("10.1038/323533A0", "doi:10.1038/323533a0"),
    ("doi:10.1038/323533a0", "doi:10.1038/323533a0"),
    ("https://doi.org/10.1038/323533a0", "doi:10.1038/323533a0"),
    ("2302.99999", None),
    ("10.1038/nothing-here", None),
    ("not an id", None),
    ("", None),
])
def test_resolve_paper_id_takes_every_pasted_form(store, text, stored):
    store.upsert_papers([ARXIV, CLASSIC])
    assert resolve_paper_id(store, text) == stored


@pytest.mark.parametrize("path, canonical", [
    ("/papers/2302.07302", "/papers/arxiv:2302.07302"),
    ("/papers/arxiv:2302.07302v1", "/papers/arxiv:2302.07302"),
    ("/papers/https://arxiv.org/abs/2302.07302v1", "/papers/arxiv:2302.07302"),
    ("/papers/10.1038/323533a0", "/papers/doi:10.1038/323533a0"),
    ("/papers/doi:10.1038/323533A0", "/papers/doi:10.1038/323533a0"),
])
def test_paper_pages_redirect_pasted_ids_to_the_canonical_address(client, path, canonical):
    _, c = client
    answer = c.get(path, follow_redirects=False)
    assert answer.status_code in (303, 307, 308) and answer.headers["location"] == canonical
    page = c.get(path)
    assert page.status_code == 200 and str(page.url).endswith(canonical)
    assert c.get(canonical, follow_redirects=False).status_code == 200


def test_the_json_twin_resolves_too_and_unknown_ids_get_the_json_error(client):
    _, c = client
    assert c.get("/api/papers/2302.07302v1").json()["paper"]["id"] == "arxiv:2302.07302"
    assert c.get("/api/papers/doi:10.1038/323533a0").json()["paper"]["id"] == "doi:10.1038/323533a0"
    missing = c.get("/api/papers/2302.99999")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"status": 404, "code": "not_found", "message": "no paper 2302.99999"}}
    assert c.get("/papers/10.1038/nothing-here", follow_redirects=False).status_code == 404


# -- 8. control characters from a malformed feed ----------------------------------------------------


def test_atom_output_drops_xml_illegal_control_characters(client, store):
    settings, c = client
    from service.atom import old_paper_feed
    pick = {"week": "2026-W48", "paper_id": CLASSIC.id, "title": "Learning\x0b representations\x1f by errors",
            "year": 1986, "authors": ["D. E.\x01 Rumelhart", "G. Hinton"], "abs_url": CLASSIC.abs_url,
            "reason": "1986 \x0cclassic — echoes\x00 a burst", "picked_at": "2026-11-23T06:13:00+00:00"}
    body = old_paper_feed([pick], base_url="https://glean.test", self_url="https://glean.test/f.atom",
                          title="Glean\x1b feed", feed_key="global")
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    entry = parsed.entries[0]
    assert entry.title == "2026-W48: Learning representations by errors (1986)"
    assert [a.name for a in entry.authors] == ["D. E. Rumelhart", "G. Hinton"]
    assert parsed.feed.title == "Glean feed"
    # The same title on a page: rendered, escaped, no server error.
    store.upsert_papers([Paper(id="arxiv:2302.00001", title="Bad\x0b title\x1f <b>", source="feeds", year=2023)])
    page = c.get("/papers/arxiv:2302.00001")
    assert page.status_code == 200 and "&lt;b&gt;" in page.text


# -- 9. no old version in search between re-extraction and the next index run ----------------------


def test_a_new_extraction_takes_the_old_chunks_out_of_search(settings, store, monkeypatch):
    import numpy as np

    from pipelines.index_stage import papers_needing_chunks
    from pipelines.vector_index import VectorIndex
    from service import search as search_module
    from service.search import Searcher, SearchQuery

    store.upsert_papers([ARXIV])

    def extract(text: str) -> None:
        store.save_extraction(ARXIV.id, pdf_version=1, extractor_version=1, status="ok", error=None, pages=9,
                              title=None, elapsed_ms=1, sections=[],
                              passages=[{"kind": "limitations", "form": "section", "title": "Limitations",
                                         "page_start": 9, "page_end": 9, "text": text}])

    extract("We only evaluated on English.")
    vector = np.ones(8, dtype=np.float32) / np.sqrt(8)
    store.replace_chunks(ARXIV.id, "hash-of-old-text", [{"kind": "limitations", "section_title": "Limitations",
                                                         "page": 9, "text": "We only evaluated on English.",
                                                         "vector": vector}])
    ids, vectors = store.vectors("chunks", only_unindexed=False, dimension=8)
    VectorIndex.build("flat", 8, ids, vectors, generation=1).save(store.index_dir / "chunks.faiss")

    class Embedder:  # the query lands on the chunk's own vector
        def encode(self, texts):
            return vector[None, :]

    monkeypatch.setattr(search_module, "get_embedder", lambda name: Embedder())
    searcher = Searcher(store, settings)
    query = SearchQuery(q="english evaluation", mode="semantic")
    assert [h["paper_id"] for h in searcher.search(query)["results"]] == [ARXIV.id]

    extract("The new version also covers German and Hindi.")  # re-extracted; no index run yet
    assert store.chunk_texts([int(i) for i in ids]) == {}
    assert searcher.search(query)["results"] == []
    # The indexer sees the paper as stale and chunks the new text on its next run.
    assert [pid for pid, _, _ in papers_needing_chunks(store.passage_sources(), "any-model")] == [ARXIV.id]


# -- 3. a week with nothing to echo is not a failure ------------------------------------------------


def test_weekly_picks_count_no_pick_apart_from_failures(settings, store, monkeypatch, caplog):
    from service import old_paper
    from service.scheduler import run_weekly_picks

    monkeypatch.setattr(old_paper, "get_embedder", lambda name: type("E", (), {"dimension": 384})())
    create_user(store, "ada@example.org")
    create_user(store, "bob@example.org")
    with caplog.at_level(logging.INFO):
        run_weekly_picks(store, settings)
    run = store.runs("old-paper")[0]
    assert run["status"] == "ok" and run["failed"] == 0 and run["unchanged"] == 3
    lines = [r.getMessage() for r in caplog.records]
    assert "old-paper: 0 new, 0 updated, 3 unchanged, 0 failed" in lines
    assert any(re.match(r"old-paper \d{4}-W\d\d: 0 picked, 3 with no pick \(no old paper to pick from: Glean "
                        r"holds no paper from before 2010 yet\)", m) for m in lines)


# -- 5. what a paper page says about its full text ---------------------------------------------------


def test_a_paper_page_says_what_is_the_case_about_its_full_text(client, store):
    settings, c = client
    classic = c.get("/papers/doi:10.1038/323533a0").text
    assert "not been read yet" not in classic
    assert "Glean has no open-access PDF for this paper, so its limitations and appendices are not available" \
        in classic
    assert c.get("/api/papers/doi:10.1038/323533a0").json()["full_text"]["state"] == "no_pdf"

    def state() -> tuple[str, str]:
        answer = c.get("/api/papers/arxiv:2302.07302").json()["full_text"]
        return answer["state"], answer["message"]

    assert state()[0] == "queued" and "queued for download" in c.get("/papers/arxiv:2302.07302").text
    store.record_pdf_failure(ARXIV, "http_error", "HTTP 503")
    assert state() == ("retrying", "The PDF could not be downloaded yet (HTTP 503); Glean will try again.")
    for _ in range(settings.download_attempts - 1):
        store.record_pdf_failure(ARXIV, "http_error", "HTTP 404")
    assert state()[0] == "gave_up" and "not available" in state()[1]
    store.save_pdf(ARXIV, b"%PDF-1.4 ...")
    assert state()[0] == "downloaded"
    store.save_extraction(ARXIV.id, pdf_version=1, extractor_version=1, status="ok", error=None, pages=1,
                          title=None, elapsed_ms=1, sections=[], passages=[])
    assert c.get("/api/papers/arxiv:2302.07302").json()["full_text"] is None
    assert "The paper states no limitations section." in c.get("/papers/arxiv:2302.07302").text


# -- 6. a private feed address that stays put, a revoke that says so, and where the mail went -----------


@pytest.fixture
def web(make_settings, store):
    settings = make_settings(base_url="https://glean.test", secret_key="k")
    user, _ = create_user(store, "ada@example.org", name="Ada")
    with TestClient(create_app(settings, run_scheduler=False), base_url="https://glean.test") as c:
        yield settings, c, user


def feed_url_of(html: str) -> str:
    return re.search(r'<code id="feed-url">([^<]+)</code>', html).group(1)


def test_the_private_feed_address_is_stable_until_revoked(web, monkeypatch):
    settings, c, user = web
    sign_in(settings, c)
    first = feed_url_of(c.get("/settings").text)
    import time
    later = time.time() + 3 * 86400
    monkeypatch.setattr(time, "time", lambda: later)  # days later, the same address
    page = c.get("/settings").text
    assert feed_url_of(page) == first
    assert c.get(first.replace("https://glean.test", "")).status_code == 200
    revoked = c.post("/settings/revoke-feed", data={"csrf": csrf_of(page)})
    new = feed_url_of(revoked.text)
    assert new != first
    assert (f"Your old private feed address no longer works; the new one is\n  <code>{new}</code>"
            in revoked.text)
    assert "Saved." not in revoked.text
    assert c.get(first.replace("https://glean.test", "")).status_code == 404
    assert c.get(new.replace("https://glean.test", "")).status_code == 200
    assert feed_url_of(c.get("/settings").text) == new


def test_without_smtp_the_signin_page_says_where_the_mail_went(web):
    settings, c, _ = web
    for address in ("ada@example.org", "nobody@example.org"):  # the same words for both: no probing
        form = c.get("/signin")
        sent = c.post("/signin", data={"email": address, "csrf": csrf_of(form.text)})
        assert ("if that address has an\n  account, the sign-in mail is in "
                f"<code>{settings.home / 'outbox'}</code>") in sent.text


def test_with_smtp_the_signin_page_names_no_folder(make_settings, store):
    settings = make_settings(base_url="https://glean.test", secret_key="k", smtp_host="mail.invalid")
    with TestClient(create_app(settings, run_scheduler=False), base_url="https://glean.test") as c:
        form = c.get("/signin")
        sent = c.post("/signin", data={"email": "nobody@example.org", "csrf": csrf_of(form.text)})
        assert "a sign-in link is on its way" in sent.text and "outbox" not in sent.text


# -- 4. picks made by hand for past weeks stay out of the archive and the feeds ------------------------


def test_the_archive_and_feeds_hold_only_picks_made_in_their_week(client, store):
    from service.old_paper import history, iso_week

    settings, c = client
    now = datetime.now(timezone.utc)
    at = {"this": now, "backfilled": now, "on-schedule": now - timedelta(days=28), "ahead": now}
    weeks = {"this": iso_week(now.date()), "backfilled": iso_week((now - timedelta(days=14)).date()),
             "on-schedule": iso_week((now - timedelta(days=28)).date()),
             "ahead": iso_week((now + timedelta(days=14)).date())}
    for name, week in weeks.items():
        store.save_old_paper_pick(week=week, user_id=0, paper_id=CLASSIC.id, score=0.5, echo="x", reason=name,
                                  now=at[name].isoformat(timespec="seconds"))
    shown = [weeks["this"], weeks["on-schedule"]]
    assert [p["week"] for p in history(store, 0)] == shown
    assert [p["week"] for p in c.get("/api/old-paper").json()["archive"]] == shown
    feed = feedparser.parse(c.get("/feeds/old-paper.atom").content)
    assert [e.title.split(":")[0] for e in feed.entries] == shown
    # The week ahead shows once it has come.
    later = (now + timedelta(days=14)).date()
    assert [p["week"] for p in history(store, 0, today=later)] == [weeks["ahead"], *shown]


def test_the_cli_says_a_pick_for_a_past_week_stays_out_of_the_archive(settings, store, capsys):
    from service.cli import main
    from service.old_paper import iso_week

    store.upsert_papers([CLASSIC])
    now = datetime.now(timezone.utc)
    past = iso_week((now - timedelta(days=14)).date())
    store.save_old_paper_pick(week=past, user_id=0, paper_id=CLASSIC.id, score=0.5, echo="x", reason="r",
                              now=now.isoformat(timespec="seconds"))
    assert main(["old-paper", "--week", past], env={"GLEAN_HOME": str(settings.home)}) == 0
    assert "(picked after its week, so it stays out of the archive and the feeds)" in capsys.readouterr().out


# -- 7. breadth for a lone reader, a chart that names the reader and fits a phone, honest file names ----


def lone_reader(store):
    import numpy as np

    user, _ = create_user(store, "ada@example.org", name="Ada Lovelace")
    now = datetime.now(timezone.utc)
    for i, (code, axis) in enumerate([("cs.LG", 0), ("cs.LG", 0), ("cs.CL", 1), ("q-bio.NC", 2)]):
        pid = f"arxiv:2401.0000{i}"
        store.upsert_papers([Paper(id=pid, title=f"Paper {i}", source="arxiv", primary_category=code,
                                   categories=[code], year=2024, published=(now - timedelta(days=40)).isoformat())])
        store.replace_paper_vectors([(pid, "h", np.eye(8, dtype=np.float32)[axis])])
        store.add_reads(user.id, [(pid, (now - timedelta(days=3 + 31 * i)).isoformat())])
    return user


def test_a_lone_reader_is_told_so_and_the_chart_names_them(store, settings):
    import xml.etree.ElementTree as ET

    from service.breadth import breadth_report
    from service.chart import breadth_chart, chart_description

    report = breadth_report(store, settings, lone_reader(store))
    assert report["median_user"]["users"] == 1 and report["user_name"] == "Ada Lovelace"
    assert "the only reader here, so no median reader to compare with" in chart_description(report)
    svg = breadth_chart(report, "svg")
    root = ET.fromstring(svg)
    assert root.get("width") == "100%" and root.get("height") is None and root.get("viewBox")
    text = svg.decode()
    assert "Reading breadth of Ada Lovelace" in text
    assert "median reader that month" not in text  # no second line that only repeats the reader's own


def test_the_breadth_page_says_you_are_the_only_reader_and_scales(web, store):
    settings, c, _ = web
    import numpy as np

    user = store.find_user("ada@example.org")

    store.upsert_papers([Paper(id="arxiv:2401.00009", title="Read", source="arxiv", primary_category="cs.LG",
                               categories=["cs.LG"], year=2024)])
    store.replace_paper_vectors([("arxiv:2401.00009", "h", np.eye(8, dtype=np.float32)[0])])
    store.add_reads(user.id, [("arxiv:2401.00009", (datetime.now(timezone.utc) - timedelta(days=2)).isoformat())])
    sign_in(settings, c)
    page = c.get("/breadth").text
    assert "you are the only reader here, so there is no median reader to compare with" in page
    img = re.search(r'<img class="chart"[^>]*>', page).group(0)
    assert 'src="/breadth.svg"' in img and "width=" not in img and "height=" not in img
    chart = c.get("/breadth.svg")
    assert chart.headers["content-type"].startswith("image/svg+xml") and b'width="100%"' in chart.content


def test_cli_breadth_refuses_a_chart_name_of_another_format(store, settings, tmp_path, capsys):
    from service.cli import main

    lone_reader(store)
    env = {"GLEAN_HOME": str(settings.home)}
    jpg = tmp_path / "b.jpg"
    assert main(["breadth", "ada@example.org", "--png", str(jpg)], env=env) == 2
    captured = capsys.readouterr()
    assert not jpg.exists() and captured.out == ""
    assert captured.err.strip() == (f"glean: --png {jpg}: the chart comes as PNG or SVG, not JPG; name the file "
                                    f"{tmp_path / 'b.png'} or {tmp_path / 'b.svg'}")
    svg, png = tmp_path / "b.svg", tmp_path / "b.png"
    assert main(["breadth", "ada@example.org", "--png", str(svg), "--png", str(png)], env=env) == 0
    out = capsys.readouterr().out
    assert svg.read_bytes().lstrip().startswith(b"<?xml") and png.read_bytes().startswith(b"\x89PNG")
    assert "median reader: none to compare with, this is the only reader here" in out


# -- 2. pages speak to readers, not to whoever runs the command line -------------------------------------

# A command to type, or the pipeline's own words for its stages.
CLI_HINT = re.compile(r"\bglean (ingest|index|users|reads|digest|serve|status|old-paper|breadth|backfill|download|"
                      r"extract|trend|rank|search)\b|(?i:\bembedded\b|\bindex run\b|\bembedding\b)")


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("stored", ["nothing", "no vectors", "all shown"])
def test_no_page_shows_command_line_hints(web, store, monkeypatch, stored):
    from service import old_paper

    settings, c, user = web
    monkeypatch.setattr(old_paper, "get_embedder", lambda name: type("E", (), {"dimension": 384})())
    if stored != "nothing":
        store.upsert_papers([CLASSIC, ARXIV])
        store.add_reads(user.id, [(ARXIV.id, "2026-11-01T00:00:00+00:00")])  # no vector: not placed yet
    if stored == "all shown":
        store.add_reads(user.id, [(CLASSIC.id, "2026-11-01T00:00:00+00:00")])
        store.save_old_paper_pick(week="2020-W01", user_id=0, paper_id=CLASSIC.id, score=0.1, echo=None,
                                  reason="r", now="2020-01-01T00:00:00+00:00")
    pages = ["/", "/search", "/search?q=english", "/old-paper", "/signin", "/docs"]
    for path in pages:
        assert not CLI_HINT.search(visible_text(c.get(path).text)), path
    sign_in(settings, c)
    for path in [*pages, "/breadth", "/settings", f"/papers/{CLASSIC.id}", f"/papers/{ARXIV.id}"]:
        text = visible_text(c.get(path).text)
        assert not CLI_HINT.search(text), (path, CLI_HINT.search(text))
    old_page = visible_text(c.get("/old-paper").text)
    assert {"nothing": "Glean holds no paper from before 2010 yet",
            "no vectors": "Glean has not finished analysing its papers from before 2010",
            "all shown": "every paper from before 2010 that Glean holds was picked in an earlier week, or read "
                         "or shown already"}[stored] in " ".join(old_page.split())
    if stored != "nothing":
        assert "None of your reads can be placed in a subfield yet: " in visible_text(c.get("/breadth").text)


def test_the_digest_does_not_claim_an_unread_paper_has_no_limitations_section(settings, store):
    from types import SimpleNamespace

    from service.digest import build_items, render
    from service.signing import Signer

    store.upsert_papers([Paper(**{**CLASSIC.__dict__, "abstract": "We describe back-propagation."}),
                         Paper(**{**ARXIV.__dict__, "abstract": "An abstract."})])
    store.save_extraction(ARXIV.id, pdf_version=1, extractor_version=1, status="ok", error=None, pages=3,
                          title=None, elapsed_ms=1, sections=[], passages=[])
    user, _ = create_user(store, "ada@example.org")
    picks = [SimpleNamespace(paper_id=pid, reason="r", score=0.5, relevance=0.5, trend=0.0)
             for pid in (CLASSIC.id, ARXIV.id)]
    items = build_items(store, settings, Signer(b"k"), user, picks)
    assert [i.full_text_read for i in items] == [False, True]
    msg = render(settings, Signer(b"k"), user, "2026-12-03", items, [])
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Abstract (Glean has not read the full text):\n   We describe back-propagation." in text
    assert "Abstract (no limitations section found):\n   An abstract." in text
    assert "Abstract (Glean has not read the full text)" in html
