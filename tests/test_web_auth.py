"""Sessions that end, API tokens that can be replaced, links in mails that only act on POST,
sign-in that neither reveals accounts nor floods inboxes, and pages that know who is signed in."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from pipelines.records import Paper
from service.app import create_app
from service.cli import main
from tests.test_web import csrf_of, magic_link, open_magic_link, sign_in, web  # noqa: F401 (fixture)

PAPER = Paper(id="arxiv:2401.00001", title="Limits of a benchmark", source="arxiv", year=2024,
              abs_url="https://arxiv.org/abs/2401.00001")


def settings_csrf(client) -> str:
    return csrf_of(client.get("/settings").text)


def signed_out(client) -> bool:
    answer = client.get("/settings", follow_redirects=False)
    return answer.status_code == 303 and answer.headers["location"].startswith("/signin")


# -- sessions end ----------------------------------------------------------------------------


def test_signout_makes_the_session_cookie_worthless(web):
    settings, client, _ = web
    sign_in(settings, client)
    cookie = client.cookies["glean_session"]
    assert client.post("/signout", data={"csrf": settings_csrf(client)}, follow_redirects=False).status_code == 303
    assert signed_out(client)
    client.cookies.set("glean_session", cookie)  # a copy kept by someone else (or a back button)
    assert signed_out(client)
    assert client.get("/api/me").status_code == 401


def test_sign_out_everywhere_ends_other_browsers_sessions(web, make_settings):
    settings, laptop, _ = web
    sign_in(settings, laptop)
    with TestClient(laptop.app, base_url="https://glean.test") as phone:
        sign_in(settings, phone)
        assert not signed_out(phone)
        done = laptop.post("/settings/signout-everywhere", data={"csrf": settings_csrf(laptop)},
                           follow_redirects=False)
        assert done.status_code == 303
        assert signed_out(phone) and signed_out(laptop)


def test_a_new_sign_in_after_sign_out_works(web):
    settings, client, _ = web
    sign_in(settings, client)
    client.post("/signout", data={"csrf": settings_csrf(client)})
    sign_in(settings, client)
    assert not signed_out(client)


# -- API tokens can be replaced ----------------------------------------------------------------


def test_api_token_rotation_over_the_api(make_settings, store):
    from service.accounts import create_user

    settings = make_settings(secret_key="k")
    ada, old = create_user(store, "ada@example.org")
    bob, bobs = create_user(store, "bob@example.org")
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        assert client.post(f"/api/users/{bob.id}/token", headers={"Authorization": f"Bearer {old}"}).status_code == 404
        answer = client.post(f"/api/users/{ada.id}/token", headers={"Authorization": f"Bearer {old}"})
        assert answer.status_code == 200
        new = answer.json()["token"]
        assert new != old and new.startswith("glean_")
        assert client.get("/api/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
        assert client.get("/api/me", headers={"Authorization": f"Bearer {new}"}).json()["id"] == ada.id
        assert client.get("/api/me", headers={"Authorization": f"Bearer {bobs}"}).json()["id"] == bob.id
        assert client.post(f"/api/users/{ada.id}/token").status_code == 401


def test_api_token_rotation_on_the_settings_page(web):
    settings, client, user = web
    sign_in(settings, client)
    page = client.post("/settings/token", data={"csrf": settings_csrf(client)})
    assert page.status_code == 200
    token = re.search(r'<code id="new-token">([^<]+)</code>', page.text).group(1)
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["id"] == user.id
    assert client.post("/settings/token", data={"csrf": "forged"}).status_code == 403


def test_api_token_rotation_from_the_cli(web, capsys, monkeypatch):
    settings, client, user = web
    monkeypatch.setenv("GLEAN_HOME", str(settings.home))
    assert main(["users", "token", "ada@example.org", "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["id"] == user.id
    assert main(["users", "token", "ada@example.org"]) == 0
    assert "shown once" in capsys.readouterr().out
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# -- links in mails: GET asks, POST acts --------------------------------------------------------


def test_opening_a_magic_link_does_not_use_it_up(web):
    settings, client, _ = web
    form = client.get("/signin")
    client.post("/signin", data={"email": "ada@example.org", "csrf": csrf_of(form.text)})
    link = magic_link(settings)
    for _ in range(3):  # a mail scanner, a preview, the reader
        confirm = client.get(link)
        assert confirm.status_code == 200 and '<form method="post" action="/signin/verify">' in confirm.text
        assert "glean_session" not in client.cookies
    assert open_magic_link(client, link, follow_redirects=False).status_code == 303


def feedback_token(client, user_id: int, action: str, purpose: str = "feedback") -> str:
    return client.app.state.signer.sign(purpose, {"u": user_id, "paper": PAPER.id, "a": action}, 3600)


@pytest.mark.parametrize("action", ["more", "not", "read"])
def test_feedback_get_confirms_post_acts_and_undo_takes_it_back(web, store, action):
    _, client, user = web
    store.upsert_papers([PAPER])
    t = feedback_token(client, user.id, action)
    confirm = client.get(f"/feedback?t={t}")
    assert confirm.status_code == 200 and '<form method="post"' in confirm.text and PAPER.title in confirm.text
    assert store.ratings(user.id) == [] and store.reads(user.id) == []  # a GET changes nothing
    done = client.post(f"/feedback?t={t}")
    assert done.status_code == 200 and "Thanks, noted" in done.text
    if action == "read":
        assert [r["paper_id"] for r in store.reads(user.id)] == [PAPER.id]
    else:
        assert [r["rating"] for r in store.ratings(user.id)] == [{"more": 1, "not": -1}[action]]
    undo = re.search(r'action="/feedback/undo">.*?name="t" value="([^"]+)"', done.text, re.S).group(1)
    undone = client.post("/feedback/undo", data={"t": undo})
    assert undone.status_code == 200 and "Undone" in undone.text
    assert store.ratings(user.id) == [] and store.reads(user.id) == []


def test_feedback_undo_needs_its_own_signature(web, store):
    _, client, user = web
    store.upsert_papers([PAPER])
    client.post(f"/feedback?t={feedback_token(client, user.id, 'not')}")
    # A feedback link is not an undo link, and a forged undo does nothing.
    assert client.post("/feedback/undo", data={"t": feedback_token(client, user.id, "not")}).status_code == 400
    assert client.post("/feedback/undo", data={"t": "forged.token"}).status_code == 400
    assert [r["rating"] for r in store.ratings(user.id)] == [-1]


# -- sign-in: no account probing, no flooding -----------------------------------------------------


def ask_for_link(client, email: str):
    return client.post("/signin", data={"email": email, "csrf": csrf_of(client.get("/signin").text)})


def test_signin_is_rate_limited_per_address(web):
    settings, client, _ = web
    answers = [ask_for_link(client, "ada@example.org") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert "Too many sign-in requests" in answers[-1].text and "wait 15 minutes" in answers[-1].text
    assert len(list((settings.home / "outbox").glob("signin.*.eml"))) == 5
    assert ask_for_link(client, "ADA@example.org").status_code == 429  # the same address, other case


def test_signin_is_rate_limited_per_client(web):
    _, client, _ = web
    answers = [ask_for_link(client, f"reader{i}@example.org") for i in range(21)]
    assert [a.status_code for a in answers] == [200] * 20 + [429]


def test_signin_answer_does_not_wait_for_or_depend_on_the_mail(web, monkeypatch):
    import service.web

    def broken_relay(*args, **kwargs):
        raise ConnectionError("relay down")

    monkeypatch.setattr(service.web, "send_signin_mail", broken_relay)
    _, client, _ = web
    known, unknown = ask_for_link(client, "ada@example.org"), ask_for_link(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert "a sign-in link is on its way" in known.text and "a sign-in link is on its way" in unknown.text


# -- every page knows the session; signed-out browsers go to sign in and come back ----------------


def test_every_page_shows_the_signed_in_navigation(web, store):
    settings, client, _ = web
    store.upsert_papers([PAPER])
    sign_in(settings, client)
    for path in ("/", "/search", "/search?q=benchmark", f"/papers/{PAPER.id}", "/old-paper", "/breadth", "/settings"):
        html = client.get(path).text
        assert "Sign out (ada@example.org)" in html, path
        assert 'href="/breadth"' in html and 'href="/settings"' in html, path
        assert ">Sign in<" not in html, path


def test_signed_out_browsers_are_sent_to_sign_in_and_back(web):
    settings, client, _ = web
    for path, back in (("/breadth", "%2Fbreadth"), ("/settings?saved=true", "%2Fsettings%3Fsaved%3Dtrue"),
                       ("/breadth.svg", "%2Fbreadth.svg")):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"/signin?next={back}", path
    form = client.get("/signin?next=/breadth")
    assert 'name="next" value="/breadth"' in form.text
    client.post("/signin", data={"email": "ada@example.org", "csrf": csrf_of(form.text), "next": "/breadth"})
    done = open_magic_link(client, magic_link(settings), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/breadth"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
                                    "http:/evil.example", "/ok\r\nSet-Cookie: x=1"])
def test_next_never_leads_off_the_site(web, target):
    settings, client, _ = web
    form = client.get("/signin", params={"next": target})
    assert 'name="next" value="/"' in form.text
    client.post("/signin", data={"email": "ada@example.org", "csrf": csrf_of(form.text), "next": target})
    done = open_magic_link(client, magic_link(settings), follow_redirects=False)
    assert done.headers["location"] == "/"


def test_the_api_still_answers_json_401(web):
    _, client, _ = web
    for path in ("/api/me", "/api/users/1/picks", "/api/users/1/breadth"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized", path
