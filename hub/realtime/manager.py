"""The Socket.IO client manager that carries emits between web processes through Redis.

python-socketio's `AsyncRedisManager` re-subscribes by itself when Redis goes away, but
whatever was published while this process was not subscribed is gone. Durable events are
still in the log, so after every re-subscription we tell the sockets held here to resume
(`on_resubscribed`); they re-send their last sequences and the log fills the hole.

The hook sits on redis-py's pubsub `on_connect` callback, which runs on every
(re)connection of the subscribing connection whether redis-py reconnected by itself or
the manager built a new pubsub after an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

log = logging.getLogger(__name__)

# Give the SUBSCRIBE a moment to be processed before clients re-ask for their streams.
RESUBSCRIBE_SETTLE_SECONDS = 0.2


class HubRedisManager(socketio.AsyncRedisManager):
    def __init__(
        self,
        url: str,
        on_resubscribed: Callable[[], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        # Fail fast: a dead Redis must not stall an emit for the default socket timeout.
        options = {"socket_connect_timeout": 2, "health_check_interval": 10}
        options.update(kwargs.pop("redis_options", None) or {})
        super().__init__(url, redis_options=options, **kwargs)
        self.on_resubscribed = on_resubscribed
        self._subscribed_before = False
        self._hooks: set[asyncio.Task[None]] = set()

    def _redis_connect(self) -> None:
        super()._redis_connect()
        pubsub = self.pubsub
        watch = _PubSubWatch(self, pubsub.on_connect)
        # redis-py keeps connect callbacks as weak methods: the pubsub keeps `watch` alive.
        pubsub.hub_watch = watch
        pubsub.on_connect = watch.on_connect

    def _pubsub_connected(self) -> None:
        if self._subscribed_before and self.on_resubscribed is not None:
            task = asyncio.create_task(self._announce_resubscribed())
            self._hooks.add(task)
            task.add_done_callback(self._hooks.discard)
        self._subscribed_before = True

    async def _announce_resubscribed(self) -> None:
        await asyncio.sleep(RESUBSCRIBE_SETTLE_SECONDS)
        log.warning("redis pubsub re-subscribed: asking local sockets to resume")
        assert self.on_resubscribed is not None
        try:
            await self.on_resubscribed()
        except Exception:
            log.exception("resume announcement failed")

    async def close(self) -> None:
        thread = getattr(self, "thread", None)
        if thread is not None:
            thread.cancel()
            await asyncio.gather(thread, return_exceptions=True)
        for task in list(self._hooks):
            task.cancel()
        if self.redis is not None:
            try:
                await self.redis.aclose()
            except Exception:  # closing a dead connection is not news
                log.debug("closing manager redis", exc_info=True)


class _PubSubWatch:
    def __init__(self, manager: HubRedisManager, original: Callable[[Any], Awaitable[None]]):
        self.manager = manager
        self.original = original

    async def on_connect(self, connection: Any) -> None:
        await self.original(connection)
        self.manager._pubsub_connected()
