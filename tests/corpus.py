"""Paths into the shared corpus, and Atom pages assembled from its real arXiv entries."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import NamedTuple

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


class PdfPaper(NamedTuple):
    title: str
    authors: list[str]
    when: str
    file: str  # under PDFS
    abstract: str  # as printed on the paper's first page
    doi: str | None = None  # as printed on the paper, if it has one


# Corpus PDFs that are arXiv papers without a recorded API entry: id → their facts, taken from
# the PDFs themselves. Their entries are built in the shape of the real 1111.2011 entry (see entry_for).
ARXIV_PDF_PAPERS = {
    "2302.07302v1": PdfPaper(
        "CiteSee: Augmenting Citations in Scientific Papers with Persistent and Personalized Historical Context",
        ["Joseph Chee Chang", "Amy X. Zhang", "Jonathan Bragg"], "2023-02-14T19:00:00Z",
        "modern/arxiv_2302.07302v1_citesee.pdf",
        "When reading a scholarly article, inline citations help researchers contextualize the current article "
        "and discover relevant prior work. However, it can be challenging to prioritize and make sense of the "
        "hundreds of citations encountered during literature reviews. This paper introduces CiteSee, a paper "
        "reading tool that leverages a user's publishing, reading, and saving activities to provide personalized "
        "visual augmentations and context around citations. First, CiteSee connects the current paper to familiar "
        "contexts by surfacing known citations a user had cited or opened. Second, CiteSee helps users prioritize "
        "their exploration by highlighting relevant but unknown citations based on saving and reading history. We "
        "conducted a lab study that suggests CiteSee is significantly more effective for paper discovery than "
        "three baselines. A field deployment study shows CiteSee helps participants keep track of their "
        "explorations and leads to better situational awareness and increased paper discovery via inline "
        "citation when conducting real-world literature reviews.",
        "10.1145/3544548.3580847"),
    "2203.00130v1": PdfPaper(
        "Paper Plain: Making Medical Research Papers Approachable to Healthcare Consumers with NLP",
        ["Tal August", "Lucy Lu Wang"], "2022-02-28T22:00:00Z", "modern/arxiv_2203.00130v1_paper_plain.pdf",
        "When seeking information not covered in patient-friendly documents, like medical pamphlets, healthcare "
        "consumers may turn to the research literature. Reading medical papers, however, can be a challenging "
        "experience. To improve access to medical papers, we introduce a novel interactive interface, Paper "
        "Plain, with four features powered by natural language processing: definitions of unfamiliar terms, "
        "in-situ plain language section summaries, a collection of key questions that guide readers to answering "
        "passages, and plain language summaries of the answering passages. We evaluate Paper Plain, finding that "
        "participants who use Paper Plain have an easier time reading and understanding research papers without "
        "a loss in paper comprehension compared to those who use a typical PDF reader. Altogether, the study "
        "results suggest that guiding readers to relevant passages and providing plain language summaries, or "
        "\"gists,\" alongside the original paper content can make reading medical papers easier and give "
        "readers more confidence to approach these papers."),
}

# Elements of the template that describe the template's own paper; a built entry must not inherit them.
_TEMPLATE_ONLY = ("arxiv:doi", "arxiv:comment", "arxiv:journal_ref", "atom:link", "atom:category",
                  "atom:author")


def entry_for(template, arxiv_id, title, authors, when):
    """An entry for ``arxiv_id`` in the template's shape, carrying only this paper's facts
    (its abstract and DOI from :data:`ARXIV_PDF_PAPERS`), never the template's."""
    facts = ARXIV_PDF_PAPERS.get(arxiv_id)
    entry = copy.deepcopy(template)
    for tag in _TEMPLATE_ONLY:
        for old in entry.findall(tag, NS):
            entry.remove(old)
    entry.find("atom:id", NS).text = f"http://arxiv.org/abs/{arxiv_id}"
    entry.find("atom:title", NS).text = title
    entry.find("atom:summary", NS).text = facts.abstract if facts else ""
    entry.find("atom:published", NS).text = when
    entry.find("atom:updated", NS).text = when
    for name in authors:
        author = etree.SubElement(entry, f"{{{ATOM}}}author")
        etree.SubElement(author, f"{{{ATOM}}}name").text = name
    if facts and facts.doi:
        etree.SubElement(entry, f"{{{NS['arxiv']}}}doi").text = facts.doi
    etree.SubElement(entry, f"{{{ATOM}}}link", href=f"http://arxiv.org/abs/{arxiv_id}", rel="alternate",
                     type="text/html")
    etree.SubElement(entry, f"{{{ATOM}}}link", title="pdf", href=f"http://arxiv.org/pdf/{arxiv_id}",
                     rel="related", type="application/pdf")
    entry.find("arxiv:primary_category", NS).set("term", "cs.HC")
    etree.SubElement(entry, f"{{{ATOM}}}category", term="cs.HC", scheme="http://arxiv.org/schemas/atom")
    return entry
