"""The Dask executor against the local one, on a real LocalCluster (2 worker processes, loopback).

The same corpus PDFs extracted through each executor into separate stores give identical
sections and passages; the same texts give the same vectors; a document that kills its
sandbox, or hangs, comes back as a typed outcome while the rest complete.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.executor import (
    DaskExecutor,
    ExecutorSpecError,
    LocalExecutor,
    executor_for,
    parse_spec,
)
from pipelines.extract.faults import DIE, HANG, misbehaving_extract
from pipelines.extract_stage import extract_pending
from pipelines.records import Paper
from pipelines.settings import Settings
from pipelines.store import Store
from tests.corpus import PDFS

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

FILES = ["modern/arxiv_2302.07302v1_citesee.pdf", "modern/arxiv_2203.00130v1_paper_plain.pdf",
         "modern/arxiv_1111.2011v2.pdf", "modern/acl_2023.eacl-main.121.pdf"]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
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
    assert "dask task failed after 1 retry" in got["x"].error and "TypeError" in got["x"].error
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
