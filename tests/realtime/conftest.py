"""Live hub fixtures: members with session tokens, and a second web process.

The second process is a real `python -m hub serve` (web role only) on the same Postgres
and Redis as the in-process site, so an emit has to cross Redis to reach its sockets.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import pytest_asyncio

from hub import db
from hub.accounts import actions
from hub.config import Settings
from hub.realtime import events
from tests.conftest import free_port, project_root
from tests.factories import TestUser, make_user
from tests.realtime import liveclient


@pytest_asyncio.fixture(autouse=True)
async def _close_live_clients() -> AsyncIterator[None]:
    yield
    for client in list(liveclient.OPEN):
        await client.close()


@dataclass
class Member:
    user: TestUser
    session_id: UUID
    token: str

    @property
    def id(self) -> UUID:
        return self.user.id


async def member(hub: Any, group: str = "member") -> Member:
    user = await make_user(hub, group)
    session_id, token = await actions.start_session(hub, user.id, ip=None, user_agent="tests")
    return Member(user, session_id, token)


async def append(hub: Any, stream: str, count: int, kind: str = "test.tick") -> list[int]:
    """`count` events on `stream`, one transaction each, as a busy site would write them."""
    seqs = []
    for i in range(count):
        async with db.transaction(hub.pool) as conn:
            seqs.append(await events.append(conn, stream, kind, {"i": i}))
    return seqs


@dataclass
class WebProcess:
    """`python -m hub serve` in a subprocess; restartable on the same port."""

    env: dict[str, str]
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _logs: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.proc = self._spawn()
        for _ in range(600):
            if self.proc.poll() is not None:
                raise RuntimeError(f"web process exited; see {self.log_path}")
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"web process did not listen; see {self.log_path}")

    def _spawn(self) -> subprocess.Popen[bytes]:
        log = open(self.log_path, "ab")  # noqa: SIM115 (kept open for the child's lifetime)
        self._logs.append(log)
        command = [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1"]
        return subprocess.Popen(
            [*command, "--port", str(self.port)],
            env=self.env,
            cwd=project_root(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.proc.wait, 15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait, 5)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def close_logs(self) -> None:
        for log in self._logs:
            log.close()


def web_env(
    settings: Settings, var_dir: Path, port: int, redis_url: str | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HUB_DATABASE_URL=settings.database_url or "",
        HUB_REDIS_URL=redis_url or settings.redis_url or "",
        HUB_SECRET_KEY=settings.secret_key,
        HUB_VAR_DIR=str(var_dir),
        HUB_BASE_URL=f"http://127.0.0.1:{port}",
        HUB_REGISTRATION="open",
    )
    return env


@pytest_asyncio.fixture(scope="session")
async def second_web(
    server: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[WebProcess]:
    var = tmp_path_factory.mktemp("web2")
    port = free_port()
    proc = WebProcess(web_env(settings, var, port), port, var / "web.log")
    await proc.start()
    yield proc
    await proc.stop()
    proc.close_logs()
