"""The schema from the catalog, and the migration runner's promises."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from hub import db
from tests.conftest import _with_database

# Every foreign key whose columns do not lead some non-partial index of its table.
# Partitions are skipped: their indexes are attached from the partitioned parent's.
UNINDEXED_FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text AS table_name, c.conname,
       array_agg(a.attname::text ORDER BY k.ord) AS columns
  FROM pg_constraint c
  JOIN pg_class r ON r.oid = c.conrelid
  JOIN pg_namespace n ON n.oid = r.relnamespace
  CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
 WHERE c.contype = 'f'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT r.relispartition
   AND NOT EXISTS (
        SELECT 1 FROM pg_index i
         WHERE i.indrelid = c.conrelid
           AND i.indpred IS NULL
           AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
           AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
 GROUP BY c.conrelid, c.conname
 ORDER BY 1, 2
"""


async def test_every_foreign_key_column_is_covered_by_an_index(hub):
    async with hub.pool.acquire() as conn:
        count = await conn.fetchval("SELECT count(*) FROM pg_constraint WHERE contype = 'f'")
        missing = await conn.fetch(UNINDEXED_FOREIGN_KEYS)
    assert count > 20  # the catalog query sees the schema at all
    assert not missing, "foreign keys without an index:\n" + "\n".join(
        f"  {r['table_name']}.{'/'.join(r['columns'])} ({r['conname']})" for r in missing
    )


async def test_the_catalog_check_notices_an_unindexed_foreign_key(hub):
    async with hub.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "CREATE TABLE zz_fk_probe (id int PRIMARY KEY, user_id uuid REFERENCES users (id))"
        )
        rows = await conn.fetch(UNINDEXED_FOREIGN_KEYS)
        assert any(r["table_name"] == "zz_fk_probe" for r in rows)
        await conn.execute("CREATE INDEX ON zz_fk_probe (user_id)")
        rows = await conn.fetch(UNINDEXED_FOREIGN_KEYS)
        assert not any(r["table_name"] == "zz_fk_probe" for r in rows)
        await conn.execute("DROP TABLE zz_fk_probe")  # leave nothing in the shared database


@pytest.fixture
async def scratch_database(hub):
    """An empty database on the same server, dropped afterwards."""
    name = f"hub_mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(hub.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(hub.database_url, name)
    admin = await asyncpg.connect(hub.database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def write(directory: Path, name: str, sql: str) -> Path:
    path = directory / name
    path.write_text(sql)
    return path


async def test_runner_refuses_an_applied_file_that_was_edited(scratch_database, tmp_path):
    first = write(tmp_path, "0001_first.sql", "CREATE TABLE t1 (id int PRIMARY KEY);")
    assert await db.migrate(scratch_database, tmp_path) == ["0001_first.sql"]
    assert await db.migrate(scratch_database, tmp_path) == []
    write(tmp_path, "0002_second.sql", "CREATE TABLE t2 (id int PRIMARY KEY);")
    first.write_text("CREATE TABLE t1 (id bigint PRIMARY KEY);")
    with pytest.raises(db.MigrationError, match=r"0001_first\.sql was edited"):
        await db.migrate(scratch_database, tmp_path)
    conn = await asyncpg.connect(scratch_database)
    try:
        # nothing after the edited file ran
        assert await conn.fetchval("SELECT to_regclass('t2')") is None
    finally:
        await conn.close()


async def test_two_processes_migrating_at_once_both_succeed(scratch_database, tmp_path):
    write(
        tmp_path,
        "0001_slow.sql",
        "SELECT pg_sleep(0.5); CREATE TABLE slow (id int PRIMARY KEY);",
    )
    write(tmp_path, "0002_more.sql", "CREATE TABLE more (id int PRIMARY KEY);")
    results = await asyncio.gather(
        db.migrate(scratch_database, tmp_path), db.migrate(scratch_database, tmp_path)
    )
    applied = sorted(name for result in results for name in result)
    assert applied == ["0001_slow.sql", "0002_more.sql"]  # each applied exactly once
    conn = await asyncpg.connect(scratch_database)
    try:
        rows = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await conn.close()
    assert rows == 2


async def test_the_real_migrations_apply_to_an_empty_database(scratch_database):
    applied = await db.migrate(scratch_database)
    assert applied == [p.name for p in db.migration_files()]
