"""What a paper page says about the paper's full text before there is an extraction.

"Not read yet" is true only while something will read it: a paper without an open-access
PDF (most canon classics) never will be, and one whose download Glean gave up on won't
either. The page says which it is, in a reader's terms.
"""

from __future__ import annotations

from pipelines.records import Paper, web_url
from pipelines.settings import Settings
from pipelines.store import Store

NOT_AVAILABLE = "so its limitations and appendices are not available"


def full_text_state(store: Store, settings: Settings, paper: Paper) -> dict:
    """{"state", "message"}: no_pdf, gave_up, retrying, downloaded or queued."""
    if web_url(paper.pdf_url) is None:
        return {"state": "no_pdf", "message": f"Glean has no open-access PDF for this paper, {NOT_AVAILABLE}."}
    record = store.pdf_record(paper.id)
    if record is None:
        return {"state": "queued", "message": "The PDF is queued for download; its limitations and appendices "
                                              "appear here once Glean has read it."}
    if record["status"] == "ok":
        return {"state": "downloaded", "message": "The PDF is downloaded and waiting to be read; its limitations "
                                                  "and appendices appear here once it is."}
    why = f" ({record['error']})" if record.get("error") else ""
    if record["attempts"] >= settings.download_attempts:
        return {"state": "gave_up", "message": f"The PDF could not be downloaded{why}; Glean stopped trying after "
                                               f"{record['attempts']} attempts, {NOT_AVAILABLE}."}
    return {"state": "retrying", "message": f"The PDF could not be downloaded yet{why}; Glean will try again."}
