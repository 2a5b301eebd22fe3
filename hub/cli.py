"""`hub` command line: run the site by role, migrate, create users, seed a demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Any

from hub.config import Settings


def _serve(roles: frozenset[str], host: str, port: int) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from hub.app import create_app

    overrides: dict[str, object] = {}
    if not os.environ.get("HUB_BASE_URL"):
        # Links, announce URLs and the websocket origin check follow --host/--port.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        overrides["base_url"] = f"http://{shown}:{port}"
    settings = Settings.from_env(**overrides)
    app = create_app(settings, roles)
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.graceful_timeout = 5

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
        await _announce_when_up(server, settings, host, port, "web" in roles)
        await server

    asyncio.run(main())


async def _announce_when_up(
    server: asyncio.Task[None], settings: Settings, host: str, port: int, web: bool
) -> None:
    """Print where the site is and how to log in, once it answers (after the startup logs)."""
    probe = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    for _ in range(600):
        if server.done():
            return
        try:
            _reader, writer = await asyncio.open_connection(probe, port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    if not web:
        return
    password_hint = (
        "the password in HUB_ADMIN_PASSWORD"
        if settings.admin_password
        else "the password printed when the admin was first created"
    )
    print(
        f"\n  {settings.site_name} is running at {settings.base_url}\n"
        f"  Log in at {settings.base_url}/login as 'admin' with {password_hint}.\n"
        "  Lost it? Another sysop account: "
        "hub create-user NAME EMAIL --password PASSWORD --group sysop\n",
        flush=True,
    )


def _worker() -> None:
    from hub.app import Hub

    async def main() -> None:
        hub = Hub(Settings.from_env(), frozenset({"worker"}))
        await hub.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await hub.stop()

    asyncio.run(main())


async def _with_hub(func: Any) -> Any:
    from hub.app import Hub

    hub = Hub(Settings.from_env(), frozenset())
    await hub.start()
    try:
        return await func(hub)
    finally:
        await hub.stop()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    parser = argparse.ArgumentParser(prog="hub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("dev", "everything in one process: web, tracker and worker"),
        ("serve", "the web role: pages, API and Socket.IO"),
        ("tracker", "the tracker role: announce and scrape"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000 if name != "tracker" else 8001)
    sub.add_parser("worker", help="the worker role: scheduled jobs")
    sub.add_parser("migrate", help="apply new database migrations")
    cu = sub.add_parser("create-user", help="create a member")
    cu.add_argument("username")
    cu.add_argument("email")
    cu.add_argument("--password", required=True)
    cu.add_argument("--group", default="member", help="group slug, e.g. member, moderator")
    sub.add_parser("seed-demo", help="categories, forums, chat rooms and a few users")
    args = parser.parse_args(argv)

    if args.command == "dev":
        _serve(frozenset({"web", "tracker", "worker"}), args.host, args.port)
    elif args.command == "serve":
        _serve(frozenset({"web"}), args.host, args.port)
    elif args.command == "tracker":
        from hub.tracker.serve import serve_tracker

        serve_tracker(args.host, args.port)
    elif args.command == "worker":
        _worker()
    elif args.command == "migrate":
        async def _noop(hub: Any) -> None:
            return None

        asyncio.run(_with_hub(_noop))  # Hub.start applies migrations
        print("migrations applied")
    elif args.command == "create-user":
        from hub.accounts import actions

        async def _create(hub: Any) -> Any:
            return await actions.create_user_cli(
                hub, args.username, args.email, args.password, args.group
            )

        user_id = asyncio.run(_with_hub(_create))
        print(f"created {args.username} ({user_id})")
    elif args.command == "seed-demo":
        from hub.tasks.demo import MEMBERS, demo_password, seed_demo

        asyncio.run(_with_hub(seed_demo))
        names = ", ".join(m.username for m in MEMBERS)
        print(f"demo data ready: log in as {names} with the password {demo_password()!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
