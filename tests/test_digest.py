"""The daily digest over a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from pipelines.index_stage import index_pending
from pipelines.records import Paper
from service.app import create_app
from service.cli import main
from service.digest import compose_digest, deliver, deliver_due, signer_for, weekly_breadth
from service.mailer import send_due

pytestmark = pytest.mark.slow
TODAY = datetime.now(timezone.utc)


class Inbox:
    """An SMTP handler that keeps what it receives, and can refuse the first N messages."""

    def __init__(self, refuse_first: int = 0):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse_left = refuse_first

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_left > 0:
            self.refuse_left -= 1
            return "451 4.3.0 Try again later"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def parsed(self, n: int = -1):
        return message_from_bytes(self.messages[n][2], policy=policy.default)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def mail_settings(make_settings, smtp):
    _, port = smtp
    return make_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                         mail_from="Glean <digest@glean.test>", base_url="https://glean.test",
                         secret_key="test-secret")


def seed(store, settings):
    recent = (TODAY - timedelta(days=1)).isoformat()
    store.upsert_papers([
        Paper(id="arxiv:2611.00001", title="Sparse <b>experts</b> & routing\nat scale", source="arxiv",
              abstract="We route tokens to experts.", authors=["A. Author"], published=recent, year=TODAY.year,
              primary_category="cs.LG", categories=["cs.LG"], abs_url="https://arxiv.org/abs/2611.00001"),
        Paper(id="arxiv:2611.00002", title="Mixture of experts without load balancing", source="arxiv",
              abstract="A mixture of experts trained without auxiliary losses.", authors=["B. Author"],
              published=recent, year=TODAY.year, primary_category="cs.LG", categories=["cs.LG"]),
        Paper(id="doi:10.1162/neco.1991.3.1.79", title="Adaptive mixtures of local experts", source="canon",
              authors=["Robert A. Jacobs", "Michael I. Jordan"], year=1991, venue="Neural Computation 3(1)",
              field="machine learning", is_classic=True, abs_url="https://doi.org/10.1162/neco.1991.3.1.79"),
    ])
    store.save_extraction("arxiv:2611.00001", pdf_version=1, extractor_version=1, status="ok", error=None,
                          pages=9, title=None, elapsed_ms=1, sections=[], passages=[
                              {"kind": "limitations", "form": "section", "title": "Limitations", "page_start": 8,
                               "page_end": 8, "text": "Our routing was only tested on English text <script>."}])
    assert index_pending(store, settings).ok


def add_user(settings, capsys, *extra) -> dict:
    env = {"GLEAN_HOME": str(settings.home)}
    assert main(["users", "add", "ada@example.org", "--name", "Ada <script>", "--interests",
                 "mixture of experts and routing", *extra, "--json"], env=env) == 0
    return json.loads(capsys.readouterr().out)


def test_a_cli_user_gets_one_correct_digest_at_their_hour(mail_settings, store, smtp, capsys):
    inbox, _ = smtp
    seed(store, mail_settings)
    user = add_user(mail_settings, capsys, "--timezone", "Europe/Berlin", "--hour", "8")
    day = TODAY.date()
    at = lambda hour: datetime(day.year, day.month, day.day, hour, 5, tzinfo=timezone.utc)  # noqa: E731

    assert deliver_due(store, mail_settings, now=at(6))["composed"] == 0  # 07:05 in Berlin: not yet
    assert deliver_due(store, mail_settings, now=at(7))["sent"] == 1  # 08:05 in Berlin
    assert deliver_due(store, mail_settings, now=at(8))["sent"] == 0  # the same day: never twice
    assert len(inbox.messages) == 1

    mail_from, rcpt, _ = inbox.messages[0]
    msg = inbox.parsed()
    assert mail_from == "digest@glean.test" and rcpt == ["ada@example.org"]
    assert msg["Message-ID"] == f"<digest.{user['id']}.{day.isoformat()}@glean.test>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<https://glean\.test/unsubscribe\?t=[\w.\-]+>", msg["List-Unsubscribe"])
    assert msg["To"].addresses[0].addr_spec == "ada@example.org"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    # The paper's own limitations excerpt, and the abstract labelled as such when there is none
    # (these papers were never read, so the label says that, not that they lack the section).
    assert "The paper's own limitations:" in text and "only tested on English text" in text
    assert "Abstract (Glean has not read the full text):" in text
    # Escaping holds: nothing user- or paper-supplied becomes markup or a new line.
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>experts</b>" not in html and "Sparse &lt;b&gt;experts&lt;/b&gt; &amp; routing at scale" in html
    assert "Sparse <b>experts</b> & routing at scale" in text
    assert "Why:" in text and "https://arxiv.org/abs/2611.00001" in text
    # Fewer papers than GLEAN_DIGEST_SIZE cleared the bar: the digest says so instead of filling up.
    assert "cleared your bar today" in text and "nothing below it is sent to fill the list" in text
    assert "cleared your bar today" in html


def test_header_injection_through_a_name_is_harmless(mail_settings, store, smtp, capsys):
    inbox, _ = smtp
    seed(store, mail_settings)
    user = add_user(mail_settings, capsys)
    store.update_user(user["id"], name="Eve\r\nBcc: victim@example.org")
    deliver(store, mail_settings, store.get_user(user["id"]), TODAY.date())
    _, rcpt, raw = inbox.messages[0]
    assert rcpt == ["ada@example.org"]
    assert b"\nBcc:" not in raw


def test_feedback_links_verify_and_expire(mail_settings, store, smtp, capsys):
    inbox, _ = smtp
    seed(store, mail_settings)
    user = add_user(mail_settings, capsys)
    deliver(store, mail_settings, store.get_user(user["id"]), TODAY.date())
    text = inbox.parsed().get_body(("plain",)).get_content()
    more = re.search(r"More like this: https://glean\.test(/feedback\?t=\S+)", text).group(1)
    with TestClient(create_app(mail_settings, run_scheduler=False)) as client:
        assert client.get(more).status_code == 200
        assert store.ratings(user["id"]) == []  # a GET (a mail scanner) only asks
        assert client.post(more).status_code == 200
        # "More like this" is a rating, not a read: it steers the profile, not the history.
        assert store.ratings(user["id"])[0]["rating"] == 1 and store.reads(user["id"]) == []
        assert client.get(more[:-3] + "xyz").status_code == 400  # tampered
        expired = signer_for(mail_settings).sign("feedback", {"u": user["id"], "paper": "arxiv:2611.00002",
                                                              "a": "read"}, ttl_s=-1)
        page = client.get(f"/feedback?t={expired}")
        assert page.status_code == 400 and "expired" in page.text
        unsub = signer_for(mail_settings).sign("unsubscribe", {"u": user["id"]}, 60)
        assert client.get(f"/feedback?t={unsub}").status_code == 400  # wrong purpose


def test_one_click_unsubscribe_stops_further_mail(mail_settings, store, smtp, capsys):
    inbox, _ = smtp
    seed(store, mail_settings)
    user = add_user(mail_settings, capsys, "--hour", "0")
    deliver_due(store, mail_settings, now=TODAY)
    url = inbox.parsed()["List-Unsubscribe"].strip("<>").replace("https://glean.test", "")
    with TestClient(create_app(mail_settings, run_scheduler=False)) as client:
        confirm = client.get(url)
        assert confirm.status_code == 200 and "<form method=\"post\"" in confirm.text
        assert store.get_user(user["id"]).unsubscribed is False  # a GET changes nothing
        done = client.post(url, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
        assert done.status_code == 200 and "unsubscribed" in done.text
    assert store.get_user(user["id"]).unsubscribed is True
    deliver_due(store, mail_settings, now=TODAY + timedelta(days=1))
    assert len(inbox.messages) == 1


def test_refused_mail_is_retried_not_lost_not_doubled(make_settings, store, capsys):
    inbox = Inbox(refuse_first=1)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = make_settings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_security="none",
                                 secret_key="k")
        seed(store, settings)
        user = add_user(settings, capsys)
        answer = deliver(store, settings, store.get_user(user["id"]), TODAY.date())
        assert answer["status"] == "send_failed" and "451" in answer["error"]
        row = store.outbox_row(user["id"], "digest", TODAY.date().isoformat())
        assert row["status"] == "failed" and row["attempts"] == 1
        main(["status"], env={"GLEAN_HOME": str(settings.home)})
        assert "1 attempts, next try" in capsys.readouterr().out
        failed_at = datetime.now(timezone.utc)
        assert send_due(store, settings, now=failed_at).sent == 0  # not before its time
        assert send_due(store, settings, now=failed_at + timedelta(minutes=3)).sent == 1
        assert send_due(store, settings, now=failed_at + timedelta(hours=3)).sent == 0
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_a_dropped_connection_is_retried(make_settings, store, capsys):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def drop_once():
        conn, _ = listener.accept()
        conn.close()

    thread = threading.Thread(target=drop_once, daemon=True)
    thread.start()
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", secret_key="k")
    seed(store, settings)
    user = add_user(settings, capsys)
    assert deliver(store, settings, store.get_user(user["id"]), TODAY.date())["status"] == "send_failed"
    listener.close()
    thread.join(5)
    inbox = Inbox()  # the server is back (on a fresh port: the old one lingers in TIME_WAIT)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        back = make_settings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_security="none", secret_key="k")
        assert send_due(store, back, now=datetime.now(timezone.utc) + timedelta(minutes=3)).sent == 1
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_two_processes_never_send_two_digests(mail_settings, store, smtp, capsys, tmp_path):
    inbox, port = smtp
    seed(store, mail_settings)
    add_user(mail_settings, capsys)
    env = {**os.environ, "GLEAN_HOME": str(mail_settings.home), "GLEAN_SMTP_HOST": "127.0.0.1",
           "GLEAN_SMTP_PORT": str(port), "GLEAN_SMTP_SECURITY": "none", "GLEAN_SECRET_KEY": "test-secret",
           "GLEAN_LOG_LEVEL": "WARNING"}
    day = TODAY.date().isoformat()
    procs = [subprocess.Popen([sys.executable, "-m", "service", "digest", "1", "--date", day, "--json"],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    answers = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert sorted(a["status"] for a in answers)[0] == "already_composing" or \
        {a["status"] for a in answers} <= {"sent", "already_sent", "already_queued", "already_composing",
                                           "already_sending"}
    assert [a["status"] for a in answers].count("sent") == 1
    assert len(inbox.messages) == 1


def test_nothing_worth_sending_sends_nothing_and_says_why(mail_settings, store, smtp, capsys):
    inbox, _ = smtp
    add_user(mail_settings, capsys)
    result = compose_digest(store, mail_settings, store.get_user(1), date(2026, 11, 29))
    assert result.status == "nothing_to_send" and "relevant" in result.reason
    assert send_due(store, mail_settings).sent == 0 and inbox.messages == []
    assert store.outbox_row(1, "digest", "2026-11-29")["status"] == "nothing_to_send"


def test_broken_sources_are_named_in_the_digest(mail_settings, store, smtp, capsys):
    from pipelines.store import Counts

    inbox, _ = smtp
    seed(store, mail_settings)
    run = store.start_run("arxiv")
    store.finish_run(run, Counts(), error="arXiv answered HTTP 503 after 4 tries")
    user = add_user(mail_settings, capsys)
    deliver(store, mail_settings, store.get_user(user["id"]), TODAY.date())
    text = inbox.parsed().get_body(("plain",)).get_content()
    assert "Heads-up" in text and "arxiv is failing: arXiv answered HTTP 503" in text


def test_daylight_saving_day_still_delivers_once(mail_settings, store, smtp, capsys):
    inbox, _ = smtp
    seed(store, mail_settings)
    add_user(mail_settings, capsys, "--timezone", "America/New_York", "--hour", "2")
    # 8 March 2026: clocks jump from 02:00 to 03:00 in New York; 02:xx never happens.
    assert deliver_due(store, mail_settings, now=datetime(2026, 3, 8, 6, 30, tzinfo=timezone.utc))["composed"] == 0
    first = deliver_due(store, mail_settings, now=datetime(2026, 3, 8, 7, 5, tzinfo=timezone.utc))  # 03:05 EDT
    again = deliver_due(store, mail_settings, now=datetime(2026, 3, 8, 8, 5, tzinfo=timezone.utc))
    assert first["composed"] + first["nothing_to_send"] == 1 and again["already"] == 1


def test_monday_digests_carry_the_weekly_breadth_summary(mail_settings, store, smtp, capsys):
    inbox, _ = smtp
    seed(store, mail_settings)
    user = add_user(mail_settings, capsys)
    store.add_reads(user["id"], [("arxiv:2611.00002", TODAY.isoformat())])
    monday = TODAY.date() - timedelta(days=TODAY.weekday())
    deliver(store, mail_settings, store.get_user(user["id"]), monday)
    text = inbox.parsed().get_body(("plain",)).get_content()
    assert "This week: Your reading spans 1.0 effective subfield" in text
    assert weekly_breadth(store, mail_settings, store.get_user(user["id"]), monday + timedelta(days=1), None) is None
