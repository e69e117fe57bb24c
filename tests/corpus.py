"""Paths into the shared corpus, and Atom pages assembled from its real arXiv entries."""

from __future__ import annotations

import copy
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
ARXIV_API = CORPUS / "arxiv" / "api"
FEEDS = CORPUS / "feeds"
PDFS = CORPUS / "pdfs"

ATOM = "http://www.w3.org/2005/Atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
NS = {"atom": ATOM, "opensearch": OPENSEARCH, "arxiv": "http://arxiv.org/schemas/atom"}

TESTING_PAGE = ARXIV_API / "arxivpy_2026_recorded_q_testing_s0_m10_bc5a6c384fe9.body.xml"
EMPTY_PAGE = ARXIV_API / "arxivpy_2026_recorded_id_0000.0000_s0_m100_8b51d9633a68.body.xml"
OLD_STYLE = ARXIV_API / "arxivpy_2026_recorded_id_astro-ph_0601001_s0_m100_3150dca9dc76.body.xml"
DEL_MAESTRO = ARXIV_API / "arxivpy_2016_search_au_del_maestro.xml"


def entries(path: Path) -> list[etree._Element]:
    root = etree.fromstring(path.read_bytes())
    return root.findall("atom:entry", NS)


def entries_by_update(path: Path) -> list[etree._Element]:
    """The recorded entries, oldest update first (the order Glean asks arXiv for)."""
    return sorted(entries(path), key=lambda e: e.findtext("atom:updated", namespaces=NS))


def atom_page(page_entries, *, total: int, start: int) -> bytes:
    """An arXiv API answer holding ``page_entries``, with the opensearch header arXiv sends."""
    root = etree.fromstring(EMPTY_PAGE.read_bytes())
    root.find("opensearch:totalResults", NS).text = str(total)
    root.find("opensearch:startIndex", NS).text = str(start)
    root.find("opensearch:itemsPerPage", NS).text = str(len(page_entries))
    for entry in page_entries:
        root.append(copy.deepcopy(entry))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def as_new_version(entry, version: int, updated: str, title_suffix: str = "") -> etree._Element:
    """A copy of a real entry as arXiv would show its next version."""
    entry = copy.deepcopy(entry)
    id_el = entry.find("atom:id", NS)
    id_el.text = id_el.text.rsplit("v", 1)[0] + f"v{version}"
    entry.find("atom:updated", NS).text = updated
    if title_suffix:
        entry.find("atom:title", NS).text += title_suffix
    return entry


# Corpus PDFs that are arXiv papers without a recorded API entry: id → (title, authors, date, file).
# Their entries are made from the real 1111.2011 entry (see entry_for).
ARXIV_PDF_PAPERS = {
    "2302.07302v1": ("CiteSee: Augmenting Citations in Scientific Papers with Persistent and Personalized "
                     "Historical Context", ["Joseph Chee Chang", "Amy X. Zhang", "Jonathan Bragg"],
                     "2023-02-14T19:00:00Z", "modern/arxiv_2302.07302v1_citesee.pdf"),
    "2203.00130v1": ("Paper Plain: Making Medical Research Papers Approachable to Healthcare Consumers with NLP",
                     ["Tal August", "Lucy Lu Wang"], "2022-02-28T22:00:00Z",
                     "modern/arxiv_2203.00130v1_paper_plain.pdf"),
}


def entry_for(template, arxiv_id, title, authors, when):
    entry = copy.deepcopy(template)
    entry.find("atom:id", NS).text = f"http://arxiv.org/abs/{arxiv_id}"
    entry.find("atom:title", NS).text = title
    entry.find("atom:published", NS).text = when
    entry.find("atom:updated", NS).text = when
    for old in entry.findall("atom:author", NS):
        entry.remove(old)
    for name in authors:
        author = copy.deepcopy(template.find("atom:author", NS))
        author.find("atom:name", NS).text = name
        entry.append(author)
    entry.find("arxiv:primary_category", NS).set("term", "cs.HC")
    return entry
