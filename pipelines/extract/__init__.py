"""PDF extraction: bytes in, a paper's sections, limitations and appendix out.

    extract_pdf(data)                  pure, in-process; never raises on bad input
    extract_in_sandbox(data)           the same in a worker process with time and memory caps
    extract_many(items)                many documents through a pool of recycled workers
    to_json(result, file, elapsed_ms)  the CLI's JSON object for one file

Bump EXTRACTOR_VERSION whenever the output for some PDF changes, so that the store
re-extracts papers extracted by an older version.
"""

from .document import (
    STATUSES,
    Appendix,
    AppendixHeading,
    ExtractResult,
    LimitationSpan,
    Section,
)
from .extractor import DEFAULT_MAX_BYTES, DEFAULT_MAX_PAGES, extract_pdf
from .sandbox import extract_in_kept_sandbox, extract_in_sandbox, extract_many
from .serialize import to_json

EXTRACTOR_VERSION = 1

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PAGES",
    "EXTRACTOR_VERSION",
    "STATUSES",
    "Appendix",
    "AppendixHeading",
    "ExtractResult",
    "LimitationSpan",
    "Section",
    "extract_in_kept_sandbox",
    "extract_in_sandbox",
    "extract_many",
    "extract_pdf",
    "to_json",
]
