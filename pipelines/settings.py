"""All of Glean's settings, in one place.

Each setting is read from the environment (``GLEAN_*``), then from a ``.env`` file
in the working directory, then from its default. Values are parsed into their
declared type; a bad value raises :class:`SettingsError` naming the key, so a typo
in a deployment fails loudly at start-up instead of half-way through a job.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""

    def __init__(self, key: str, value: str, why: str):
        self.key = key
        super().__init__(f"setting {key}={value!r} is invalid: {why}")


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true/false")


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _parse_categories(raw: str) -> tuple[str, ...]:
    """arXiv categories, each one in the taxonomy: a typo would ask arXiv for nothing, quietly."""
    from .taxonomy import unknown_categories  # the taxonomy finds its file through this module

    codes = _parse_list(raw)
    unknown = unknown_categories(codes)
    if unknown:
        raise ValueError(f"unknown arXiv categories {', '.join(unknown)}: use codes like cs.CL "
                         f"(arxiv.org/category_taxonomy)")
    return codes


def _parse_positive_float(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"choose one of {', '.join(choices)}")
        return value
    return parse


_EXECUTOR = re.compile(r"dask://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")


def _parse_executor(raw: str) -> str:
    """'local', or 'dask://host:port' (a Dask scheduler); pipelines.executor.parse_spec agrees."""
    value = raw.strip()
    if value.lower() == "local":
        return "local"
    match = _EXECUTOR.fullmatch(value)
    if not match or not 0 < int(match[2]) < 65536:
        raise ValueError("use 'local' or 'dask://host:port', e.g. dask://127.0.0.1:8786")
    return value


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _parse_log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in _LOG_LEVELS:
        raise ValueError(f"choose one of {', '.join(_LOG_LEVELS)}")
    return value


def _parse_path(raw: str) -> Path:
    return Path(raw).expanduser().resolve()


def setting(default: Any, parse: Callable[[str], Any], doc: str) -> Any:
    """Declare a setting: its default, how to parse text into it, and what it means."""
    return field(default=default, metadata={"parse": parse, "doc": doc})


@dataclass(frozen=True)
class Settings:
    home: Path = setting(Path("./var").resolve(), _parse_path,
                         "Data folder: the SQLite store, the PDF cache, indexes and the mail outbox.")
    arxiv_api_url: str = setting("https://export.arxiv.org/api/query", str,
                                 "arXiv API query endpoint.")
    arxiv_pdf_base: str = setting("https://arxiv.org/pdf/", str,
                                  "Prefix of arXiv PDF links; the id and version are appended.")
    arxiv_categories: tuple[str, ...] = setting(("cs.LG", "cs.CL", "stat.ML"), _parse_categories,
                                                "arXiv categories to follow, comma-separated.")
    arxiv_delay: float = setting(3.0, _parse_positive_float,
                                 "Seconds between two requests to arXiv, shared by the whole process.")
    arxiv_page_size: int = setting(100, _parse_positive_int,
                                   "Results per arXiv API request.")
    arxiv_retries: int = setting(3, int,
                                 "Retries of a failed arXiv request (API: the arxiv package's own loop; OAI-PMH: 503/429).")
    oai_url: str = setting("https://oaipmh.arxiv.org/oai", str,
                           "arXiv's OAI-PMH base URL, for `glean backfill arxiv` (bulk metadata).")
    arxiv_max_results: int = setting(2000, _parse_positive_int,
                                     "Most arXiv records one ingest run takes; the next run continues.")
    arxiv_initial_days: int = setting(3, _parse_positive_int,
                                      "How far back the very first arXiv ingest looks, in days.")
    classics_per_run: int = setting(200, _parse_positive_int,
                                    "Most pre-2010 arXiv records one classics run takes (the backfill is slow on purpose).")
    http_timeout: float = setting(30.0, _parse_positive_float,
                                  "Seconds before an HTTP request to any source gives up.")
    feeds: Path = setting(DATA_DIR / "feeds.toml", _parse_path,
                          "Path of the cross-field feeds list (TOML, [[feed]] tables with name, url, field).")
    canon: Path = setting(DATA_DIR / "canon.toml", _parse_path,
                          "Path of the curated canon of classic papers.")
    feed_max_bytes: int = setting(10_000_000, _parse_positive_int,
                                  "Largest feed body accepted, in bytes.")
    pdf_max_bytes: int = setting(50_000_000, _parse_positive_int,
                                 "Largest PDF downloaded, in bytes.")
    pdf_timeout: float = setting(120.0, _parse_positive_float,
                                 "Seconds a whole PDF download may take.")
    download_attempts: int = setting(3, _parse_positive_int,
                                     "How many times a failing PDF download is tried before it is left alone.")
    executor: str = setting("local", _parse_executor,
                            "Where PDF extraction and embedding run: `local` (worker processes on this machine) "
                            "or `dask://host:port` (a Dask distributed scheduler; only this process writes "
                            "to the store).")
    extract_workers: int = setting(2, _parse_positive_int,
                                   "Worker processes that parse PDFs (each one recycled after a few documents).")
    extract_timeout: float = setting(120.0, _parse_positive_float,
                                     "Seconds one PDF may take to parse before its worker is killed (outcome `timeout`).")
    extract_memory_mb: int = setting(2048, _parse_positive_int,
                                     "Memory cap of a PDF worker process, in MiB.")
    embedding_model: str = setting("all-MiniLM-L6-v2", str,
                                   "Sentence-embedding model: all-MiniLM-L6-v2 (bundled, offline) or a local model folder.")
    embed_batch: int = setting(64, _parse_positive_int, "Texts per embedding batch.")
    serve_threads: int = setting(1, _parse_positive_int,
                                 "CPU threads torch and faiss use inside `glean serve`, where searches share "
                                 "the cores with the scheduled stages. One keeps a query from waiting on a "
                                 "descheduled second thread (BENCHMARKS.md); batch commands use every core.")
    index_exact_max: int = setting(50_000, _parse_positive_int,
                                   "Up to this many vectors the index is exact (flat); above it, HNSW. "
                                   "Measured in BENCHMARKS.md.")
    trend_window_days: int = setting(30, _parse_positive_int,
                                     "Trendiness looks at papers of the last this many days against the year before.")
    trend_rho: float = setting(0.6, _parse_positive_float,
                               "Cosine similarity from which two papers count as near neighbours.")
    trend_alpha: float = setting(0.01, _parse_positive_float,
                                 "Burst test: family-wise significance level (Poisson test against the cluster's "
                                 "own baseline, Bonferroni-corrected over the clusters tested).")
    trend_min_size: int = setting(5, _parse_positive_int, "Burst test: fewest papers in the window for a trend.")
    trend_min_groups: int = setting(3, _parse_positive_int,
                                    "Burst test: fewest independent author groups (papers sharing an author are "
                                    "one group), so one lab's bulk upload is not a trend.")
    trend_min_ratio: float = setting(2.0, _parse_positive_float,
                                     "Burst test: the window must hold at least this many times the baseline.")
    rank_floor: float = setting(0.45, _parse_positive_float,
                                "Relevance floor: a pick's cosine to its nearest read or interest must reach this "
                                "(calibrated on unrelated pairs, BENCHMARKS.md); a reader whose reads sit closer "
                                "together gets a higher floor of their own. Digests may be shorter than "
                                "GLEAN_DIGEST_SIZE.")
    rank_centre_quantile: float = setting(0.4, _parse_positive_float,
                                          "A pick must sit at least as close to the centre of a reader's reading "
                                          "as this share of their own reads do (0 turns the test off); readers "
                                          "with fewer than 5 reads have no such test. Measured on graded picks "
                                          "(BENCHMARKS.md).")
    rank_beta: float = setting(0.2, _parse_positive_float,
                               "Default anti-trending strength: how much is subtracted from the score of a paper "
                               "in a bursting cluster (nothing else is penalised). Users can set their own.")
    rank_mmr_lambda: float = setting(0.7, _parse_positive_float,
                                     "MMR trade-off: 1 ranks by score alone, lower values favour variety.")
    rank_old_bonus: float = setting(0.05, _parse_positive_float, "Score bonus for papers from before 2010.")
    rank_cross_bonus: float = setting(0.05, _parse_positive_float,
                                      "Score bonus for cross-field papers (another field, bridged to a read).")
    rank_min_old: int = setting(1, int, "A digest carries at least this many pre-2010 papers when one clears "
                                        "the floor (and the old-share cap allows one).")
    rank_min_cross: int = setting(1, int, "A digest carries at least this many cross-field papers when one clears "
                                          "the floor and shares a concept with a read.")
    rank_max_old_share: float = setting(0.3, _parse_positive_float,
                                        "At most this share of a digest's slots (GLEAN_DIGEST_SIZE, rounded down) go to "
                                        "pre-2010 papers.")
    rank_cross_share: float = setting(0.05, _parse_positive_float,
                                      "A subfield holding less than this share of a reader's weighted reads is "
                                      "another field for them (cross-field).")
    rank_max_cross_share: float = setting(0.25, _parse_positive_float,
                                          "At most this share of a digest's slots (rounded down) go to papers from "
                                          "subfields the reader hardly reads.")
    rank_cross_floor: float = setting(0.5, _parse_positive_float,
                                      "A paper from another field must be at least this close to a read (and share "
                                      "a key phrase with it): across fields, unrelated papers score higher by chance.")
    base_url: str = setting("http://127.0.0.1:8000", str,
                            "Public address of this Glean server; every link in mails and feeds starts with it.")
    secret_key: str = setting("", str, "Key that signs links and sessions. Empty: one is generated once and "
                                       "kept in GLEAN_HOME/secret.key.")
    smtp_host: str = setting("", str, "SMTP server for mail. Empty: mails are written as .eml files to "
                                      "GLEAN_HOME/outbox instead.")
    smtp_port: int = setting(587, _parse_positive_int, "SMTP port.")
    smtp_security: str = setting("starttls", _parse_choice("none", "starttls", "ssl"),
                                 "SMTP transport security: none, starttls or ssl.")
    smtp_user: str = setting("", str, "SMTP user name (empty: no login).")
    smtp_password: str = setting("", str, "SMTP password.")
    mail_from: str = setting("Glean <glean@localhost>", str, "Sender of digests and sign-in mails.")
    digest_size: int = setting(8, _parse_positive_int, "Papers in one daily digest.")
    link_ttl_days: int = setting(30, _parse_positive_int,
                                 "Days a signed link in a mail (feedback, unsubscribe) stays valid.")
    max_request_bytes: int = setting(1_000_000, _parse_positive_int,
                                     "Largest request body the server accepts, in bytes; larger ones get 413 "
                                     "before anything is parsed or checked.")
    log_level: str = setting("INFO", _parse_log_level, "Logging level (DEBUG, INFO, WARNING, ERROR).")

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, dotenv: Path | None = None) -> "Settings":
        """Build settings from ``env`` (default: the process environment) over ``.env``."""
        merged = read_dotenv(dotenv if dotenv is not None else Path(".env"))
        merged.update(os.environ if env is None else env)
        for warning in unknown_keys(merged):
            log.warning("%s", warning)
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = env_key(f.name)
            if key in merged:
                raw = merged[key]
                try:
                    values[f.name] = f.metadata["parse"](raw)
                except (ValueError, TypeError) as exc:
                    raise SettingsError(key, raw, str(exc) or type(exc).__name__) from None
        return cls(**values)


def env_key(name: str) -> str:
    return "GLEAN_" + name.upper()


def unknown_keys(values: Mapping[str, str]) -> list[str]:
    """A warning for each ``GLEAN_*`` key no setting reads: a typo (GLEAN_HOMEE) would
    otherwise leave its setting at the default without a word."""
    known = [env_key(f.name) for f in fields(Settings)]
    warnings = []
    for key in sorted(k for k in values if k.startswith("GLEAN_") and k not in known):
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "see glean --help for the settings"
        warnings.append(f"unknown setting {key} is ignored: {hint}")
    return warnings


def documented_settings() -> list[tuple[str, str, str]]:
    """(environment key, default, meaning) for every setting, for docs and `--help`."""
    rows = []
    for f in fields(Settings):
        default = f.default
        if isinstance(default, tuple):
            default = ",".join(default)
        rows.append((env_key(f.name), str(default), f.metadata["doc"]))
    return rows


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines; blank lines and # comments are skipped, quotes stripped."""
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values
