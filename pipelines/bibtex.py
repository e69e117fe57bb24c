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
    return Reference(label=entry["_key"] or "(no key)", title=entry.get("title"), arxiv_id=arxiv, doi=doi)


def parse_id_list(text: str) -> list[Reference]:
    """One arXiv id, DOI or URL per line; blank lines and # comments are ignored."""
    refs = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip() if not line.strip().startswith("http") else line.strip()
        if not line:
            continue
        doi = DOI_RE.search(line)
        if doi and "arxiv" not in line.lower():
            refs.append(Reference(label=line, title=None, doi=doi.group(0).rstrip(".,;").lower()))
        else:
            refs.append(Reference(label=line, title=None, arxiv_id=arxiv_id_in(line)))
    return refs


def parse_references(text: str) -> list[Reference]:
    """A BibTeX file or a plain list, whichever the text is."""
    if re.search(r"@\s*\w+\s*[{(]", text):
        return [reference_from_entry(e) for e in parse_entries(text)]
    return parse_id_list(text)

