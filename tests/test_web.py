"""Sign-in by magic link, sessions, CSRF, settings and pages, in-process."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest
from fastapi.testclient import TestClient

from service.accounts import create_user
from service.app import create_app


def magic_link(settings) -> str:
    # Newest by write time: names within one second sort by a random part.
    mails = sorted((settings.home / "outbox").glob("signin.*.eml"), key=lambda p: p.stat().st_mtime_ns)
    text = message_from_bytes(mails[-1].read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    return re.search(r"https://glean\.test(/signin/verify\?t=\S+)", text).group(1)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def web(make_settings, store):
    settings = make_settings(base_url="https://glean.test", secret_key="k")
    user, _ = create_user(store, "ada@example.org", name="Ada")
    with TestClient(create_app(settings, run_scheduler=False), base_url="https://glean.test") as client:
        yield settings, client, user


def open_magic_link(client, link: str, **kwargs):
    """What a reader does with the mailed link: open it (a confirmation page), then press "Sign in"."""
    confirm = client.get(link)
    if confirm.status_code != 200:
        return confirm
    token = re.search(r'name="t" value="([^"]+)"', confirm.text).group(1)
    return client.post("/signin/verify", data={"t": token, "csrf": csrf_of(confirm.text)}, **kwargs)


def sign_in(settings, client) -> None:
    form = client.get("/signin")
    client.post("/signin", data={"email": "ada@example.org", "csrf": csrf_of(form.text)})
    done = open_magic_link(client, magic_link(settings), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/"


def test_magic_link_signs_in_once(web):
    settings, client, user = web
    form = client.get("/signin")
    sent = client.post("/signin", data={"email": "ada@example.org", "csrf": csrf_of(form.text)})
    assert "a sign-in link is on its way" in sent.text
    link = magic_link(settings)
    assert client.get(link).status_code == 200  # a GET (a mail scanner) only asks
    first = open_magic_link(client, link, follow_redirects=False)
    assert first.status_code == 303
    cookie = first.headers["set-cookie"]
    assert "glean_session=" in cookie and "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    assert "Sign out (ada@example.org)" in client.get("/").text
    client.cookies.clear()
    reused = open_magic_link(client, link, follow_redirects=False)
    assert reused.status_code == 400 and "already used" in reused.text


def test_unknown_addresses_get_the_same_answer_and_no_mail(web):
    settings, client, _ = web
    form = client.get("/signin")
    answer = client.post("/signin", data={"email": "nobody@example.org", "csrf": csrf_of(form.text)})
    assert "a sign-in link is on its way" in answer.text
    assert not list((settings.home / "outbox").glob("signin.*.eml"))


def test_forms_need_their_csrf_token(web):
    settings, client, _ = web
    assert client.post("/signin", data={"email": "ada@example.org"}).status_code == 403
    sign_in(settings, client)
    page = client.get("/settings")
    bad = client.post("/settings", data={"csrf": "forged", "digest_hour": 9, "timezone_name": "UTC"})
    assert bad.status_code == 403


def test_settings_change_and_validation(web, store):
    settings, client, user = web
    sign_in(settings, client)
    page = client.get("/settings")
    token = csrf_of(page.text)
    saved = client.post("/settings", data={"csrf": token, "digest_hour": 9, "timezone_name": "Asia/Tokyo",
                                           "anti_trend": 2.0, "interests": "proof assistants",
                                           "categories": "cs.LO,cs.PL", "subscribed": "yes"}, follow_redirects=False)
    assert saved.status_code == 303
    changed = store.get_user(user.id)
    assert (changed.digest_hour, changed.timezone, changed.anti_trend, changed.categories, changed.unsubscribed) == \
        (9, "Asia/Tokyo", 2.0, ["cs.LO", "cs.PL"], False)
    wrong = client.post("/settings", data={"csrf": token, "digest_hour": 9, "timezone_name": "Atlantis/Capital"})
    assert wrong.status_code == 400 and "unknown timezone" in wrong.text
    # The page's JSON twin, fetched by the signed-in browser.
    assert client.get("/api/me").json()["timezone"] == "Asia/Tokyo"


def test_saving_settings_keeps_the_deployment_default_strength(web, store):
    """Saving the form without touching the strength must not pin the reader to today's default:
    they keep following GLEAN_RANK_BETA (stored as NULL), so a change of the default reaches them."""
    settings, client, user = web
    sign_in(settings, client)
    page = client.get("/settings")
    assert 'placeholder="0.2"' in page.text and f"default,\n    {settings.rank_beta}" in page.text
    field = re.search(r'<input id="anti_trend"[^>]*>', page.text).group(0)
    assert 'value=""' in field  # the form shows no number of its own for a reader on the default
    token = csrf_of(page.text)
    saved = client.post("/settings", data={"csrf": token, "digest_hour": 7, "timezone_name": "UTC", "anti_trend": "",
                                           "subscribed": "yes"}, follow_redirects=False)
    assert saved.status_code == 303 and store.get_user(user.id).anti_trend is None
    client.post("/settings", data={"csrf": token, "digest_hour": 7, "timezone_name": "UTC", "anti_trend": "1.5",
                                   "subscribed": "yes"})
    assert store.get_user(user.id).anti_trend == 1.5
    bad = client.post("/settings", data={"csrf": token, "digest_hour": 7, "timezone_name": "UTC", "anti_trend": "lots"})
    assert bad.status_code == 400 and "not a number" in bad.text
    # The API takes an explicit null as "back to the default".
    assert client.patch(f"/api/users/{user.id}", json={"anti_trend": None}).json()["anti_trend"] is None
    assert store.get_user(user.id).anti_trend is None


def test_unknown_categories_are_refused_on_the_settings_page_and_the_api(web, store):
    settings, client, user = web
    sign_in(settings, client)
    token = csrf_of(client.get("/settings").text)
    page = client.post("/settings", data={"csrf": token, "digest_hour": 7, "timezone_name": "UTC",
                                          "categories": "cs.CL,cs.XX"})
    assert page.status_code == 400 and "not arXiv categories: cs.XX" in page.text
    api = client.patch(f"/api/users/{user.id}", json={"categories": ["cs.XX"]})
    assert api.status_code == 400 and "cs.XX" in api.json()["error"]["message"]
    assert store.get_user(user.id).categories == []


def test_pages_need_sign_in_where_personal(web):
    _, client, _ = web
    to_signin = client.get("/settings", follow_redirects=False)  # a browser is sent to sign in, and back
    assert to_signin.status_code == 303 and to_signin.headers["location"] == "/signin?next=%2Fsettings"
    assert client.get("/").status_code == 200 and "Sign in" in client.get("/").text
    assert client.get("/old-paper").status_code == 200
