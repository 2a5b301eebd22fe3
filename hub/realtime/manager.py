"""The Socket.IO client manager that carries emits between web processes through Redis.

python-socketio's `AsyncRedisManager` re-subscribes by itself when Redis goes away, but
whatever was published while this process was not subscribed is gone. Durable events are
still in the log, so after every re-subscription we tell the sockets held here to resume
(`on_resubscribed`); they re-send their last sequences and the log fills the hole.

The hook wraps the pubsub's `subscribe`, which runs on every (re)subscription whether
redis-py reconnected by itself or the manager built a new pubsub after an error (a connect
callback would miss the latter: redis-py registers it after the first connect).
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio
from engineio import exceptions as engineio_exceptions
from engineio import packet as eio_packet
from socketio import packet as sio_packet

try:  # the direct write path knows Hypercorn's HTTP/1.1 websocket; anything else queues
    from hypercorn.protocol.h11 import H11Protocol
    from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
    from wsproto.connection import ConnectionState
except ImportError:  # pragma: no cover
    H11Protocol = WSStream = None  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)

# A socket with more than this waiting in its transport is behind: it gets the queued path,
# which waits for the transport to drain, instead of more bytes piled on.
DIRECT_WRITE_LIMIT = 64 * 1024

# Give the SUBSCRIBE a moment to be processed before clients re-ask for their streams.
RESUBSCRIBE_SETTLE_SECONDS = 0.2
MAX_RETRY_SECONDS = 2.0


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
        subscribe = pubsub.subscribe

        async def subscribe_and_tell(*args: Any, **kwargs: Any) -> Any:
            result = await subscribe(*args, **kwargs)
            self._pubsub_connected()
            return result

        # Both roads back go through here: the manager's own retry loop subscribes on a
        # fresh pubsub, and redis-py's reconnect re-subscribes through `self.subscribe`.
        pubsub.subscribe = subscribe_and_tell

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        # python-socketio's loop, with the wait between attempts capped at
        # MAX_RETRY_SECONDS instead of 60: live events should flow again within seconds of
        # Redis coming back, not a minute later.
        retry_sleep = 0.2
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)
                    subscribed = True
                    retry_sleep = 0.2
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("socket.io manager lost redis (%s); retry in %.1fs", exc, retry_sleep)
                subscribed = False
                await asyncio.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, MAX_RETRY_SECONDS)

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        """Deliver an emit to this process's sockets in the room.

        python-socketio starts one asyncio task per recipient to queue the same encoded
        packet; for rooms of hundreds that task churn is most of the cost of a fan-out.
        Here the packet is encoded once and put on each socket's send queue directly, which
        is what that task would do (engineio's writer task sends it). Emits with ack
        callbacks or binary data keep the library's path.
        """
        if message.get("callback") is not None or message.get("binary"):
            await super()._handle_emit(message)
            return
        await self._fan_out(
            message["event"],
            message["data"],
            message.get("namespace") or "/",
            message.get("room"),
            message.get("skip_sid"),
        )

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        # Local-only emits (replays, relays) take the same single-encode path.
        if kwargs.get("ignore_queue") and callback is None:
            args = list(data) if isinstance(data, tuple) else [data]
            if not sio_packet.Packet.data_is_binary(args):
                await self._fan_out(event, args, namespace or "/", to or room, skip_sid)
                return
        await super().emit(
            event, data, namespace=namespace, room=room, skip_sid=skip_sid,
            callback=callback, to=to, **kwargs,
        )

    async def _fan_out(
        self, event: str, args: list[Any], namespace: str, room: Any, skip: Any
    ) -> None:
        """Send one event to a room: one encoding, and for each member either the finished
        websocket frame written straight to its connection or, when that is not safe, the
        packet on its send queue."""
        if namespace not in self.rooms:
            return
        skip_sids = skip if isinstance(skip, list) else [skip]
        encoded = self.server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        eio_pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        frame: bytes | None = None
        sockets = self.server.eio.sockets
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip_sids:
                continue
            sock = sockets.get(eio_sid)
            if sock is None or sock.closed:
                continue
            transport = _direct_transport(sock)
            if transport is not None:
                if frame is None:
                    frame = _text_frame(eio_pkt.encode())
                transport.write(frame)
            else:
                sock.queue.put_nowait(eio_pkt)

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



async def _poll_without_task(sock: Any) -> list[Any]:
    """engineio's `AsyncSocket.poll` without a Task or a timer per wake-up.

    engineio wraps every queue read of a socket's writer in `asyncio.wait_for`: on Python
    3.11 a new Task, plus a timer, each time the writer wakes up; for a fan-out to a room of
    1,000 that is 1,000 tasks and 1,000 timers per emit. The timers outlive the wake-up
    (a cancelled timer stays in the loop's heap until the loop purges it), so at 10,000
    deliveries/s they were promoted into the old generation by the thousand and brought the
    next full garbage collection closer (see gctune). The read needs no timeout: the
    reader side closes a silent socket (ping timeout) and engineio then queues None, which
    ends this writer. Same semantics otherwise: all queued packets are taken at once, None
    means closed.
    """
    sock.hub_idle = True
    try:
        first = await sock.queue.get()
        sock.queue.task_done()
    except asyncio.CancelledError:
        raise engineio_exceptions.QueueEmpty() from None
    finally:
        sock.hub_idle = False
    if first is None:
        return []
    packets = [first]
    while True:
        try:
            pkt = sock.queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        sock.queue.task_done()
        if pkt is None:
            sock.queue.put_nowait(None)
            break
        packets.append(pkt)
    return packets


def speed_up_socket(server: Any, sid: str, namespace: str = "/") -> None:
    """Give a connected socket the task-free poll (its writer looks `poll` up each time),
    and find its connection for direct writes when Hypercorn serves it uncompressed."""
    eio_sid = server.manager.eio_sid_from_sid(sid, namespace)
    sock = server.eio.sockets.get(eio_sid)
    if sock is not None:
        sock.hub_idle = False
        sock.hub_route = _hypercorn_route(server.environ.get(eio_sid) or {})
        sock.poll = types.MethodType(_poll_without_task, sock)


def _hypercorn_route(environ: dict[str, Any]) -> tuple[Any, Any] | None:
    """(Hypercorn websocket stream, asyncio transport) behind an ASGI websocket, or None.

    Websocket frames from a server are not masked, so a fan-out can build the frame once
    and hand the same bytes to every member's transport: no writer task wakes up, and no
    ASGI message, wsproto event and send lock per member (the queued path cost the web
    process ~30 us per delivery; see docs/performance.md). Only for the case where the
    bytes are the same for everyone: HTTP/1.1, no permessage-deflate.
    """
    if WSStream is None:
        return None  # pragma: no cover
    send = environ.get("asgi.send")
    stream = getattr(send, "__self__", None)
    if not isinstance(stream, WSStream) or getattr(send, "__name__", "") != "app_send":
        return None
    protocol = getattr(stream.send, "__self__", None)
    if not isinstance(protocol, H11Protocol):
        return None  # HTTP/2 websockets frame differently
    tcp = getattr(protocol.send, "__self__", None)
    transport = getattr(getattr(tcp, "writer", None), "transport", None)
    connection = getattr(stream, "connection", None)
    proto = getattr(connection, "_proto", None)
    if transport is None or proto is None or proto.extensions:
        return None  # compressed: each member's frame differs
    return stream, transport


def _direct_transport(sock: Any) -> Any:
    """The transport to write a frame to now, or None to use the socket's queue.

    Direct only when nothing sent before could arrive after: the socket's writer is parked
    on an empty queue (everything it took is already in the transport, in order), the
    websocket is open, and the transport is keeping up.
    """
    route = getattr(sock, "hub_route", None)
    if route is None or not sock.hub_idle or sock.closing or not sock.queue.empty():
        return None
    stream, transport = route
    if (
        stream.closed
        or stream.state is not ASGIWebsocketState.CONNECTED
        or stream.connection.state is not ConnectionState.OPEN
        or transport.is_closing()
        or transport.get_write_buffer_size() > DIRECT_WRITE_LIMIT
    ):
        return None
    return transport


def _text_frame(text: str) -> bytes:
    """One unfragmented, unmasked websocket text frame (RFC 6455 section 5.2)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload
