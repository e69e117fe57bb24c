"""Classic (pre-2010) papers: a curated canon, and arXiv's own pre-2010 back catalogue.

The canon is a TOML file of facts (title, authors, year, venue, identifier). The
arXiv back catalogue is walked one month at a time, newest first, a bounded number
of records per run: a slow, polite backfill that resumes where it stopped.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..records import Paper, normalise_doi, split_arxiv_id, stable_id, web_url

# arXiv opened in August 1991; the backfill walks from December 2009 down to here.
ARXIV_FIRST_MONTH = (1991, 8)
CLASSICS_LAST_MONTH = (2009, 12)
# At most this many months (one request each, at least) per classics run.
MONTHS_PER_RUN = 12


class CanonError(ValueError):
    """The canon file cannot be used."""


def load_canon(path: Path) -> list[Paper]:
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CanonError(f"canon file {path} does not exist (set GLEAN_CANON)") from None
    except tomllib.TOMLDecodeError as exc:
        raise CanonError(f"canon file {path} is not valid TOML: {exc}") from None
    return [canon_entry_to_paper(entry, number)
            for number, entry in enumerate(data.get("paper", []), start=1)]


def canon_entry_to_paper(entry: dict, number: int = 0) -> Paper:
    missing = [k for k in ("title", "authors", "year") if not entry.get(k)]
    if missing:
        raise CanonError(f"canon entry #{number} lacks {', '.join(missing)}")
    arxiv_id = split_arxiv_id(entry["arxiv"])[0] if entry.get("arxiv") else None
    doi = normalise_doi(entry["doi"]) if entry.get("doi") else None
    url = entry.get("url")
    if not (arxiv_id or doi or url):
        raise CanonError(f"canon entry #{number} ({entry['title']!r}) needs a doi, arxiv id or url")
    if url and not web_url(url):
        raise CanonError(f"canon entry #{number} ({entry['title']!r}): url must start with http:// or https://")
    if arxiv_id:
        link = f"https://arxiv.org/abs/{arxiv_id}"
    elif doi:
        link = f"https://doi.org/{doi}"
    else:
        link = url
    categories = list(entry.get("categories", []))
    return Paper(
        id=stable_id(arxiv_id=arxiv_id, doi=doi, url=url),
        title=entry["title"],
        source="canon",
        authors=list(entry["authors"]),
        year=int(entry["year"]),
        primary_category=categories[0] if categories else None,
        categories=categories,
        field=entry.get("field"),
        abs_url=link,
        doi=doi,
        venue=entry.get("venue"),
        is_classic=True,
    )


@dataclass(frozen=True)
class BackfillPosition:
    """Where the pre-2010 arXiv backfill stands: a month and an offset inside it."""

    year: int
    month: int
    offset: int = 0

    @classmethod
    def parse(cls, value: str | None) -> "BackfillPosition":
        if not value:
            return cls(*CLASSICS_LAST_MONTH)
        month_part, _, offset = value.partition("+")
        year, month = month_part.split("-")
        return cls(int(year), int(month), int(offset or 0))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}+{self.offset}"

    @property
    def done(self) -> bool:
        return (self.year, self.month) < ARXIV_FIRST_MONTH

    def window(self) -> tuple[datetime, datetime]:
        """First and last minute of the month (arXiv's date ranges are inclusive)."""
        start = datetime(self.year, self.month, 1, tzinfo=timezone.utc)
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return start, datetime(year, month, 1, tzinfo=timezone.utc) - timedelta(minutes=1)

    def previous_month(self) -> "BackfillPosition":
        if self.month == 1:
            return BackfillPosition(self.year - 1, 12)
        return BackfillPosition(self.year, self.month - 1)

    def advanced(self, taken: int) -> "BackfillPosition":
        return BackfillPosition(self.year, self.month, self.offset + taken)
