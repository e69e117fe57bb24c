"""`glean backfill pdfs` and `glean backfill embeddings`: the bulk drivers, batch by batch.

Corpus PDFs are served by the loopback fake web server. Four papers: one whose PDF link
is dead (404), two whose PDFs are served, and one whose PDF is already in the cache but
not yet read. --limit takes the first papers of the plan, a second run takes the rest, a
third changes nothing; an interrupted run resumes without fetching or writing anything twice.
"""

from __future__ import annotations

import json

import pytest

from pipelines.batch_backfill import backfill_embeddings, backfill_pdfs
from pipelines.records import Paper
from pipelines.store import Store
from service.cli import main
from tests.corpus import PDFS
from tests.fakeweb import Reply

DEAD, CITESEE, PAPER_PLAIN, CACHED = "arxiv:2401.99999", "arxiv:2302.07302", "arxiv:2203.00130", "arxiv:1111.2011"
SERVED = {CITESEE: "modern/arxiv_2302.07302v1_citesee.pdf", PAPER_PLAIN: "modern/arxiv_2203.00130v1_paper_plain.pdf"}


def _pdf_path(paper_id: str) -> str:
    return f"/pdf/{paper_id.removeprefix('arxiv:')}v1"


@pytest.fixture
def env(tmp_path, fakeweb, clock):
    """A data folder holding the four papers; their PDFs (but the cached one's) on the fake web."""
    env = {"GLEAN_HOME": str(tmp_path / "home"), "GLEAN_ARXIV_PDF_BASE": fakeweb.url("/pdf/"),
           "GLEAN_DOWNLOAD_ATTEMPTS": "1", "GLEAN_LOG_LEVEL": "WARNING"}
    fakeweb.add(_pdf_path(DEAD), Reply(404, b"gone"))
    for paper_id, name in SERVED.items():
        fakeweb.add(_pdf_path(paper_id), Reply(body=(PDFS / name).read_bytes(),
                                               headers={"Content-Type": "application/pdf"}))
    # Published newest first is the download order: the dead link and CiteSee come first.
    papers = [Paper(id=pid, title=title, source="arxiv", abstract=f"The abstract of {title}.",
                    published=published, pdf_url=fakeweb.url(_pdf_path(pid)))
              for pid, title, published in [
                  (DEAD, "A paper whose PDF is gone", "2024-01-31T00:00:00+00:00"),
                  (CITESEE, "CiteSee: Augmenting Citations in Scientific Papers", "2023-02-14T00:00:00+00:00"),
                  (PAPER_PLAIN, "Paper Plain: Making Medical Research Papers Approachable",
                   "2022-02-28T00:00:00+00:00"),
                  (CACHED, "Quantum critical points on the Bethe lattice", "2011-11-08T00:00:00+00:00")]]
    store = Store(tmp_path / "home")
    store.upsert_papers(papers)
    store.save_pdf(papers[-1], (PDFS / "modern/arxiv_1111.2011v2.pdf").read_bytes())
    store.close()
    return env


def glean(env, capsys, *argv) -> dict:
    code = main([*argv, "--json"], env=env)
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def _snapshot(store: Store) -> dict:
    """What the drivers write, to show that a rerun writes nothing."""
    tables = {"extractions": "SELECT paper_id, status, pdf_version, extracted_at FROM extractions ORDER BY 1",
              "passages": "SELECT id, paper_id, kind, text FROM passages ORDER BY id",
              "pdfs": "SELECT paper_id, status, attempts, fetched_at FROM pdfs ORDER BY 1",
              "paper_vectors": "SELECT vec_id, paper_id, hash FROM paper_vectors ORDER BY 1",
              "chunks": "SELECT id, paper_id, ord, text FROM chunks ORDER BY id"}
    return {name: [tuple(r) for r in store.query(sql)] for name, sql in tables.items()}


