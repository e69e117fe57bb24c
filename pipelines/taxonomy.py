"""arXiv categories as readable subfields and fields (``data/arxiv_subfields.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache

from .settings import DATA_DIR


@dataclass(frozen=True)
class Subfield:
    code: str
    subfield: str
    field: str


@lru_cache(maxsize=1)
def taxonomy() -> dict[str, Subfield]:
    data = tomllib.loads((DATA_DIR / "arxiv_subfields.toml").read_text())
    return {code: Subfield(code, entry["subfield"], entry["field"])
            for code, entry in data.get("categories", {}).items()}


def lookup(category: str | None) -> Subfield | None:
    """The subfield of a category; an unknown sub-category falls back to its archive (math.XX → math)."""
    if not category:
        return None
    table = taxonomy()
    return table.get(category) or table.get(category.split(".")[0])


def unknown_categories(codes) -> list[str]:
    """The codes that are not arXiv categories of the taxonomy (a typo would follow nothing, quietly)."""
    known = taxonomy()
    return [c for c in codes if c not in known]


def field_of(category: str | None) -> str | None:
    found = lookup(category)
    return found.field if found else None


# Canon and feed fields named in their own words, mapped onto the taxonomy's top-level fields, so
# "where the reading goes" compares like with like. Fields with no arXiv counterpart (neuroscience,
# ecology, medicine …) stay themselves.
FIELD_ALIASES = {
    "machine learning": "computer science", "computer systems": "computer science",
    "nlp and information retrieval": "computer science", "theory of computation": "computer science",
    "information theory": "computer science", "control": "electrical engineering and systems science",
    "biology": "quantitative biology",
}


def field_key(name: str | None) -> str | None:
    """A field name as the reading-share tables key it (lower case, aliases resolved)."""
    if not name:
        return None
    key = name.strip().lower()
    return FIELD_ALIASES.get(key, key)
