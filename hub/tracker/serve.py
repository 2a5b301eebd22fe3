"""`hub tracker`: the tracker role alone, on the server measured fastest for it.

The web role stays on Hypercorn. For announce traffic, bench/announce.py measured Granian
(ASGI and RSGI), Uvicorn and Hypercorn on the same load (figures in docs/performance.md).
Granian through its RSGI interface won, most clearly with a new connection per request (what
most clients do), so it is the default. Its query string arrives as str, but Granian answers
400 to any request target that is not ASCII, so encoding it back as latin-1 yields exactly the
bytes the client sent: the hot path still parses bytes, with no lossy round trip.
One worker process: the swarms live in its memory (shard by info_hash at the load balancer to
use more cores, see DESIGN.md).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from hub.config import Settings

log = logging.getLogger(__name__)

SERVERS = ("granian", "granian-rsgi", "uvicorn", "hypercorn")
DEFAULT_SERVER = "granian-rsgi"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_NOT_FOUND = b"not found: this is a BitTorrent tracker (/announce/<passkey>, /scrape/<passkey>)"


def create_tracker_app(settings: Settings | None = None) -> Any:
    """A raw ASGI app for the tracker role: announce and scrape, nothing else."""
    from hub.app import Hub

    hub = Hub(settings or Settings.from_env(), frozenset({"tracker"}))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path: str = scope["path"]
            if path.startswith("/announce/") or path.startswith("/scrape/"):
                await hub.tracker(scope, receive, send)
                return
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain"),
                                    (b"content-length", b"%d" % len(_NOT_FOUND))]})
            await send({"type": "http.response.body", "body": _NOT_FOUND})
        elif kind == "lifespan":
            await _lifespan(hub, receive, send)

    app.hub = hub  # type: ignore[attr-defined]
    return app


async def _lifespan(hub: Any, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await hub.start()
            except Exception as exc:
                log.exception("tracker failed to start")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await hub.stop()  # flushes the accumulator
            await send({"type": "lifespan.shutdown.complete"})
            return


class TrackerRSGI:
    """The same tracker behind Granian's RSGI interface, which skips ASGI's per-request
    message dicts. RSGI hands the query string over as str: percent-encoded query strings are
    ASCII, so encoding it back as latin-1 gives the exact bytes the client sent."""

    def __init__(self, settings: Settings | None = None) -> None:
        from hub.app import Hub

        self.hub = Hub(settings or Settings.from_env(), frozenset({"tracker"}))

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.hub.start())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.hub.stop())

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        path: str = scope.path
        if not (path.startswith("/announce/") or path.startswith("/scrape/")):
            protocol.response_bytes(404, [("content-type", "text/plain")], _NOT_FOUND)
            return
        service = self.hub.tracker
        headers = scope.headers
        agent = headers.get("user-agent") or ""
        # X-Forwarded-For only matters behind a trusted proxy: skip the lookup otherwise.
        forwarded = (headers.get("x-forwarded-for") or "") if service.trusts_proxies else ""
        client: str = scope.client
        ip = client.rpartition(":")[0].strip("[]") if ":" in client else client
        body = service.answer(
            path, scope.query_string.encode("latin-1"), ip, agent.encode("latin-1"),
            forwarded.encode("latin-1"),
        )
        protocol.response_bytes(200, [("content-type", "text/plain")], body)


def serve_tracker(host: str, port: int, server: str = DEFAULT_SERVER) -> None:
    """Run the tracker role until SIGINT/SIGTERM; the accumulator is flushed on the way out."""
    if server == "granian-rsgi":
        from granian import Granian
        from granian.constants import HTTPModes, Interfaces

        Granian(
            "hub.tracker.serve:TrackerRSGI",
            address=host,
            port=port,
            interface=Interfaces.RSGI,
            workers=1,
            factory=True,
            log_access=False,
            backlog=4096,
            # Trackers speak HTTP/1 only: skip detecting an HTTP/2 preface on every
            # connection. The event loop is uvloop when installed (Granian's default choice).
            http=HTTPModes.http1,
        ).serve()
    elif server == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        Granian(
            "hub.tracker.serve:create_tracker_app",
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            workers=1,
            factory=True,
            log_access=False,
            backlog=4096,
        ).serve()
    elif server == "uvicorn":
        import uvicorn

        uvicorn.run(create_tracker_app(), host=host, port=port, access_log=False,
                    log_level="warning", backlog=4096, lifespan="on")
    elif server == "hypercorn":
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"{host}:{port}"]
        config.accesslog = None
        config.backlog = 4096
        config.graceful_timeout = 5

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await serve(create_tracker_app(), config, shutdown_trigger=stop.wait)

        asyncio.run(main())
    else:
        raise ValueError(f"unknown server {server!r}: choose one of {', '.join(SERVERS)}")


if __name__ == "__main__":
    import argparse

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description="the tracker role on a chosen ASGI server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--server", choices=SERVERS, default=DEFAULT_SERVER)
    args = parser.parse_args()
    serve_tracker(args.host, args.port, args.server)