def test_backfill_pdfs_with_limit_then_the_rest_then_nothing(env, fakeweb, capsys, tmp_path):
    first = glean(env, capsys, "backfill", "pdfs", "--limit", "2", "--batch", "1")
    # The plan's first two: the dead link (download fails, for good: one attempt) and CiteSee.
    assert (first["planned"], first["batches"]) == (2, 2)
    assert (first["new"], first["updated"], first["failed"]) == (1, 0, 1)
    assert first["steps"]["download"] == {"new": 1, "updated": 0, "unchanged": 0, "failed": 1, "pending": 2}
    assert first["steps"]["extract"]["outcomes"] == {"ok": 1}

    rest = glean(env, capsys, "backfill", "pdfs")
    # Paper Plain is downloaded and read; the cached PDF is only read.
    assert (rest["planned"], rest["batches"], rest["new"], rest["failed"]) == (2, 1, 2, 0)
    assert rest["steps"]["download"]["new"] == 1 and rest["steps"]["download"]["pending"] == 1
    assert rest["steps"]["extract"]["outcomes"] == {"ok": 2}

    store = Store(tmp_path / "home")
    before = _snapshot(store)
    again = glean(env, capsys, "backfill", "pdfs")
    assert (again["planned"], again["batches"], again["new"], again["updated"], again["failed"]) == (0, 0, 0, 0, 0)
    assert _snapshot(store) == before
    assert {pid: store.extraction(pid)["status"] for pid in (CITESEE, PAPER_PLAIN, CACHED)} == dict.fromkeys(
        (CITESEE, PAPER_PLAIN, CACHED), "ok")
    assert store.extraction(DEAD) is None and store.pdf_record(DEAD)["status"] == "http_error"
    assert store.runs("backfill-pdfs")[0]["status"] == "ok"
    # Every PDF was fetched exactly once.
    assert sorted(len(fakeweb.requests_to(_pdf_path(pid))) for pid in (DEAD, CITESEE, PAPER_PLAIN)) == [1, 1, 1]
    # Nothing is left for the regular stages either.
    assert glean(env, capsys, "download")["pending"] == 0
    assert glean(env, capsys, "extract", "--pending")["pending"] == 0
    store.close()
    # Without --json: the summary a person reads.
    assert main(["backfill", "pdfs"], env=env) == 0
    assert capsys.readouterr().out.splitlines() == [
        "backfill-pdfs      0 new      0 updated      0 unchanged    0 failed",
        "          0 papers planned, 0 batches of up to 50 on the local executor",
        "          download: 0 new, 0 updated, 0 failed",
        "          extract: nothing to do"]


def test_an_interrupted_pdf_backfill_resumes_and_duplicates_nothing(env, fakeweb, tmp_path):
    from pipelines.settings import Settings

    settings = Settings.load(env=env, dotenv=tmp_path / "no.env")
    store = Store(settings.home)
    announced, ticks = [], []

    def stop_after_the_first_paper(n):
        ticks.append(n)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill_pdfs(store, settings, batch_size=3, progress=stop_after_the_first_paper, announce=announced.append)
    assert announced == [4] and ticks == [1]
    assert store.runs("backfill-pdfs")[0]["error"] == "interrupted"
    # The first batch downloaded its two live PDFs; one of them was read before the interruption.
    assert store.query("SELECT count(*) FROM extractions")[0][0] == 1

    announced, ticks = [], []
    report = backfill_pdfs(store, settings, batch_size=3, progress=ticks.append, announce=announced.append)
    # Left: the downloaded PDF not yet read, and the cached one; the dead link's one attempt is spent.
    assert report.ok and announced == [2] and sum(ticks) == 2  # the bar reaches its announced total
    assert (report.counts.new, report.counts.failed) == (2, 0)
    assert report.details["steps"]["download"]["pending"] == 0  # nothing downloaded twice
    assert sorted(len(fakeweb.requests_to(_pdf_path(pid))) for pid in (DEAD, CITESEE, PAPER_PLAIN)) == [1, 1, 1]
    assert [r[0] for r in store.query("SELECT paper_id FROM extractions ORDER BY 1")] == sorted(
        [CACHED, PAPER_PLAIN, CITESEE])
    assert store.query("SELECT count(*) FROM extractions WHERE status = 'ok'")[0][0] == 3
    store.close()


