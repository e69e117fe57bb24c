"""The Dask executor against the local one, on a real LocalCluster (2 worker processes, loopback).

The same corpus PDFs extracted through each executor into separate stores give identical
sections and passages; the same texts give the same vectors, and indexing through each gives
the same chunks, vectors and search results; a document that kills its sandbox, or hangs, or
kills the Dask worker process itself, comes back as a typed outcome while the rest complete;
a worker that stops answering altogether runs into the driver's deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import numpy as np
import pytest

from pipelines.executor import (
    DaskExecutor,
    ExecutorSpecError,
    LocalExecutor,
    executor_for,
    parse_spec,
)
from pipelines.extract.faults import DIE, HANG, KILL_PARENT, misbehaving_extract
from pipelines.extract_stage import extract_pending
from pipelines.index_stage import index_pending
from pipelines.records import Paper
from pipelines.settings import Settings
from pipelines.store import Store
from service.cli import main
from service.search import Searcher, SearchQuery
from tests.corpus import PDFS

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.slow

FILES = ["modern/arxiv_2302.07302v1_citesee.pdf", "modern/arxiv_2203.00130v1_paper_plain.pdf",
         "modern/arxiv_1111.2011v2.pdf", "modern/acl_2023.eacl-main.121.pdf"]


@pytest.fixture(scope="module")
def cluster():
    # One rescheduling after a worker dies under a task (Dask's default allows three): the
    # worker-killing test sees the retry and kills two worker processes, not four.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                     host="127.0.0.1") as c:
        yield c


@pytest.fixture
def dask_executor(cluster):
    with distributed.Client(cluster) as client:
        yield DaskExecutor(cluster.scheduler_address, client=client)


def _seeded_store(tmp_path, name: str) -> tuple[Store, Settings]:
    settings = Settings.load(env={"GLEAN_HOME": str(tmp_path / name)}, dotenv=tmp_path / "no.env")
    store = Store(settings.home)
    papers = [Paper(id=f"test:{i}", title=f"paper {i}", source="test", pdf_url=f"http://127.0.0.1/{i}.pdf")
              for i in range(len(FILES) + 1)]
    store.upsert_papers(papers)
    blobs = [(PDFS / name).read_bytes() for name in FILES] + [b"%PDF-1.4\n this is not really a PDF"]
    for paper, data in zip(papers, blobs):
        store.save_pdf(paper, data)
    return store, settings


def _stored(store: Store) -> dict:
    ids = [r["paper_id"] for r in store.query("SELECT paper_id FROM extractions ORDER BY paper_id")]
    out = {}
    for pid in ids:
        ext = store.extraction(pid)
        strip = lambda rows: [{k: v for k, v in r.items() if k not in ("id", "rowid")} for r in rows]
        out[pid] = {"status": ext and ext["status"], "pages": ext and ext["pages"], "title": ext and ext["title"],
                    "sections": strip(store.sections(pid)), "passages": strip(store.passages(pid))}
    return out


def test_spec_is_validated():
    assert parse_spec("local") is None and isinstance(executor_for("local"), LocalExecutor)
    assert parse_spec("dask://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    for bad in ("dask://host", "tcp://h:1", "dask://h:99999", "ray://h:1"):
        with pytest.raises(ExecutorSpecError, match="local' or 'dask://host:port"):
            parse_spec(bad)


def test_extract_pending_gives_the_same_store_on_dask_as_locally(tmp_path, dask_executor):
    local_store, local_settings = _seeded_store(tmp_path, "local")
    dask_store, dask_settings = _seeded_store(tmp_path, "dask")
    try:
        local = extract_pending(local_store, local_settings)  # the default executor: local
        remote = extract_pending(dask_store, dask_settings, executor=dask_executor)
        assert local.details["outcomes"] == remote.details["outcomes"]
        assert remote.details["outcomes"]["ok"] == len(FILES)
        assert (local.counts.new, local.counts.failed) == (remote.counts.new, remote.counts.failed)
        a, b = _stored(local_store), _stored(dask_store)
        assert set(a) == set(b) and len(a) == len(FILES) + 1
        assert a == b
        assert any(v["passages"] for v in b.values())
        # resumable: nothing left to do on a second pass, through Dask
        assert extract_pending(dask_store, dask_settings, executor=dask_executor).details["pending"] == 0
    finally:
        local_store.close()
        dask_store.close()


def test_a_crashing_or_hanging_document_is_a_typed_outcome_and_the_rest_complete(dask_executor):
    good = (PDFS / FILES[0]).read_bytes()
    big = b"%PDF-" + b"0" * len(good)
    items = [("die", DIE), ("good-1", good), ("hang", HANG), ("good-2", good), ("big", big)]
    got = {key: result.status for key, result, _ in dask_executor.extract(
        items, timeout_s=3, memory_mb=1024, extractor=misbehaving_extract, max_bytes=len(good))}
    assert got == {"die": "crashed", "good-1": "ok", "hang": "timeout", "good-2": "ok", "big": "too_large"}
    # the cluster is still whole: both workers alive
    assert len(dask_executor.client.scheduler_info()["workers"]) == 2


def test_a_task_that_fails_is_retried_then_recorded_as_crashed(dask_executor):
    # A task that raises on the worker every time (here: a timeout the sandbox cannot use)
    # is tried twice, then comes back as `crashed` with the error, and the next item runs.
    good = (PDFS / FILES[0]).read_bytes()
    got = {key: result for key, result, _ in dask_executor.extract(
        [("x", good)], timeout_s=None, memory_mb=512)}
    assert got["x"].status == "crashed"
    assert "dask task failed after 1 retry" in got["x"].error and "ValueError" in got["x"].error
    again = {key: result.status for key, result, _ in dask_executor.extract(
        [("y", good)], timeout_s=30, memory_mb=1024)}
    assert again == {"y": "ok"}


def test_embeddings_are_the_same_on_dask(dask_executor):
    import gzip
    import json

    from tests.corpus import CORPUS
    texts = []
    with gzip.open(CORPUS / "metadata" / "arxiv_sample.jsonl.gz", "rt") as f:
        for line in f:
            row = json.loads(line)
            texts.append(f"{row.get('title', '')}. {row.get('abstract', '')}")
            if len(texts) >= 64:
                break
    local = LocalExecutor().embed(texts, model="all-MiniLM-L6-v2", batch_size=32)
    remote = dask_executor.embed(texts, model="all-MiniLM-L6-v2", batch_size=32)
    assert remote.shape == local.shape and remote.dtype == np.float32
    assert np.allclose(local, remote, atol=1e-5)


def _vectors(store: Store) -> tuple[list, np.ndarray, list, np.ndarray]:
    """Chunks (without ids and vectors) and paper ids, each with their vectors, in a stable order."""
    chunk_rows = store.query("SELECT paper_id, ord, kind, section_title, page, text, vector FROM chunks "
                             "ORDER BY paper_id, ord")
    paper_rows = store.query("SELECT paper_id, hash, vector FROM paper_vectors ORDER BY paper_id")
    as_matrix = lambda rows: np.array([np.frombuffer(r["vector"], dtype=np.float32) for r in rows])
    return ([tuple(r)[:-1] for r in chunk_rows], as_matrix(chunk_rows),
            [tuple(r)[:-1] for r in paper_rows], as_matrix(paper_rows))


def test_index_pending_gives_the_same_chunks_vectors_and_search_on_dask(tmp_path, dask_executor):
    local_store, local_settings = _seeded_store(tmp_path, "local")
    extract_pending(local_store, local_settings)
    local_store.close()
    shutil.copytree(tmp_path / "local", tmp_path / "dask")  # the same extracted store, twice
    dask_settings = Settings.load(env={"GLEAN_HOME": str(tmp_path / "dask")}, dotenv=tmp_path / "no.env")
    local_store, dask_store = Store(local_settings.home), Store(dask_settings.home)
    try:
        local = index_pending(local_store, local_settings)  # the default executor: local
        remote = index_pending(dask_store, dask_settings, executor=dask_executor)
        assert local.ok and remote.ok
        assert (local.counts.new, local.counts.updated) == (remote.counts.new, remote.counts.updated)
        assert local.details == remote.details and local.details["chunks_written"] > 0

        local_chunks, local_chunk_vectors, local_papers, local_paper_vectors = _vectors(local_store)
        dask_chunks, dask_chunk_vectors, dask_papers, dask_paper_vectors = _vectors(dask_store)
        assert local_chunks == dask_chunks and local_papers == dask_papers
        assert np.allclose(local_chunk_vectors, dask_chunk_vectors, atol=1e-5)
        assert np.allclose(local_paper_vectors, dask_paper_vectors, atol=1e-5)

        def hits(store, settings, q, mode):
            found = Searcher(store, settings).search(SearchQuery(q, mode=mode, limit=10))["results"]
            return [(h["paper_id"], h["kind"], h["page"]) for h in found]

        for q in ("participants were not reading papers that were personally relevant",
                  "highlighting may become over-saturated after prolonged use", "training details"):
            for mode in ("semantic", "hybrid"):
                expected = hits(local_store, local_settings, q, mode)
                assert expected and hits(dask_store, dask_settings, q, mode) == expected
        # resumable: nothing left to embed on a second pass, through Dask
        again = index_pending(dask_store, dask_settings, executor=dask_executor)
        assert (again.counts.new, again.counts.updated, again.details["papers_embedded"]) == (0, 0, 0)
    finally:
        local_store.close()
        dask_store.close()


class _WithExtractor:
    """An executor whose extractions use a given extractor (a fault injector): extract_pending
    passes none, the tests need one that kills the worker process."""

    def __init__(self, inner: DaskExecutor, extractor):
        self.inner, self.extractor, self.name = inner, extractor, inner.name

    def extract(self, items, **options):
        return self.inner.extract(items, extractor=self.extractor, **options)

    def close(self) -> None:
        pass


def test_a_worker_killed_mid_task_is_retried_then_crashed_and_the_rest_complete(tmp_path, cluster, dask_executor):
    client = dask_executor.client
    pids_before = set(client.run(os.getpid).values())
    settings = Settings.load(env={"GLEAN_HOME": str(tmp_path / "home")}, dotenv=tmp_path / "no.env")
    store = Store(settings.home)
    papers = [Paper(id=f"test:{i}", title=f"paper {i}", source="test", pdf_url=f"http://127.0.0.1/{i}.pdf")
              for i in range(4)]
    store.upsert_papers(papers)
    # The killer first, so it starts alone on one worker; one document in flight per thread
    # keeps the good ones off the worker it kills.
    for paper, data in zip(papers, [KILL_PARENT] + [(PDFS / name).read_bytes() for name in FILES[:3]]):
        store.save_pdf(paper, data)
    one_each = DaskExecutor(cluster.scheduler_address, client=client, in_flight_per_thread=1)
    try:
        report = extract_pending(store, settings, executor=_WithExtractor(one_each, misbehaving_extract))

        assert report.ok and report.details["outcomes"] == {"ok": 3, "crashed": 1}
        killed = store.extraction("test:0")
        assert killed["status"] == "crashed" and "Dask worker running it died 2 times" in killed["error"]
        # The worker process itself died (not only the sandbox child), and was replaced.
        client.wait_for_workers(2, timeout=120)
        assert pids_before - set(client.run(os.getpid).values())
        # The store is consistent: one extraction per paper, passages only for the ones read.
        rows = store.query("SELECT paper_id, status FROM extractions ORDER BY paper_id")
        assert [tuple(r) for r in rows] == [("test:0", "crashed"), ("test:1", "ok"), ("test:2", "ok"), ("test:3", "ok")]
        assert store.passages("test:0") == [] and store.sections("test:0") == []
        assert any(store.passages(f"test:{i}") for i in (1, 2, 3))
        assert store.query("PRAGMA integrity_check")[0][0] == "ok"
        assert store.runs("extract")[0]["status"] == "ok"
        # A rerun finishes, with nothing left to do: the crash is a recorded outcome, not a gap.
        rerun = extract_pending(store, settings, executor=dask_executor)
        assert rerun.ok and rerun.details["pending"] == 0
    finally:
        store.close()


def test_a_stuck_worker_runs_into_the_drivers_deadline(cluster, dask_executor):
    client = dask_executor.client
    worker_pids = list(client.run(os.getpid).values())
    good = (PDFS / FILES[0]).read_bytes()
    impatient = DaskExecutor(cluster.scheduler_address, client=client, deadline_grace_s=1.0)
    assert impatient.deadline_s(0.5) == pytest.approx(2.5)  # (2 in flight per thread + 1 retry) × 0.5 s + 1 s
    for pid in worker_pids:  # both workers stop answering; the scheduler still counts them alive
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        got = {key: result for key, result, _ in impatient.extract([("a", good), ("b", good)], timeout_s=0.5,
                                                                    memory_mb=1024)}
        waited = time.monotonic() - started
        # Embedding has its own deadline: the batch is given up and nothing comes back half-done.
        hurried = DaskExecutor(cluster.scheduler_address, client=client, embed_deadline_s=1.0)
        embed_started = time.monotonic()
        with pytest.raises(TimeoutError, match="nothing was written"):
            hurried.embed(["a stuck worker"], model="all-MiniLM-L6-v2", batch_size=8)
        assert time.monotonic() - embed_started < 15
    finally:
        for pid in worker_pids:
            os.kill(pid, signal.SIGCONT)
    assert {key: r.status for key, r in got.items()} == {"a": "timeout", "b": "timeout"}
    assert "driver's deadline" in got["a"].error
    assert 2.5 <= waited < 15
    # The workers were only frozen: once they run again, so does the cluster.
    again = {key: r.status for key, r, _ in dask_executor.extract([("c", good)], timeout_s=30, memory_mb=1024)}
    assert again == {"c": "ok"}


def test_backfill_pdfs_on_the_cluster_through_glean_executor(tmp_path, cluster, capsys):
    store, settings = _seeded_store(tmp_path, "cli")
    store.close()
    env = {"GLEAN_HOME": str(settings.home), "GLEAN_LOG_LEVEL": "WARNING",
           "GLEAN_EXECUTOR": cluster.scheduler_address.replace("tcp://", "dask://")}
    assert main(["backfill", "pdfs", "--batch", "2", "--json"], env=env) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["executor"] == "dask" and (report["planned"], report["batches"]) == (len(FILES) + 1, 3)
    assert report["steps"]["download"]["pending"] == 0  # the PDFs were already in the cache
    assert report["steps"]["extract"]["outcomes"]["ok"] == len(FILES) and report["new"] == len(FILES)
    assert main(["backfill", "pdfs", "--json"], env=env) == 0
    assert json.loads(capsys.readouterr().out)["planned"] == 0
