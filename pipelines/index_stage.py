"""The index stage: embed what is new or changed, then bring the faiss files in line.

Two indexes: ``papers`` (one vector per paper: title and abstract) and ``chunks``
(limitations and appendix text, in paragraph-aware chunks that fit the model's
window). A paper whose text changed (a new version, a new extraction) gets new
vectors and loses its old ones, so nothing stale stays searchable.

Crash safety: vectors are committed to SQLite first with ``indexed = 0``; the
faiss file is written next (atomically, with a new generation number); only then
are the rows marked indexed and the generation recorded. A file whose generation
does not match the store is rebuilt from the stored vectors, without re-embedding.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np

from .embedding import Embedder, chunk_text, get_embedder
from .executor import Executor, executor_from_settings
from .settings import Settings
from .stages import Progress, StageReport, announce, batched, run_stage
from .store import Counts, Store
from .vector_index import VectorIndex, choose_kind

log = logging.getLogger(__name__)

INDEX_NAMES = ("papers", "chunks")
# An HNSW file may hold vectors of deleted rows (it cannot remove them); past this
# share of leftovers it is rebuilt.
MAX_LEFTOVER_SHARE = 0.2


def paper_text(row: dict) -> str:
    """What a paper's vector is made of: title and abstract (classics without one: venue and field)."""
    extra = row["abstract"] or " ".join(x for x in (row.get("venue"), row.get("field")) if x)
    return f"{row['title']}. {extra}".strip()


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _encoder(embedder: Embedder, model: str, batch_size: int, executor: Executor | None):
    """texts → vectors: in this process (as always), or through the executor (a Dask cluster)."""
    if executor is None:
        return lambda texts: embedder.encode(texts, batch_size)
    return lambda texts: executor.embed(texts, model=model, batch_size=batch_size)


def papers_needing_vectors(rows: list[dict], model: str) -> list[tuple[str, str, str, bool]]:
    """(paper_id, hash, text, had a vector before) for the rows whose text changed since their vector."""
    todo = []
    for row in rows:
        text = paper_text(row)
        h = digest(model, text)
        if row["vector_hash"] != h:
            todo.append((row["id"], h, text, row["vector_hash"] is not None))
    return todo


def embed_papers(store: Store, embedder: Embedder, model: str, batch_size: int,
                 progress: Progress | None, executor: Executor | None = None,
                 paper_ids: list[str] | None = None) -> dict[str, bool]:
    """Embed papers whose text changed (only ``paper_ids``, if given); returns {paper_id: had a vector before}."""
    encode = _encoder(embedder, model, batch_size, executor)
    todo = papers_needing_vectors(store.paper_texts(paper_ids), model)
    announce(progress, len(todo), "embed papers")
    for batch in batched(todo, batch_size * 4):
        vectors = encode([t[2] for t in batch])
        store.replace_paper_vectors([(pid, h, vec) for (pid, h, _, _), vec in zip(batch, vectors)])
        if progress:
            progress(len(batch))
    return {pid: existed for pid, _, _, existed in todo}


def chunks_for(passages: list[dict], embedder: Embedder) -> list[dict]:
    chunks = []
    for p in passages:
        for text in chunk_text(p["text"], embedder.count_tokens):
            chunks.append({"kind": p["kind"], "section_title": p["title"], "page": p["page_start"], "text": text})
    return chunks


def papers_needing_chunks(sources: dict[str, dict], model: str) -> list[tuple[str, str, list[dict]]]:
    """(paper_id, hash, passages) for the papers whose passages changed since they were chunked."""
    changed = []
    for paper_id, source in sources.items():
        h = digest(model, *(f"{p['kind']}|{p['title']}|{p['page_start']}|{p['text']}" for p in source["passages"]))
        if h != source["chunk_hash"]:
            changed.append((paper_id, h, source["passages"]))
    return changed


def embed_chunks(store: Store, embedder: Embedder, model: str, batch_size: int,
                 progress: Progress | None, executor: Executor | None = None,
                 paper_ids: list[str] | None = None) -> tuple[list[str], int]:
    """Re-chunk papers whose passages changed (only ``paper_ids``, if given); returns their ids and
    how many chunks were written."""
    encode = _encoder(embedder, model, batch_size, executor)
    changed = papers_needing_chunks(store.passage_sources(paper_ids), model)
    announce(progress, len(changed), "embed passages")
    made = 0
    # A few papers at a time: one encode call over all their chunks keeps batches full.
    for group in batched(changed, 16):
        planned = [(pid, h, chunks_for(passages, embedder)) for pid, h, passages in group]
        texts = [c["text"] for _, _, chunks in planned for c in chunks]
        vectors = iter(encode(texts))
        for pid, h, chunks in planned:
            for chunk in chunks:
                chunk["vector"] = next(vectors)
            store.replace_chunks(pid, h, chunks)
            made += len(chunks)
        if progress:
            progress(len(group))
    return [pid for pid, _, _ in changed], made


