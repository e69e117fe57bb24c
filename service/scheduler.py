"""The pipelines on their schedules, inside `glean serve`.

Exactly one scheduler runs per data folder: the first server to take an exclusive
lock on ``GLEAN_HOME/scheduler.lock`` runs the jobs; any other server on the same
folder serves HTTP only and keeps trying for the lock, so it takes over if the
first one dies. Jobs have fixed ids, coalesce missed runs into one, never overlap,
and jobs whose last run is older than their schedule run once at start-up.

Jobs run in lanes, each with its own thread: the data pipelines (ingest, download,
trend) one at a time in theirs, since each feeds the next; digests and the weekly
pick in lanes of their own, so a slow or stuck ingest never holds back a mail.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from pipelines.download import download_pdfs
from pipelines.extract_stage import extract_pending
from pipelines.index_stage import index_pending
from pipelines.ingest import ingest
from pipelines.settings import Settings
from pipelines.stages import run_stage
from pipelines.store import Store
from pipelines.trend import compute_trends

log = logging.getLogger(__name__)

MISFIRE_GRACE_S = 6 * 3600  # a job up to six hours late still runs (a laptop waking up)
LOCK_RETRY_S = 30


def run_cycle(store: Store, settings: Settings, source: str) -> None:
    """Ingest one source, then the downstream stages, each only if the one before changed something."""
    report = ingest(store, settings, source)[0]
    if report.counts.changed:
        run_downstream(store, settings)


def run_downstream(store: Store, settings: Settings) -> None:
    """Downloads, extraction of what is downloaded and not yet read, then embedding and indexing.

    Indexing runs even when nothing was extracted: new papers from the ingest need
    their title-and-abstract vectors, and it is cheap when nothing changed.
    """
    download_pdfs(store, settings)
    extract_pending(store, settings)
    index_pending(store, settings)


def run_digests(store: Store, settings: Settings) -> None:
    from .digest import deliver_due

    def body(counts, details):
        details.update(deliver_due(store, settings))
        counts.new, counts.failed = details["sent"], details["failed"]

    run_stage(store, "digest", body)


def run_weekly_picks(store: Store, settings: Settings) -> None:
    from .old_paper import NothingToPick, iso_week, pick_old_paper

    def body(counts, details):
        week = iso_week(datetime.now(timezone.utc).date())
        details["week"] = week
        details["no_pick"] = 0
        for user in [None, *store.users()]:
            try:
                pick_old_paper(store, settings, week, user)
                counts.new += 1
            except NothingToPick as exc:
                # Nothing echoes this week (for everyone, or for this reader): a week without a
                # pick, not a failure. It counts as unchanged and is named in the summary.
                details["nothing_to_pick"] = str(exc)
                details["no_pick"] += 1
                counts.unchanged += 1
        if details["no_pick"]:
            log.info("old-paper %s: %d picked, %d with no pick (%s)", week, counts.new, details["no_pick"],
                     details["nothing_to_pick"])

    run_stage(store, "old-paper", body)


PIPELINES, DIGESTS, WEEKLY = "pipelines", "digests", "weekly"  # the lanes


@dataclass(frozen=True)
class JobSpec:
    id: str
    trigger: CronTrigger
    stage: str  # the runs-table source whose last success tells when it last ran
    run: Callable[[Store, Settings], None]
    lane: str = PIPELINES  # jobs in one lane run one at a time; lanes run side by side


def job_specs() -> list[JobSpec]:
    utc = timezone.utc
    return [
        # arXiv announces around 00:00 UTC on weekdays; four passes a day also pick up new versions.
        JobSpec("ingest-arxiv", CronTrigger(hour="1,7,13,19", minute=17, timezone=utc), "arxiv",
                lambda store, settings: run_cycle(store, settings, "arxiv")),
        JobSpec("ingest-feeds", CronTrigger(hour="*/6", minute=37, timezone=utc), "feeds",
                lambda store, settings: run_cycle(store, settings, "feeds")),
        JobSpec("ingest-classics", CronTrigger(hour=3, minute=47, timezone=utc), "classics",
                lambda store, settings: run_cycle(store, settings, "classics")),
        # Downloads that failed for a passing reason get another try once a day, and
        # anything downloaded but not yet read (or read by an older extractor) is extracted.
        JobSpec("download-pending", CronTrigger(hour=5, minute=7, timezone=utc), "download", run_downstream),
        # Every hour: the digests of users whose local hour has come, and retries of failed sends.
        JobSpec("send-digests", CronTrigger(minute=0, timezone=utc), "digest", run_digests, lane=DIGESTS),
        # Mondays: the old paper of the week, for the global feed and for every user.
        JobSpec("old-paper-of-the-week", CronTrigger(day_of_week="mon", hour=6, minute=13, timezone=utc),
                "old-paper", run_weekly_picks, lane=WEEKLY),
        # Trendiness of recent papers, recomputed daily for the ranker and the old-paper feed.
        JobSpec("compute-trend", CronTrigger(hour=4, minute=27, timezone=utc), "trend",
                lambda store, settings: compute_trends(store, settings)),
    ]


def missed_since(trigger: CronTrigger, last_run: datetime | None, now: datetime) -> bool:
    """Did ``trigger`` want to fire between ``last_run`` and ``now``?"""
    if last_run is None:
        return True
    due = trigger.get_next_fire_time(None, last_run + timedelta(seconds=1))
    return due is not None and due <= now


class DeploymentLock:
    """An exclusive, non-blocking file lock: held for the life of the process."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PipelineScheduler:
    """Owns the APScheduler instance, the deployment lock and the takeover loop."""

    def __init__(self, settings: Settings, store: Store, specs: list[JobSpec] | None = None):
        self.settings = settings
        self.store = store
        self.specs = specs if specs is not None else job_specs()
        self.lock = DeploymentLock(store.home / "scheduler.lock")
        self.scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._waiter: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.scheduler is not None and self.scheduler.running

    def start(self) -> bool:
        """Start scheduling if no other process does; otherwise wait for the lock in the background."""
        if self._start_if_lock_free():
            return True
        log.info("another Glean process (pid %s) runs the scheduler for %s; serving HTTP only",
                 self.lock.holder(), self.store.home)
        self._waiter = threading.Thread(target=self._wait_for_lock, name="scheduler-takeover", daemon=True)
        self._waiter.start()
        return False

    def _wait_for_lock(self) -> None:
        while not self._stop.wait(LOCK_RETRY_S):
            if self._start_if_lock_free():
                log.info("took over the scheduler for %s", self.store.home)
                return

    def _start_if_lock_free(self) -> bool:
        if not self.lock.try_acquire():
            return False
        lanes = {spec.lane for spec in self.specs} | {PIPELINES}
        scheduler = BackgroundScheduler(
            executors={lane: ThreadPoolExecutor(1) for lane in lanes},  # one thread per lane
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S},
            timezone=timezone.utc,
        )
        now = datetime.now(timezone.utc)
        for spec in self.specs:
            last_ok = self.store.source_summary(spec.stage)["last_ok_at"]
            catch_up = missed_since(spec.trigger, datetime.fromisoformat(last_ok) if last_ok else None, now)
            scheduler.add_job(spec.run, spec.trigger, args=(self.store, self.settings), id=spec.id,
                              name=spec.id, replace_existing=True, executor=spec.lane,
                              **({"next_run_time": now} if catch_up else {}))
            if catch_up:
                log.info("job %s missed its schedule (last success: %s); running it now", spec.id, last_ok)
        scheduler.start()
        self.scheduler = scheduler
        return True

    def describe(self) -> dict:
        if not self.active:
            return {"state": "standby", "lock_holder_pid": self.lock.holder(), "jobs": []}
        jobs = [{"id": job.id, "next_run": job.next_run_time.isoformat() if job.next_run_time else None}
                for job in self.scheduler.get_jobs()]
        return {"state": "active", "pid": os.getpid(), "jobs": jobs}

    def shutdown(self) -> None:
        self._stop.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.lock.release()
