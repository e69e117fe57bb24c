"""The store's weekly picks ("old paper of the week"), feed-token nonces, session versions and sign-in links."""

from __future__ import annotations


class WeeklyTables:
    def old_paper_pick(self, week: str, user_id: int = 0) -> dict | None:
        rows = self.query("SELECT * FROM old_paper_picks WHERE week=? AND user_id=?", (week, user_id))
        return dict(rows[0]) if rows else None

    def save_old_paper_pick(self, *, week: str, user_id: int, paper_id: str, score: float, echo: str | None,
                            reason: str, now: str) -> dict:
        """Record the week's pick; a pick already made for that week stands (first writer wins)."""
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO old_paper_picks (week, user_id, paper_id, score, echo, reason, "
                         "picked_at) VALUES (?, ?, ?, ?, ?, ?, ?)", (week, user_id, paper_id, score, echo, reason, now))
        return self.old_paper_pick(week, user_id)

    def old_paper_history(self, user_id: int = 0, limit: int = 52) -> list[dict]:
        rows = self.query("SELECT * FROM old_paper_picks WHERE user_id=? ORDER BY week DESC LIMIT ?", (user_id, limit))
        return [dict(r) for r in rows]

    def picked_old_papers(self, user_id: int = 0) -> set[str]:
        return {r[0] for r in self.query("SELECT paper_id FROM old_paper_picks WHERE user_id=?", (user_id,))}

    def times_shown(self) -> dict[str, int]:
        """How often each paper went out to anyone (digests and weekly picks)."""
        counts: dict[str, int] = {}
        for pid, n in self.query("SELECT paper_id, count(*) FROM deliveries GROUP BY paper_id"):
            counts[pid] = counts.get(pid, 0) + n
        for pid, n in self.query("SELECT paper_id, count(*) FROM old_paper_picks GROUP BY paper_id"):
            counts[pid] = counts.get(pid, 0) + n
        return counts

    # -- feed tokens -----------------------------------------------------------------

    def feed_nonce(self, user_id: int) -> int:
        rows = self.query("SELECT feed_nonce FROM users WHERE id=?", (user_id,))
        return rows[0][0] if rows else -1

    def bump_feed_nonce(self, user_id: int) -> int:
        with self.transaction() as conn:
            conn.execute("UPDATE users SET feed_nonce = feed_nonce + 1 WHERE id=?", (user_id,))
        return self.feed_nonce(user_id)

    # -- session versions: a cookie is good only while its version is the user's current one --

    def session_version(self, user_id: int) -> int:
        rows = self.query("SELECT session_version FROM users WHERE id=?", (user_id,))
        return rows[0][0] if rows else -1

    def bump_session_version(self, user_id: int) -> int:
        """End every session of the user (sign out, "sign out everywhere")."""
        with self.transaction() as conn:
            conn.execute("UPDATE users SET session_version = session_version + 1 WHERE id=?", (user_id,))
        return self.session_version(user_id)

    # -- single-use sign-in links --------------------------------------------------------

    def create_signin_link(self, nonce: str, user_id: int, expires_at: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO signin_links (nonce, user_id, expires_at) VALUES (?, ?, ?)",
                         (nonce, user_id, expires_at))

    def use_signin_link(self, nonce: str, now: str) -> int | None:
        """Mark a link used and return its user, if it exists, is unused and unexpired."""
        with self.transaction() as conn:
            row = conn.execute("SELECT user_id FROM signin_links WHERE nonce=? AND used_at IS NULL AND expires_at > ?",
                               (nonce, now)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE signin_links SET used_at=? WHERE nonce=?", (now, nonce))
            return row[0]
