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
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from .migrations import MIGRATIONS
from .records import Paper


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


class Store:
    """SQLite database plus the PDF cache, both inside the data folder."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.db_path = self.home / "glean.sqlite3"
        self.pdf_dir = self.home / "pdfs"
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
        with self.transaction() as conn:
            cur = conn.execute("INSERT INTO runs (source, started_at, status) VALUES (?, ?, 'running')",
                               (source, utcnow()))
            return cur.lastrowid

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

    def papers_needing_pdf(self, *, max_attempts: int, limit: int | None = None) -> list[Paper]:
        """Papers with a PDF link and no cached PDF, fewest attempts first."""
        sql = ("SELECT p.* FROM papers p LEFT JOIN pdfs d ON d.paper_id = p.id "
               "WHERE p.pdf_url IS NOT NULL AND p.pdf_url != '' "
               "AND (d.paper_id IS NULL OR (d.status != 'ok' AND d.attempts < ?) "
               "     OR (d.status = 'ok' AND d.version < p.version)) "
               "ORDER BY coalesce(d.attempts, 0), p.published DESC, p.id")
        params: list = [max_attempts]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_row_to_paper(r) for r in self.query(sql, params)]

    def pdf_path(self, paper_id: str) -> Path:
        """Where a paper's PDF lives: a hashed fan-out keeps folders small and names safe."""
        digest = hashlib.sha256(paper_id.encode()).hexdigest()
        return self.pdf_dir / digest[:2] / f"{digest}.pdf"

    def save_pdf(self, paper: Paper, data: bytes) -> Path:
        """Write the PDF atomically (temp file + rename), then record it."""
        path = self.pdf_path(paper.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
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

    def pdf_record(self, paper_id: str) -> dict | None:
        rows = self.query("SELECT * FROM pdfs WHERE paper_id=?", (paper_id,))
        return dict(rows[0]) if rows else None

    def pdf_status_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.query("SELECT status, count(*) FROM pdfs GROUP BY status")}
