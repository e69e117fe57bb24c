"""Serve the shared test corpus on loopback in the shape of arXiv and the journals.

For trying Glean on a machine without internet access, and for the README's
transcripts: point the URL settings at it and every command runs its real code
path against real recorded answers.

    python scripts/replay_corpus.py --port 8765 &

It prints the settings that point Glean at it (``export GLEAN_…=…`` lines). The feeds
list it writes goes to a fresh temporary folder (or --feeds-out), never into the checkout.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.dont_write_bytecode = True  # importing the test helpers must not leave __pycache__ in the checkout
sys.path.insert(0, str(CHECKOUT))

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
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--feeds-out", type=Path,
                        help="where to write the feeds list (default: a new temporary folder)")
    args = parser.parse_args()
    feeds_out = (args.feeds_out or Path(tempfile.mkdtemp(prefix="glean-replay-")) / "replay-feeds.toml").resolve()
    if feeds_out.is_relative_to(CHECKOUT):
        parser.error(f"--feeds-out {feeds_out} lies inside the checkout; choose a place outside {CHECKOUT}")

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
    feeds_out.parent.mkdir(parents=True, exist_ok=True)
    feeds_out.write_text("\n".join(lines))
    print(f"# replaying the shared corpus on {web.base} (Ctrl-C stops it); point Glean at it with:\n"
          f"export GLEAN_ARXIV_API_URL={web.url('/api/query')}\n"
          f"export GLEAN_ARXIV_PDF_BASE={web.url('/pdf/')}\n"
          f"export GLEAN_FEEDS={feeds_out}\n"
          f"# (the README's transcripts also set GLEAN_CLASSICS_PER_RUN=20 and GLEAN_LOG_LEVEL=WARNING)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        web.close()


if __name__ == "__main__":
    main()
