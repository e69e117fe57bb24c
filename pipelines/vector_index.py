"""A faiss index of unit vectors keyed by SQLite row ids, persisted atomically.

Inner product on unit vectors is cosine similarity. Below ``exact_max`` vectors
the index is exact (flat); above it, HNSW (graph search, sub-millisecond at
recall@10 around 0.95+). The threshold comes from benchmarks/bench_search.py.
Rows deleted from SQLite may linger in an HNSW graph (it cannot remove vectors);
search drops ids SQLite no longer knows, and the stage rebuilds the file when too
many such leftovers accumulate.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from .files import private_folder, private_temp, write_private

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96


def choose_kind(count: int, exact_max: int) -> str:
    return "flat" if count <= exact_max else "hnsw"


def _empty(kind: str, dimension: int) -> faiss.Index:
    if kind == "flat":
        inner = faiss.IndexFlatIP(dimension)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    return faiss.IndexIDMap2(inner)


@dataclass
class VectorIndex:
    index: faiss.Index
    kind: str
    generation: int = 0

    @classmethod
    def build(cls, kind: str, dimension: int, ids: np.ndarray, vectors: np.ndarray,
              generation: int = 0) -> "VectorIndex":
        built = cls(_empty(kind, dimension), kind, generation)
        built.add(ids, vectors)
        return built

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> bool:
        """Remove ids if the index kind can; False means they stay until a rebuild."""
        if self.kind != "flat" or not len(ids):
            return False
        self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))
        return True

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids of the ``k`` nearest vectors to each query row (id -1: no more)."""
        if self.size == 0:
            return np.zeros((len(query), 0), dtype=np.float32), np.zeros((len(query), 0), dtype=np.int64)
        return self.index.search(np.ascontiguousarray(query, dtype=np.float32), min(k, self.size))

    def save(self, path: Path) -> None:
        """Write index and sidecar through temporary files and renames: readers see old or new, never half."""
        private_folder(path.parent)
        tmp = private_temp(path.parent, path.name)  # 0600 before faiss writes into it
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, path)
        meta = {"generation": self.generation, "kind": self.kind, "size": self.size}
        write_private(_sidecar(path), json.dumps(meta).encode())

    @classmethod
    def load(cls, path: Path) -> "VectorIndex | None":
        """The saved index, or None when there is none or it cannot be read."""
        sidecar = _sidecar(path)
        if not path.is_file() or not sidecar.is_file():
            return None
        try:
            meta = json.loads(sidecar.read_text())
            index = faiss.read_index(str(path))
        except (OSError, ValueError, RuntimeError):
            return None
        loaded = cls(index, meta["kind"], int(meta["generation"]))
        if loaded.kind == "hnsw":
            faiss.downcast_index(loaded.index.index).hnsw.efSearch = HNSW_EF_SEARCH
        return loaded


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")
