"""Where the heavy, pure work runs: PDF extraction and embedding.

    executor_for("local")                 LocalExecutor: the sandboxed process pool and the
                                          in-process model, exactly as before
    executor_for("dask://host:8786")      DaskExecutor: tasks on a Dask distributed cluster

Workers are pure: bytes in, an ExtractResult out; texts in, vectors out. Nothing here
touches the store or the index — the driver (extract_stage, index_stage) writes the
results, in its own transactions, whatever the executor.

On Dask, each extraction task runs the same sandbox as the local pool
(``extract_in_kept_sandbox``: a child process with a timeout and a memory cap, kept by
the worker thread across tasks and recycled after 50 documents, because starting one per
document cost more than most documents take), so a PDF
that kills MuPDF kills only that child and the task returns a typed ``crashed`` /
``timeout`` / ``too_large`` result. A task that raises anyway is retried once
(``retries``); a task whose Dask worker process dies under it is rescheduled by the
scheduler, up to ``distributed.scheduler.allowed-failures`` times (Dask's default: 3),
then fails with KilledWorker. Either way it is recorded as ``crashed`` with the error,
and the other documents go on. A task that never comes back (its worker frozen, or cut
off while the scheduler still counts it alive) is cancelled once the driver's deadline
has passed (``DaskExecutor.deadline_s``: (in_flight_per_thread + retries) × the sandbox
timeout + ``deadline_grace_s``, 30 s) and recorded as ``timeout``, so a stuck worker
never hangs the driver; embedding batches have the same kind of guard
(``embed_deadline_s`` per round of batches), past which the batch fails whole. Dask worker processes are daemonic by default, and daemonic
processes may not start children; the task lifts that flag while it runs the sandbox
(whose child is itself daemonic, so it ends with the worker), so no cluster
configuration is needed.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import re
import time
import uuid
from collections.abc import Hashable, Iterable, Iterator
from typing import Protocol

import numpy as np

from .extract import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PAGES,
    ExtractResult,
    extract_in_kept_sandbox,
    extract_many,
)
from .extract import document as d
from .extract.document import failure
from .extract.extractor import extract_pdf

LOCAL = "local"
_DASK_SPEC = re.compile(r"^dask://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


class ExecutorSpecError(ValueError):
    """GLEAN_EXECUTOR names no executor Glean knows."""


def parse_spec(spec: str) -> str | None:
    """None for the local executor, else the Dask scheduler address ``tcp://host:port``."""
    value = (spec or LOCAL).strip()
    if value.lower() == LOCAL:
        return None
    match = _DASK_SPEC.match(value)
    if not match or not 0 < int(match["port"]) < 65536:
        raise ExecutorSpecError(f"executor {spec!r} is invalid: use 'local' or 'dask://host:port' "
                                "(e.g. dask://127.0.0.1:8786)")
    return f"tcp://{match['host']}:{int(match['port'])}"


