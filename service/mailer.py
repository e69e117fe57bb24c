"""Sending what the outbox holds: over SMTP, or as .eml files when no server is configured.

A message is claimed before it is sent (a conditional UPDATE), so two processes
never send the same one; a failed send is retried with growing delays and shows
in `glean status`. If a process dies after the SMTP server accepted a message but
before it was marked sent, the claim goes stale and the message is sent again —
with the same Message-ID, which mail clients use to drop the duplicate.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path

from pipelines.files import private_folder, write_private
from pipelines.settings import Settings
from pipelines.store import Store

log = logging.getLogger(__name__)

RETRY_DELAYS = [timedelta(minutes=m) for m in (2, 10, 30, 120, 360, 720)]  # then give up
SEND_TIMEOUT_S = 30
STALE_SEND = timedelta(minutes=30)


class Transport:
    name = "transport"

    def send(self, message: bytes) -> None:
        raise NotImplementedError


class SmtpTransport(Transport):
    name = "smtp"

    def __init__(self, settings: Settings):
        self.settings = settings

    def send(self, message: bytes) -> None:
        s = self.settings
        parsed = message_from_bytes(message, policy=policy.SMTP)
        sender = parsed["From"].addresses[0].addr_spec
        recipients = [a.addr_spec for a in parsed["To"].addresses]
        if s.smtp_security == "ssl":
            client = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=SEND_TIMEOUT_S,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SEND_TIMEOUT_S)
        with client:
            if s.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                client.login(s.smtp_user, s.smtp_password)
            # The composed bytes go out as they are: re-generating them could fold headers anew.
            client.sendmail(sender, recipients, message)


class FileTransport(Transport):
    """The embedded default: each message becomes an .eml file in GLEAN_HOME/outbox."""

    name = "file"

    def __init__(self, folder: Path):
        self.folder = folder

    def send(self, message: bytes) -> None:
        parsed = message_from_bytes(message, policy=policy.SMTP)
        name = "".join(c if c.isalnum() or c in ".-_" else "_" for c in parsed["Message-ID"].strip("<>"))
        # Sign-in mails are live credentials: the outbox is private like the rest of the data folder.
        write_private(private_folder(self.folder) / f"{name}.eml", message)


def transport_for(settings: Settings) -> Transport:
    return SmtpTransport(settings) if settings.smtp_host else FileTransport(settings.home / "outbox")


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # claimed by another process meanwhile
    errors: list[str] = field(default_factory=list)


def send_due(store: Store, settings: Settings, transport: Transport | None = None,
             now: datetime | None = None, only_user: int | None = None) -> SendReport:
    """Send every queued message whose time has come; failures are rescheduled."""
    transport = transport or transport_for(settings)
    now = now or datetime.now(timezone.utc)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    stale_before = (now - STALE_SEND).isoformat()
    report = SendReport()
    for due in store.due_messages(now.isoformat(), stale_before):
        if only_user is not None and due["user_id"] != only_user:
            continue
        row = store.claim_send(due["id"], worker=worker, now=now.isoformat(), stale_before=stale_before)
        if row is None:
            report.skipped += 1
            continue
        try:
            transport.send(row["message"])
        except (smtplib.SMTPException, OSError) as exc:
            attempt = row["attempts"]
            retry_at = (now + RETRY_DELAYS[attempt]).isoformat() if attempt < len(RETRY_DELAYS) else None
            error = f"{type(exc).__name__}: {exc}"
            store.mark_failed(row["id"], worker=worker, error=error, retry_at=retry_at)
            log.warning("sending %s %s to user %s failed (attempt %d): %s; %s", row["kind"], row["day"],
                        row["user_id"], attempt + 1, error, f"next try {retry_at}" if retry_at else "giving up")
            report.failed += 1
            report.errors.append(error)
            continue
        store.mark_sent(row["id"], worker=worker, now=now.isoformat())
        log.info("sent %s %s to user %s via %s", row["kind"], row["day"], row["user_id"], transport.name)
        report.sent += 1
    return report
