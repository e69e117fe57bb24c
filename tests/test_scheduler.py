"""The scheduler: one per data folder, fixed jobs, catch-up of missed runs."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone

from apscheduler.triggers.cron import CronTrigger

from pipelines.store import Counts, Store
from service.scheduler import JobSpec, PipelineScheduler, job_specs, missed_since

UTC = timezone.utc


def test_missed_since():
    daily = CronTrigger(hour=3, minute=0, timezone=UTC)
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert missed_since(daily, None, now)
    assert not missed_since(daily, datetime(2026, 11, 29, 3, 0, 5, tzinfo=UTC), now)
    assert missed_since(daily, datetime(2026, 11, 28, 3, 0, 5, tzinfo=UTC), now)


def test_fixed_job_ids():
    assert [s.id for s in job_specs()] == ["ingest-arxiv", "ingest-feeds", "ingest-classics", "download-pending",
                                           "send-digests", "old-paper-of-the-week", "compute-trend"]


def recording_specs(calls, done):
    def run(store, settings):
        calls.append(datetime.now(UTC))
        done.set()
    # Once a year at an odd minute: only a catch-up can make it run during the test.
    return [JobSpec("probe", CronTrigger(month=1, day=1, hour=0, minute=1, timezone=UTC), "probe", run)]


def test_one_scheduler_per_data_folder_and_takeover(settings):
    calls, done = [], threading.Event()
    first = PipelineScheduler(settings, Store(settings.home), recording_specs(calls, done))
    second = PipelineScheduler(settings, Store(settings.home), recording_specs(calls, done))
    try:
        assert first._start_if_lock_free()
        assert not second._start_if_lock_free()
        assert first.describe()["state"] == "active"
        assert second.describe() == {"state": "standby", "lock_holder_pid": str(os.getpid()), "jobs": []}
        assert done.wait(10), "a job that never ran is caught up at start-up"
        assert len(calls) == 1
        first.shutdown()
        assert second._start_if_lock_free()  # the standby server takes over
    finally:
        first.shutdown()
        second.shutdown()


def test_job_options(settings):
    sched = PipelineScheduler(settings, Store(settings.home), recording_specs([], threading.Event()))
    try:
        sched._start_if_lock_free()
        job = sched.scheduler.get_job("probe")
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time >= 3600
    finally:
        sched.shutdown()


def test_a_job_that_ran_recently_is_not_caught_up(settings):
    store = Store(settings.home)
    run = store.start_run("probe")
    store.finish_run(run, Counts())
    calls = []
    sched = PipelineScheduler(settings, store, [JobSpec(
        "probe", CronTrigger(hour=(datetime.now(UTC) - timedelta(hours=1)).hour, timezone=UTC), "probe",
        lambda s, st: calls.append(1))])
    try:
        sched._start_if_lock_free()
        job = sched.scheduler.get_job("probe")
        assert job.next_run_time > datetime.now(UTC) + timedelta(hours=1)
    finally:
        sched.shutdown()
    assert calls == []


def test_a_stuck_pipeline_does_not_hold_back_digests(settings):
    from service.scheduler import DIGESTS
    once_a_year = dict(month=1, day=1, hour=0, minute=1, timezone=UTC)  # runs only as a catch-up
    release, ingest_started, digest_ran = threading.Event(), threading.Event(), threading.Event()

    def stuck_ingest(store, settings):
        ingest_started.set()
        release.wait(30)

    specs = [JobSpec("ingest", CronTrigger(**once_a_year), "probe-ingest", stuck_ingest),
             JobSpec("digest", CronTrigger(**once_a_year), "probe-digest", lambda s, st: digest_ran.set(),
                     lane=DIGESTS)]
    sched = PipelineScheduler(settings, Store(settings.home), specs)
    try:
        sched._start_if_lock_free()
        assert ingest_started.wait(10)
        assert digest_ran.wait(10), "the digest job waited for a stuck ingest"
    finally:
        release.set()
        sched.shutdown()


def test_deliveries_have_lanes_of_their_own():
    lanes = {s.id: s.lane for s in job_specs()}
    assert lanes["send-digests"] != lanes["ingest-feeds"]
    assert lanes["old-paper-of-the-week"] not in (lanes["send-digests"], lanes["ingest-arxiv"])
    assert lanes["ingest-arxiv"] == lanes["ingest-feeds"] == lanes["download-pending"]  # one pipeline at a time
