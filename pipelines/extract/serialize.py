"""ExtractResult → the JSON object the CLI prints (one per file per line)."""

from __future__ import annotations

from .document import ExtractResult


def to_json(result: ExtractResult, file: str, elapsed_ms: float) -> dict:
    appendix = result.appendix
    return {
        "file": file,
        "status": result.status,
        "pages": result.pages,
        "title": result.title,
        "elapsed_ms": round(elapsed_ms, 1),
        "sections": [
            {
                "title": s.title,
                "number": s.number,
                "level": s.level,
                "kind": s.kind,
                "page_start": s.page_start,
                "page_end": s.page_end,
                "text": s.text,
            }
            for s in result.sections
        ],
        "limitations": [
            {
                "title": span.title,
                "kind": span.kind,
                "page_start": span.page_start,
                "page_end": span.page_end,
                "text": span.text,
            }
            for span in result.limitations
        ],
        "appendix": None
        if appendix is None
        else {
            "page_start": appendix.page_start,
            "sections": [
                {"title": h.title, "page_start": h.page_start, "page_end": h.page_end}
                for h in appendix.sections
            ],
            "text": appendix.text,
        },
        "error": result.error,
    }