class Executor(Protocol):
    def extract(self, items: Iterable[tuple[Hashable, bytes]], *, timeout_s: float, memory_mb: int | None,
                workers: int = 2) -> Iterator[tuple[Hashable, ExtractResult, float]]: ...

    def embed(self, texts: list[str], *, model: str, batch_size: int) -> np.ndarray: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Today's behaviour: extract_many's sandboxed pool; the model loaded in this process."""

    name = LOCAL

    def extract(self, items, *, timeout_s, memory_mb, workers=2, **options):
        return extract_many(items, workers=workers, timeout_s=timeout_s, memory_mb=memory_mb, **options)

    def embed(self, texts, *, model, batch_size):
        from .embedding import get_embedder
        return get_embedder(model).encode(list(texts), batch_size)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- what runs on a Dask worker (top-level, so it pickles by reference) --------------

def _extract_task(data: bytes, timeout_s: float, memory_mb: int | None, max_bytes: int, max_pages: int,
                  extractor) -> tuple[ExtractResult, float]:
    """One document through the sandbox, on a Dask worker: (result, elapsed_ms)."""
    process = mp.current_process()
    daemonic = process._config.get("daemon")  # Dask worker processes are daemonic by default,
    if daemonic:                              # and daemonic processes may not start children
        process._config["daemon"] = False
    try:
        return extract_in_kept_sandbox(data, timeout_s=timeout_s, memory_mb=memory_mb, max_bytes=max_bytes,
                                       max_pages=max_pages, extractor=extractor)
    finally:
        if daemonic:
            process._config["daemon"] = daemonic


def _embed_task(texts: list[str], model: str, batch_size: int) -> np.ndarray:
    """Vectors for texts; get_embedder keeps one loaded model per worker process."""
    from .embedding import get_embedder
    return get_embedder(model).encode(texts, batch_size)


def _noop(x):
    return x


class DaskExecutor:
    """Extraction and embedding as tasks on a Dask distributed cluster."""

    name = "dask"

    def __init__(self, address: str, *, client=None, retries: int = 1, in_flight_per_thread: int = 2,
                 deadline_grace_s: float = 30.0, embed_deadline_s: float = 600.0):
        from distributed import Client
        self.address = address
        self._own_client = client is None
        self.client = client if client is not None else Client(address, timeout="30s")
        self.retries = retries
        self.in_flight_per_thread = in_flight_per_thread
        self.deadline_grace_s = deadline_grace_s
        self.embed_deadline_s = embed_deadline_s

    def threads(self) -> int:
        workers = self.client.scheduler_info(n_workers=-1)["workers"] if _takes_n_workers() \
            else self.client.scheduler_info()["workers"]
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def deadline_s(self, timeout_s: float | None) -> float:
        """How long the driver waits for one extraction task, counted from its submission.

        The sandbox stops a document after timeout_s, so a healthy task answers within: its
        wait for a thread (at most in_flight_per_thread - 1 tasks ahead of it, each up to
        timeout_s), its own run, and a rerun after an error (retries), plus a grace for
        process start-up and transfers. Later than that, its worker is stuck (frozen, wedged
        in a kernel call, cut off without the scheduler noticing): the driver gives up on it.
        """
        return (self.in_flight_per_thread + self.retries) * float(timeout_s or 0) + self.deadline_grace_s

    def extract(self, items, *, timeout_s, memory_mb, workers=2, max_bytes: int = DEFAULT_MAX_BYTES,
                max_pages: int = DEFAULT_MAX_PAGES, extractor=extract_pdf):
        """Like extract_many: (key, result, elapsed_ms) in completion order, items read lazily.

        ``workers`` is the local pool size and is ignored: the cluster's threads decide.
        At most in_flight_per_thread × threads documents are in flight (bytes held here and there).
        A task not back within :meth:`deadline_s` is cancelled and yielded as ``timeout``.
        """
        limit = self.in_flight_per_thread * self.threads()
        deadline = self.deadline_s(timeout_s)
        pending = iter(items)
        exhausted = False
        running: dict = {}  # future → (key, submitted at)
        finished: queue.SimpleQueue = queue.SimpleQueue()  # futures, as their done-callbacks fire
        try:
            while True:
                while not exhausted and len(running) < limit:
                    try:
                        key, data = next(pending)
                    except StopIteration:
                        exhausted = True
                        break
                    if len(data) > max_bytes:  # refuse without shipping the bytes
                        yield key, failure(d.TOO_LARGE, f"{len(data)} bytes is over the {max_bytes}-byte cap"), 0.0
                        continue
                    future = self.client.submit(
                        _extract_task, bytes(data), timeout_s, memory_mb, max_bytes, max_pages, extractor,
                        key=f"glean-extract-{uuid.uuid4().hex}", pure=False, retries=self.retries)
                    running[future] = (key, time.monotonic())
                    future.add_done_callback(finished.put)
                if not running:
                    return
                oldest = min(submitted for _, submitted in running.values())
                try:
                    future = finished.get(timeout=max(0.0, oldest + deadline - time.monotonic()))
                except queue.Empty:
                    yield from self._give_up_on_overdue(running, deadline)
                    continue
                if future not in running:  # one this loop already gave up on, now cancelled
                    continue
                key, submitted = running.pop(future)
                try:
                    result, elapsed_ms = future.result()
                except Exception as exc:  # noqa: BLE001 - lost worker, task error: a typed outcome
                    elapsed_ms = (time.monotonic() - submitted) * 1000
                    result = failure(d.CRASHED, self._failure_message(exc))
                finally:
                    future.release()
                yield key, result, elapsed_ms
        finally:
            for future in running:
                future.cancel()

    def _give_up_on_overdue(self, running: dict, deadline: float):
        """Cancel the tasks past the deadline and yield each as ``timeout``; the rest keep running."""
        now = time.monotonic()
        for future in [f for f, (_, submitted) in running.items() if now - submitted >= deadline]:
            key, submitted = running.pop(future)
            future.cancel()  # a stuck thread cannot be interrupted; whatever it returns later is dropped
            yield key, failure(d.TIMEOUT, f"no answer from the Dask cluster within {deadline:.3g} s "
                                          "(the driver's deadline: its worker is stuck or lost)"), \
                (now - submitted) * 1000

    def _failure_message(self, exc: Exception) -> str:
        from distributed import KilledWorker
        if isinstance(exc, KilledWorker):  # worker deaths are counted by the scheduler, not by retries
            return (f"the Dask worker running it died {exc.allowed_failures + 1} times "
                    f"(distributed.scheduler.allowed-failures = {exc.allowed_failures}): {exc}")
        return (f"dask task failed after {self.retries} retr{'y' if self.retries == 1 else 'ies'}: "
                f"{type(exc).__name__}: {exc}")

    def embed(self, texts, *, model, batch_size):
        """Vectors in the order of ``texts``; one task per ``batch_size`` texts."""
        texts = list(texts)
        if not texts:
            return self.client.submit(_embed_task, [], model, batch_size, pure=False).result()
        futures = [self.client.submit(_embed_task, texts[i:i + batch_size], model, batch_size,
                                      key=f"glean-embed-{uuid.uuid4().hex}", pure=False, retries=self.retries)
                   for i in range(0, len(texts), batch_size)]
        # The same guard as extraction's: a stuck worker must not hang the driver. One batch
        # takes seconds even on a slow core, so embed_deadline_s per round of batches is generous.
        deadline = self.embed_deadline_s * max(1.0, len(futures) / self.threads())
        give_up_at = time.monotonic() + deadline
        parts = []
        try:
            for future in futures:  # raises if a batch failed twice: nothing is written
                parts.append(future.result(timeout=max(0.001, give_up_at - time.monotonic())))
        except TimeoutError:
            for future in futures:
                future.cancel()
            raise TimeoutError(f"embedding batches not back from the Dask cluster within {deadline:.0f} s: "
                               "a worker is stuck or lost; nothing was written") from None
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def round_trip_ms(self, n: int = 50) -> list[float]:
        """Wall time of trivial task round trips (submit → result), for the overhead figure."""
        times = []
        for i in range(n):
            start = time.perf_counter()
            self.client.submit(_noop, i, pure=False).result()
            times.append((time.perf_counter() - start) * 1000)
        return times

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _takes_n_workers() -> bool:
    import inspect

    from distributed import Client
    return "n_workers" in inspect.signature(Client.scheduler_info).parameters


def executor_for(spec: str | None, *, client=None) -> LocalExecutor | DaskExecutor:
    """The executor named by GLEAN_EXECUTOR ('local' or 'dask://host:port')."""
    address = parse_spec(spec or LOCAL)
    if address is None:
        return LocalExecutor()
    return DaskExecutor(address, client=client)


def executor_from_settings(settings) -> LocalExecutor | DaskExecutor:
    return executor_for(getattr(settings, "executor", LOCAL))


__all__ = ["DaskExecutor", "ExecutorSpecError", "LocalExecutor", "executor_for", "executor_from_settings",
           "parse_spec"]
