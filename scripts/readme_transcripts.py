"""Regenerate the README's ```console transcripts from what the commands print now.

    python scripts/readme_transcripts.py           # rewrite README.md's transcripts
    python scripts/readme_transcripts.py --check   # exit 1 with a diff when they are stale

It starts ``scripts/replay_corpus.py`` on a free loopback port (nothing touches the
internet), makes a fresh temporary data folder and working folder (nothing is written into
the checkout), and runs every ``$ glean …`` line of every ```console block of README.md in
order, all in the same data folder, so later blocks see what earlier ones did. Each block is
rewritten as its commands followed by their real output (stdout and stderr as a terminal
shows them), with the settings the README names: ``GLEAN_CLASSICS_PER_RUN=20`` and
``GLEAN_LOG_LEVEL=WARNING``.

What varies from run to run is made stable: the data folder prints as ``/tmp/demo/var``,
the replay's port as 8765, API tokens as ``glean_<token>``, durations as ``… ms``, log
timestamps as ``…``, and the day the transcripts run as 2026-11-29 15:18:43 UTC.

A block whose fence says ```console manual is hand-written and left alone (``make``,
``glean serve`` with ``curl``: they install things or start servers); only the schema version
it quotes is kept current.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.dont_write_bytecode = True  # importing glean from the checkout must not leave __pycache__ in it
sys.path.insert(0, str(CHECKOUT))
README = CHECKOUT / "README.md"
REPLAY = CHECKOUT / "scripts" / "replay_corpus.py"
SHARED = (CHECKOUT.parent / "shared").resolve()

FIXED_NOW = datetime(2026, 11, 29, 15, 18, 43, tzinfo=timezone.utc)
FIXED_HOME = "/tmp/demo"
FIXED_PORT = 8765
TRANSCRIPT_SETTINGS = {"GLEAN_CLASSICS_PER_RUN": "20", "GLEAN_LOG_LEVEL": "WARNING"}

BLOCK = re.compile(r"^```console(?P<manual>[ \t]+manual)?[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)


def blocks(text: str) -> list[re.Match]:
    return list(BLOCK.finditer(text))


def commands(body: str) -> list[str]:
    return [line[2:] for line in body.splitlines() if line.startswith("$ ")]


# -- running ---------------------------------------------------------------

class Replay:
    """scripts/replay_corpus.py as a child process on a free loopback port."""

    def __init__(self, workdir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(REPLAY), "--port", "0", "--feeds-out", str(workdir / "replay-feeds.toml")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        self.env: dict[str, str] = {}
        deadline = time.monotonic() + 120
        while "GLEAN_FEEDS" not in self.env:
            line = self.proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                self.close()
                raise SystemExit("readme_transcripts: the corpus replay did not start")
            if line.startswith("export "):
                key, _, value = line[len("export "):].strip().partition("=")
                self.env[key] = value
        self.port = int(re.search(r"127\.0\.0\.1:(\d+)", self.env["GLEAN_ARXIV_API_URL"]).group(1))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def glean_env(tmp: Path, replay: Replay) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLEAN_")}
    env.update(replay.env)
    env.update(TRANSCRIPT_SETTINGS)
    env.update({
        "GLEAN_HOME": str(tmp / "var"),
        "GLEAN_CANON": str(CHECKOUT / "data" / "canon.toml"),  # the default is relative to the working folder
        "GLEAN_SECRET_KEY": "readme-transcripts-fixed-secret-key",
        "GLEAN_ARXIV_DELAY": "0",  # loopback: the polite pace changes no output, only the wait
        "PYTHONDONTWRITEBYTECODE": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TZ": "UTC",
        "COLUMNS": "100",
    })
    return env


def run_command(command: str, cwd: Path, env: dict[str, str]) -> str:
    """Run one README command through glean's own entry point (``service.cli.main``).

    In this process rather than one process each: the embedding model's libraries are
    imported once instead of for every command, which halves the time the check takes.
    stdout and stderr go to one buffer, in the order a terminal shows them."""
    argv = shlex.split(command)
    if argv[0] != "glean":
        raise SystemExit(f"readme_transcripts: cannot run {command!r}: only glean commands run here; "
                         f"mark its block ```console manual")
    from service.cli import main as glean_main
    buffer = io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            try:
                glean_main(argv[1:], env=env)
            except SystemExit:  # argparse errors and --help
                pass
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return buffer.getvalue()


# -- making output stable ----------------------------------------------------

def normaliser(tmp: Path, port: int, started: datetime):
    days = {(started + timedelta(days=d)).date() for d in (-1, 0, 1)}
    day_forms = "|".join(sorted({re.escape(d.isoformat()) for d in days}))
    compact_forms = "|".join(sorted({d.strftime("%Y%m%d") for d in days}))
    rules = [
        (re.compile(re.escape(str(tmp))), FIXED_HOME),
        (re.compile(re.escape(str(tmp.resolve()))), FIXED_HOME),
        (re.compile(rf"127\.0\.0\.1:{port}\b"), f"127.0.0.1:{FIXED_PORT}"),
        (re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", re.M), "… "),  # log line timestamps
        (re.compile(r"\bglean_[A-Za-z0-9_-]{30,}"), "glean_<token>"),
        (re.compile(r"\b\d+(?:\.\d+)? ms\b"), "… ms"),
        (re.compile(rf"\b(?:{day_forms})T\d\d:\d\d:\d\d(?:\.\d+)?(?P<tz>Z|[+-]\d\d:\d\d)?"),
         lambda m: FIXED_NOW.strftime("%Y-%m-%dT%H:%M:%S") + (m.group("tz") or "")),
        (re.compile(rf"\b(?:{compact_forms})\d{{4}}\b"), FIXED_NOW.strftime("%Y%m%d%H%M")),
        (re.compile(rf"\b(?:{day_forms})\b"), FIXED_NOW.date().isoformat()),
    ]

    def normalise(text: str) -> str:
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        return "\n".join(line.rstrip() for line in text.rstrip("\n").splitlines())
    return normalise


def schema_version() -> int:
    from pipelines.migrations import MIGRATIONS
    return len(MIGRATIONS)


def generate(text: str, *, verbose: bool = True) -> list[str | None]:
    """The new body of every ```console block (None: a manual block, kept as it is)."""
    found = blocks(text)
    bodies: list[str | None] = []
    with tempfile.TemporaryDirectory(prefix="glean-readme-") as name:
        tmp = Path(name)
        work = tmp / "work"
        work.mkdir()
        (tmp / "shared").symlink_to(SHARED)  # the README's ../shared/corpus/… paths, seen from work/
        replay = Replay(tmp)
        try:
            env = glean_env(tmp, replay)
            normalise = normaliser(tmp, replay.port, datetime.now(timezone.utc))
            for number, block in enumerate(found, 1):
                if block["manual"]:
                    bodies.append(None)
                    continue
                lines = []
                for command in commands(block["body"]):
                    began = time.monotonic()
                    output = normalise(run_command(command, work, env))
                    if verbose:
                        print(f"[block {number}] $ {command}  ({time.monotonic() - began:.1f} s)", file=sys.stderr)
                    lines.append(f"$ {command}")
                    if output:
                        lines.append(output)
                bodies.append("\n".join(lines) + "\n")
        finally:
            replay.close()
    return bodies


def rewrite(text: str, bodies: list[str | None]) -> str:
    found = blocks(text)
    if len(found) != len(bodies):
        raise SystemExit("readme_transcripts: README.md's console blocks changed while the commands ran; run again")
    version = schema_version()
    out, last = [], 0
    for block, body in zip(found, bodies):
        if body is None:  # manual: keep, but never quote an old schema version
            body = re.sub(r'"schema_version":\s*\d+', f'"schema_version":{version}', block["body"])
        out += [text[last:block.start("body")], body]
        last = block.end("body")
    out.append(text[last:])
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 and print a diff when README.md's transcripts are stale")
    parser.add_argument("--readme", type=Path, default=README, help=argparse.SUPPRESS)
    parser.add_argument("-q", "--quiet", action="store_true", help="do not list the commands as they run")
    args = parser.parse_args(argv)
    old = args.readme.read_text()
    if not any(commands(b["body"]) for b in blocks(old) if not b["manual"]):
        print("readme_transcripts: no ```console block with $ glean commands found", file=sys.stderr)
        return 2
    bodies = generate(old, verbose=not args.quiet)
    if args.check:
        new = rewrite(old, bodies)
        if new == old:
            print("README.md transcripts are up to date")
            return 0
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                   "README.md", "README.md (commands now)"))
        print("\nREADME.md transcripts are stale: run python scripts/readme_transcripts.py", file=sys.stderr)
        return 1
    current = args.readme.read_text()  # others may have edited the prose meanwhile: keep their edits
    new = rewrite(current, bodies)
    if new != current:
        args.readme.write_text(new)
        print("README.md transcripts rewritten")
    else:
        print("README.md transcripts were up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
