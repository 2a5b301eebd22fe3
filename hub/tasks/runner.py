"""The worker role: every job of hub/tasks/jobs.py on its schedule, once per period
across however many worker processes run.

Two guards make "once" hold:
- a session advisory lock (`pg_try_advisory_lock`, keyed by a hash of the job's name) on a
  connection the worker keeps for locks alone, so two processes never run a job at the
  same time; the lock goes with the connection if a process dies;
- `job_runs.period_start`, read under that lock, so a process that gets the lock after
  another one finished the period sees it done and skips it.
A job that must never apply twice even when a process dies between its commit and the
`job_runs` update claims its period in its own transaction (`claim_period`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from hub.tasks.schedule import Period, utcnow
from hub.tasks.settings import TaskSettings

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)

JobResult = dict[str, Any] | None


@dataclass(frozen=True)
class JobContext:
    """What a job run gets: the hub, the worker's settings and the period it runs for."""

    hub: Hub
    settings: TaskSettings
    period_start: datetime
    job_name: str

    @property
    def pool(self) -> asyncpg.Pool:
        return self.hub.pool


JobFunc = Callable[[JobContext], Awaitable[JobResult]]


@dataclass(frozen=True)
class Job:
    name: str
    period: Period
    func: JobFunc
    description: str = ""


