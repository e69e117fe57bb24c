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
    # 2: what extraction found in each PDF: its outcome, its sections, and the
    # searchable passages (limitations spans and appendix sections) with an FTS5 index.
    [
        """CREATE TABLE extractions (
            paper_id TEXT PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
            pdf_version INTEGER NOT NULL,
            extractor_version INTEGER NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            pages INTEGER,
            title TEXT,
            elapsed_ms INTEGER,
            extracted_at TEXT NOT NULL
        )""",
        """CREATE TABLE sections (
            id INTEGER PRIMARY KEY,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            ord INTEGER NOT NULL,
            title TEXT,
            number TEXT,
            level INTEGER,
            kind TEXT NOT NULL,
            page_start INTEGER,
            page_end INTEGER,
            text TEXT NOT NULL
        )""",
        "CREATE INDEX sections_paper ON sections(paper_id, ord)",
        """CREATE TABLE passages (
            id INTEGER PRIMARY KEY,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            ord INTEGER NOT NULL,
            kind TEXT NOT NULL,
            form TEXT,
            title TEXT,
            page_start INTEGER,
            page_end INTEGER,
            text TEXT NOT NULL
        )""",
        "CREATE INDEX passages_paper ON passages(paper_id, ord)",
        """CREATE VIRTUAL TABLE passages_fts USING fts5(
            title, text, content='passages', content_rowid='id', tokenize='porter unicode61')""",
        """CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN
            INSERT INTO passages_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
        END""",
        """CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN
            INSERT INTO passages_fts(passages_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
        END""",
    ],
    # 3: embeddings. Vectors live here (the source of truth); the faiss files in
    # GLEAN_HOME/index are caches rebuilt from them. `indexed` marks rows already
    # written into the faiss file of generation `index_meta.generation`.
    [
        """CREATE TABLE paper_vectors (
            vec_id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a faiss id means one vector
            paper_id TEXT NOT NULL UNIQUE REFERENCES papers(id) ON DELETE CASCADE,
            hash TEXT NOT NULL,
            vector BLOB NOT NULL,
            indexed INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            ord INTEGER NOT NULL,
            kind TEXT NOT NULL,
            section_title TEXT,
            page INTEGER,
            text TEXT NOT NULL,
            vector BLOB NOT NULL,
            indexed INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX chunks_paper ON chunks(paper_id)",
        "CREATE INDEX chunks_unindexed ON chunks(indexed) WHERE indexed = 0",
        "CREATE INDEX paper_vectors_unindexed ON paper_vectors(indexed) WHERE indexed = 0",
        """CREATE TABLE chunk_sources (
            paper_id TEXT PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
            hash TEXT NOT NULL
        )""",
        """CREATE TABLE index_meta (
            name TEXT PRIMARY KEY,
            generation INTEGER NOT NULL,
            model TEXT NOT NULL,
            kind TEXT,
            count INTEGER NOT NULL DEFAULT 0
        )""",
    ],
    # 4: users, their reading, what was delivered to them, and trendiness per paper.
    [
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name TEXT,
            timezone TEXT NOT NULL DEFAULT 'UTC',
            digest_hour INTEGER NOT NULL DEFAULT 7,
            interests TEXT NOT NULL DEFAULT '',
            categories TEXT NOT NULL DEFAULT '[]',
            anti_trend REAL,
            token_hash TEXT NOT NULL UNIQUE,
            unsubscribed INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE reads (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            read_at TEXT NOT NULL,
            rating INTEGER CHECK (rating IN (-1, 1)),
            PRIMARY KEY (user_id, paper_id)
        )""",
        """CREATE TABLE deliveries (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            delivered_on TEXT NOT NULL,
            PRIMARY KEY (user_id, paper_id)
        )""",
        """CREATE TABLE trend_scores (
            paper_id TEXT PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
            score REAL NOT NULL,
            recent_neighbours INTEGER NOT NULL,
            expected REAL NOT NULL,
            category_burst REAL NOT NULL,
            computed_at TEXT NOT NULL
        )""",
    ],
    # 5: the outbox. One row per (user, kind, day), whatever happens: composing and
    # sending are separate steps, and the unique key is what stops a second digest.
    [
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            day TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            message_id TEXT,
            message BLOB,
            items TEXT NOT NULL DEFAULT '[]',
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            next_attempt_at TEXT,
            claimed_by TEXT,
            claimed_at TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (user_id, kind, day)
        )""",
        "CREATE INDEX outbox_due ON outbox(status, next_attempt_at)",
    ],
    # 6: "old paper of the week" picks (user 0 = the global feed), per-user feed tokens
    # (revoked by bumping the nonce), and single-use sign-in links.
    [
        """CREATE TABLE old_paper_picks (
            week TEXT NOT NULL,
            user_id INTEGER NOT NULL DEFAULT 0,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            score REAL NOT NULL,
            echo TEXT,
            reason TEXT NOT NULL,
            picked_at TEXT NOT NULL,
            PRIMARY KEY (week, user_id)
        )""",
        "ALTER TABLE users ADD COLUMN feed_nonce INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE signin_links (
            nonce TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            expires_at TEXT NOT NULL,
            used_at TEXT
        )""",
    ],
    # 7: covering indexes for search. A search looks up 200–2,000 chunks by id, and their
    # papers, only to filter them; the rows themselves are large (text and a vector, one
    # page each), so at a million chunks those lookups went to disk. These indexes hold just
    # the columns the filters read (tens of MB), which stay in memory.
    [
        "CREATE INDEX chunks_search ON chunks(id, paper_id, kind, section_title, page)",
        "CREATE INDEX papers_search ON papers(id, year, field, source, categories)",
    ],
    # 8: ratings are feedback on a paper, not reading. "More like this" and "not for me" steer
    # the profile but must not count as reading (history, breadth). Ratings move to their own
    # table; a "not for me" was never a read, so those rows leave the reading history.
    [
        """CREATE TABLE ratings (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
            rated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, paper_id)
        )""",
        "INSERT INTO ratings (user_id, paper_id, rating, rated_at) "
        "SELECT user_id, paper_id, rating, read_at FROM reads WHERE rating IS NOT NULL",
        "DELETE FROM reads WHERE rating = -1",
        "ALTER TABLE reads DROP COLUMN rating",
    ],
    # 9: sessions that can end. The session cookie carries the user's session version;
    # signing out (or "sign out everywhere") bumps it, so every older cookie stops working.
    [
        "ALTER TABLE users ADD COLUMN session_version INTEGER NOT NULL DEFAULT 0",
    ],
    # 10: trend as a statistical burst. Per paper: its neighbourhood counts and the bursting
    # cluster it belongs to (if any); per tested cluster: the test's numbers, so every
    # "popular" claim can be checked against what was stored.
    [
        "DROP TABLE trend_scores",
        """CREATE TABLE trend_clusters (
            id INTEGER PRIMARY KEY,
            label TEXT NOT NULL,
            phrases TEXT NOT NULL DEFAULT '[]',
            observed INTEGER NOT NULL,
            expected REAL NOT NULL,
            p_value REAL NOT NULL,
            groups INTEGER NOT NULL,
            significant INTEGER NOT NULL,
            verdict TEXT NOT NULL,
            centroid BLOB NOT NULL,
            paper_ids TEXT NOT NULL DEFAULT '[]',
            examples TEXT NOT NULL DEFAULT '[]',
            computed_at TEXT NOT NULL
        )""",
        """CREATE TABLE trend_scores (
            paper_id TEXT PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
            recent_neighbours INTEGER NOT NULL,
            expected REAL NOT NULL,
            cluster_id INTEGER REFERENCES trend_clusters(id),
            computed_at TEXT NOT NULL
        )""",
        """CREATE TABLE trend_meta (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            computed_at TEXT NOT NULL,
            window_papers INTEGER NOT NULL,
            history_papers INTEGER NOT NULL,
            volume_ratio REAL,
            tests INTEGER NOT NULL
        )""",
        # Old papers rotate: once one was offered to a user on a day (digest, page, CLI), it is not
        # offered again on a later day, whether or not a digest went out. The first day is kept, so
        # ranking the same day twice gives the same answer.
        """CREATE TABLE old_offered (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            day TEXT NOT NULL,
            PRIMARY KEY (user_id, paper_id)
        )""",
    ],
]
