"""Feedback on a paper from a digest link or a page: "more like this", "not for me", "I read it".

Ratings are not reads: "more like this" and "not for me" are stored as ratings, which
steer the ranking profile (positively and negatively) but never count as reading in the
history or the breadth report. Only "read" adds to the reading history. Every action
has an undo.
"""

from __future__ import annotations

from datetime import datetime, timezone

from pipelines.store import Store

ACTIONS = ("more", "not", "read")
RATING = {"more": 1, "not": -1}
SAID = {"more": "We will look for more like it. (It is not added to your reading history.)",
        "not": "We will show you less like it.",
        "read": "It is in your reading history now."}
UNDONE = {"more": "Your “more like this” is withdrawn.", "not": "Your “not for me” is withdrawn.",
          "read": "It is no longer in your reading history."}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def apply_feedback(store: Store, user_id: int, paper_id: str, action: str) -> str:
    """Record ``action`` on the paper for the user; returns the sentence to show them."""
    if action not in ACTIONS:
        raise ValueError(f"unknown feedback action {action!r}")
    if action == "read":
        store.add_reads(user_id, [(paper_id, _now())])
    else:
        store.rate(user_id, paper_id, RATING[action], _now())
    return SAID[action]


def undo_feedback(store: Store, user_id: int, paper_id: str, action: str) -> str:
    """Take back ``action``: remove the rating it set, or the read it added."""
    if action not in ACTIONS:
        raise ValueError(f"unknown feedback action {action!r}")
    if action == "read":
        store.remove_read(user_id, paper_id)
    else:
        current = {r["paper_id"]: r["rating"] for r in store.ratings(user_id)}.get(paper_id)
        if current == RATING[action]:  # a later, different rating is not this action's to undo
            store.remove_rating(user_id, paper_id)
    return UNDONE[action]
