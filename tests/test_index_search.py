"""Embeddings, the faiss indexes and hybrid search, with the real model.

Passages are written straight into the store here (as extraction would write
them), so these tests do not depend on PDF parsing; tests/test_end_to_end.py runs
the whole chain on the corpus PDFs.
"""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from pipelines.embedding import CHUNK_TOKENS, chunk_text, get_embedder
from pipelines.index_stage import index_pending, sync_index
from pipelines.records import Paper
from pipelines.store import Store
from pipelines.vector_index import VectorIndex
from service.app import create_app
from service.search import Searcher, SearchQuery

pytestmark = pytest.mark.slow

PASSAGES = {
    "arxiv:2401.00001": ("Multilingual parsing", 2024, ["cs.CL"], [
        ("limitations", "Limitations", 9, "Our evaluation covers only English and Chinese treebanks. Low-resource "
         "languages with rich morphology were not tested, so the gains may not carry over to them."),
        ("appendix", "A Hyperparameters", 12, "We used a learning rate of 3e-4, batch size 32 and trained for "
         "ten epochs on four GPUs. Early stopping used the development set."),
    ]),
    "arxiv:2401.00002": ("Clinical risk models", 2023, ["cs.LG", "stat.ML"], [
        ("limitations", "Limitations and Future Work", 8, "The cohort comes from a single hospital, so the model "
         "may not generalise to other populations. Patients with missing records were excluded, which can bias "
         "the estimates."),
    ]),
    "arxiv:2401.00003": ("Protein folding at scale", 2022, ["q-bio.BM"], [
        ("limitations", "Limitations", 7, "Training required 512 accelerators for three weeks; the compute cost "
         "puts replication out of reach for most academic labs."),
    ]),
}


def seed(store: Store, passages=PASSAGES, version: int = 1) -> None:
    store.upsert_papers([Paper(id=pid, title=title, source="arxiv", abstract=f"An abstract about {title.lower()}.",
                               year=year, categories=cats, primary_category=cats[0], version=version,
                               abs_url=f"https://arxiv.org/abs/{pid[6:]}", pdf_url=f"https://arxiv.org/pdf/{pid[6:]}")
                         for pid, (title, year, cats, _) in passages.items()])
    for pid, (_, _, _, items) in passages.items():
        store.save_extraction(pid, pdf_version=version, extractor_version=1, status="ok", error=None, pages=12,
                              title=None, elapsed_ms=1, sections=[],
                              passages=[{"kind": k, "form": "section" if k == "limitations" else None, "title": t,
                                         "page_start": p, "page_end": p, "text": text} for k, t, p, text in items])


@pytest.fixture(scope="module")
def embedder():
    return get_embedder("all-MiniLM-L6-v2")


def test_real_model_ranks_a_paraphrase_above_unrelated_text(embedder):
    vectors = embedder.encode(["The study only used data from one hospital.",
                               "All patients were recruited at a single medical centre.",
                               "We trained the network with a learning rate of 0.001."])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_chunks_fit_the_window_and_keep_paragraphs(embedder):
    paragraph = " ".join(f"Sentence number {i} states one more caveat of the method." for i in range(60))
    text = "A short first paragraph.\n\n" + paragraph + "\n\nA short closing paragraph."
    chunks = chunk_text(text, embedder.count_tokens)
    assert all(embedder.count_tokens(c) <= CHUNK_TOKENS for c in chunks)
    assert chunks[0].startswith("A short first paragraph.")
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())  # nothing lost


def test_index_then_search_and_nothing_to_do_on_rerun(settings):
    store = Store(settings.home)
    seed(store)
    report = index_pending(store, settings)
    assert report.ok, report.error
    assert report.counts.new == 3 and report.details["chunks_written"] == 4
    assert {ix["index"]: ix["size"] for ix in report.details["indexes"]} == {"papers": 3, "chunks": 4}

    answer = Searcher(store, settings).search(SearchQuery("results might not transfer to other hospitals"))
    top = answer["results"][0]
    assert top["paper_id"] == "arxiv:2401.00002" and top["kind"] == "limitations"
    assert top["section"] == "Limitations and Future Work" and top["page"] == 8
    assert top["pdf_url"].endswith("#page=8") and "semantic" in top["matched_by"]

    again = index_pending(store, settings)
    assert again.counts.new == again.counts.updated == 0
    assert [ix["action"] for ix in again.details["indexes"]] == ["unchanged", "unchanged"]


