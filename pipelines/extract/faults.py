"""Misbehaving extractors for the sandbox's robustness tests (fault injection).

They live in the package, not in tests/, because spawned workers must be able to import
them by name. Each takes the same arguments as extract_pdf and reads its instruction
from the document bytes, so one pool can mix good and bad documents.
"""

from __future__ import annotations

import os
import signal
import time

from .document import ExtractResult
from .extractor import extract_pdf

HANG = b"GLEAN-TEST-HANG"
DIE = b"GLEAN-TEST-DIE"
HOG = b"GLEAN-TEST-HOG"
# Kills the process that started the sandbox: on a Dask worker (DaskExecutor), the worker
# process itself, as the OOM killer would. Never use it with the local pool: that parent
# is the driver.
KILL_PARENT = b"GLEAN-TEST-KILL-PARENT"


def misbehaving_extract(data: bytes, **options) -> ExtractResult:
    """Hang, die, kill the parent, or allocate without bound when the bytes say so; else extract_pdf."""
    if data.startswith(HANG):
        time.sleep(3600)
    if data.startswith(DIE):
        os._exit(3)  # like a segfault: no exception, no reply
    if data.startswith(KILL_PARENT):
        os.kill(os.getppid(), signal.SIGKILL)
        os._exit(9)
    if data.startswith(HOG):
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))
    return extract_pdf(data, **options)
