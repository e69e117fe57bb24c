"""The store's user tables: users, their reads, their ratings, what was delivered to them.

A mixin of :class:`pipelines.store.Store`. API tokens are stored only as SHA-256
hashes; the token itself is shown once, when the user is created.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

USER_FIELDS = ("email", "name", "timezone", "digest_hour", "interests", "categories", "anti_trend", "unsubscribed")


class UserExists(ValueError):
    pass


@dataclass
class User:
    id: int
    email: str
    name: str | None = None
    timezone: str = "UTC"
    digest_hour: int = 7
    interests: str = ""
    categories: list[str] = field(default_factory=list)
    anti_trend: float | None = None  # None: the deployment's default strength
    unsubscribed: bool = False
    created_at: str = ""

    def public(self) -> dict:
        """What the API and `--json` show (never the token hash)."""
        return {"id": self.id, "email": self.email, "name": self.name, "timezone": self.timezone,
                "digest_hour": self.digest_hour, "interests": self.interests, "categories": self.categories,
                "anti_trend": self.anti_trend, "unsubscribed": self.unsubscribed, "created_at": self.created_at}


def _user(row: sqlite3.Row) -> User:
    return User(id=row["id"], email=row["email"], name=row["name"], timezone=row["timezone"],
                digest_hour=row["digest_hour"], interests=row["interests"],
                categories=json.loads(row["categories"] or "[]"), anti_trend=row["anti_trend"],
                unsubscribed=bool(row["unsubscribed"]), created_at=row["created_at"])


class UserTables:
    # -- users -------------------------------------------------------------------

    def add_user(self, *, email: str, token_hash: str, name: str | None = None, timezone: str = "UTC",
                 digest_hour: int = 7, interests: str = "", categories: list[str] | None = None,
                 anti_trend: float | None = None, now: str) -> User:
        try:
            with self.transaction() as conn:
                cur = conn.execute(
                    "INSERT INTO users (email, name, timezone, digest_hour, interests, categories, anti_trend, "
                    "token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (email, name, timezone, digest_hour, interests, json.dumps(categories or []), anti_trend,
                     token_hash, now))
                user_id = cur.lastrowid
        except sqlite3.IntegrityError:
            raise UserExists(f"a user with email {email} already exists") from None
        return self.get_user(user_id)

    def get_user(self, user_id: int) -> User | None:
        rows = self.query("SELECT * FROM users WHERE id=?", (user_id,))
        return _user(rows[0]) if rows else None

    def find_user(self, ref: str) -> User | None:
        """A user by id or by email."""
        if ref.isdigit():
            return self.get_user(int(ref))
        rows = self.query("SELECT * FROM users WHERE email=?", (ref,))
        return _user(rows[0]) if rows else None

    def user_by_token_hash(self, token_hash: str) -> User | None:
        rows = self.query("SELECT * FROM users WHERE token_hash=?", (token_hash,))
        return _user(rows[0]) if rows else None

    def users(self) -> list[User]:
        return [_user(r) for r in self.query("SELECT * FROM users ORDER BY id")]

    def update_user(self, user_id: int, **changes) -> User:
        unknown = set(changes) - set(USER_FIELDS)
        if unknown:
            raise ValueError(f"unknown user fields: {', '.join(sorted(unknown))}")
        if "categories" in changes:
            changes["categories"] = json.dumps(changes["categories"])
        if changes:
            assignments = ", ".join(f"{k}=?" for k in changes)
            with self.transaction() as conn:
                conn.execute(f"UPDATE users SET {assignments} WHERE id=?", (*changes.values(), user_id))
        return self.get_user(user_id)

    def set_token_hash(self, user_id: int, token_hash: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE users SET token_hash=? WHERE id=?", (token_hash, user_id))

    def remove_user(self, user_id: int) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM users WHERE id=?", (user_id,)).rowcount > 0

    # -- reads: what the user actually read ----------------------------------------------

    def add_reads(self, user_id: int, reads: list[tuple[str, str]]) -> dict[str, int]:
        """(paper_id, read_at) rows; a repeat keeps the first date."""
        counts = {"new": 0, "updated": 0, "unchanged": 0}
        with self.transaction() as conn:
            for paper_id, read_at in reads:
                cur = conn.execute("INSERT OR IGNORE INTO reads (user_id, paper_id, read_at) VALUES (?, ?, ?)",
                                   (user_id, paper_id, read_at))
                counts["new" if cur.rowcount else "unchanged"] += 1
        return counts

    def reads(self, user_id: int) -> list[dict]:
        """The reading history, newest first; ``rating`` is the user's rating of the paper, if any."""
        rows = self.query("SELECT r.paper_id, r.read_at, g.rating, p.title, p.year FROM reads r "
                          "JOIN papers p ON p.id = r.paper_id "
                          "LEFT JOIN ratings g ON g.user_id = r.user_id AND g.paper_id = r.paper_id "
                          "WHERE r.user_id=? ORDER BY r.read_at DESC, r.paper_id", (user_id,))
        return [dict(r) for r in rows]

    def remove_read(self, user_id: int, paper_id: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM reads WHERE user_id=? AND paper_id=?",
                                (user_id, paper_id)).rowcount > 0

    # -- ratings: "more like this" / "not for me", feedback kept apart from reading ---------

    def rate(self, user_id: int, paper_id: str, rating: int, rated_at: str) -> dict[str, int]:
        """Set the user's rating of a paper (+1 or -1); a new rating replaces the old one."""
        with self.transaction() as conn:
            row = conn.execute("SELECT rating FROM ratings WHERE user_id=? AND paper_id=?",
                               (user_id, paper_id)).fetchone()
            if row is not None and row["rating"] == rating:
                return {"new": 0, "updated": 0, "unchanged": 1}
            conn.execute("INSERT INTO ratings (user_id, paper_id, rating, rated_at) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (user_id, paper_id) DO UPDATE SET rating=excluded.rating, "
                         "rated_at=excluded.rated_at", (user_id, paper_id, rating, rated_at))
        return {"new": int(row is None), "updated": int(row is not None), "unchanged": 0}

    def ratings(self, user_id: int) -> list[dict]:
        rows = self.query("SELECT g.paper_id, g.rating, g.rated_at, p.title, p.year FROM ratings g "
                          "JOIN papers p ON p.id = g.paper_id WHERE g.user_id=? ORDER BY g.rated_at DESC, g.paper_id",
                          (user_id,))
        return [dict(r) for r in rows]

    def remove_rating(self, user_id: int, paper_id: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM ratings WHERE user_id=? AND paper_id=?",
                                (user_id, paper_id)).rowcount > 0

    # -- deliveries: nothing is shown twice -----------------------------------------------

    def delivered_ids(self, user_id: int) -> set[str]:
        return {r[0] for r in self.query("SELECT paper_id FROM deliveries WHERE user_id=?", (user_id,))}

    def last_delivery_day(self, user_id: int, kind: str) -> str | None:
        return self.query("SELECT max(delivered_on) FROM deliveries WHERE user_id=? AND kind=?",
                          (user_id, kind))[0][0]

    def record_deliveries(self, user_id: int, paper_ids: list[str], kind: str, day: str) -> None:
        with self.transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO deliveries (user_id, paper_id, kind, delivered_on) "
                             "VALUES (?, ?, ?, ?)", [(user_id, pid, kind, day) for pid in paper_ids])

    # -- old papers offered: classics rotate ------------------------------------------------

    def offered_old_before(self, user_id: int, day: str) -> set[str]:
        """Old papers offered to the user on a day before ``day``."""
        return {r[0] for r in self.query("SELECT paper_id FROM old_offered WHERE user_id=? AND day < ?",
                                         (user_id, day))}

    def record_old_offered(self, user_id: int, paper_ids: list[str], day: str) -> None:
        with self.transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO old_offered (user_id, paper_id, day) VALUES (?, ?, ?)",
                             [(user_id, pid, day) for pid in paper_ids])

