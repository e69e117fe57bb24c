"""Users, tokens, isolation, and reading history from ids, BibTeX and id lists."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from pipelines.bibtex import parse_references
from pipelines.records import Paper
from service.accounts import AccountError, create_user, hash_token
from service.app import create_app
from service.cli import main
from tests.corpus import ARXIV_API, REPO
from tests.fakeweb import Reply

MESSY = REPO / "tests" / "fixtures" / "messy.bib"


def seed_papers(store):
    store.upsert_papers([
        Paper(id="doi:10.1162/neco.1997.9.8.1735", title="Long Short-Term Memory", source="canon", year=1997,
              doi="10.1162/neco.1997.9.8.1735", is_classic=True),
        Paper(id="arxiv:2202.12139", title="Testing Deep Learning Models", source="arxiv", year=2022),
    ])


def test_messy_bibtex_is_read_without_dropping_anything():
    refs = {r.label: r for r in parse_references(MESSY.read_text())}
    assert refs["hochreiter1997long"].doi == "10.1162/neco.1997.9.8.1735"
    assert refs["murray2011quantum"].arxiv_id == "1111.2011"
    assert refs["2006astro.ph..1001"].arxiv_id == "astro-ph/0601001"
    assert refs["testing2022"].arxiv_id == "2202.12139"
    assert refs["DBLP:conf/nips/VaswaniSPUJGKP17"].arxiv_id is None  # a hash in a URL is not an id
    assert refs["knuth"].title == "The Art of Computer Programming"
    assert "broken" in refs  # an unterminated entry is still listed
    assert len(refs) == 7


def test_users_cli_add_list_show_remove(settings, capsys):
    env = {"GLEAN_HOME": str(settings.home)}
    assert main(["users", "add", "ada@example.org", "--name", "Ada", "--interests", "sparse experts",
                 "--categories", "cs.LG,cs.CL", "--timezone", "Europe/London", "--hour", "8", "--json"], env=env) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["id"] == 1 and created["token"].startswith("glean_") and created["digest_hour"] == 8
    assert main(["users", "list", "--json"], env=env) == 0
    assert [u["email"] for u in json.loads(capsys.readouterr().out)] == ["ada@example.org"]
    assert main(["users", "show", "ada@example.org", "--json"], env=env) == 0
    assert json.loads(capsys.readouterr().out)["categories"] == ["cs.LG", "cs.CL"]
    assert main(["users", "add", "ada@example.org"], env=env) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["users", "add", "bob@example.org", "--timezone", "Moon/Base"], env=env) == 2
    assert "unknown timezone" in capsys.readouterr().err
    assert main(["users", "remove", "1", "--yes"], env=env) == 0  # not a terminal: no question, --yes
    assert main(["users", "show", "1"], env=env) == 2


def test_tokens_are_stored_only_as_hashes(store):
    user, token = create_user(store, "ada@example.org")
    rows = store.query("SELECT token_hash FROM users")
    assert rows[0][0] == hash_token(token) != token
    store.close()
    assert token.encode() not in (store.home / "glean.sqlite3").read_bytes()


@pytest.mark.parametrize("field, value", [("digest_hour", 24), ("categories", ["not a category!"]),
                                          ("anti_trend", 9.0)])
def test_bad_user_fields(store, field, value):
    with pytest.raises(AccountError):
        create_user(store, "x@example.org", **{field: value})


def test_api_isolation(settings, store):
    seed_papers(store)
    ada, ada_token = create_user(store, "ada@example.org")
    bob, bob_token = create_user(store, "bob@example.org")
    ada_h = {"Authorization": f"Bearer {ada_token}"}
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        assert client.get("/api/me").status_code == 401
        assert client.get("/api/me", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get("/api/me", headers=ada_h).json()["email"] == "ada@example.org"
        added = client.post(f"/api/users/{ada.id}/reads", headers=ada_h, json={"ids": ["2202.12139"], "rating": 1})
        assert added.json()["matched"] == 1
        assert [r["paper_id"] for r in client.get(f"/api/users/{ada.id}/reads", headers=ada_h).json()["reads"]] == \
            ["arxiv:2202.12139"]
        # Bob's objects do not exist for Ada: 404, whatever the method.
        for method, path, kw in [("get", f"/api/users/{bob.id}", {}), ("get", f"/api/users/{bob.id}/reads", {}),
                                 ("patch", f"/api/users/{bob.id}", {"json": {"digest_hour": 3}}),
                                 ("post", f"/api/users/{bob.id}/reads", {"json": {"ids": ["2202.12139"]}}),
                                 ("delete", f"/api/users/{bob.id}/reads/arxiv:2202.12139", {})]:
            response = getattr(client, method)(path, headers=ada_h, **kw)
            assert response.status_code == 404, (method, path)
            assert response.json()["error"]["code"] == "not_found"
        assert store.reads(bob.id) == [] and store.get_user(bob.id).digest_hour == 7
        changed = client.patch(f"/api/users/{ada.id}", headers=ada_h, json={"anti_trend": 1.5, "interests": "x"})
        assert changed.json()["anti_trend"] == 1.5
        assert client.delete(f"/api/users/{ada.id}/reads/arxiv:2202.12139", headers=ada_h).status_code == 200


def test_reads_import_fetches_missing_arxiv_papers_and_lists_the_rest(settings, store, fakeweb, capsys):
    seed_papers(store)
    user, _ = create_user(store, "ada@example.org")
    fakeweb.add("/api/query", Reply(body=(ARXIV_API / "arxivpy_2016_id_list_1111.2011v2.xml").read_bytes()),
                match=lambda q, h: q.get("id_list") == ["1111.2011,astro-ph/0601001"])
    env = {"GLEAN_HOME": str(settings.home), "GLEAN_ARXIV_API_URL": fakeweb.url("/api/query")}

    assert main(["reads", "import", "ada@example.org", str(MESSY), "--json"], env=env) == 0
    report = json.loads(capsys.readouterr().out)

    assert report["matched"] == 3 and report["new"] == 3
    assert report["fetched"] == ["arxiv:1111.2011"]
    reasons = {u["label"]: u["reason"] for u in report["unmatched"]}
    assert reasons["2006astro.ph..1001"] == "arXiv has no paper astro-ph/0601001"
    assert reasons["knuth"] == "no arXiv id or DOI found in the entry"
    assert set(reasons) == {"2006astro.ph..1001", "DBLP:conf/nips/VaswaniSPUJGKP17", "knuth", "broken"}
    assert store.get_paper("arxiv:1111.2011").title.startswith("Quantum Criticality")
    assert {r["paper_id"] for r in store.reads(user.id)} == {
        "doi:10.1162/neco.1997.9.8.1735", "arxiv:1111.2011", "arxiv:2202.12139"}


def test_reads_add_accepts_every_id_form(settings, store, fakeweb, capsys):
    seed_papers(store)
    create_user(store, "ada@example.org")
    fakeweb.add("/api/query", Reply(body=(ARXIV_API / "arxivpy_2026_recorded_id_astro-ph_0601001_s0_m100_3150dca9dc76"
                                          ".body.xml").read_bytes()))
    env = {"GLEAN_HOME": str(settings.home), "GLEAN_ARXIV_API_URL": fakeweb.url("/api/query")}
    assert main(["reads", "add", "1", "arxiv:2202.12139", "doi:10.1162/NECO.1997.9.8.1735",
                 "hep-th/9901001x", "astro-ph/0601001v1", "--rating", "1"], env=env) == 0
    out = capsys.readouterr().out
    assert "3 matched (3 new reads" in out and "1 fetched from arXiv" in out
    assert "unmatched hep-th/9901001x" not in out or "no arXiv id" in out
    assert {r["rating"] for r in store.reads(1)} == {1}


def test_ratings_steer_the_profile_but_are_not_reading(settings, store):
    """"More like this" and "not for me" are feedback: no read, no breadth, yet the profile uses them."""
    from datetime import datetime, timezone

    from service.feedback import apply_feedback, undo_feedback

    seed_papers(store)
    ada, _ = create_user(store, "ada@example.org")
    paper = store.papers_by_id(["arxiv:2202.12139"]) and "arxiv:2202.12139"
    apply_feedback(store, ada.id, paper, "more")
    assert store.reads(ada.id) == [] and store.breadth_reads(ada.id) == []
    assert [r["rating"] for r in store.ratings(ada.id)] == [1]
    apply_feedback(store, ada.id, paper, "not")  # a later rating replaces the earlier one
    assert [r["rating"] for r in store.ratings(ada.id)] == [-1] and store.reads(ada.id) == []
    undo_feedback(store, ada.id, paper, "not")
    assert store.ratings(ada.id) == []
    apply_feedback(store, ada.id, paper, "read")
    assert [r["paper_id"] for r in store.reads(ada.id)] == [paper]
    assert datetime.fromisoformat(store.reads(ada.id)[0]["read_at"]) <= datetime.now(timezone.utc)
