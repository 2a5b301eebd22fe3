"""A Python client of the live hub that follows docs/realtime.md like frontend/src/live.ts:
last sequence per stream, re-subscribe on every (re)connection and on `catchup`, events
held back across a gap until the replay fills it, duplicates dropped by sequence.

It records both what arrived on the wire (`raw`) and what a widget would have been handed
(`delivered`), so tests can check the server and the client rules separately.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import socketio

OPEN: set[LiveClient] = set()  # closed after each test by an autouse fixture


class LiveClient:
    def __init__(self, *, token: str | None = None, cookie: str | None = None) -> None:
        OPEN.add(self)
        self.token = token
        self.cookie = cookie
        self.sio = socketio.AsyncClient(
            reconnection=True,
            reconnection_delay=0.1,
            reconnection_delay_max=0.5,
            randomization_factor=0.1,
        )
        self.last: dict[str, int | None] = {}
        self.buffer: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.delivered: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.raw: list[dict[str, Any]] = []
        self.resyncs: list[dict[str, Any]] = []
        self.ephemeral: list[tuple[str, Any]] = []
        self.acks: list[dict[str, Any]] = []
        self.connects = 0
        self.catchups = 0
        self.kicked: dict[str, Any] | None = None
        self.refusal: dict[str, Any] | None = None  # the server's reason for refusing
        self.disconnected = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._register()

    def _register(self) -> None:
        sio = self.sio

        @sio.event
        async def connect() -> None:
            self.connects += 1
            self.disconnected.clear()
            if self.last:
                self._spawn(self.subscribe({s: self.last[s] for s in self.last}))

        @sio.event
        async def connect_error(data: Any = None) -> None:
            self.refusal = data

        @sio.event
        async def disconnect(reason: Any = None) -> None:
            self.disconnected.set()

        @sio.on("event")
        async def on_event(event: dict[str, Any]) -> None:
            self.raw.append(event)
            stream = event["stream"]
            if stream not in self.last:
                return
            last = self.last[stream]
            if last is not None and event["seq"] <= last:
                return
            self.buffer[stream][event["seq"]] = event
            self._drain(stream)

        @sio.on("resync")
        async def on_resync(data: dict[str, Any]) -> None:
            self.resyncs.append(data)
            self.last[data["stream"]] = data["last_seq"]
            self._drain(data["stream"])

        @sio.on("catchup")
        async def on_catchup(data: Any = None) -> None:
            self.catchups += 1
            self._spawn(self.subscribe({s: self.last[s] for s in self.last}))

        @sio.on("kicked")
        async def on_kicked(data: dict[str, Any]) -> None:
            self.kicked = data

        @sio.on("*")
        async def any_event(event: str, data: Any = None) -> None:
            self.ephemeral.append((event, data))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _drain(self, stream: str) -> None:
        last = self.last.get(stream)
        if last is None:
            return
        pending = self.buffer[stream]
        for seq in [s for s in pending if s <= last]:
            del pending[seq]
        while last + 1 in pending:
            event = pending.pop(last + 1)
            last = event["seq"]
            self.delivered[stream].append(event)
        self.last[stream] = last
        if pending:
            # A gap: ask the log for what is missing (the server replays after `last`).
            self._spawn(self.subscribe({stream: last}))

    async def connect(self, url: str, headers: dict[str, str] | None = None, **kwargs: Any) -> None:
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = f"hub_session={self.cookie}"
        await self.sio.connect(
            url,
            transports=["websocket"],
            auth={"token": self.token} if self.token else None,
            headers=headers,
            wait_timeout=10,
            **kwargs,
        )

    async def subscribe(self, streams: dict[str, int | None]) -> dict[str, Any]:
        for stream, last in streams.items():
            self.last.setdefault(stream, last)
        try:
            ack: dict[str, Any] = await self.sio.call(
                "subscribe", {"streams": streams}, timeout=10
            )
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            return {"ok": False, "error": "timeout"}
        self.acks.append(ack)
        for stream, result in (ack.get("streams") or {}).items():
            if not result.get("ok"):
                self.last.pop(stream, None)
                continue
            if self.last.get(stream) is None and result.get("last_seq") is not None:
                self.last[stream] = result["last_seq"]
            self._drain(stream)
        return ack

    def seqs(self, stream: str) -> list[int]:
        return [e["seq"] for e in self.delivered[stream]]

    def raw_seqs(self, stream: str) -> list[int]:
        return [e["seq"] for e in self.raw if e["stream"] == stream]

    async def wait_for(self, predicate: Any, within: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("timed out waiting for the live hub")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        # No reconnection after a deliberate close.
        self.sio.reconnection = False
        await self.sio.disconnect()
        for task in list(self._tasks):
            task.cancel()
        http = getattr(self.sio.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()
        OPEN.discard(self)
