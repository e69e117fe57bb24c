"""The store's outbox: one row per (user, kind, day); composing and sending are separate steps.

Row states: ``composing`` (claimed by the process building it), ``queued`` (ready to
send), ``sending`` (claimed by a sender), ``sent``, ``failed`` (will be retried at
``next_attempt_at``), ``gave_up``, and ``nothing_to_send`` (recorded with its reason,
so a quiet day is never a silent gap). Every transition is a conditional UPDATE,
so two processes can never both own a row.
"""

from __future__ import annotations

import json


class OutboxTables:
    def claim_compose(self, user_id: int, kind: str, day: str, *, worker: str, now: str,
                      stale_before: str) -> bool:
        """Create the (user, kind, day) row for this worker; False if it already exists.

        A row left in ``composing`` by a process that died long ago is taken over.
        """
        with self.transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE user_id=? AND kind=? AND day=? AND status='composing' "
                         "AND claimed_at < ?", (user_id, kind, day, stale_before))
            cur = conn.execute(
                "INSERT OR IGNORE INTO outbox (user_id, kind, day, status, claimed_by, claimed_at, created_at) "
                "VALUES (?, ?, ?, 'composing', ?, ?, ?)", (user_id, kind, day, worker, now, now))
            return cur.rowcount == 1

    def finish_compose(self, user_id: int, kind: str, day: str, *, worker: str, message_id: str | None,
                       message: bytes | None, items: list[dict], reason: str | None, now: str) -> None:
        """Store the composed message (or why there is none) and what it delivers, atomically."""
        with self.transaction() as conn:
            status = "queued" if message is not None else "nothing_to_send"
            conn.execute(
                "UPDATE outbox SET status=?, reason=?, message_id=?, message=?, items=?, next_attempt_at=?, "
                "claimed_by=NULL WHERE user_id=? AND kind=? AND day=? AND claimed_by=? AND status='composing'",
                (status, reason, message_id, message, json.dumps(items), now, user_id, kind, day, worker))
            if message is not None:
                conn.executemany("INSERT OR IGNORE INTO deliveries (user_id, paper_id, kind, delivered_on) "
                                 "VALUES (?, ?, ?, ?)", [(user_id, i["paper_id"], kind, day) for i in items])

    def abandon_compose(self, user_id: int, kind: str, day: str, *, worker: str) -> None:
        """A compose that failed half-way: drop its claim so a later run can try again."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE user_id=? AND kind=? AND day=? AND claimed_by=? "
                         "AND status='composing'", (user_id, kind, day, worker))

    def outbox_row(self, user_id: int, kind: str, day: str) -> dict | None:
        rows = self.query("SELECT * FROM outbox WHERE user_id=? AND kind=? AND day=?", (user_id, kind, day))
        return dict(rows[0]) if rows else None

    def due_messages(self, now: str, stale_before: str) -> list[dict]:
        """Queued or failed messages whose time has come, and sends abandoned by a dead process."""
        rows = self.query(
            "SELECT id, user_id, kind, day FROM outbox WHERE (status IN ('queued', 'failed') AND next_attempt_at <= ?) "
            "OR (status = 'sending' AND claimed_at < ?) ORDER BY id", (now, stale_before))
        return [dict(r) for r in rows]

    def claim_send(self, outbox_id: int, *, worker: str, now: str, stale_before: str) -> dict | None:
        """Take a message to send; None if another process has it or it is done."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE outbox SET status='sending', claimed_by=?, claimed_at=? WHERE id=? AND "
                "((status IN ('queued', 'failed') AND next_attempt_at <= ?) OR (status='sending' AND claimed_at < ?))",
                (worker, now, outbox_id, now, stale_before))
            if cur.rowcount != 1:
                return None
            return dict(conn.execute("SELECT * FROM outbox WHERE id=?", (outbox_id,)).fetchone())

    def mark_sent(self, outbox_id: int, *, worker: str, now: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE outbox SET status='sent', sent_at=?, attempts=attempts+1, last_error=NULL, "
                         "claimed_by=NULL WHERE id=? AND claimed_by=?", (now, outbox_id, worker))

    def mark_failed(self, outbox_id: int, *, worker: str, error: str, retry_at: str | None) -> None:
        status = "failed" if retry_at else "gave_up"
        with self.transaction() as conn:
            conn.execute("UPDATE outbox SET status=?, attempts=attempts+1, last_error=?, next_attempt_at=?, "
                         "claimed_by=NULL WHERE id=? AND claimed_by=?", (status, error, retry_at, outbox_id, worker))

    def outbox_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.query("SELECT status, count(*) FROM outbox GROUP BY status")}

    def outbox_problems(self, limit: int = 20) -> list[dict]:
        rows = self.query("SELECT o.id, o.user_id, u.email, o.kind, o.day, o.status, o.attempts, o.last_error, "
                          "o.next_attempt_at FROM outbox o JOIN users u ON u.id = o.user_id "
                          "WHERE o.status IN ('failed', 'gave_up') ORDER BY o.id DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]
