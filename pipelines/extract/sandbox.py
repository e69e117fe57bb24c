"""Run extract_pdf in worker processes, so a hostile PDF cannot take the pipeline down.

MuPDF is C: a crafted file can segfault it, spin forever, or allocate without bound.
Each document is parsed in a worker process (spawn context: no inherited state or locks)
with

* a wall-clock limit per document: past it the worker is killed → status `timeout`;
* an address-space cap (RLIMIT_AS) in the worker: allocation failures come back as
  `too_large`, and a worker the OS kills comes back as `crashed`;
* recycling: a worker exits after `max_tasks_per_worker` documents, so leaks and
  fragmentation do not accumulate.

The pool keeps going after any of these; the caller gets one typed result per item.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
import traceback
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from . import document as d
from .document import ExtractResult, failure
from .extractor import DEFAULT_MAX_BYTES, DEFAULT_MAX_PAGES, extract_pdf

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_MB = 2048
DEFAULT_MAX_TASKS_PER_WORKER = 50
_STARTUP_TIMEOUT_S = 120.0

Extractor = Callable[..., ExtractResult]


def _limit_memory(memory_mb: int | None) -> None:
    if not memory_mb:
        return
    try:
        import resource
    except ImportError:  # not on POSIX: no cap, the timeout still applies
        return
    limit = memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _worker_main(
    conn: Connection, memory_mb: int | None, extractor: Extractor, options: dict
) -> None:
    """Worker loop: receive (bytes), send back (ExtractResult, elapsed_ms); None stops it."""
    _limit_memory(memory_mb)
    conn.send("ready")  # start-up (imports) is done: the document clock may start
    while True:
        try:
            data = conn.recv()
        except EOFError:
            return
        if data is None:
            return
        start = time.perf_counter()
        try:
            result = extractor(data, **options)
        except MemoryError:
            result = failure(d.TOO_LARGE, "memory cap exceeded")
        except Exception as exc:  # noqa: BLE001 - a bug in the analysis, not the file: report it
            result = failure(
                d.CRASHED,
                f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}",
            )
        elapsed_ms = (time.perf_counter() - start) * 1000
        try:
            conn.send((result, elapsed_ms))
        except MemoryError:
            conn.send((failure(d.TOO_LARGE, "memory cap exceeded"), elapsed_ms))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    done: int = 0
    key: Hashable | None = None
    started: float = 0.0
    busy: bool = False


class _Pool:
    def __init__(
        self,
        workers: int,
        memory_mb: int | None,
        max_tasks: int,
        extractor: Extractor,
        options: dict,
    ):
        self._ctx = mp.get_context("spawn")
        self._size = max(1, workers)
        self._memory_mb = memory_mb
        self._max_tasks = max(1, max_tasks)
        self._extractor = extractor
        self._options = options
        self._workers: list[_Worker] = []

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=_worker_main,
            args=(child, self._memory_mb, self._extractor, self._options),
            daemon=True,
        )
        process.start()
        child.close()
        # wait for the worker's imports, so start-up never counts against a document
        try:
            ready = parent.poll(_STARTUP_TIMEOUT_S) and parent.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            process.kill()
            process.join()
            raise RuntimeError("extraction worker did not start")
        worker = _Worker(process, parent)
        self._workers.append(worker)
        return worker

    def idle_worker(self) -> _Worker | None:
        for worker in self._workers:
            if not worker.busy:
                return worker
        if len(self._workers) < self._size:
            return self._spawn()
        return None

    def busy(self) -> list[_Worker]:
        return [w for w in self._workers if w.busy]

    def submit(self, worker: _Worker, key: Hashable, data: bytes) -> bool:
        try:
            worker.conn.send(bytes(data))
        except (BrokenPipeError, EOFError, OSError):
            self.kill(worker)
            return False
        worker.key, worker.started, worker.busy = key, time.monotonic(), True
        return True

    def finish(self, worker: _Worker) -> None:
        worker.busy, worker.key = False, None
        worker.done += 1
        if worker.done >= self._max_tasks:
            self.retire(worker)

    def retire(self, worker: _Worker) -> None:
        """Recycle a healthy worker: ask it to exit, then drop it."""
        try:
            worker.conn.send(None)
        except OSError:
            pass
        worker.process.join(timeout=5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        self._drop(worker)

    def kill(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        self._drop(worker)

    def _drop(self, worker: _Worker) -> None:
        worker.conn.close()
        if worker in self._workers:
            self._workers.remove(worker)

    def close(self) -> None:
        for worker in list(self._workers):
            if worker.busy:
                self.kill(worker)
            else:
                self.retire(worker)


def extract_many(
    items: Iterable[tuple[Hashable, bytes]],
    *,
    workers: int = 2,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
    max_tasks_per_worker: int = DEFAULT_MAX_TASKS_PER_WORKER,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pages: int = DEFAULT_MAX_PAGES,
    extractor: Extractor = extract_pdf,
) -> Iterator[tuple[Hashable, ExtractResult, float]]:
    """Extract many PDFs in worker processes; yield (key, result, elapsed_ms) as each ends.

    Results come in completion order, not input order (use the key). Items are read
    lazily, at most `workers` documents are in flight. elapsed_ms is the time the worker
    spent on the document (wall-clock in the parent for a timeout or crash), without
    process start-up. `extractor` must be a picklable top-level function taking
    (data, max_bytes=, max_pages=); tests use it to inject hangs and crashes.
    """
    options = {"max_bytes": max_bytes, "max_pages": max_pages}
    pool = _Pool(workers, memory_mb, max_tasks_per_worker, extractor, options)
    pending = iter(items)
    exhausted = False
    try:
        while True:
            while not exhausted:
                worker = pool.idle_worker()
                if worker is None:
                    break
                try:
                    key, data = next(pending)
                except StopIteration:
                    exhausted = True
                    break
                if (
                    len(data) > max_bytes
                ):  # refuse without shipping the bytes to a worker
                    yield (
                        key,
                        failure(
                            d.TOO_LARGE,
                            f"{len(data)} bytes is over the {max_bytes}-byte cap",
                        ),
                        0.0,
                    )
                    continue
                if not pool.submit(worker, key, data):
                    yield (
                        key,
                        failure(d.CRASHED, "worker died before it took the document"),
                        0.0,
                    )
            busy = pool.busy()
            if not busy:
                if exhausted:
                    return
                continue
            now = time.monotonic()
            wait_s = max(0.0, min(w.started + timeout_s for w in busy) - now)
            ready = wait([w.conn for w in busy], timeout=wait_s)
            for worker in busy:
                if worker.conn in ready:
                    yield from _collect(pool, worker)
                elif time.monotonic() - worker.started >= timeout_s:
                    key, elapsed_ms = (
                        worker.key,
                        (time.monotonic() - worker.started) * 1000,
                    )
                    pool.kill(worker)
                    yield (
                        key,
                        failure(
                            d.TIMEOUT,
                            f"no result within {timeout_s:g} s; worker killed",
                        ),
                        elapsed_ms,
                    )
    finally:
        pool.close()


def _collect(
    pool: _Pool, worker: _Worker
) -> Iterator[tuple[Hashable, ExtractResult, float]]:
    key = worker.key
    try:
        result, elapsed_ms = worker.conn.recv()
    except (EOFError, OSError):
        # the pipe closed without an answer: the process died (segfault, OOM kill, exit)
        elapsed_ms = (time.monotonic() - worker.started) * 1000
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        pool.kill(worker)
        yield key, failure(d.CRASHED, f"worker died (exit code {code})"), elapsed_ms
        return
    pool.finish(worker)
    yield key, result, elapsed_ms


def extract_in_sandbox(
    data: bytes,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pages: int = DEFAULT_MAX_PAGES,
    extractor: Extractor = extract_pdf,
) -> tuple[ExtractResult, float]:
    """One document in a fresh worker: (result, elapsed_ms)."""
    for _key, result, elapsed_ms in extract_many(
        [(0, data)],
        workers=1,
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        max_bytes=max_bytes,
        max_pages=max_pages,
        extractor=extractor,
    ):
        return result, elapsed_ms
    raise AssertionError("extract_many yielded nothing for one item")  # unreachable


_kept = threading.local()


def extract_in_kept_sandbox(
    data: bytes,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pages: int = DEFAULT_MAX_PAGES,
    extractor: Extractor = extract_pdf,
) -> tuple[ExtractResult, float]:
    """One document in this thread's long-lived sandbox worker: (result, elapsed_ms).

    For callers that get documents one at a time (a Dask task): starting a fresh worker
    per document (spawn, then importing PyMuPDF) costs more than most documents take.
    The worker has the same caps as the pool's, is recycled after the same number of
    documents, and is replaced when it is killed (timeout) or dies (crash).
    """
    if not timeout_s or timeout_s <= 0:
        raise ValueError(f"timeout_s must be a positive number of seconds, not {timeout_s!r}")
    options = {"max_bytes": max_bytes, "max_pages": max_pages}
    config = (memory_mb, extractor, max_bytes, max_pages)
    pool = getattr(_kept, "pool", None)
    if pool is None or _kept.config != config:
        if pool is not None:
            pool.close()
        pool = _kept.pool = _Pool(1, memory_mb, DEFAULT_MAX_TASKS_PER_WORKER, extractor, options)
        _kept.config = config
    if len(data) > max_bytes:
        return failure(d.TOO_LARGE, f"{len(data)} bytes is over the {max_bytes}-byte cap"), 0.0
    worker = pool.idle_worker()
    if worker is None or not pool.submit(worker, 0, data):
        return failure(d.CRASHED, "worker died before it took the document"), 0.0
    if wait([worker.conn], timeout=timeout_s):
        for _key, result, elapsed_ms in _collect(pool, worker):
            return result, elapsed_ms
    elapsed_ms = (time.monotonic() - worker.started) * 1000
    pool.kill(worker)
    return failure(d.TIMEOUT, f"no result within {timeout_s:g} s; worker killed"), elapsed_ms


__all__ = ["extract_in_kept_sandbox", "extract_in_sandbox", "extract_many"]
