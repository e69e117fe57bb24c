"""`glean` end to end over the recorded corpus, in-process and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from service.cli import build_parser, main
from tests.corpus import EMPTY_PAGE, FEEDS, REPO, TESTING_PAGE
from tests.fakeweb import Reply


@pytest.fixture
def env(tmp_path, fakeweb, clock):
    # Each test uses some of these routes, so none is required.
    fakeweb.add("/api/query", Reply(body=EMPTY_PAGE.read_bytes()), optional=True)  # classics backfill months
    fakeweb.add("/api/query", Reply(body=TESTING_PAGE.read_bytes()), optional=True,
                match=lambda q, h: "lastUpdatedDate" in q["search_query"][0])
    fakeweb.add("/feeds/bio", Reply(body=(FEEDS / "netnewswire_biorxiv_plant_biology_2019_rss1.rdf").read_bytes()),
                optional=True)
    fakeweb.add("/feeds/ajph", Reply(body=(FEEDS / "atypon_ajph_american_journal_of_public_health_toc_rss1.xml")
                                     .read_bytes()), optional=True)
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feed]]\nname = "bio"\nurl = "{fakeweb.url("/feeds/bio")}"\nfield = "biology"\n\n'
                     f'[[feed]]\nname = "ajph"\nurl = "{fakeweb.url("/feeds/ajph")}"\nfield = "public health"\n')
    return {
        "GLEAN_HOME": str(tmp_path / "home"),
        "GLEAN_ARXIV_API_URL": fakeweb.url("/api/query"),
        "GLEAN_ARXIV_PDF_BASE": fakeweb.url("/pdf/"),
        "GLEAN_ARXIV_MAX_RESULTS": "10",
        "GLEAN_ARXIV_PAGE_SIZE": "10",
        "GLEAN_FEEDS": str(feeds),
    }


def run(capsys, env, *argv):
    code = main(list(argv), env=env)
    out = capsys.readouterr().out
    return code, out


def test_ingest_all_then_nothing_new(capsys, env):
    code, out = run(capsys, env, "ingest", "all", "--json")
    assert code == 0
    first = json.loads(out)
    assert [s["source"] for s in first["sources"]] == ["arxiv", "classics", "feeds"]
    assert first["new"] == 10 + first["sources"][1]["new"] + 50
    assert first["sources"][1]["canon"]["new"] >= 80

    code, out = run(capsys, env, "ingest", "all", "--json")
    second = json.loads(out)
    assert code == 0 and second["new"] == 0 and second["updated"] == 0


def test_single_source_json_is_one_object_with_the_four_counts(capsys, env):
    code, out = run(capsys, env, "ingest", "feeds", "--json")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 1
    report = json.loads(lines[0])
    assert {k: type(report[k]) for k in ("new", "updated", "unchanged", "failed")} == dict.fromkeys(
        ("new", "updated", "unchanged", "failed"), int)


def test_status_shows_failing_and_never_run(capsys, env, fakeweb):
    run(capsys, env, "ingest", "feeds")
    broken = {**env, "GLEAN_ARXIV_API_URL": fakeweb.url("/nowhere"), "GLEAN_ARXIV_RETRIES": "0"}
    code, out = run(capsys, broken, "ingest", "arxiv")
    assert code == 1 and "FAILED: arXiv answered HTTP 404" in out
    code, out = run(capsys, env, "status", "--json")
    state = {s["source"]: s for s in json.loads(out)["sources"]}
    assert state["arxiv"]["state"] == "failing" and "HTTP 404" in state["arxiv"]["reason"]
    assert state["feeds"]["state"] == "ok" and state["classics"]["state"] == "never_run"
    code, out = run(capsys, env, "status")
    assert "FAILING" in out and "NEVER_RUN" in out


def test_download_json(capsys, env, fakeweb):
    fakeweb.add("/pdf/2202.12139v1", Reply(body=b"%PDF-1.4 tiny"), optional=True)
    run(capsys, env, "ingest", "arxiv")
    code, out = run(capsys, env, "download", "--limit", "1", "--json")
    report = json.loads(out)
    assert report["pending"] == 1 and report["new"] + report["failed"] == 1


def test_bad_setting_is_named(capsys, env):
    code = main(["status"], env={**env, "GLEAN_ARXIV_DELAY": "fast"})
    assert code == 2
    assert "GLEAN_ARXIV_DELAY" in capsys.readouterr().err


def test_every_command_is_in_the_readme():
    readme = (REPO / "README.md").read_text()
    commands = build_parser()._subparsers._group_actions[0].choices
    missing = [c for c in commands if f"glean {c}" not in readme]
    assert not missing, f"commands missing from README.md: {missing}"


def test_python_dash_m_service_is_the_same_cli(tmp_path):
    result = subprocess.run([sys.executable, "-m", "service", "ingest", "--help"], capture_output=True,
                            text=True, cwd=tmp_path, env={**os.environ, "GLEAN_HOME": str(tmp_path)}, timeout=60)
    assert result.returncode == 0 and "--since" in result.stdout


def test_each_line_appears_once_at_info(capsys, env, fakeweb):
    fakeweb.add("/feeds/gone", Reply(404, b"gone"))
    with open(env["GLEAN_FEEDS"], "a") as f:
        f.write(f'\n[[feed]]\nname = "gone"\nurl = "{fakeweb.url("/feeds/gone")}"\nfield = "x"\n')
    code = main(["ingest", "feeds"], env={**env, "GLEAN_LOG_LEVEL": "INFO"})
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).splitlines()
    assert code == 0
    assert len([line for line in lines if "'gone'" in line or "feed gone" in line]) == 1, lines
    assert len([line for line in lines if "new" in line and "unchanged" in line]) == 1, lines


def test_status_and_a_first_run_say_where_the_data_folder_is(capsys, env, tmp_path):
    fresh = {**env, "GLEAN_HOME": str(tmp_path / "fresh")}
    code = main(["status", "--json"], env=fresh)
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["data_folder"] == str(tmp_path / "fresh")
    assert f"created the data folder {tmp_path / 'fresh'}" in captured.err
    code = main(["status"], env=fresh)
    captured = capsys.readouterr()
    assert f"data folder {tmp_path / 'fresh'}" in captured.out and "created" not in captured.err  # once


def test_search_without_hits_names_its_filters(capsys, env):
    code, out = run(capsys, env, "search", "anything", "--from", "2030", "--source", "arxiv")
    assert code == 0 and "no passages match 'anything' with --from 2030 --source arxiv" in out


@pytest.mark.slow
def test_digest_dry_run_shows_the_picks_and_a_real_one_says_where_the_mail_went(capsys, settings, store):
    from tests.test_digest import seed
    seed(store, settings)
    env = {"GLEAN_HOME": str(settings.home), "GLEAN_SECRET_KEY": "k"}
    assert main(["users", "add", "ada@example.org", "--interests", "mixture of experts and routing"], env=env) == 0
    capsys.readouterr()
    code, out = run(capsys, env, "digest", "ada@example.org", "--dry-run")
    assert code == 0 and "Mixture of experts without load balancing" in out and "why: " in out
    code, out = run(capsys, env, "digest", "ada@example.org")
    [eml] = list((settings.home / "outbox").glob("*.eml"))
    assert code == 0 and f"mail written to {eml}" in out


def test_a_long_command_in_a_pipe_logs_its_progress_with_a_total(capsys, env, fakeweb, monkeypatch):
    from pipelines.records import Paper
    from pipelines.store import Store
    from service import cli
    Store(env["GLEAN_HOME"]).upsert_papers([Paper(id="feed:slow", title="slow", source="feed:x",
                                                  pdf_url=fakeweb.url("/slow.pdf"))])
    monkeypatch.setattr(cli, "PROGRESS_LOG_EVERY_S", 0.05)
    fakeweb.add("/slow.pdf", Reply(body=b"%PDF-1.4 slow", delay=1.0))
    code = main(["download"], env=env)
    err = capsys.readouterr().err
    assert code == 0
    assert "download PDFs: 0 of 1 (0%) items done" in err  # said while the one PDF was under way


def test_stages_announce_their_totals(store, settings, fakeweb):
    from pipelines.download import download_pdfs
    from pipelines.records import Paper
    fakeweb.add("/p1", Reply(body=b"%PDF-1.4"))
    fakeweb.add("/p2", Reply(body=b"%PDF-1.4"))
    store.upsert_papers([Paper(id=f"feed:{n}", title=str(n), source="feed:x", pdf_url=fakeweb.url(f"/p{n}"))
                         for n in (1, 2)])
    seen = []

    class Recorder:
        def __call__(self, n):
            seen.append(n)

        def start(self, total, what):
            seen.append((total, what))
    download_pdfs(store, settings, progress=Recorder())
    assert seen == [(2, "download PDFs"), 1, 1]


def test_a_run_whose_process_died_shows_as_interrupted(capsys, env):
    from pipelines.store import Store
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store = Store(env["GLEAN_HOME"])
    run_id = store.start_run("feeds")
    store.query("UPDATE runs SET details=json_set(details, '$.pid', ?) WHERE id=?", (int(gone.stdout), run_id))
    alive = store.start_run("arxiv")  # this process: still running
    code, out = run(capsys, env, "status", "--json")
    state = {s["source"]: s for s in json.loads(out)["sources"]}
    assert state["feeds"]["state"] == "interrupted" and f"pid {int(gone.stdout)}" in state["feeds"]["reason"]
    assert state["arxiv"]["state"] == "running"
    assert store.runs("arxiv")[0]["id"] == alive


def test_built_arxiv_entries_carry_their_own_paper_not_the_templates():
    from pipelines.sources.arxiv_api import parse_result
    from tests.corpus import ARXIV_API, ARXIV_PDF_PAPERS, atom_page, entries, entry_for
    from arxiv import _feed
    template = entries(ARXIV_API / "arxivpy_2016_id_list_1111.2011v2.xml")[0]
    page = atom_page([entry_for(template, aid, *m[:3]) for aid, m in ARXIV_PDF_PAPERS.items()], total=2, start=0)
    papers = {p.id: p for p in (parse_result(r, pdf_base="http://x/pdf/") for r in _feed.parse(page).results)}
    citesee, plain = papers["arxiv:2302.07302"], papers["arxiv:2203.00130"]
    assert citesee.abstract.startswith("When reading a scholarly article") and citesee.doi == "10.1145/3544548.3580847"
    assert plain.abstract.startswith("When seeking information") and plain.doi is None
    for paper in (citesee, plain):
        assert "Bethe lattice" not in paper.abstract and paper.categories == ["cs.HC"]
        assert paper.journal_ref is None and paper.abs_url.endswith(paper.id.removeprefix("arxiv:"))


def test_the_replay_prints_its_settings_and_writes_outside_the_checkout():
    import signal
    import threading
    from pathlib import Path
    script = REPO / "scripts" / "replay_corpus.py"
    proc = subprocess.Popen([sys.executable, str(script), "--port", "0"], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    guard = threading.Timer(120, proc.kill)
    guard.start()
    try:
        lines = [proc.stdout.readline().strip() for _ in range(5)]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        guard.cancel()
    settings = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
    assert set(settings) == {"GLEAN_ARXIV_API_URL", "GLEAN_ARXIV_PDF_BASE", "GLEAN_FEEDS"}
    feeds = Path(settings["GLEAN_FEEDS"])
    assert feeds.is_file() and not feeds.is_relative_to(REPO)
    assert settings["GLEAN_ARXIV_API_URL"].startswith("http://127.0.0.1:")
    assert not (REPO / "scripts" / "__pycache__").exists()
