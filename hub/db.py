"""Postgres access: the pool, transactions with after-commit hooks, and the migration runner."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "db" / "migrations"
# Any constant works; it only has to be the same for every process of the site.
MIGRATION_LOCK_KEY = 0x6875625F6D6967  # "hub_mig"

AfterCommit = Callable[[], Awaitable[None]]
_after_commit: contextvars.ContextVar[list[AfterCommit] | None] = contextvars.ContextVar(
    "hub_after_commit", default=None
)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection
    )
    assert pool is not None
    return pool


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One transaction; callbacks registered with `after_commit` run only once it commits.

    This is how events reach sockets: an action appends its event row inside the
    transaction, and the emit is queued here, so a rolled-back change is never announced.
    """
    if _after_commit.get() is not None:
        raise RuntimeError("transaction() is not re-entrant: pass the connection down instead")
    hooks: list[AfterCommit] = []
    token = _after_commit.set(hooks)
    try:
        async with pool.acquire() as conn, conn.transaction():
            yield conn
    finally:
        _after_commit.reset(token)
    for hook in hooks:
        try:
            await hook()
        except Exception:
            log.exception("after-commit hook failed")


def after_commit(hook: AfterCommit) -> None:
    """Run `hook` after the current `transaction()` commits (at once if there is none)."""
    hooks = _after_commit.get()
    if hooks is None:
        raise RuntimeError("after_commit() outside db.transaction()")
    hooks.append(hook)


class MigrationError(RuntimeError):
    pass


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(p for p in directory.glob("*.sql") if p.name[:4].isdigit())


async def migrate(
    dsn_or_conn: str | asyncpg.Connection, directory: Path = MIGRATIONS_DIR
) -> list[str]:
    """Apply new migration files in order; refuse if an applied file has been edited.

    An advisory lock lets several processes start at once: the first applies, the
    others wait and then find nothing to do.
    """
    conn = (
        await asyncpg.connect(dsn_or_conn) if isinstance(dsn_or_conn, str) else dsn_or_conn
    )
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       name text PRIMARY KEY,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            applied = {
                r["name"]: r["checksum"]
                for r in await conn.fetch("SELECT name, checksum FROM schema_migrations")
            }
            for path in migration_files(directory):
                sql = path.read_text()
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                if path.name in applied:
                    if applied[path.name] != checksum:
                        raise MigrationError(
                            f"{path.name} was edited after it was applied "
                            f"(recorded {applied[path.name][:12]}, file {checksum[:12]}); "
                            "add a new migration instead"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                        path.name,
                        checksum,
                    )
                log.info("applied migration %s", path.name)
                applied_now.append(path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        if isinstance(dsn_or_conn, str):
            await conn.close()
    return applied_now


async def fetch_val(pool: asyncpg.Pool, query: str, *args: Any) -> Any:
    async with pool.acquire() as conn:
        return await conn.fetchval(query, *args)
