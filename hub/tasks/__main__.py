"""`python -m hub.tasks`: the worker's jobs from the command line.

    python -m hub.tasks list              # every job, its schedule and last run
    python -m hub.tasks run NAME [--force]  # run one job now, under its lock

`run` skips a job whose current period is already done unless `--force` (bonus points
still pay an hour only once: that job claims its period in its own transaction).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from hub.config import Settings
from hub.tasks.jobs import JOBS
from hub.tasks.runner import Worker


async def _list() -> int:
    from hub.app import Hub

    hub = Hub(Settings.from_env(), frozenset())
    await hub.start()
    try:
        rows = {r["name"]: r for r in await hub.pool.fetch("SELECT * FROM job_runs")}
    finally:
        await hub.stop()
    for job in JOBS:
        row = rows.get(job.name)
        last = "never"
        if row is not None and row["last_finished_at"] is not None:
            last = f"{row['last_finished_at']:%Y-%m-%d %H:%M:%S} UTC ({row['last_duration_ms']} ms)"
        error = f"  LAST ERROR: {row['last_error']}" if row and row["last_error"] else ""
        print(f"{job.name:24} {job.period.describe():40} last: {last}{error}")
        print(f"{'':24} {job.description}")
    return 0


async def _run(name: str, force: bool) -> int:
    from hub.app import Hub

    hub = Hub(Settings.from_env(), frozenset())
    await hub.start()
    try:
        worker = Worker(hub)
        outcome = await worker.run_once(name, force=force)
        result = await hub.pool.fetchval("SELECT last_result FROM job_runs WHERE name = $1", name)
    finally:
        await hub.stop()
    print(f"{name}: {outcome}" + (f" {result}" if outcome == "ran" and result else ""))
    return 0 if outcome in ("ran", "done") else 1


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    parser = argparse.ArgumentParser(prog="python -m hub.tasks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every job, its schedule and last run")
    run = sub.add_parser("run", help="run one job now")
    run.add_argument("name", choices=[job.name for job in JOBS])
    run.add_argument("--force", action="store_true", help="run even if this period is done")
    args = parser.parse_args(argv)
    if args.command == "list":
        return asyncio.run(_list())
    return asyncio.run(_run(args.name, args.force))


if __name__ == "__main__":
    sys.exit(main())