def test_keyword_hits_are_highlighted_and_filters_apply(settings):
    store = Store(settings.home)
    seed(store)
    index_pending(store, settings)
    searcher = Searcher(store, settings)
    hit = searcher.search(SearchQuery("treebanks", mode="keyword"))["results"][0]
    assert hit["paper_id"] == "arxiv:2401.00001"
    assert [hit["snippet"][a:b] for a, b in hit["highlights"]] == ["treebanks"]
    assert searcher.search(SearchQuery("learning rate", where="limitations", mode="keyword"))["total"] == 0
    assert searcher.search(SearchQuery("learning rate", where="appendix"))["results"][0]["section"] == "A Hyperparameters"
    years = [h["year"] for h in searcher.search(SearchQuery("limitations", year_from=2023))["results"]]
    assert years and min(years) >= 2023
    cats = searcher.search(SearchQuery("compute cost", category="q-bio.BM"))["results"]
    assert {h["paper_id"] for h in cats} == {"arxiv:2401.00003"}


def test_stop_words_do_not_turn_a_question_into_a_match_everything(settings):
    store = Store(settings.home)
    seed(store)
    index_pending(store, settings)
    searcher = Searcher(store, settings)
    # One passage holds both content words; the other limitations sections hold "limit" in their
    # titles; the hyperparameter appendix holds only "the" and "of", and must not match.
    results = searcher.search(SearchQuery("what are the limits of the treebanks", mode="keyword"))["results"]
    assert results[0]["paper_id"] == "arxiv:2401.00001" and results[0]["kind"] == "limitations"
    assert len(results) == 3 and all(h["kind"] == "limitations" for h in results)
    assert all(h["snippet"][a:b].lower() not in ("the", "of") for h in results for a, b in h["highlights"])
    # A query of stop words only is searched as typed, not dropped.
    assert searcher.search(SearchQuery("the", mode="keyword"))["total"] > 0


def test_keyword_work_is_bounded_rarest_words_first(settings, monkeypatch):
    import service.search as search_module

    store = Store(settings.home)
    seed(store)
    index_pending(store, settings)
    searcher = Searcher(store, settings)
    query = SearchQuery("limitations treebanks hospital", mode="keyword")  # no passage holds all three
    assert {h["paper_id"] for h in searcher.search(query)["results"]} == {
        "arxiv:2401.00001", "arxiv:2401.00002", "arxiv:2401.00003"}
    assert store.passages_matching(["limitations", "treebanks", "hospital"], cap=10) == {
        "limitations": 3, "treebanks": 1, "hospital": 1}
    # With room to score one match, the OR keeps the rarest word and drops the common one.
    monkeypatch.setattr(search_module, "KEYWORD_SCAN_MAX", 1)
    assert [h["paper_id"] for h in searcher.search(query)["results"]] == ["arxiv:2401.00001"]
    # And a common word alone is scored over its newest match only.
    newest = store.keyword_passages('"limitations"', kinds=("limitations",), scan_max=1)
    assert len(newest) == 1 and newest[0]["paper_id"] == "arxiv:2401.00003"


def test_passages_holding_every_word_are_ordered_by_the_rarer_words_when_one_is_common(settings, monkeypatch):
    import service.search as search_module

    store = Store(settings.home)
    extra = {"arxiv:2401.00010": ("Cohort study A", 2024, ["stat.ML"], [
                 ("limitations", "Limitations", 3, "The cohort is small; the cohort is young; the cohort is local.")]),
             "arxiv:2401.00011": ("Cohort study B", 2024, ["stat.ML"], [
                 ("limitations", "Limitations", 3, "Follow-up of the cohort was short.")])}
    seed(store, {**PASSAGES, **extra})  # B's passage is written after A's: newer
    index_pending(store, settings)
    monkeypatch.setattr(search_module, "KEYWORD_SCAN_MAX", 3)  # "limitations" (5 passages) counts as common
    assert store.passages_matching(["limitations", "cohort"], cap=3) == {"limitations": 4, "cohort": 3}
    found = Searcher(store, settings).search(SearchQuery("limitations cohort", mode="keyword"))["results"]
    # Every passage holding both words, best BM25 for "cohort" first (not newest first).
    assert [h["paper_id"] for h in found] == ["arxiv:2401.00010", "arxiv:2401.00011", "arxiv:2401.00002"]