def pending_embedding_ids(store: Store, model: str) -> list[str]:
    """Ids of the papers whose vector or chunks are missing or stale, in id order: a bulk driver's plan."""
    stale_vectors = {pid for pid, _, _, _ in papers_needing_vectors(store.paper_texts(), model)}
    stale_chunks = {pid for pid, _, _ in papers_needing_chunks(store.passage_sources(), model)}
    return sorted(stale_vectors | stale_chunks)


def sync_index(store: Store, name: str, *, dimension: int, model: str, exact_max: int) -> dict:
    """Make ``GLEAN_HOME/index/<name>.faiss`` hold exactly the stored vectors."""
    path = store.index_dir / f"{name}.faiss"
    meta = store.index_meta(name)
    loaded = VectorIndex.load(path)
    total = store.vector_count(name)
    kind = choose_kind(total, exact_max)
    consistent = (loaded is not None and meta is not None and loaded.generation == meta["generation"]
                  and loaded.kind == kind)
    generation = (meta["generation"] if meta else 0) + 1
    if consistent:
        stored_ids = store.vector_ids(name)
        gone = np.setdiff1d(loaded.ids(), stored_ids)
        new_ids, new_vectors = store.vectors(name, only_unindexed=True, dimension=dimension)
        if not len(gone) and not len(new_ids):
            return {"index": name, "kind": kind, "size": loaded.size, "action": "unchanged"}
        loaded.remove(gone)
        loaded.add(new_ids, new_vectors)
        leftovers = loaded.size - total
        if leftovers <= MAX_LEFTOVER_SHARE * max(loaded.size, 1):
            loaded.generation = generation
            loaded.save(path)
            store.commit_index(name, generation=generation, model=model, kind=kind, count=total,
                               newly_indexed=new_ids)
            return {"index": name, "kind": kind, "size": loaded.size, "action": "updated",
                    "added": len(new_ids), "removed": len(gone)}
    ids, vectors = store.vectors(name, only_unindexed=False, dimension=dimension)
    rebuilt = VectorIndex.build(kind, dimension, ids, vectors, generation=generation)
    rebuilt.save(path)
    store.commit_index(name, generation=generation, model=model, kind=kind, count=total, newly_indexed=None)
    return {"index": name, "kind": kind, "size": rebuilt.size, "action": "rebuilt"}


def index_pending(store: Store, settings: Settings, *, rebuild: bool = False,
                  progress: Progress | None = None, executor: Executor | None = None,
                  paper_ids: list[str] | None = None, sync: bool = True) -> StageReport:
    """Embed what changed and sync the indexes. Embedding runs through ``executor`` (kept open)
    or the one GLEAN_EXECUTOR names; the local one encodes in this process as before. The
    driver still loads the model: its tokenizer chunks the passages, its dimension sizes the index.
    Vectors come back whole per batch before the driver writes them, so no batch is half-written.

    ``paper_ids`` narrows the work to one batch of a bulk driver's plan; ``sync=False`` leaves the
    faiss files for a later call (the vectors are committed with ``indexed = 0``, so that call,
    or any ``glean index``, adds them)."""
    def body(counts: Counts, details: dict) -> None:
        model = settings.embedding_model
        metas = [store.index_meta(n) for n in INDEX_NAMES]
        if rebuild or any(m and m["model"] != model for m in metas):
            # reset_vectors also forgets the index metadata, so a later batch does not start over again.
            log.info("starting the index over (%s)", "asked to" if rebuild else f"the model is now {model}")
            store.reset_vectors()
            details["started_over"] = True
        embedder = get_embedder(model)
        runner = executor or executor_from_settings(settings)
        remote = None if runner.name == "local" else runner  # local: exactly the in-process path
        try:
            embedded = embed_papers(store, embedder, model, settings.embed_batch, progress, remote, paper_ids)
            rechunked, chunks_written = embed_chunks(store, embedder, model, settings.embed_batch, progress,
                                                     remote, paper_ids)
        finally:
            if executor is None:
                runner.close()
        # Counted per paper: new = first vector; updated = new vector or new chunks for a known paper.
        counts.new = sum(1 for existed in embedded.values() if not existed)
        counts.updated = len({pid for pid, existed in embedded.items() if existed}
                             | {pid for pid in rechunked if pid not in embedded or embedded[pid]})
        details.update(papers_embedded=len(embedded), papers_rechunked=len(rechunked),
                       chunks_written=chunks_written)
        details["indexes"] = [sync_index(store, name, dimension=embedder.dimension, model=model,
                                         exact_max=settings.index_exact_max) for name in INDEX_NAMES] if sync else []

    return run_stage(store, "index", body)
