"""The sign-in mail: a magic link, through the same outbox and transport as digests."""

from __future__ import annotations

import os
import secrets
import socket
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