def test_a_large_index_reloads_in_the_background_and_never_shows_stale_rows(settings, monkeypatch):
    import service.search as search_module

    store = Store(settings.home)
    seed(store)
    index_pending(store, settings)
    searcher = Searcher(store, settings)
    assert searcher.search(SearchQuery("single hospital", mode="semantic"))["total"] > 0  # first load: waits
    monkeypatch.setattr(search_module, "SYNC_LOAD_MAX_BYTES", 0)  # every later reload goes to the background
    revised = {"arxiv:2401.00002": ("Clinical risk models", 2023, ["cs.LG", "stat.ML"], [
        ("limitations", "Limitations", 8, "Wet-lab validation of the predicted risk scores is still missing.")])}
    seed(store, revised, version=2)
    index_pending(store, settings)

    old_index = searcher._index
    during = searcher.search(SearchQuery("cohort from a single hospital", mode="semantic"))["results"]
    # The old index still holds the replaced chunk's vector; SQLite no longer knows it, so it is not shown.
    assert all("single hospital" not in h["snippet"] for h in during)
    for thread in [t for t in __import__("threading").enumerate() if t.name == "index-reload"]:
        thread.join(timeout=30)
    assert searcher._index is not old_index
    after = searcher.search(SearchQuery("wet-lab validation of risk scores", mode="semantic"))["results"]
    assert after[0]["paper_id"] == "arxiv:2401.00002" and "Wet-lab" in after[0]["snippet"]


def test_at_most_two_hits_per_paper(settings):
    store = Store(settings.home)
    many = {"arxiv:2401.00009": ("Many caveats", 2024, ["cs.LG"], [
        ("appendix", f"{chr(65 + i)} Extra results {i}", 10 + i, f"Further caveat number {i}: the benchmark is small.")
        for i in range(5)])}
    seed(store, {**PASSAGES, **many})
    index_pending(store, settings)
    results = Searcher(store, settings).search(SearchQuery("the benchmark is small caveat"))["results"]
    assert sum(h["paper_id"] == "arxiv:2401.00009" for h in results) == 2


def test_new_version_replaces_chunks_and_nothing_stale_is_found(settings):
    store = Store(settings.home)
    seed(store)
    index_pending(store, settings)
    revised = {"arxiv:2401.00003": ("Protein folding at scale", 2022, ["q-bio.BM"], [
        ("limitations", "Limitations", 7, "The predicted structures were never checked by crystallography.")])}
    seed(store, revised, version=2)

    report = index_pending(store, settings)

    assert report.counts.updated == 1
    chunks_ix = next(ix for ix in report.details["indexes"] if ix["index"] == "chunks")
    assert chunks_ix["action"] == "updated" and chunks_ix["added"] == 1 and chunks_ix["removed"] == 1
    searcher = Searcher(store, settings)
    for mode in ("keyword", "semantic", "hybrid"):
        found = searcher.search(SearchQuery("512 accelerators compute cost replication", mode=mode))["results"]
        assert all("512 accelerators" not in h["snippet"] for h in found), mode
    assert searcher.search(SearchQuery("crystallography", mode="keyword"))["results"][0]["paper_id"] == "arxiv:2401.00003"


def test_index_survives_a_restart_and_a_lost_commit_is_rebuilt(settings):
    store = Store(settings.home)
    seed(store)
    index_pending(store, settings)
    store.close()

    reopened = Store(settings.home)
    assert Searcher(reopened, settings).search(SearchQuery("single hospital cohort", mode="semantic"))["total"] > 0
    # Simulate a crash after the faiss file was written but before the store recorded it.
    path = reopened.index_dir / "chunks.faiss"
    stale = VectorIndex.load(path)
    stale.generation += 5
    stale.save(path)
    result = sync_index(reopened, "chunks", dimension=384, model="all-MiniLM-L6-v2", exact_max=100)
    assert result["action"] == "rebuilt" and result["size"] == 4


def test_hnsw_above_the_threshold(make_settings):
    settings = make_settings(index_exact_max=2)
    store = Store(settings.home)
    seed(store)
    report = index_pending(store, settings)
    assert {ix["index"]: ix["kind"] for ix in report.details["indexes"]} == {"papers": "hnsw", "chunks": "hnsw"}
    assert Searcher(store, settings).search(SearchQuery("single hospital"))["results"][0]["paper_id"] == "arxiv:2401.00002"


