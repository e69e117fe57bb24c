"""Misbehaving extractors for the sandbox's robustness tests (fault injection).

They live in the package, not in tests/, because spawned workers must be able to import
them by name. Each takes the same arguments as extract_pdf and reads its instruction
from the document bytes, so one pool can mix good and bad documents.
"""

from __future__ import annotations

import os
import time

from .document import ExtractResult
from .extractor import extract_pdf

HANG = b"GLEAN-TEST-HANG"
DIE = b"GLEAN-TEST-DIE"
HOG = b"GLEAN-TEST-HOG"


def misbehaving_extract(data: bytes, **options) -> ExtractResult:
    """Hang, die, or allocate without bound when the bytes say so; else extract_pdf."""
    if data.startswith(HANG):
        time.sleep(3600)
    if data.startswith(DIE):
        os._exit(3)  # like a segfault: no exception, no reply
    if data.startswith(HOG):
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))
    return extract_pdf(data, **options)