def test_backfill_options_belong_to_their_source(tmp_path, capsys):
    env = {"GLEAN_HOME": str(tmp_path / "home")}
    assert main(["backfill", "arxiv"], env=env) == 2
    assert "glean backfill arxiv needs --from YEAR" in capsys.readouterr().err
    assert main(["backfill", "pdfs", "--from", "2015"], env=env) == 2
    assert "--from: only for glean backfill arxiv, not pdfs" in capsys.readouterr().err
    assert main(["backfill", "embeddings", "--until", "2015", "--format", "arXiv"], env=env) == 2
    assert "--until, --format: only for glean backfill arxiv" in capsys.readouterr().err
    assert main(["backfill", "arxiv", "--from", "2015", "--limit", "3"], env=env) == 2
    assert "--limit and --batch are for glean backfill pdfs|embeddings" in capsys.readouterr().err


@pytest.mark.slow
def test_backfill_embeddings_with_limit_then_the_rest_then_nothing(env, fakeweb, capsys, tmp_path):
    glean(env, capsys, "backfill", "pdfs")
    first = glean(env, capsys, "backfill", "embeddings", "--limit", "2", "--batch", "1")
    # The plan is in id order: the cached physics paper, then Paper Plain.
    assert (first["planned"], first["batches"], first["syncs"], first["new"]) == (2, 2, 1, 2)
    assert first["steps"]["embed"]["papers_embedded"] == 2 and first["steps"]["embed"]["papers_rechunked"] >= 1
    assert {ix["index"]: ix["size"] for ix in first["indexes"]} == {
        "papers": 2, "chunks": first["steps"]["embed"]["chunks_written"]}

    rest = glean(env, capsys, "backfill", "embeddings")
    assert (rest["planned"], rest["new"], rest["updated"]) == (2, 2, 0)
    chunks = first["steps"]["embed"]["chunks_written"] + rest["steps"]["embed"]["chunks_written"]
    assert {ix["index"]: ix["size"] for ix in rest["indexes"]} == {"papers": 4, "chunks": chunks}

    store = Store(tmp_path / "home")
    before = _snapshot(store)
    again = glean(env, capsys, "backfill", "embeddings")
    assert (again["planned"], again["batches"], again["new"], again["updated"]) == (0, 0, 0, 0)
    assert {ix["action"] for ix in again["indexes"]} == {"unchanged"}
    assert _snapshot(store) == before
    store.close()
    assert glean(env, capsys, "index")["papers_embedded"] == 0  # nothing left for `glean index`
    assert main(["backfill", "embeddings"], env=env) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "          0 papers planned, 0 batches of up to 500 on the local executor",
        "          0 paper vectors, 0 papers re-chunked (0 chunks)",
        "          index papers: 4 vectors, flat, unchanged",
        f"          index chunks: {chunks} vectors, flat, unchanged"]

    hits = glean(env, capsys, "search", "highlighting may become over-saturated after prolonged use",
                 "--in", "limitations")["results"]
    assert hits[0]["paper_id"] == CITESEE


@pytest.mark.slow
def test_an_interrupted_embedding_backfill_is_indexed_by_the_next_run(env, capsys, tmp_path):
    from pipelines.settings import Settings

    glean(env, capsys, "backfill", "pdfs")
    settings = Settings.load(env=env, dotenv=tmp_path / "no.env")
    store = Store(settings.home)

    def stop_after_the_first_batch(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill_embeddings(store, settings, batch_size=2, progress=stop_after_the_first_batch)
    # The first batch's vectors are committed, not yet in a faiss file.
    assert store.query("SELECT count(*) FROM paper_vectors WHERE indexed = 0")[0][0] == 2

    report = backfill_embeddings(store, settings, batch_size=2)
    assert report.ok and report.details["planned"] == 2 and report.counts.new == 2
    sizes = {ix["index"]: ix["size"] for ix in report.details["indexes"]}
    assert sizes == {"papers": 4, "chunks": store.query("SELECT count(*) FROM chunks")[0][0]}
    assert store.query("SELECT count(*) FROM paper_vectors WHERE indexed = 0")[0][0] == 0
    assert store.query("SELECT count(*) FROM chunks WHERE indexed = 0")[0][0] == 0
    store.close()
