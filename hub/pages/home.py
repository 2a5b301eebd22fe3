"""The front page and the health check."""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Blueprint, jsonify, render_template

from hub.pages.web import current_hub
from hub.policy import Access, allow

bp = Blueprint("home", __name__)


@bp.get("/")
@allow(Access.PUBLIC)
async def index() -> Any:
    return await render_template("home.html")


@bp.get("/healthz")
@allow(Access.PUBLIC)
async def healthz() -> Any:
    """200 when Postgres and Redis answer; 503 naming what is down."""
    hub = current_hub()
    checks: dict[str, str] = {}

    async def database() -> None:
        async with hub.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")

    async def redis() -> None:
        await hub.redis.ping()

    for name, probe in (("database", database), ("redis", redis)):
        try:
            await asyncio.wait_for(probe(), timeout=2)
            checks[name] = "ok"
        except Exception as exc:  # any failure means "down"; say which and why
            checks[name] = f"down: {type(exc).__name__}: {exc}"[:200]
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "unavailable", **checks), 200 if healthy else 503
