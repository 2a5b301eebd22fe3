"""One Redis subscription per web process for the channels the live hub reacts to locally
(kicks, swarm counts). Every process handles every message for the sockets it holds, so
what a handler emits must not go through the Socket.IO manager again (`ignore_queue`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

# Handlers get the decoded JSON value (an object, or a list for batched channels).
Handler = Callable[[Any], Awaitable[None]]


class ChannelListener:
    def __init__(self, redis_url: str, handlers: dict[str, Handler]) -> None:
        self.redis_url = redis_url
        self.handlers = handlers
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        delay = 0.2
        while True:
            client = aioredis.from_url(self.redis_url, socket_connect_timeout=2)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(*self.handlers)
                    self.subscribed.set()
                    delay = 0.2
                    async for message in pubsub.listen():
                        await self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed.clear()
                log.warning("live channel listener lost redis (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                await client.aclose()

    async def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        channel = message["channel"]
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        handler = self.handlers.get(name)
        if handler is None:
            return
        try:
            data = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("ignoring malformed message on %s", name)
            return
        try:
            await handler(data)
        except Exception:
            log.exception("handler for %s failed", name)
