"""Serve the shared test corpus on loopback in the shape of arXiv and the journals.

For trying Glean on a machine without internet access, and for the README's
transcripts: point the URL settings at it and every command runs its real code
path against real recorded answers.

    python scripts/replay_corpus.py --port 8765 &
    export GLEAN_ARXIV_API_URL=http://127.0.0.1:8765/api/query
    export GLEAN_ARXIV_PDF_BASE=http://127.0.0.1:8765/pdf/
    export GLEAN_FEEDS=var/replay-feeds.toml   # written by this script
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.corpus import (ARXIV_API, ARXIV_PDF_PAPERS, EMPTY_PAGE, FEEDS, PDFS,  # noqa: E402
                          TESTING_PAGE, atom_page, entries, entries_by_update, entry_for)
from tests.fakeweb import FakeWeb, Reply  # noqa: E402

FEED_FILES = {
    "AJPH": ("atypon_ajph_american_journal_of_public_health_toc_rss1.xml", "public health"),
    "bioRxiv Plant Biology": ("netnewswire_biorxiv_plant_biology_2019_rss1.rdf", "biology"),
    "bioRxiv Genomics": ("feedrs_biorxiv_genomics_2023_rss1.xml", "genomics"),
    "DailySSRN": ("scrapi_vcr_dailyssrn_rss-all-2.0.xml", "economics"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--feeds-out", type=Path, default=Path("var/replay-feeds.toml"))
    args = parser.parse_args()

    web = FakeWeb(port=args.port)
    template = entries(ARXIV_API / "arxivpy_2016_id_list_1111.2011v2.xml")[0]
    with_pdfs = [template] + [entry_for(template, aid, *meta[:3]) for aid, meta in ARXIV_PDF_PAPERS.items()]
    recent = entries_by_update(TESTING_PAGE) + with_pdfs
    web.add("/api/query", Reply(body=EMPTY_PAGE.read_bytes()))
    web.add("/api/query", Reply(body=atom_page(recent, total=len(recent), start=0)),
            match=lambda q, h: "lastUpdatedDate" in q.get("search_query", [""])[0] and q.get("start") == ["0"])
    web.add("/pdf/1111.2011v2", Reply(body=(PDFS / "modern" / "arxiv_1111.2011v2.pdf").read_bytes()))
    for aid, meta in ARXIV_PDF_PAPERS.items():
        web.add(f"/pdf/{aid}", Reply(body=(PDFS / meta[3]).read_bytes()))
    lines = []
    for name, (filename, field) in FEED_FILES.items():
        path = f"/feeds/{filename}"
        web.add(path, Reply(body=(FEEDS / filename).read_bytes()))
        lines += ["[[feed]]", f'name = "{name}"', f'url = "{web.url(path)}"', f'field = "{field}"', ""]
    args.feeds_out.parent.mkdir(parents=True, exist_ok=True)
    args.feeds_out.write_text("\n".join(lines))
    print(f"replaying the shared corpus on {web.base}; feeds list written to {args.feeds_out}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        web.close()


if __name__ == "__main__":
    main()
