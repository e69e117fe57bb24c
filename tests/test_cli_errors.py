"""Every command, given bad input, fails with a message and a non-zero status, never a traceback."""

from __future__ import annotations

import io
import json
import socket

import pytest

from service import cli
from service.cli import build_parser, main

NOBODY = "nobody@example.org"


@pytest.fixture
def env(tmp_path, capsys):
    home = tmp_path / "home"
    env = {"GLEAN_HOME": str(home), "GLEAN_ARXIV_API_URL": "http://127.0.0.1:9/api", "GLEAN_ARXIV_RETRIES": "0",
           "GLEAN_ARXIV_DELAY": "0", "GLEAN_OAI_URL": "http://127.0.0.1:9/oai",
           "GLEAN_FEEDS": str(tmp_path / "no-feeds.toml")}
    assert main(["users", "add", "a@b.org", "--interests", "robust statistics"], env=env) == 0
    capsys.readouterr()
    return env


def home_is_a_file(env, tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("not a folder")
    return {**env, "GLEAN_HOME": str(afile)}


# (command words, extra arguments, how to spoil the environment)
CASES = [
    (["serve", "--port", "99999"], None),
    (["serve", "--port", "http"], None),
    (["ingest", "nowhere"], None),
    (["ingest", "arxiv", "--since", "yesterday"], None),
    (["ingest", "feeds"], None),  # the feeds list is missing
    (["ingest", "all"], "home_file"),
    (["backfill", "arxiv"], None),
    (["backfill", "arxiv", "--from", "1800"], None),
    (["backfill", "arxiv", "--from", "2020", "--until", "2019"], None),
    (["backfill", "pdfs", "--from", "2020"], None),
    (["backfill", "embeddings", "--limit", "0"], None),
    (["download", "--limit", "many"], None),
    (["download"], "home_file"),
    (["extract"], None),
    (["extract", "missing.pdf"], None),
    (["extract", "x.pdf", "--pending"], None),
    (["index"], "home_file"),
    (["search", "q", "--from", "soon"], None),
    (["search", "q", "--limit", "0"], None),
    (["search", "q", "--category", "cs.XX"], None),
    (["search", "q", "--in", "abstracts"], None),
    (["users", "add", "not-an-email"], None),
    (["users", "add", "c@d.org", "--hour", "25"], None),
    (["users", "add", "c@d.org", "--timezone", "Mars/Olympus"], None),
    (["users", "add", "c@d.org", "--categories", "cs.XX"], None),
    (["users", "add", "a@b.org"], None),  # exists
    (["users", "list"], "home_file"),
    (["users", "show", NOBODY], None),
    (["users", "remove", NOBODY], None),
    (["users", "remove", "a@b.org"], None),  # not a terminal and no --yes
    (["users", "edit", NOBODY, "--name", "x"], None),
    (["users", "token", NOBODY], None),
    (["users", "edit", "a@b.org"], None),  # nothing to change
    (["users", "edit", "a@b.org", "--digest-hour", "31"], None),
    (["users", "edit", "a@b.org", "--anti-trend", "lots"], None),
    (["users", "edit", "a@b.org", "--anti-trend", "9"], None),
    (["users", "edit", "a@b.org", "--categories", "cs.XX"], None),
    (["users", "edit", "a@b.org", "--timezone", "Nowhere/Special"], None),
    (["reads", "add", NOBODY, "2401.01234"], None),
    (["reads", "add", "a@b.org", "2401.01234", "--rating", "5"], None),
    (["reads", "import", "a@b.org", "missing.bib"], None),
    (["reads", "import", NOBODY, "missing.bib"], None),
    (["reads", "list", NOBODY], None),
    (["trend", "--top", "0"], None),
    (["rank", NOBODY], None),
    (["rank", "a@b.org", "--date", "tomorrow"], None),
    (["rank", "a@b.org", "--limit", "-3"], None),
    (["digest"], None),
    (["digest", NOBODY], None),
    (["digest", "a@b.org", "--date", "someday"], None),
    (["digest", "--all", "--dry-run"], None),
    (["old-paper", "--week", "2026-W99"], None),
    (["old-paper", "--user", NOBODY], None),
    (["breadth", NOBODY], None),
    (["breadth", "a@b.org", "--png", "MISSING/b.png"], None),
    (["breadth", "a@b.org", "--png", "A_FOLDER"], None),
    (["status"], "home_file"),
    (["status"], "bad_log_level"),
    (["status"], "bad_number"),
]


def run(argv, env, capsys):
    try:
        code = main(argv, env=env)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def spoil(env, how, tmp_path):
    if how == "home_file":
        return home_is_a_file(env, tmp_path)
    if how == "bad_log_level":
        return {**env, "GLEAN_LOG_LEVEL": "LOUD"}
    if how == "bad_number":
        return {**env, "GLEAN_HTTP_TIMEOUT": "soon"}
    return env


@pytest.mark.parametrize("argv, how", CASES, ids=[" ".join(a) + (f" [{h}]" if h else "") for a, h in CASES])
def test_bad_input_is_a_message_not_a_traceback(argv, how, env, tmp_path, capsys):
    argv = [a.replace("MISSING", str(tmp_path / "missing")).replace("A_FOLDER", str(tmp_path)) for a in argv]
    code, out, err = run(argv, spoil(env, how, tmp_path), capsys)
    assert code != 0
    assert "Traceback" not in out + err
    assert err.strip() or "FAILED" in out, "a failure says what happened"
    last = err.strip().splitlines()[-1] if err.strip() else out.strip().splitlines()[-1]
    assert len(last) < 400


def every_command() -> list[tuple[str, ...]]:
    commands = build_parser()._subparsers._group_actions[0].choices
    names = []
    for name, parser in commands.items():
        nested = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        names += [(name, sub) for sub in nested[0].choices] if nested else [(name,)]
    return names


def test_every_command_has_a_bad_input_case():
    covered = {tuple(argv[:2]) if tuple(argv[:2]) in every_command() else (argv[0],) for argv, _ in CASES}
    missing = [c for c in every_command() if c not in covered]
    assert not missing, f"commands without a bad-input case: {missing}"


@pytest.mark.parametrize("command", every_command(), ids=" ".join)
def test_every_command_survives_an_unusable_data_folder(command, env, tmp_path, capsys, monkeypatch):
    """Also catches commands added later: any positional gets a plausible value."""
    parser = build_parser()
    argv = list(command)
    if command == ("serve",):
        monkeypatch.setattr("uvicorn.run", lambda *a, **kw: pytest.fail("the server started"))
        argv += ["--port", str(free_port())]
    sub = parser._subparsers._group_actions[0].choices[command[0]]
    if len(command) == 2:
        sub = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"][0].choices[command[1]]
    for action in sub._actions:
        if not action.option_strings and action.nargs != "*" and action.dest not in ("action",):
            if action.choices:
                argv.append(list(action.choices)[-1])  # e.g. backfill embeddings: no further options needed
            else:
                argv.append({"email": "c@d.org", "file": "x.bib"}.get(action.dest, "a@b.org"))
    if command == ("extract",):
        argv.append("--pending")
    code, out, err = run(argv, home_is_a_file(env, tmp_path), capsys)
    assert code != 0 and "Traceback" not in out + err
    assert "is not a folder" in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_on_a_port_in_use_says_so(env, capsys, monkeypatch):
    monkeypatch.setattr("uvicorn.run", lambda *a, **kw: pytest.fail("the server started"))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, out, err = run(["serve", "--no-scheduler", "--port", str(port)], env, capsys)
    assert code == 2 and err.strip() == (f"glean: 127.0.0.1:{port} is in use (another server?); "
                                         f"stop the other server or choose another --port")


def test_an_unexpected_error_is_one_line_with_a_hint(env, capsys, monkeypatch):
    def broken(args, settings):
        raise RuntimeError("something nobody expected")
    monkeypatch.setattr(cli, "cmd_status", broken)
    code, out, err = run(["status"], env, capsys)
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "glean: unexpected RuntimeError: something nobody expected (run again with glean -v … for the traceback "
        "to report)"]
    code, out, err = run(["-v", "status"], env, capsys)
    assert code == 1 and "Traceback" in err  # asked for