@pytest.mark.parametrize("params, status, code", [
    ({"q": ""}, 400, "empty_query"),
    ({"q": "   "}, 400, "empty_query"),
    ({"q": "x" * 501}, 400, "query_too_long"),
    ({"q": "x", "in": "body"}, 422, "invalid_parameter"),
    ({"q": "x", "from": "last year"}, 400, "invalid_parameter"),
    ({"q": "x", "from": "", "to": ""}, 200, None),
    ({"q": "x", "from": 2020, "to": 2010}, 400, "invalid_parameter"),
    ({"q": "x", "limit": 0}, 422, "invalid_parameter"),
    ({"q": "x", "source": "twitter"}, 422, "invalid_parameter"),
])
def test_bad_input_gets_one_error_shape(settings, params, status, code):
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        response = client.get("/api/search", params=params)
    assert response.status_code == status
    if status == 200:
        return
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message"}
    assert body["error"]["code"] == code and body["error"]["status"] == status and body["error"]["message"]


@pytest.mark.parametrize("q", ['"unbalanced', "NEAR(single hospital)", "hospital*", "-cohort", "(a OR b",
                               "AND", "col:umn", "'; DROP TABLE papers; --"])
def test_fts_syntax_is_just_text(settings, q):
    store = Store(settings.home)
    seed(store)
    SearchQuery(q).validate()
    answer = Searcher(store, settings).search(SearchQuery(q, mode="keyword"))
    assert answer["total"] >= 0 and store.count_papers() == 3


def test_api_page_and_openapi(settings):
    store = Store(settings.home)
    seed(store)
    index_pending(store, settings)
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        api = client.get("/api/search", params={"q": "single hospital", "in": "limitations"}).json()
        page = client.get("/search", params={"q": "single hospital", "in": "limitations"})
        schema = client.get("/openapi.json").json()
    assert api["results"][0]["paper_id"] == "arxiv:2401.00002"
    for key in ("paper_id", "title", "year", "section", "kind", "page", "snippet", "score"):
        assert key in api["results"][0]
    assert page.status_code == 200 and "Clinical risk models" in page.text and "<mark>" in page.text
    assert 'href="/api/search?q=single+hospital&amp;in=limitations"' in page.text
    names = {p["name"] for p in schema["paths"]["/api/search"]["get"]["parameters"]}
    assert {"q", "in", "from", "to", "category", "source", "limit"} <= names


def test_page_escapes_hostile_titles(settings):
    store = Store(settings.home)
    seed(store, {"arxiv:2401.00666": ("<script>alert(1)</script> & co", 2024, ["cs.CR"], [
        ("limitations", "Limitations", 3, "Only <b>one</b> dataset & one seed.")])})
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        page = client.get("/search", params={"q": "dataset seed", "mode": "keyword"}).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<b>one</b>" not in page


def test_serve_threads_cap_torch_for_the_whole_process():
    import threading

    import torch

    from pipelines.embedding import limit_cpu_threads

    before = torch.get_num_threads()
    try:
        limit_cpu_threads(1)
        seen = []
        worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        worker.start()
        worker.join()
        assert torch.get_num_threads() == 1 and seen == [1]  # request threads start later and inherit it
    finally:
        limit_cpu_threads(before)


def test_a_missing_or_broken_index_is_said_not_silently_keyword_only(settings, caplog, capsys):
    """Without its faiss file, hybrid search falls back to keywords — and says so in the answer, the
    log, /healthz and `glean status`, instead of looking like a search with fewer results."""
    from service.cli import main

    store = Store(settings.home)
    seed(store)
    assert index_pending(store, settings).ok
    searcher = Searcher(store, settings)
    assert "degraded" not in searcher.search(SearchQuery("hospital cohort"))
    (store.index_dir / "chunks.faiss").unlink()
    with caplog.at_level("WARNING", logger="service.search"):
        answer = searcher.search(SearchQuery("hospital cohort"))
    assert "chunks.faiss is missing" in answer["degraded"] and answer["results"]  # the keyword side still answers
    assert any("keyword-only" in r.getMessage() for r in caplog.records)
    assert "degraded" not in searcher.search(SearchQuery("hospital cohort", mode="keyword"))
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        health = client.get("/healthz").json()
        assert health["status"] == "degraded" and health["search"]["state"] == "missing"
        assert "chunks.faiss is missing" in client.get("/api/search", params={"q": "hospital cohort"}).json()["degraded"]
    assert main(["status"], env={"GLEAN_HOME": str(settings.home)}) == 0
    assert "search: MISSING" in capsys.readouterr().out
    (store.index_dir / "chunks.json").write_text("{not json")
    (store.index_dir / "chunks.faiss").write_bytes(b"")
    assert "cannot be read" in Searcher(store, settings).search(SearchQuery("hospital cohort"))["degraded"]
    assert index_pending(store, settings, rebuild=True).ok  # `glean index --rebuild` mends it
    assert "degraded" not in Searcher(store, settings).search(SearchQuery("hospital cohort"))
