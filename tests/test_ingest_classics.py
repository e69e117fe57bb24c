"""Classics: the curated canon, and the slow pre-2010 arXiv backfill."""

from __future__ import annotations

from collections import Counter

from pipelines.ingest import ingest_classics
from pipelines.settings import DATA_DIR
from pipelines.sources.classics import BackfillPosition, load_canon
from tests.corpus import DEL_MAESTRO, EMPTY_PAGE, atom_page, entries_by_update
from tests.fakeweb import Reply

API = "/api/query"


def test_the_canon_is_broad_and_names_the_mission_papers():
    canon = load_canon(DATA_DIR / "canon.toml")
    assert len(canon) >= 80
    fields = Counter(p.field for p in canon)
    assert len(fields) >= 8, fields
    assert all(p.year < 2010 and p.is_classic and p.authors and p.venue for p in canon)
    assert len({p.id for p in canon}) == len(canon), "two canon entries share an id"
    ids = {p.id for p in canon}
    for doi in ("10.1038/323533a0", "10.1162/neco.1991.3.1.79", "10.1162/neco.1997.9.8.1735",
                "10.1002/j.1538-7305.1948.tb01338.x"):
        assert f"doi:{doi}" in ids
    assert all(p.abstract == "" for p in canon), "the canon holds facts, not copied abstracts"


def _write_canon(tmp_path):
    canon = tmp_path / "canon.toml"
    canon.write_text('''
[[paper]]
title = "Long Short-Term Memory"
authors = ["Sepp Hochreiter", "Jürgen Schmidhuber"]
year = 1997
venue = "Neural Computation 9(8)"
field = "machine learning"
doi = "10.1162/neco.1997.9.8.1735"
categories = ["cs.NE", "cs.LG"]
''')
    return canon


def test_canon_and_backfill_month_by_month(tmp_path, fakeweb, make_settings, store):
    old = entries_by_update(DEL_MAESTRO)  # real entries, 2009–2011
    fakeweb.add(API, Reply(body=EMPTY_PAGE.read_bytes()))  # every other month: nothing
    december = fakeweb.add(API, Reply(body=atom_page(old[:3], total=3, start=0)),
                           match=lambda q, h: "submittedDate:[200912010000 TO 200912312359]" in q["search_query"][0])
    settings = make_settings(canon=_write_canon(tmp_path), classics_per_run=5)

    report = ingest_classics(store, settings)

    assert report.ok, report.error
    assert report.details["canon"]["new"] == 1
    assert report.counts.new == 4
    lstm = store.get_paper("doi:10.1162/neco.1997.9.8.1735")
    assert lstm.is_classic and lstm.source == "canon" and lstm.abs_url == "https://doi.org/10.1162/neco.1997.9.8.1735"
    backfilled = [p for p in map(store.get_paper, store.paper_ids()) if p.source == "arxiv-classics"]
    assert len(backfilled) == 3
    # One request per month, newest first, at most a year of months per run.
    position = BackfillPosition.parse(store.get_checkpoint("classics-arxiv"))
    assert december.hits == 1
    assert str(position) == "2008-12+0"
    assert len(fakeweb.requests_to(API)) == 12

    rerun = ingest_classics(store, settings)
    assert rerun.counts.new == 0 and rerun.details["canon"]["unchanged"] == 1
    later = BackfillPosition.parse(store.get_checkpoint("classics-arxiv"))
    assert (later.year, later.month) < (position.year, position.month)


def test_a_full_month_is_resumed_at_its_offset(tmp_path, fakeweb, make_settings, store):
    old = entries_by_update(DEL_MAESTRO)
    fakeweb.add(API, Reply(body=atom_page(old[:2], total=len(old), start=0)),
                match=lambda q, h: q["start"] == ["0"])
    fakeweb.add(API, Reply(body=atom_page(old[2:4], total=len(old), start=2)),
                match=lambda q, h: q["start"] == ["2"])
    settings = make_settings(canon=_write_canon(tmp_path), classics_per_run=2, arxiv_page_size=2)

    ingest_classics(store, settings)
    assert store.get_checkpoint("classics-arxiv") == "2009-12+2"
    ingest_classics(store, settings)
    assert store.get_checkpoint("classics-arxiv") == "2009-12+4"
    assert store.count_papers(source="arxiv-classics") == 4


def test_backfill_position_walks_down_to_august_1991():
    p = BackfillPosition.parse(None)
    assert str(p) == "2009-12+0"
    assert str(BackfillPosition(2000, 1).previous_month()) == "1999-12+0"
    assert BackfillPosition(1991, 7).done and not BackfillPosition(1991, 8).done
    start, end = BackfillPosition(2008, 2).window()
    assert (start.day, end.month, end.day, end.hour, end.minute) == (1, 2, 29, 23, 59)
