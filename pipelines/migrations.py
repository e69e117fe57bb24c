"""Schema migrations, applied in order; ``PRAGMA user_version`` records how far.

Append a new list of statements to change the schema; never edit a released one.
"""

MIGRATIONS: list[list[str]] = [
    # 1: papers, checkpoints, pipeline runs, feed caching state, the PDF cache.
    [
        """CREATE TABLE papers (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            source TEXT NOT NULL,
            abstract TEXT NOT NULL DEFAULT '',
            authors TEXT NOT NULL DEFAULT '[]',
            published TEXT,
            updated TEXT,
            year INTEGER,
            primary_category TEXT,
            categories TEXT NOT NULL DEFAULT '[]',
            field TEXT,
            abs_url TEXT,
            pdf_url TEXT,
            doi TEXT,
            journal_ref TEXT,
            venue TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            is_classic INTEGER NOT NULL DEFAULT 0,
            first_seen TEXT NOT NULL,
            changed_at TEXT NOT NULL
        )""",
        "CREATE INDEX papers_published ON papers(published)",
        "CREATE INDEX papers_source ON papers(source)",
        "CREATE INDEX papers_doi ON papers(doi)",
        """CREATE TABLE checkpoints (
            source TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            new INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            details TEXT
        )""",
        "CREATE INDEX runs_source ON runs(source, id)",
        """CREATE TABLE feed_state (
            url TEXT PRIMARY KEY,
            etag TEXT,
            last_modified TEXT,
            last_status TEXT,
            bozo TEXT,
            fetched_at TEXT
        )""",
        """CREATE TABLE pdfs (
            paper_id TEXT PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            bytes INTEGER,
            sha256 TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            fetched_at TEXT NOT NULL
        )""",
    ],
]
