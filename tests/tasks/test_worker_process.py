"""A second `hub worker` process beside the site's own worker runs no period twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from hub.tasks.jobs import JOBS
from hub.tasks.schedule import Every

SLOW_JOBS = [job.name for job in JOBS
             if not (isinstance(job.period, Every) and job.period.seconds < 3600)]


async def _counts(hub: Any) -> dict[str, tuple[int, Any]]:
    rows = await hub.pool.fetch(
        "SELECT name, run_count, period_start FROM job_runs WHERE name = ANY($1)", SLOW_JOBS)
    return {r["name"]: (r["run_count"], r["period_start"]) for r in rows}


async def test_a_second_worker_process_finds_every_period_done(
    hub: Any, tmp_path: Path
) -> None:
    # The site's worker has run every job for the current period by now.
    for _ in range(120):
        before = await _counts(hub)
        if len(before) == len(SLOW_JOBS):
            break
        await asyncio.sleep(0.5)
    assert len(before) == len(SLOW_JOBS)

    env = dict(os.environ)
    env.update(
        HUB_DATABASE_URL=hub.database_url,
        HUB_REDIS_URL=hub.redis_url,
        HUB_VAR_DIR=str(tmp_path),
        HUB_SECRET_KEY="second-worker",
        HUB_WORKER_MAX_SLEEP="1",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "worker",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await asyncio.sleep(8)  # start, migrate (nothing to do), try every job
        assert process.returncode is None, "the worker process exited early"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    log = output.decode(errors="replace")
    assert process.returncode == 0, log

    after = await _counts(hub)
    for name in SLOW_JOBS:
        runs_before, period_before = before[name]
        runs_after, period_after = after[name]
        if period_after == period_before:  # (unless a new hour began meanwhile)
            assert runs_after == runs_before, f"{name} ran twice in one period\n{log}"
    assert "Traceback" not in log, log
    assert f"runs {len(JOBS)} jobs" in log, log


async def test_the_jobs_command_lists_every_job_with_its_last_run(
    hub: Any, tmp_path: Path
) -> None:
    env = dict(os.environ)
    env.update(HUB_DATABASE_URL=hub.database_url, HUB_REDIS_URL=hub.redis_url,
               HUB_VAR_DIR=str(tmp_path), HUB_SECRET_KEY="jobs-command")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.tasks", "list",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    text = output.decode()
    assert process.returncode == 0, text
    for job in JOBS:
        assert job.name in text
    assert "every hour" in text and "quarterly on day 1 at 02:00 UTC" in text
