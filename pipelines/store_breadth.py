"""The store's queries for the subfield breadth report (service/breadth.py).

A mixin of :class:`pipelines.store.Store`: reads only. Subfield centroids need
every categorised paper's vector once, so that query streams rows instead of
building one large matrix; placing reads needs each read's categories (and a
vector only where there is no category); entry papers for "neighbouring
territory" need the classic and recent papers of a few categories, minus what
the user has read.
"""

from __future__ import annotations

import json
from typing import Iterator

import numpy as np


class BreadthTables:
    def categorised_vectors(self, batch: int = 2000) -> Iterator[tuple[str, np.ndarray]]:
        """(primary_category, vector) of every paper that has both, streamed in batches of rows."""
        cursor = self._connect().execute(
            "SELECT p.primary_category, v.vector FROM paper_vectors v JOIN papers p ON p.id = v.paper_id "
            "WHERE p.primary_category IS NOT NULL AND p.primary_category != '' ORDER BY v.vec_id")
        try:
            while True:
                rows = cursor.fetchmany(batch)
                if not rows:
                    return
                for category, blob in rows:
                    yield category, np.frombuffer(blob, dtype=np.float32)
        finally:
            cursor.close()

    def entry_paper_candidates(self, categories: list[str], *, recent_since: str,
                               unread_by: int | None = None) -> list[dict]:
        """Papers with a vector whose primary category is one of ``categories`` and that are classics or
        were published on or after ``recent_since``; papers ``unread_by`` has read are left out.

        Each row: paper_id, title, year, published, primary_category, is_classic (bool), abs_url, vector.
        """
        if not categories:
            return []
        out: list[dict] = []
        for start in range(0, len(categories), 500):
            part = categories[start:start + 500]
            marks = ",".join("?" * len(part))
            sql = (f"SELECT p.id AS paper_id, p.title, p.year, p.published, p.primary_category, p.is_classic, "
                   f"p.abs_url, v.vector FROM papers p JOIN paper_vectors v ON v.paper_id = p.id "
                   f"WHERE p.primary_category IN ({marks}) AND (p.is_classic = 1 OR p.published >= ?)")
            params: list = [*part, recent_since]
            if unread_by is not None:
                sql += " AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.user_id = ? AND r.paper_id = p.id)"
                params.append(unread_by)
            for r in self.query(sql + " ORDER BY p.id", params):
                row = dict(r)
                row["is_classic"] = bool(row["is_classic"])
                row["vector"] = np.frombuffer(row["vector"], dtype=np.float32)
                out.append(row)
        return out

    def breadth_reads(self, user_id: int | None = None, *, all_vectors: bool = False) -> list[dict]:
        """Reads with what placing them in a subfield needs, of one user or (``user_id=None``) of everyone.

        Each row: user_id, paper_id, read_at, primary_category, categories (a list) and vector (a float32
        array, or None when the paper is not embedded). Unless ``all_vectors``, only papers without a
        primary category come with their vector: the others are placed by category, and a whole
        population's vectors would not fit in memory.
        """
        vector = "v.vector" if all_vectors else \
            "CASE WHEN p.primary_category IS NULL OR p.primary_category = '' THEN v.vector END"
        sql = (f"SELECT r.user_id, r.paper_id, r.read_at, p.primary_category, p.categories, {vector} AS vector "
               f"FROM reads r JOIN papers p ON p.id = r.paper_id LEFT JOIN paper_vectors v ON v.paper_id = r.paper_id")
        params: tuple = ()
        if user_id is not None:
            sql += " WHERE r.user_id = ?"
            params = (user_id,)
        out = []
        for r in self.query(sql + " ORDER BY r.user_id, r.read_at, r.paper_id", params):
            out.append({"user_id": r["user_id"], "paper_id": r["paper_id"], "read_at": r["read_at"],
                        "primary_category": r["primary_category"], "categories": json.loads(r["categories"] or "[]"),
                        "vector": None if r["vector"] is None else np.frombuffer(r["vector"], dtype=np.float32)})
        return out