def test_a_closed_pipe_ends_quietly(env, capsys, monkeypatch):
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    code = main(["status"], env=env)
    assert code == 141
    assert capsys.readouterr().err == ""


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("glean ")


def test_unknown_glean_keys_are_named_with_the_closest_one(env, capsys, caplog):
    code, out, err = run(["status", "--json"], {**env, "GLEAN_HOMEE": "/tmp/elsewhere"}, capsys)
    assert code == 0 and json.loads(out)
    assert "unknown setting GLEAN_HOMEE is ignored: did you mean GLEAN_HOME?" in err + caplog.text


def test_the_server_log_keeps_the_stage_summaries(env, capsys, monkeypatch):
    """The CLI drops log lines it prints itself; under `glean serve` the log is the only record."""
    import logging

    from pipelines.stages import IN_REPORT

    def serve(args, settings):
        logging.getLogger("pipelines.stages").info("feeds: 3 new", extra=IN_REPORT)
        return 0
    monkeypatch.setattr(cli, "cmd_serve", serve)  # the parser picks the command up when main builds it
    code, out, err = run(["serve", "--no-scheduler"], env, capsys)
    assert code == 0 and "feeds: 3 new" in err
    code, out, err = run(["status"], env, capsys)  # a plain command: the same record is dropped
    logging.getLogger("pipelines.stages").info("feeds: 3 new", extra=IN_REPORT)
    assert "feeds: 3 new" not in capsys.readouterr().err