def lock_key(name: str) -> int:
    """The advisory lock key of a job: a signed 64-bit hash of its name, stable everywhere."""
    digest = hashlib.blake2b(b"hub-job:" + name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def claim_period(conn: asyncpg.Connection, name: str, period_start: datetime) -> bool:
    """Claim `period_start` for `name` inside the caller's transaction; False if taken."""
    claimed = await conn.fetchval(
        """INSERT INTO job_periods (name, period_start) VALUES ($1, $2)
           ON CONFLICT DO NOTHING RETURNING true""",
        name,
        period_start,
    )
    return bool(claimed)


@dataclass
class JobState:
    done_period: datetime | None = None
    runs: int = 0
    skipped_busy: int = 0
    skipped_done: int = 0
    failures: int = 0
    failing_since: int = 0  # consecutive failed runs
    last_error: str | None = None


class Worker:
    """Runs each job on its schedule; `start()` returns at once, `stop()` cancels and waits."""

    def __init__(
        self,
        hub: Hub,
        jobs: Sequence[Job] | None = None,
        settings: TaskSettings | None = None,
    ) -> None:
        self.hub = hub
        self.settings = settings or TaskSettings.from_env()
        if jobs is None:
            from hub.tasks.jobs import JOBS

            jobs = JOBS
        if self.settings.jobs:
            unknown = set(self.settings.jobs) - {job.name for job in jobs}
            if unknown:
                raise ValueError(f"HUB_WORKER_JOBS names unknown jobs: {sorted(unknown)}")
            jobs = [job for job in jobs if job.name in self.settings.jobs]
        self.jobs: list[Job] = list(jobs)
        self.state: dict[str, JobState] = {job.name: JobState() for job in self.jobs}
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._tasks: list[asyncio.Task[None]] = []
        self._lock_conn: asyncpg.Connection | None = None
        self._lock_guard = asyncio.Lock()

    async def start(self) -> None:
        log.info("worker %s runs %d jobs: %s", self.identity, len(self.jobs),
                 ", ".join(job.name for job in self.jobs))
        for job in self.jobs:
            self._tasks.append(asyncio.create_task(self._loop(job), name=f"job:{job.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._lock_conn is not None:
            # Closing the session releases any advisory lock a cancelled run still held.
            with contextlib.suppress(Exception):
                await self._lock_conn.close()
            self._lock_conn = None

    async def run_once(self, name: str, *, force: bool = False, wait: float = 600.0) -> str:
        """Run one job now, under its lock (waiting up to `wait` seconds for a run in
        progress elsewhere); skipped if its current period is done, unless `force`.
        Returns "ran", "done" or "failed" (see `python -m hub.tasks`)."""
        job = next((j for j in self.jobs if j.name == name), None)
        if job is None:
            raise ValueError(f"no job named {name!r}")
        period = job.period.start(utcnow())
        deadline = time.monotonic() + wait
        while True:
            outcome = await self._attempt(job, period, force=force)
            if outcome != "busy":
                return outcome
            if time.monotonic() > deadline:
                return "busy"
            await asyncio.sleep(0.5)

    # -- the loop -----------------------------------------------------------------

    async def _loop(self, job: Job) -> None:
        state = self.state[job.name]
        while True:
            now = utcnow()
            period = job.period.start(now)
            wait: float
            if state.done_period is None or state.done_period < period:
                try:
                    outcome = await self._attempt(job, period)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Postgres unreachable: try again later
                    log.warning("job %s could not start: %s", job.name, exc)
                    outcome = "failed"
                if outcome == "busy":
                    # Another process runs it now; look again soon to learn it finished.
                    wait = min(5.0, self._period_seconds(job, now))
                    await asyncio.sleep(wait)
                    continue
                if outcome == "failed":
                    wait = min(self.settings.retry_seconds, self._period_seconds(job, now))
                    await asyncio.sleep(wait)
                    continue
            wait = (job.period.next_start(utcnow()) - utcnow()).total_seconds()
            await asyncio.sleep(min(max(wait, 0.0), self.settings.max_sleep_seconds) + 0.01)

    @staticmethod
    def _period_seconds(job: Job, now: datetime) -> float:
        return max((job.period.next_start(now) - job.period.start(now)).total_seconds(), 0.05)

    async def _attempt(self, job: Job, period: datetime, *, force: bool = False) -> str:
        state = self.state[job.name]
        key = lock_key(job.name)
        if not await self._lock_exec("SELECT pg_try_advisory_lock($1)", key):
            state.skipped_busy += 1
            return "busy"
        try:
            done = await self.hub.pool.fetchval(
                "SELECT period_start FROM job_runs WHERE name = $1", job.name
            )
            if done is not None and done >= period and not force:
                state.done_period = done
                state.skipped_done += 1
                return "done"
            return await self._run(job, period)
        finally:
            try:
                await self._lock_exec("SELECT pg_advisory_unlock($1)", key)
            except Exception as exc:
                # A dead lock connection took the lock with it; the next call reconnects.
                log.warning("job %s: unlock failed: %s", job.name, exc)

    async def _run(self, job: Job, period: datetime) -> str:
        state = self.state[job.name]
        started = utcnow()
        clock = time.monotonic()
        await self.hub.pool.execute(
            """INSERT INTO job_runs (name, last_started_at, worker) VALUES ($1, $2, $3)
               ON CONFLICT (name) DO UPDATE SET last_started_at = $2, worker = $3""",
            job.name,
            started,
            self.identity,
        )
        try:
            result = await job.func(JobContext(self.hub, self.settings, period, job.name))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            state.failures += 1
            state.failing_since += 1
            state.last_error = f"{type(exc).__name__}: {exc}"
            if state.failing_since == 1:
                log.exception("job %s failed for period %s", job.name, period.isoformat())
            else:  # the traceback was logged once; a down backend must not flood the log
                log.warning("job %s failed again (%d in a row): %s", job.name,
                            state.failing_since, state.last_error)
            await self.hub.pool.execute(
                """UPDATE job_runs SET last_error = $2, last_failed_at = now(),
                          failure_count = failure_count + 1 WHERE name = $1""",
                job.name,
                state.last_error[:4000],
            )
            return "failed"
        elapsed_ms = int((time.monotonic() - clock) * 1000)
        await self.hub.pool.execute(
            """UPDATE job_runs SET period_start = $2, last_finished_at = now(),
                      last_duration_ms = $3, last_result = $4, last_error = NULL,
                      run_count = run_count + 1
                WHERE name = $1""",
            job.name,
            period,
            elapsed_ms,
            result,
        )
        state.done_period = period
        state.runs += 1
        state.failing_since = 0
        state.last_error = None
        # Quiet when a frequent job found nothing to do.
        level = logging.INFO if result and any(result.values()) else logging.DEBUG
        log.log(level, "job %s ran in %d ms: %s", job.name, elapsed_ms, result)
        return "ran"

    # -- the lock connection --------------------------------------------------------

    async def _lock_exec(self, query: str, key: int) -> Any:
        # Jobs share one session for their locks; asyncpg runs one query at a time on it.
        # It is never closed while the worker runs (that would free every job's lock at
        # once); a connection that died is replaced here.
        async with self._lock_guard:
            if self._lock_conn is None or self._lock_conn.is_closed():
                self._lock_conn = await asyncpg.connect(self.hub.database_url)
            return await self._lock_conn.fetchval(query, key)
