"""Paper references out of BibTeX files and plain id lists: arXiv ids and DOIs, nothing else.

Real-world BibTeX is messy (Zotero, Google Scholar, DBLP, hand edits): nested
braces, quoted values, ``@string`` and ``@comment`` blocks, arXiv ids hidden in
``eprint``, ``journal = {arXiv preprint arXiv:…}``, ``note`` or ``url``. The parser
is tolerant: it never raises, and an entry it cannot place is returned as
unmatched with its key and title, so nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from .records import DOI_RE

_NEW_STYLE = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(v\d+)?(?!\d)")
_OLD_STYLE = re.compile(r"\b([a-z][a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?\b")


@dataclass
class Reference:
    """One entry of an imported file: what it says, and the id Glean can use, if any."""

    label: str  # BibTeX key or the input line
    title: str | None
    arxiv_id: str | None = None
    doi: str | None = None
    read_on: str | None = None  # YYYY-MM-DD the entry gives for the reading, if any
    read_on_from: str | None = None  # where that date came from: "added" or "published"


# When the reader added or accessed the entry (BibDesk, BibSonomy, JabRef, Zotero): the
# closest a file comes to saying when it was read; tried first, in this order.
_ADDED_FIELDS = ("date-added", "added-at", "timestamp", "creationdate", "urldate")
_ISO_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_MONTHS = {m: n for n, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"), start=1)}


def _day(year: str, month: str | None = None, day: str | None = None) -> str | None:
    """YYYY-MM-DD from parts (a missing month or day is the first), or None when they make no date."""
    try:
        return date(int(year), int(month or 1), int(day or 1)).isoformat()
    except ValueError:
        return None


def _month(text: str) -> str | None:
    text = text.strip().lower()
    if text.isdigit():
        return text
    return str(_MONTHS[text[:3]]) if text[:3] in _MONTHS else None


def read_date_of(entry: dict[str, str]) -> tuple[str | None, str | None]:
    """(YYYY-MM-DD, "added" | "published") for an entry, or (None, None).

    The entry's own added/accessed date wins; otherwise its publication date
    (``date``, or ``year`` and ``month``), the earliest the paper can have been read.
    """
    for key in _ADDED_FIELDS:
        m = _ISO_DATE.match(entry.get(key, "").strip())
        if m and (day := _day(*m.groups())):
            return day, "added"
    m = _ISO_DATE.match(entry.get("date", "").strip())
    if m and (day := _day(*m.groups())):
        return day, "published"
    year = entry.get("year", "").strip()
    if year.isdigit() and len(year) == 4 and (day := _day(year, _month(entry.get("month", "")))):
        return day, "published"
    return None, None


def parse_entries(text: str) -> list[dict[str, str]]:
    """BibTeX entries as {'_type', '_key', field: value}; unparseable tails are skipped."""
    entries, pos = [], 0
    while True:
        at = text.find("@", pos)
        if at < 0:
            return entries
        m = re.match(r"@\s*(\w+)\s*([{(])", text[at:])
        if not m:
            pos = at + 1
            continue
        kind = m.group(1).lower()
        body_start = at + m.end()
        end = _matching(text, body_start - 1)
        pos = end + 1
        if kind in ("comment", "string", "preamble"):
            continue
        body = text[body_start:end]
        key, _, rest = body.partition(",")
        entry = {"_type": kind, "_key": key.strip()}
        entry.update(_fields(rest))
        entries.append(entry)


def _matching(text: str, open_at: int) -> int:
    """Index of the bracket closing the one at ``open_at`` (end of text if unbalanced)."""
    opener = text[open_at]
    closer = "}" if opener == "{" else ")"
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == "{" or (ch == opener and opener == "("):
            depth += 1
        elif ch == "}" or (ch == closer and closer == ")"):
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _fields(body: str) -> dict[str, str]:
    fields, i, n = {}, 0, len(body)
    while i < n:
        m = re.compile(r"\s*,?\s*([\w\-:.]+)\s*=\s*").match(body, i)
        if not m:
            break
        name, i = m.group(1).lower(), m.end()
        value, i = _value(body, i)
        fields[name] = " ".join(value.replace("{", "").replace("}", "").split())
    return fields


def _value(body: str, i: int) -> tuple[str, int]:
    parts = []
    while i < len(body):
        ch = body[i]
        if ch == "{":
            end = _matching(body, i)
            parts.append(body[i + 1:end])
            i = end + 1
        elif ch == '"':
            end = i + 1
            depth = 0
            while end < len(body) and not (body[end] == '"' and depth == 0):
                depth += {"{": 1, "}": -1}.get(body[end], 0)
                end += 1
            parts.append(body[i + 1:end])
            i = end + 1
        else:
            m = re.compile(r"[^,#}\s]+").match(body, i)
            if m:
                parts.append(m.group(0))
                i = m.end()
        m = re.compile(r"\s*#\s*").match(body, i)  # string concatenation
        if not m:
            break
        i = m.end()
    return "".join(parts), i


def arxiv_id_in(text: str) -> str | None:
    for pattern in (_NEW_STYLE, _OLD_STYLE):
        m = pattern.search(text or "")
        if m:
            return m.group(1)
    return None


def reference_from_entry(entry: dict[str, str]) -> Reference:
    arxiv = None
    prefix = (entry.get("archiveprefix") or entry.get("eprinttype") or "").lower()
    if entry.get("eprint") and (prefix in ("", "arxiv")):
        arxiv = arxiv_id_in(entry["eprint"])
    for key in ("arxivid", "arxiv", "journal", "note", "url", "howpublished", "booktitle"):
        if arxiv:
            break
        value = entry.get(key, "")
        if key in ("arxivid", "arxiv") or "arxiv" in value.lower():
            arxiv = arxiv_id_in(value)
    doi = None
    for key in ("doi", "url", "note"):
        m = DOI_RE.search(entry.get(key, ""))
        if m and "arxiv" not in m.group(0).lower():
            doi = m.group(0).rstrip(".,;)}").lower()
            break
    read_on, read_on_from = read_date_of(entry)
    return Reference(label=entry["_key"] or "(no key)", title=entry.get("title"), arxiv_id=arxiv, doi=doi,
                     read_on=read_on, read_on_from=read_on_from)


_LINE_DATE = re.compile(r"\s+(\d{4}-\d{2}-\d{2})$")


def parse_id_list(text: str) -> list[Reference]:
    """One arXiv id, DOI or URL per line, optionally followed by the day it was read
    (``2401.01234 2024-03-05``); blank lines and # comments are ignored."""
    refs = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip() if not line.strip().startswith("http") else line.strip()
        if not line:
            continue
        read_on = None
        if (dated := _LINE_DATE.search(line)) and (read_on := _day(*dated.group(1).split("-"))):
            line = line[:dated.start()]
        source = "added" if read_on else None
        doi = DOI_RE.search(line)
        if doi and "arxiv" not in line.lower():
            refs.append(Reference(label=line, title=None, doi=doi.group(0).rstrip(".,;").lower(),
                                  read_on=read_on, read_on_from=source))
        else:
            refs.append(Reference(label=line, title=None, arxiv_id=arxiv_id_in(line), read_on=read_on,
                                  read_on_from=source))
    return refs


def parse_references(text: str) -> list[Reference]:
    """A BibTeX file or a plain list, whichever the text is."""
    if re.search(r"@\s*\w+\s*[{(]", text):
        return [reference_from_entry(e) for e in parse_entries(text)]
    return parse_id_list(text)

