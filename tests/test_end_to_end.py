"""ingest → download → extract → index → search, through the CLI, on corpus PDFs served locally.

The arXiv answer holds the real recorded entry of 1111.2011 and two entries made
from it for corpus papers that are on arXiv (their ids, titles and authors from
the corpus provenance); the PDFs are the real corpus files.
"""

from __future__ import annotations

import json

import pytest

from service.cli import main
from tests.corpus import ARXIV_PDF_PAPERS as PAPERS
from tests.corpus import ARXIV_API, PDFS, atom_page, entries, entry_for
from tests.fakeweb import Reply

pytestmark = pytest.mark.slow


def test_ingest_extract_index_search(tmp_path, fakeweb, clock, capsys):
    template = entries(ARXIV_API / "arxivpy_2016_id_list_1111.2011v2.xml")[0]
    page = [template] + [entry_for(template, aid, *meta[:3]) for aid, meta in PAPERS.items()]
    fakeweb.add("/api/query", Reply(body=atom_page(page, total=len(page), start=0)))
    fakeweb.add("/pdf/1111.2011v2", Reply(body=(PDFS / "modern/arxiv_1111.2011v2.pdf").read_bytes()))
    for aid, meta in PAPERS.items():
        fakeweb.add(f"/pdf/{aid}", Reply(body=(PDFS / meta[3]).read_bytes()))
    env = {"GLEAN_HOME": str(tmp_path / "home"), "GLEAN_ARXIV_API_URL": fakeweb.url("/api/query"),
           "GLEAN_ARXIV_PDF_BASE": fakeweb.url("/pdf/"), "GLEAN_ARXIV_CATEGORIES": "cs.HC,cond-mat.str-el"}

    def glean(*argv):
        code = main([*argv, "--json"], env=env)
        out = capsys.readouterr().out
        assert code == 0, out
        return json.loads(out)

    assert glean("ingest", "arxiv", "--since", "2000-01-01")["new"] == 3
    assert glean("download")["new"] == 3
    extracted = glean("extract", "--pending")
    assert extracted["new"] == 3 and extracted["outcomes"] == {"ok": 3}
    indexed = glean("index")
    assert indexed["new"] == 3 and indexed["chunks_written"] > 0

    answer = glean("search", "highlighting may become over-saturated after prolonged use", "--in", "limitations")
    top = answer["results"][0]
    assert top["paper_id"] == "arxiv:2302.07302"
    assert top["kind"] == "limitations" and top["page"] == 13
    assert top["pdf_url"].endswith("/pdf/2302.07302v1#page=13")

    # The physics paper states no limitations: it never shows up as a limitations hit.
    anything = glean("search", "quantum critical Bethe lattice", "--in", "limitations", "--limit", "50")
    assert all(h["paper_id"] != "arxiv:1111.2011" for h in anything["results"])

    # Nothing to do on a second pass through the chain.
    assert glean("extract", "--pending")["pending"] == 0
    again = glean("index")
    assert again["new"] == 0 and again["updated"] == 0
