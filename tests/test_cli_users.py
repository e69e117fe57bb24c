"""`glean users`: edit, remove with confirmation, and a hint for a user with nothing to go by."""

from __future__ import annotations

import json

import pytest

from pipelines.store import Store
from service.cli import main


@pytest.fixture
def env(tmp_path):
    return {"GLEAN_HOME": str(tmp_path / "home")}


def run(capsys, env, *argv):
    try:
        code = main(list(argv), env=env)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def add(capsys, env, *extra) -> dict:
    code, out, err = run(capsys, env, "users", "add", "ada@example.org", *extra, "--json")
    assert code == 0
    return json.loads(out)


def test_edit_changes_only_what_is_given(capsys, env):
    add(capsys, env, "--name", "Ada", "--interests", "routing", "--anti-trend", "1")
    code, out, err = run(capsys, env, "users", "edit", "ada@example.org", "--timezone", "Europe/Berlin",
                         "--digest-hour", "9", "--categories", "cs.LG,stat.ML", "--json")
    user = json.loads(out)
    assert code == 0 and err == ""
    assert (user["timezone"], user["digest_hour"], user["categories"]) == ("Europe/Berlin", 9, ["cs.LG", "stat.ML"])
    assert (user["name"], user["interests"], user["anti_trend"]) == ("Ada", "routing", 1.0)


def test_anti_trend_default_is_stored_as_null(capsys, env):
    user = add(capsys, env, "--interests", "routing", "--anti-trend", "2")
    code, out, _ = run(capsys, env, "users", "edit", str(user["id"]), "--anti-trend", "default")
    assert code == 0 and "anti_trend default" in out
    assert Store(env["GLEAN_HOME"]).get_user(user["id"]).anti_trend is None
    code, out, _ = run(capsys, env, "users", "edit", str(user["id"]), "--anti-trend", "0.5", "--name", "Ada L.")
    assert code == 0 and Store(env["GLEAN_HOME"]).get_user(user["id"]).anti_trend == 0.5


@pytest.mark.parametrize("argv, message", [
    (["--digest-hour", "24"], "0 to 23"),
    (["--anti-trend", "4"], "0 (off) to 3"),
    (["--timezone", "Moon/Base"], "unknown timezone"),
    ([], "nothing to change"),
])
def test_edit_refuses_bad_values(capsys, env, argv, message):
    add(capsys, env, "--interests", "routing")
    code, out, err = run(capsys, env, "users", "edit", "ada@example.org", *argv)
    assert code == 2 and message in err


def test_unknown_categories_are_refused_with_a_suggestion(capsys, env):
    code, out, err = run(capsys, env, "users", "add", "ada@example.org", "--categories", "cs.CL,cs.LGG")
    assert code == 2 and "unknown arXiv categories: cs.LGG (did you mean cs.LG?)" in err
    assert Store(env["GLEAN_HOME"]).users() == []


def test_remove_needs_yes_when_not_interactive(capsys, env, monkeypatch):
    user = add(capsys, env, "--interests", "routing")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, out, err = run(capsys, env, "users", "remove", "ada@example.org")
    assert code == 2 and "--yes" in err
    assert Store(env["GLEAN_HOME"]).get_user(user["id"]) is not None
    code, out, err = run(capsys, env, "users", "remove", "ada@example.org", "--yes")
    assert code == 0 and Store(env["GLEAN_HOME"]).get_user(user["id"]) is None


@pytest.mark.parametrize("answer, removed", [("y\n", True), ("\n", False), ("no\n", False)])
def test_remove_asks_on_a_terminal(capsys, env, monkeypatch, answer, removed):
    user = add(capsys, env, "--interests", "routing")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: answer.strip())
    code, out, err = run(capsys, env, "users", "remove", "ada@example.org")
    assert (code == 0) == removed
    assert (Store(env["GLEAN_HOME"]).get_user(user["id"]) is None) == removed


def test_a_user_with_nothing_to_go_by_gets_a_warning_and_a_hint(capsys, env):
    code, out, err = run(capsys, env, "users", "add", "bob@example.org")
    assert code == 0
    assert "no interests and no reads" in err and "glean users edit 1" in err and "glean reads import 1" in err
    code, out, err = run(capsys, env, "users", "add", "ada@example.org", "--interests", "routing")
    assert code == 0 and "warning" not in err


def test_imported_reads_carry_the_entries_dates_and_say_which(capsys, env, tmp_path):
    from pipelines.records import Paper
    store = Store(env["GLEAN_HOME"])
    store.upsert_papers([Paper(id=f"arxiv:2101.0000{n}", title=f"P{n}", source="arxiv") for n in range(1, 6)])
    add(capsys, env, "--interests", "routing")
    bib = tmp_path / "refs.bib"
    bib.write_text("""
@article{added, eprint = {2101.00001}, year = {2019}, date-added = {2023-04-05 10:11:12 +0000}}
@article{zotero, eprint = {2101.00002}, year = {2020}, urldate = {2022-11-30}}
@article{dated, eprint = {2101.00003}, date = {2021-06}}
@article{yearmonth, eprint = {2101.00004}, year = {2018}, month = mar}
@article{undated, eprint = {2101.00005}}
""")
    code, out, err = run(capsys, env, "reads", "import", "ada@example.org", str(bib))
    assert code == 0
    assert ("read dates: 2 from the file's added or accessed dates; 2 from the entries' publication dates; "
            "1 from today (no date in the entry)") in out
    read_on = {r["paper_id"]: r["read_at"][:10] for r in store.reads(1)}
    assert read_on["arxiv:2101.00001"] == "2023-04-05" and read_on["arxiv:2101.00002"] == "2022-11-30"
    assert read_on["arxiv:2101.00003"] == "2021-06-01" and read_on["arxiv:2101.00004"] == "2018-03-01"
    from datetime import datetime, timezone
    assert read_on["arxiv:2101.00005"] == datetime.now(timezone.utc).date().isoformat()


def test_an_id_list_may_give_the_day_of_each_read(capsys, env, tmp_path):
    from pipelines.records import Paper
    store = Store(env["GLEAN_HOME"])
    store.upsert_papers([Paper(id="arxiv:2101.00001", title="P", source="arxiv")])
    add(capsys, env, "--interests", "routing")
    ids = tmp_path / "ids.txt"
    ids.write_text("2101.00001 2024-02-29\n")
    code, out, err = run(capsys, env, "reads", "import", "ada@example.org", str(ids), "--json")
    assert code == 0 and json.loads(out)["read_dates"] == {"added": 1, "published": 0, "today": 0}
    assert store.reads(1)[0]["read_at"].startswith("2024-02-29")
