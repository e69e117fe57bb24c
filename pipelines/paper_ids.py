"""Any id a reader can paste, turned into the id the paper is stored under.

Papers are stored under one key (pipelines/records.py, ``stable_id``): ``arxiv:2302.07302``,
``doi:10.1038/323533a0`` or ``url:<hash>``. Readers paste what they have: a bare arXiv id,
one with a version, an arXiv abstract or PDF address, a DOI, ``doi:…``, a doi.org address.
One function answers for the pages, the API and the command line.
"""

from __future__ import annotations

import re

from .records import arxiv_paper_id, normalise_doi, split_arxiv_id
from .store import Store

# arXiv's own DOIs (DataCite) name the arXiv id: 10.48550/arXiv.2302.07302
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(?P<id>.+)$", re.IGNORECASE)


def _arxiv_candidate(text: str) -> str | None:
    """The stored-id form of an arXiv id, version or address in ``text``, if it holds one."""
    # A path segment may arrive with its "//" folded ("https:/arxiv.org/abs/…"), and people
    # paste addresses without a scheme or with "www.".
    cleaned = re.sub(r"^(?:https?:/+)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/", "", text, flags=re.IGNORECASE)
    try:
        return arxiv_paper_id(split_arxiv_id(cleaned)[0])
    except ValueError:
        return None


def resolve_paper_id(store: Store, text: str) -> str | None:
    """The stored id of the paper ``text`` names, or None when no stored paper matches."""
    text = (text or "").strip()
    if not text:
        return None
    if store.get_paper(text) is not None:
        return text
    arxiv_id = _arxiv_candidate(text)
    if arxiv_id is not None:
        return arxiv_id if store.get_paper(arxiv_id) is not None else None
    try:
        doi = normalise_doi(re.sub(r"^doi:\s*", "", text, flags=re.IGNORECASE))
    except ValueError:
        return None
    arxiv_doi = _ARXIV_DOI.match(doi)
    if arxiv_doi:
        arxiv_id = _arxiv_candidate(arxiv_doi.group("id"))
        if arxiv_id is not None and store.get_paper(arxiv_id) is not None:
            return arxiv_id
    if store.get_paper(f"doi:{doi}") is not None:
        return f"doi:{doi}"
    paper = store.paper_by_doi(doi)  # an arXiv paper that also has a journal DOI
    return paper.id if paper is not None else None
