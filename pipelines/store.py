"""The one module that owns storage: the SQLite database and the PDF cache.

Nothing else in Glean writes SQL or builds paths inside the data folder. The
database runs in WAL mode so the HTTP server can read while a pipeline writes;
each write that covers records *and* a source's checkpoint happens in one
transaction, so a crash leaves either both or neither.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from .files import create_private_file, lock_down, private_folder, write_private
from .migrations import MIGRATIONS
from .records import Paper
from .store_breadth import BreadthTables
from .store_outbox import OutboxTables
from .store_users import UserTables
from .store_trend import TrendTables
from .store_vectors import VectorTables, one_of
from .store_weekly import WeeklyTables


def _this_process() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Counts:
    """What a stage changed. Downstream stages run only when something did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, other: "Counts") -> None:
        for name in ("new", "updated", "unchanged", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


_PAPER_FIELDS = [f.name for f in fields(Paper)]
_JSON_FIELDS = {"authors", "categories"}
# Fields a second source may only fill in, never overwrite: the source that first
# found a paper stays authoritative, so two sources cannot flip a record back and forth.
_FIRST_SOURCE_WINS = {"source"}


def _paper_to_row(paper: Paper) -> dict:
    row = asdict(paper)
    for name in _JSON_FIELDS:
        row[name] = json.dumps(row[name], ensure_ascii=False)
    row["is_classic"] = int(paper.is_classic)
    return row


# The backlog conditions, shared by the stage queries and the bulk driver's plan (aliases:
# p = papers, d = pdfs, e = extractions). Parameters: max attempts; extractor version.
_NEEDS_PDF = ("p.pdf_url IS NOT NULL AND p.pdf_url != '' "
              "AND (d.paper_id IS NULL OR (d.status != 'ok' AND d.attempts < ?) "
              "     OR (d.status = 'ok' AND d.version < p.version))")
_NEEDS_EXTRACTION = "e.paper_id IS NULL OR e.pdf_version < d.version OR e.extractor_version < ?"


def _narrowed(sql: str, params: list, *, paper_ids: list[str] | None, order: str,
              limit: int | None) -> tuple[str, list]:
    """``sql`` limited to ``paper_ids`` (papers aliased ``p``) when given, ordered, cut to ``limit``."""
    if paper_ids is not None:
        sql += f" AND {one_of('p.id')}"
        params = [*params, json.dumps(paper_ids)]
    sql += f" ORDER BY {order}"
    if limit is not None:
        sql += " LIMIT ?"
        params = [*params, limit]
    return sql, params


def _row_to_paper(row: sqlite3.Row) -> Paper:
    values = {name: row[name] for name in _PAPER_FIELDS}
    for name in _JSON_FIELDS:
        values[name] = json.loads(values[name] or "[]")
    values["is_classic"] = bool(values["is_classic"])
    return Paper(**values)


def _is_empty(value) -> bool:
    return value is None or value == "" or value == [] or value == "[]"


def merge_paper(stored: Paper, incoming: Paper) -> Paper | None:
    """The record to keep when ``incoming`` meets ``stored``; None when nothing changes.

    Newer versions win; an older version is ignored. From the same source the
    incoming values win; from another source they only fill gaps, so a paper known
    to both the canon and arXiv is stable across reruns of either.
    """
    if incoming.version < stored.version:
        return None
    same_source = incoming.source == stored.source or incoming.version > stored.version
    merged = asdict(stored)
    for name, value in asdict(incoming).items():
        if name in _FIRST_SOURCE_WINS or _is_empty(value):
            continue
        if same_source or _is_empty(merged[name]):
            merged[name] = value
    merged["is_classic"] = stored.is_classic or incoming.is_classic
    result = Paper(**merged)
    return None if result == stored else result


class Store(VectorTables, UserTables, TrendTables, OutboxTables, WeeklyTables, BreadthTables):
    """SQLite database plus the PDF cache, both inside the data folder."""

    def __init__(self, home: Path):
        self.home = Path(home)
        lock_down(self.home)  # 0700, and files from older versions tightened to 0600
        self.db_path = self.home / "glean.sqlite3"
        create_private_file(self.db_path)  # SQLite gives its -wal and -shm files this file's mode
        self.pdf_dir = self.home / "pdfs"
        self.index_dir = self.home / "index"
        self._local = threading.local()
        self._migrate()

    # -- connections -------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            # SQLite may have rolled back already (a full disk, an I/O error); a second
            # ROLLBACK would raise "cannot rollback" and hide the error that matters.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        return self._connect().execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _migrate(self) -> None:
        with self.transaction() as conn:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in script:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={version}")

    @property
    def schema_version(self) -> int:
        return self.query("PRAGMA user_version")[0][0]

    # -- papers ------------------------------------------------------------

    def upsert_papers(self, papers: Iterable[Paper], *, checkpoint: tuple[str, str] | None = None) -> Counts:
        """Insert or update papers and (optionally) move a checkpoint, atomically."""
        counts = Counts()
        now = utcnow()
        with self.transaction() as conn:
            for paper in papers:
                row = conn.execute("SELECT * FROM papers WHERE id=?", (paper.id,)).fetchone()
                if row is None:
                    self._write_paper(conn, paper, now, insert=True)
                    counts.new += 1
                    continue
                merged = merge_paper(_row_to_paper(row), paper)
                if merged is None:
                    counts.unchanged += 1
                else:
                    self._write_paper(conn, merged, now, insert=False)
                    counts.updated += 1
            if checkpoint is not None:
                self._set_checkpoint(conn, *checkpoint)
        return counts

    @staticmethod
    def _write_paper(conn: sqlite3.Connection, paper: Paper, now: str, *, insert: bool) -> None:
        row = _paper_to_row(paper)
        row["changed_at"] = now
        if insert:
            row["first_seen"] = now
            names = ", ".join(row)
            marks = ", ".join(f":{k}" for k in row)
            conn.execute(f"INSERT INTO papers ({names}) VALUES ({marks})", row)
        else:
            assignments = ", ".join(f"{k}=:{k}" for k in row if k != "id")
            conn.execute(f"UPDATE papers SET {assignments} WHERE id=:id", row)

    def get_paper(self, paper_id: str) -> Paper | None:
        rows = self.query("SELECT * FROM papers WHERE id=?", (paper_id,))
        return _row_to_paper(rows[0]) if rows else None

    def paper_by_doi(self, doi: str) -> Paper | None:
        rows = self.query("SELECT * FROM papers WHERE doi=? ORDER BY id LIMIT 1", (doi.lower(),))
        return _row_to_paper(rows[0]) if rows else None

    def count_papers(self, source: str | None = None) -> int:
        if source is None:
            return self.query("SELECT count(*) FROM papers")[0][0]
        return self.query("SELECT count(*) FROM papers WHERE source=?", (source,))[0][0]

    def paper_counts_by_source(self) -> dict[str, int]:
        """Papers per source, all feeds counted together as 'feeds'."""
        rows = self.query("SELECT CASE WHEN source LIKE 'feed:%' THEN 'feeds' ELSE source END, count(*) "
                          "FROM papers GROUP BY 1")
        return {row[0]: row[1] for row in rows}

    def paper_ids(self) -> list[str]:
        return [r[0] for r in self.query("SELECT id FROM papers ORDER BY id")]

    # -- checkpoints ---------------------------------------------------------

    def get_checkpoint(self, source: str) -> str | None:
        rows = self.query("SELECT value FROM checkpoints WHERE source=?", (source,))
        return rows[0][0] if rows else None

    def set_checkpoint(self, source: str, value: str) -> None:
        with self.transaction() as conn:
            self._set_checkpoint(conn, source, value)

    @staticmethod
    def _set_checkpoint(conn: sqlite3.Connection, source: str, value: str) -> None:
        conn.execute(
            "INSERT INTO checkpoints (source, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(source) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
            (source, value, utcnow()),
        )

    # -- pipeline runs -------------------------------------------------------

    def start_run(self, source: str) -> int:
        """A new 'running' row, noting which process runs it (so a crash can be told later)."""
        self.mark_interrupted_runs()
        with self.transaction() as conn:
            cur = conn.execute("INSERT INTO runs (source, started_at, status, details) VALUES (?, ?, 'running', ?)",
                               (source, utcnow(), json.dumps(_this_process())))
            return cur.lastrowid

    def mark_interrupted_runs(self) -> int:
        """Runs still 'running' whose process on this host has ended (killed, crashed) become
        'interrupted', so they do not look alive until the next run of their stage finishes."""
        me = _this_process()
        ended = []
        for row in self.query("SELECT id, details FROM runs WHERE status='running'"):
            started_by = json.loads(row["details"] or "{}")
            pid = started_by.get("pid")
            if started_by.get("host") == me["host"] and isinstance(pid, int) and not _process_alive(pid):
                ended.append((row["id"], pid))
        if ended:
            with self.transaction() as conn:
                conn.executemany(
                    "UPDATE runs SET status='interrupted', finished_at=?, error=? WHERE id=? AND status='running'",
                    [(utcnow(), f"interrupted: its process (pid {pid}) ended before the run finished", run_id)
                     for run_id, pid in ended])
        return len(ended)

    def finish_run(self, run_id: int, counts: Counts, *, error: str | None = None,
                   details: dict | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at=?, status=?, new=?, updated=?, unchanged=?, failed=?, "
                "error=?, details=? WHERE id=?",
                (utcnow(), "failed" if error else "ok", counts.new, counts.updated, counts.unchanged,
                 counts.failed, error, json.dumps(details or {}), run_id),
            )

    def runs(self, source: str | None = None, limit: int = 50) -> list[dict]:
        sql = "SELECT * FROM runs"
        params: tuple = ()
        if source:
            sql += " WHERE source=?"
            params = (source,)
        rows = self.query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [dict(r) for r in rows]

    def source_summary(self, source: str) -> dict:
        """The last run of a source, and when it last brought anything new."""
        last = self.runs(source, limit=1)
        productive = self.query(
            "SELECT max(finished_at) FROM runs WHERE source=? AND status='ok' AND (new>0 OR updated>0)",
            (source,))[0][0]
        last_ok = self.query("SELECT max(finished_at) FROM runs WHERE source=? AND status='ok'",
                             (source,))[0][0]
        first = self.query("SELECT min(started_at) FROM runs WHERE source=?", (source,))[0][0]
        return {"last_run": last[0] if last else None, "last_new_at": productive, "last_ok_at": last_ok,
                "first_run_at": first}

    # -- feed HTTP caching state -----------------------------------------------

    def get_feed_state(self, url: str) -> dict:
        rows = self.query("SELECT * FROM feed_state WHERE url=?", (url,))
        return dict(rows[0]) if rows else {}

    def set_feed_state(self, url: str, *, etag: str | None, last_modified: str | None,
                       status: str, bozo: str | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO feed_state (url, etag, last_modified, last_status, bozo, fetched_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET etag=excluded.etag, "
                "last_modified=excluded.last_modified, last_status=excluded.last_status, "
                "bozo=excluded.bozo, fetched_at=excluded.fetched_at",
                (url, etag, last_modified, status, bozo, utcnow()),
            )

    # -- PDF cache -------------------------------------------------------------

    def papers_needing_pdf(self, *, max_attempts: int, limit: int | None = None,
                           paper_ids: list[str] | None = None) -> list[Paper]:
        """Papers with a PDF link and no cached PDF, fewest attempts first (only ``paper_ids``, if given)."""
        sql = ("SELECT p.* FROM papers p LEFT JOIN pdfs d ON d.paper_id = p.id "
               f"WHERE {_NEEDS_PDF}")
        sql, params = _narrowed(sql, [max_attempts], paper_ids=paper_ids, limit=limit,
                                order="coalesce(d.attempts, 0), p.published DESC, p.id")
        return [_row_to_paper(r) for r in self.query(sql, params)]

    def full_text_backlog(self, *, max_attempts: int, extractor_version: int,
                          limit: int | None = None) -> list[str]:
        """Ids of papers whose full text is still to come: a PDF to download, or one to extract.

        Ids only, so a bulk driver can plan a backlog of millions; the order is the
        download order of :meth:`papers_needing_pdf` (never-tried papers first).
        """
        sql = ("SELECT p.id FROM papers p LEFT JOIN pdfs d ON d.paper_id = p.id "
               "LEFT JOIN extractions e ON e.paper_id = p.id "
               f"WHERE ({_NEEDS_PDF}) OR (d.status = 'ok' AND ({_NEEDS_EXTRACTION})) "
               "ORDER BY coalesce(d.attempts, 0), p.published DESC, p.id")
        params: list = [max_attempts, extractor_version]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [r[0] for r in self.query(sql, params)]

    def pdf_path(self, paper_id: str) -> Path:
        """Where a paper's PDF lives: a hashed fan-out keeps folders small and names safe."""
        digest = hashlib.sha256(paper_id.encode()).hexdigest()
        return self.pdf_dir / digest[:2] / f"{digest}.pdf"

    def save_pdf(self, paper: Paper, data: bytes) -> Path:
        """Write the PDF atomically (temp file + rename), then record it."""
        path = self.pdf_path(paper.id)
        write_private(private_folder(path.parent) / path.name, data)
        self._record_pdf(paper, "ok", None, len(data), hashlib.sha256(data).hexdigest())
        return path

    def record_pdf_failure(self, paper: Paper, status: str, error: str) -> None:
        self._record_pdf(paper, status, error, None, None)

    def _record_pdf(self, paper: Paper, status: str, error: str | None,
                    size: int | None, sha256: str | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO pdfs (paper_id, version, status, error, bytes, sha256, attempts, fetched_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT(paper_id) DO UPDATE SET "
                "version=excluded.version, status=excluded.status, error=excluded.error, "
                "bytes=excluded.bytes, sha256=excluded.sha256, fetched_at=excluded.fetched_at, "
                "attempts=CASE WHEN excluded.status='ok' THEN pdfs.attempts ELSE pdfs.attempts + 1 END",
                (paper.id, paper.version, status, error, size, sha256, utcnow()),
            )

    def forget_pdf(self, paper_id: str) -> None:
        """Drop the record of a cached PDF (its file is gone), so it is downloaded again."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM pdfs WHERE paper_id=?", (paper_id,))

    def pdf_record(self, paper_id: str) -> dict | None:
        rows = self.query("SELECT * FROM pdfs WHERE paper_id=?", (paper_id,))
        return dict(rows[0]) if rows else None

    def pdf_status_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.query("SELECT status, count(*) FROM pdfs GROUP BY status")}

    # -- extraction ------------------------------------------------------------

    def papers_needing_extraction(self, extractor_version: int, limit: int | None = None,
                                  paper_ids: list[str] | None = None) -> list[dict]:
        """Downloaded PDFs never extracted, extracted from an older PDF version, or by an older extractor
        (only ``paper_ids``, if given)."""
        sql = ("SELECT p.id AS paper_id, d.version AS pdf_version FROM papers p "
               "JOIN pdfs d ON d.paper_id = p.id AND d.status = 'ok' "
               "LEFT JOIN extractions e ON e.paper_id = p.id "
               f"WHERE ({_NEEDS_EXTRACTION})")
        sql, params = _narrowed(sql, [extractor_version], paper_ids=paper_ids, limit=limit, order="p.id")
        return [dict(r) for r in self.query(sql, params)]

    def save_extraction(self, paper_id: str, *, pdf_version: int, extractor_version: int, status: str,
                        error: str | None, pages: int | None, title: str | None, elapsed_ms: int,
                        sections: list[dict], passages: list[dict]) -> bool:
        """Replace everything extracted from a paper, atomically. True if it had been extracted before."""
        with self.transaction() as conn:
            existed = conn.execute("SELECT 1 FROM extractions WHERE paper_id=?", (paper_id,)).fetchone() is not None
            conn.execute("DELETE FROM sections WHERE paper_id=?", (paper_id,))
            conn.execute("DELETE FROM passages WHERE paper_id=?", (paper_id,))
            # The chunks were cut from the old text: until the next index run re-chunks the new
            # one, search must not show the old version. Without a chunk source the paper is
            # stale to the indexer, and the faiss file's ids for these rows find nothing.
            conn.execute("DELETE FROM chunks WHERE paper_id=?", (paper_id,))
            conn.execute("DELETE FROM chunk_sources WHERE paper_id=?", (paper_id,))
            conn.execute(
                "INSERT INTO extractions (paper_id, pdf_version, extractor_version, status, error, pages, title, "
                "elapsed_ms, extracted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(paper_id) DO UPDATE SET "
                "pdf_version=excluded.pdf_version, extractor_version=excluded.extractor_version, "
                "status=excluded.status, error=excluded.error, pages=excluded.pages, title=excluded.title, "
                "elapsed_ms=excluded.elapsed_ms, extracted_at=excluded.extracted_at",
                (paper_id, pdf_version, extractor_version, status, error, pages, title, elapsed_ms, utcnow()))
            for ord_, s in enumerate(sections):
                conn.execute("INSERT INTO sections (paper_id, ord, title, number, level, kind, page_start, "
                             "page_end, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (paper_id, ord_, s["title"], s.get("number"), s.get("level"), s["kind"],
                              s["page_start"], s["page_end"], s["text"]))
            for ord_, p in enumerate(passages):
                conn.execute("INSERT INTO passages (paper_id, ord, kind, form, title, page_start, page_end, text) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (paper_id, ord_, p["kind"], p.get("form"), p.get("title"), p["page_start"],
                              p["page_end"], p["text"]))
        return existed

    def extraction(self, paper_id: str) -> dict | None:
        rows = self.query("SELECT * FROM extractions WHERE paper_id=?", (paper_id,))
        return dict(rows[0]) if rows else None

    def sections(self, paper_id: str) -> list[dict]:
        return [dict(r) for r in self.query("SELECT * FROM sections WHERE paper_id=? ORDER BY ord", (paper_id,))]

    def passages(self, paper_id: str) -> list[dict]:
        return [dict(r) for r in self.query("SELECT * FROM passages WHERE paper_id=? ORDER BY ord", (paper_id,))]

    def extraction_status_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.query("SELECT status, count(*) FROM extractions GROUP BY status")}

    # -- keyword search ----------------------------------------------------------

    def keyword_passages(self, match: str, *, kinds: tuple[str, ...], year_from: int | None = None,
                         year_to: int | None = None, category: str | None = None, source: str | None = None,
                         limit: int = 200, scan_max: int | None = None, ranked: bool = True) -> list[dict]:
        """BM25 over passage titles and text (FTS5 MATCH syntax in ``match``), best first, filtered.

        ``scan_max`` bounds the work: only the newest ``scan_max`` matching passages (by
        rowid, i.e. extraction order) are scored. bm25() reads each match's positions, so
        scoring every passage that holds a common word grows with the corpus.
        No snippet() here: it re-reads and re-tokenises each passage (≈ 0.7 ms each); the
        searcher makes snippets for the few passages it shows. ``ranked=False`` skips BM25
        (which reads every query word's whole posting list): the newest matches, newest first.
        """
        where, params = _paper_filters(year_from, year_to, category, source)
        kind_marks = ",".join("?" * len(kinds))
        papers_join = "JOIN papers p ON p.id = ps.paper_id " if where else ""  # only filters need it
        score = "bm25(passages_fts, 2.0, 1.0)" if ranked else "NULL"
        inner = (f"SELECT ps.id AS passage_id, ps.paper_id, ps.kind, ps.title AS section, "
                 f"ps.page_start AS page, {score} AS bm25 "
                 f"FROM passages_fts JOIN passages ps ON ps.id = passages_fts.rowid {papers_join}"
                 f"WHERE passages_fts MATCH ? AND ps.kind IN ({kind_marks}){where}")
        args = [match, *kinds, *params]
        if not ranked:
            sql = f"{inner} ORDER BY passages_fts.rowid DESC LIMIT ?"
        elif scan_max is None:
            sql = f"{inner} ORDER BY bm25 LIMIT ?"
        else:
            sql = f"SELECT * FROM ({inner} ORDER BY passages_fts.rowid DESC LIMIT ?) ORDER BY bm25 LIMIT ?"
            args.append(scan_max)
        return [dict(r) for r in self.query(sql, [*args, limit])]

    def bm25_of(self, match: str, passage_ids: list[int]) -> dict[int, float]:
        """BM25 (lower is better) of the given passages for ``match``; passages it misses are absent."""
        if not passage_ids:
            return {}
        marks = ",".join("?" * len(passage_ids))
        rows = self.query(f"SELECT rowid, bm25(passages_fts, 2.0, 1.0) FROM passages_fts "
                          f"WHERE passages_fts MATCH ? AND rowid IN ({marks})", [match, *passage_ids])
        return {r[0]: r[1] for r in rows}

    def passages_matching(self, terms: list[str], *, cap: int) -> dict[str, int]:
        """How many passages hold each term (a quoted FTS5 phrase), counted up to ``cap`` + 1.

        Counting stops early, so a common term costs no more than a rare one (≈ 0.4 ms at
        45,000 passages): enough to tell which words are rare enough to search by.
        """
        return {term: self.query("SELECT count(*) FROM (SELECT rowid FROM passages_fts WHERE passages_fts "
                                 "MATCH ? LIMIT ?)", (f'"{term}"', cap + 1))[0][0] for term in terms}

    def passage_texts(self, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {r[0]: r[1] for r in self.query(f"SELECT id, text FROM passages WHERE id IN ({marks})", ids)}

    def candidate_pools(self, *, since: str, until: str, cross_since: str) -> list[tuple[str, Paper]]:
        """(pool, paper) for the ranker: new arXiv papers, the classics, recent cross-field feed items."""
        rows = self.query(
            "SELECT *, CASE WHEN is_classic = 1 THEN 'classic' WHEN source LIKE 'feed:%' THEN 'cross-field' "
            "ELSE 'new' END AS pool FROM papers WHERE is_classic = 1 "
            "OR (source LIKE 'feed:%' AND published >= ? AND published <= ?) "
            "OR (source NOT LIKE 'feed:%' AND published >= ? AND published <= ?)",
            (cross_since, until, since, until))
        return [(r["pool"], _row_to_paper(r)) for r in rows]

    def classic_papers(self) -> list[Paper]:
        return [_row_to_paper(r) for r in self.query("SELECT * FROM papers WHERE is_classic = 1 ORDER BY id")]

    def recent_paper_ids(self, since: str, until: str) -> list[str]:
        rows = self.query("SELECT id FROM papers WHERE is_classic = 0 AND published >= ? AND published <= ? "
                          "ORDER BY id", (since, until))
        return [r[0] for r in rows]

    def papers_by_id(self, ids: list[str]) -> dict[str, Paper]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {r["id"]: _row_to_paper(r) for r in self.query(f"SELECT * FROM papers WHERE id IN ({marks})", ids)}


def _paper_filters(year_from, year_to, category, source) -> tuple[str, list]:
    """SQL conditions on the papers table ``p`` for search filters."""
    clauses, params = [], []
    if year_from is not None:
        clauses.append("p.year >= ?")
        params.append(year_from)
    if year_to is not None:
        clauses.append("p.year <= ?")
        params.append(year_to)
    if category:
        clauses.append("(EXISTS (SELECT 1 FROM json_each(p.categories) WHERE value = ?) OR lower(p.field) = lower(?))")
        params += [category, category]
    if source:
        clauses.append("(p.source = ? OR (? = 'feeds' AND p.source LIKE 'feed:%'))")
        params += [source, source]
    return "".join(f" AND {c}" for c in clauses), params
