"""The store's embedding tables: paper vectors, limitation/appendix chunks, index metadata.

A mixin of :class:`pipelines.store.Store`, kept in its own module because it has
one job: vectors in SQLite are the source of truth, the faiss files are caches
that can always be rebuilt from them.
"""

from __future__ import annotations

import json

import numpy as np

# index name -> (table, id column)
INDEX_TABLES = {"papers": ("paper_vectors", "vec_id"), "chunks": ("chunks", "id")}


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def one_of(column: str) -> str:
    """``column`` is one of the ids in a JSON list parameter: one placeholder for a batch of any size."""
    return f"{column} IN (SELECT value FROM json_each(?))"


def _matrix(blobs: list[bytes], dimension: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)


class VectorTables:
    # -- paper vectors (title + abstract) -------------------------------------

    def paper_texts(self, paper_ids: list[str] | None = None) -> list[dict]:
        """Every paper's id (or only ``paper_ids``') and the fields its vector is made from,
        with the hash it was made with."""
        where, params = ("", []) if paper_ids is None else (f" WHERE {one_of('p.id')}", [json.dumps(paper_ids)])
        rows = self.query("SELECT p.id, p.title, p.abstract, p.venue, p.field, v.hash AS vector_hash "
                          f"FROM papers p LEFT JOIN paper_vectors v ON v.paper_id = p.id{where} ORDER BY p.id",
                          params)
        return [dict(r) for r in rows]

    def replace_paper_vectors(self, rows: list[tuple[str, str, np.ndarray]]) -> None:
        """(paper_id, hash, vector) rows; a replaced vector gets a new id, the old one is gone."""
        with self.transaction() as conn:
            for paper_id, digest, vector in rows:
                conn.execute("DELETE FROM paper_vectors WHERE paper_id=?", (paper_id,))
                conn.execute("INSERT INTO paper_vectors (paper_id, hash, vector) VALUES (?, ?, ?)",
                             (paper_id, digest, _blob(vector)))

    # -- chunks of limitations and appendix text ------------------------------------

    def passage_sources(self, paper_ids: list[str] | None = None) -> dict[str, dict]:
        """Per paper with passages or chunks (or only ``paper_ids``): its passages and the hash its
        chunks were made from."""
        where, params = ("", []) if paper_ids is None else (f" WHERE {one_of('paper_id')}", [json.dumps(paper_ids)])
        papers: dict[str, dict] = {}
        for r in self.query(f"SELECT paper_id, kind, title, page_start, text FROM passages{where} "
                            "ORDER BY paper_id, ord", params):
            papers.setdefault(r["paper_id"], {"passages": [], "chunk_hash": None})["passages"].append(dict(r))
        for r in self.query(f"SELECT paper_id, hash FROM chunk_sources{where}", params):
            papers.setdefault(r["paper_id"], {"passages": [], "chunk_hash": None})["chunk_hash"] = r["hash"]
        return papers

    def replace_chunks(self, paper_id: str, source_hash: str, chunks: list[dict]) -> None:
        """Swap a paper's chunks for new ones (each with kind, section_title, page, text, vector)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM chunks WHERE paper_id=?", (paper_id,))
            for ord_, c in enumerate(chunks):
                conn.execute("INSERT INTO chunks (paper_id, ord, kind, section_title, page, text, vector) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (paper_id, ord_, c["kind"], c["section_title"], c["page"], c["text"],
                              _blob(c["vector"])))
            if chunks:
                conn.execute("INSERT INTO chunk_sources (paper_id, hash) VALUES (?, ?) "
                             "ON CONFLICT(paper_id) DO UPDATE SET hash=excluded.hash", (paper_id, source_hash))
            else:
                conn.execute("DELETE FROM chunk_sources WHERE paper_id=?", (paper_id,))

    # -- what the faiss files hold --------------------------------------------------

    def vectors(self, name: str, *, only_unindexed: bool, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        table, id_col = INDEX_TABLES[name]
        where = " WHERE indexed = 0" if only_unindexed else ""
        rows = self.query(f"SELECT {id_col}, vector FROM {table}{where} ORDER BY {id_col}")
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        return ids, _matrix([r[1] for r in rows], dimension)

    def vector_ids(self, name: str) -> np.ndarray:
        table, id_col = INDEX_TABLES[name]
        return np.array([r[0] for r in self.query(f"SELECT {id_col} FROM {table}")], dtype=np.int64)

    def vector_count(self, name: str) -> int:
        table, _ = INDEX_TABLES[name]
        return self.query(f"SELECT count(*) FROM {table}")[0][0]

    def index_meta(self, name: str) -> dict | None:
        rows = self.query("SELECT * FROM index_meta WHERE name=?", (name,))
        return dict(rows[0]) if rows else None

    def commit_index(self, name: str, *, generation: int, model: str, kind: str, count: int,
                     newly_indexed: np.ndarray | None) -> None:
        """After the faiss file of ``generation`` is on disk: mark its rows and record it."""
        table, id_col = INDEX_TABLES[name]
        with self.transaction() as conn:
            if newly_indexed is None:  # a full rebuild holds every row
                conn.execute(f"UPDATE {table} SET indexed = 1")
            else:
                conn.executemany(f"UPDATE {table} SET indexed = 1 WHERE {id_col} = ?",
                                 [(int(i),) for i in newly_indexed])
            conn.execute("INSERT INTO index_meta (name, generation, model, kind, count) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT(name) DO UPDATE SET generation=excluded.generation, model=excluded.model, "
                         "kind=excluded.kind, count=excluded.count", (name, generation, model, kind, count))

    def reset_vectors(self) -> None:
        """Forget every vector and chunk (``glean index --rebuild``, or a new model)."""
        with self.transaction() as conn:
            for statement in ("DELETE FROM paper_vectors", "DELETE FROM chunks", "DELETE FROM chunk_sources",
                              "DELETE FROM index_meta"):
                conn.execute(statement)

    # -- what search needs back ---------------------------------------------------------

    def chunk_hits(self, ids: list[int]) -> dict[int, dict]:
        """Chunks by id with what search filters on (no text: a search looks at up to 2,000 and
        shows 20); ids no longer in the store are simply absent."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.query(
            f"SELECT c.id, c.paper_id, c.kind, c.section_title, c.page, p.year, p.categories, p.field, p.source "
            # SQLite's planner would read the table rows by rowid; the covering indexes
            # (migration 7) answer from a few cached pages instead.
            f"FROM chunks c INDEXED BY chunks_search JOIN papers p INDEXED BY papers_search "
            f"ON p.id = c.paper_id WHERE c.id IN ({marks})", ids)
        return {r["id"]: dict(r) for r in rows}

    def chunk_texts(self, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {r[0]: r[1] for r in self.query(f"SELECT id, text FROM chunks WHERE id IN ({marks})", ids)}

    def paper_vector_ids(self, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.query(f"SELECT vec_id, paper_id FROM paper_vectors WHERE vec_id IN ({marks})", ids)
        return {r[0]: r[1] for r in rows}

    def dated_paper_vectors(self, since: str, dimension: int) -> dict:
        """Paper vectors of papers published on or after ``since``, with dates, categories and titles."""
        rows = self.query("SELECT v.paper_id, v.vector, p.published, p.primary_category, p.field, p.title, p.authors "
                          "FROM paper_vectors v JOIN papers p ON p.id = v.paper_id "
                          "WHERE p.published >= ? ORDER BY p.published, p.id", (since,))
        return {"ids": [r["paper_id"] for r in rows], "vectors": _matrix([r["vector"] for r in rows], dimension),
                "published": [r["published"] for r in rows],
                "category": [r["primary_category"] or r["field"] or "" for r in rows],
                "title": [r["title"] for r in rows], "authors": [json.loads(r["authors"] or "[]") for r in rows]}

    def paper_vectors_for(self, paper_ids: list[str], dimension: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(paper_ids), 900):  # SQLite's bound-parameter limit
            part = paper_ids[start:start + 900]
            marks = ",".join("?" * len(part))
            for r in self.query(f"SELECT paper_id, vector FROM paper_vectors WHERE paper_id IN ({marks})", part):
                out[r[0]] = np.frombuffer(r[1], dtype=np.float32)
        return out
