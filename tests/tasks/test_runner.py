"""The worker runs each job once per period, however many worker processes there are."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import pytest

from hub.tasks.runner import Job, JobContext, Worker, lock_key
from hub.tasks.schedule import Every
from hub.tasks.settings import TaskSettings

FAST = TaskSettings(max_sleep_seconds=0.2, retry_seconds=0.2)


def recording_job(name: str, period: Every, runs: list[tuple[str, datetime]],
                  *, seconds: float = 0.2) -> Job:
    async def run(ctx: JobContext) -> dict[str, Any]:
        runs.append((ctx.job_name, ctx.period_start))
        await asyncio.sleep(seconds)  # long enough for the other worker to try the lock
        return {"ok": True}

    return Job(name, period, run)


async def wait_for(predicate: Any, limit: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_two_workers_started_at_once_run_an_hourly_job_once(hub: Any) -> None:
    runs: list[tuple[str, datetime]] = []
    job = recording_job(f"test_once_{uuid.uuid4().hex[:8]}", Every(3600), runs)
    first, second = Worker(hub, [job], FAST), Worker(hub, [job], FAST)
    await asyncio.gather(first.start(), second.start())
    try:
        await wait_for(lambda: all(w.state[job.name].done_period is not None
                                   for w in (first, second)))
        await asyncio.sleep(0.5)
    finally:
        await asyncio.gather(first.stop(), second.stop())
    assert len(runs) == 1
    assert first.state[job.name].runs + second.state[job.name].runs == 1
    row = await hub.pool.fetchrow("SELECT * FROM job_runs WHERE name = $1", job.name)
    assert row["run_count"] == 1
    assert row["period_start"] == runs[0][1]
    assert row["last_result"] == {"ok": True}
    assert row["last_error"] is None


async def test_two_workers_share_a_one_second_job_without_running_a_period_twice(
    hub: Any,
) -> None:
    runs: list[tuple[str, datetime]] = []
    job = recording_job(f"test_tick_{uuid.uuid4().hex[:8]}", Every(1), runs, seconds=0.05)
    workers = [Worker(hub, [job], FAST) for _ in range(3)]
    await asyncio.gather(*(w.start() for w in workers))
    try:
        await asyncio.sleep(3.5)
    finally:
        await asyncio.gather(*(w.stop() for w in workers))
    periods = [period for _name, period in runs]
    assert len(periods) >= 3
    assert len(periods) == len(set(periods)), "a period ran twice"


async def test_a_worker_that_finds_the_period_done_skips_it(hub: Any) -> None:
    runs: list[tuple[str, datetime]] = []
    job = recording_job(f"test_done_{uuid.uuid4().hex[:8]}", Every(3600), runs, seconds=0)
    first = Worker(hub, [job], FAST)
    await first.start()
    await wait_for(lambda: first.state[job.name].done_period is not None)
    await first.stop()
    # A process started later in the same hour (or restarted) finds the period done.
    later = Worker(hub, [job], FAST)
    await later.start()
    await wait_for(lambda: later.state[job.name].done_period is not None)
    await later.stop()
    assert len(runs) == 1
    assert later.state[job.name].skipped_done == 1


async def test_a_failed_run_is_recorded_and_retried_in_the_same_period(hub: Any) -> None:
    calls: list[int] = []

    async def flaky(ctx: JobContext) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("backend unreachable")

    job = Job(f"test_flaky_{uuid.uuid4().hex[:8]}", Every(3600), flaky)
    worker = Worker(hub, [job], FAST)
    await worker.start()
    try:
        await wait_for(lambda: worker.state[job.name].done_period is not None)
    finally:
        await worker.stop()
    assert len(calls) == 2
    row = await hub.pool.fetchrow("SELECT * FROM job_runs WHERE name = $1", job.name)
    assert row["failure_count"] == 1
    assert row["run_count"] == 1
    assert row["last_failed_at"] is not None
    assert row["last_error"] is None  # cleared by the good run


async def test_a_job_held_by_another_session_waits_for_it(hub: Any) -> None:
    runs: list[tuple[str, datetime]] = []
    job = recording_job(f"test_held_{uuid.uuid4().hex[:8]}", Every(3600), runs, seconds=0)
    async with hub.pool.acquire() as conn:
        assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(job.name))
        worker = Worker(hub, [job], FAST)
        await worker.start()
        try:
            await wait_for(lambda: worker.state[job.name].skipped_busy >= 1)
            assert runs == []
        finally:
            await conn.fetchval("SELECT pg_advisory_unlock($1)", lock_key(job.name))
        try:
            await wait_for(lambda: len(runs) == 1, limit=15)
        finally:
            await worker.stop()


def test_worker_jobs_setting_picks_jobs_by_name(hub: Any) -> None:
    worker = Worker(hub, settings=TaskSettings(jobs=("stale_peers", "bonus_earning")))
    assert sorted(job.name for job in worker.jobs) == ["bonus_earning", "stale_peers"]
    with pytest.raises(ValueError, match="unknown jobs"):
        Worker(hub, settings=TaskSettings(jobs=("no_such_job",)))


def test_lock_keys_are_stable_signed_64_bit_and_distinct() -> None:
    from hub.tasks.jobs import JOBS

    keys = {lock_key(job.name) for job in JOBS}
    assert len(keys) == len(JOBS)
    assert all(-(2**63) <= key < 2**63 for key in keys)
    assert lock_key("bonus_earning") == lock_key("bonus_earning")


async def test_every_default_job_runs_cleanly_in_the_sites_own_worker(hub: Any) -> None:
    from hub.tasks.jobs import JOBS

    names = [job.name for job in JOBS]

    async def finished() -> list[Any]:
        return list(await hub.pool.fetch(
            "SELECT name, last_error FROM job_runs WHERE name = ANY($1) AND run_count > 0",
            names,
        ))

    deadline = asyncio.get_running_loop().time() + 60
    rows = await finished()
    while len(rows) < len(names) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.5)
        rows = await finished()
    assert sorted(r["name"] for r in rows) == sorted(names)
    failed = await hub.pool.fetch(
        "SELECT name, last_error FROM job_runs WHERE name = ANY($1) AND failure_count > 0", names
    )
    assert [dict(r) for r in failed] == []


async def test_run_once_skips_a_done_period_unless_forced(hub: Any) -> None:
    runs: list[tuple[str, datetime]] = []
    job = recording_job(f"test_manual_{uuid.uuid4().hex[:8]}", Every(3600), runs, seconds=0)
    worker = Worker(hub, [job], FAST)
    try:
        assert await worker.run_once(job.name) == "ran"
        assert await worker.run_once(job.name) == "done"
        assert await worker.run_once(job.name, force=True) == "ran"
    finally:
        await worker.stop()
    assert len(runs) == 2
    with pytest.raises(ValueError, match="no job named"):
        await worker.run_once("nope")
