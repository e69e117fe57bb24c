"""The sign-in mail: a magic link, through the same outbox and transport as digests."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections import deque
from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.store_users import User

from .digest import MAIL_POLICY, one_line
from .mailer import send_due

KIND = "signin"


def send_signin_mail(store: Store, settings: Settings, user: User, link: str) -> None:
    now = datetime.now(timezone.utc)
    key = f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"  # many sign-ins a day, each its own outbox row
    worker = f"{socket.gethostname()}:{os.getpid()}"
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = "Your Glean sign-in link"
    msg["From"] = settings.mail_from
    msg["To"] = Address(display_name=one_line(user.name), addr_spec=user.email)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<signin.{user.id}.{key}@{socket.getfqdn()}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(f"Sign in to Glean with this link (valid for 15 minutes, once):\n\n{link}\n\n"
                    "If you did not ask for it, ignore this mail.\n")
    store.claim_compose(user.id, KIND, key, worker=worker, now=now.isoformat(), stale_before=now.isoformat())
    store.finish_compose(user.id, KIND, key, worker=worker, message_id=msg["Message-ID"], message=bytes(msg),
                         items=[], reason=None, now=now.isoformat())
    send_due(store, settings, only_user=user.id, now=now)


class RateLimit:
    """At most ``limit`` events per key in a sliding ``window_s``, in memory (one server process)."""

    def __init__(self, limit: int, window_s: float, clock=time.monotonic):
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._events: dict[str, deque] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; False (and not counted) when the key is over its limit."""
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            if len(self._events) > 10_000:  # forget idle keys so the table cannot grow without end
                for idle in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window_s]:
                    del self._events[idle]
            return True
