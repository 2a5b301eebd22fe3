"""Live hub benchmark: one web process, 1,000 then 5,000 websockets, fan-out to rooms.

    python -m bench.realtime                 # the whole run, under 3 minutes
    python -m bench.realtime --quick         # 200 and 500 connections, for a smoke test

What it does:
- starts Postgres and Valkey (embedded, under a temporary folder; or HUB_DATABASE_URL /
  HUB_REDIS_URL if set) and ONE web process (`python -m hub serve`, web role only);
- opens websocket connections with a light client: a raw asyncio websocket (RFC 6455
  framing, see RawWebSocket) speaking the Engine.IO v4 / Socket.IO v5 text protocol
  directly (an AsyncClient per connection would cost the load generator more than the
  server, and aiohttp's websocket twice the server's cost per delivery), authenticates
  with a session token, subscribes through the real `subscribe` handler;
- emits `event` envelopes to a room of 100 and a room of 1,000 members from this process
  through a write-only Redis manager, the way any non-web process announces events, so
  each message crosses Redis and the server's manager before it fans out;
- measures deliveries per second, emit-to-receipt latency (p50, p99), lost and duplicated
  deliveries (every member must get every sequence exactly once), and the web process's
  RSS per connection;
- resume run at each level: ~10% of the connected clients follow streams of their own
  (ten clients a stream), see a few live events, disconnect; 50 events per stream are
  appended through `events.append` in real transactions while they are away; they
  reconnect and subscribe with their last sequences, and every client must get exactly
  those 50 (lost and duplicated counted per client, on the wire, before any client-side
  dropping).

Load generator and server share this machine's cores: the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import psutil  # type: ignore[import-untyped]
import socketio

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 170.0  # the whole run stays under 3 minutes, even on a busy machine
DEADLINE = time.time() + BUDGET_SECONDS


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RawWebSocket(asyncio.Protocol):
    """The load generator's websocket: RFC 6455 client framing on an asyncio Protocol.

    Receiving is most of the bench's own CPU (a room of 1,000 is 1,000 frames per emit),
    and aiohttp's websocket costs a task wake-up, a reader queue and a message object per
    frame (~20 us a delivery measured, twice the server's cost once the server wrote
    frames directly). Here frames are parsed straight out of `data_received`, with one
    receipt timestamp per read. Server frames are unmasked; client frames carry a zero
    masking key (allowed: RFC 6455 section 5.3 asks only that clients mask).
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.handshake_done = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        # Until `on_text` is set (after the Socket.IO connect), messages go to `inbox`.
        self.on_text: Any = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionError("closed during handshake"))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.handshake_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            del buf[: end + 4]
            self.handshake_done = True
            if b" 101 " not in status:
                self.ready.set_exception(RuntimeError(f"handshake refused: {status!r}"))
                return
            self.ready.set_result(None)
        now = time.time()
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0 = buf[pos]
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            opcode = b0 & 0x0F
            if opcode == 1:
                text = payload.decode()
                if self.on_text is not None:
                    self.on_text(text, now)
                else:
                    self.inbox.put_nowait(text)
            elif opcode == 9:
                self._send(0x8A, payload)
            elif opcode == 8:
                self.closed = True
                if self.transport is not None:
                    self.transport.close()
                break
        del buf[:pos]

    def _send(self, first: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            header = bytes((first, 0x80 | size))
        elif size < 1 << 16:
            header = bytes((first, 0x80 | 126)) + size.to_bytes(2, "big")
        else:
            header = bytes((first, 0x80 | 127)) + size.to_bytes(8, "big")
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(header + b"\0\0\0\0" + payload)

    def send_text(self, text: str) -> None:
        self._send(0x81, text.encode())

    async def send_str(self, text: str) -> None:
        self.send_text(text)

    async def receive_str(self) -> str:
        return await self.inbox.get()

    async def close(self) -> None:
        if self.transport is not None and not self.closed:
            self._send(0x88, (1000).to_bytes(2, "big"))
            self.transport.close()
        self.closed = True


@dataclass
class Conn:
    """One websocket speaking Socket.IO by hand."""

    index: int
    ws: RawWebSocket
    acks: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    next_ack: int = 0
    reader: asyncio.Task[None] | None = None  # kept for callers; frames arrive by callback


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        # (connection, stream) -> seqs received
        self.seen: dict[tuple[int, str], list[int]] = {}
        self.last_receipt = 0.0
        self.count = 0

    def reset(self) -> None:
        self.latencies = []
        self.seen = {}
        self.last_receipt = 0.0
        self.count = 0

    def event(self, conn: int, data: dict[str, Any], now: float) -> None:
        self.count += 1
        self.last_receipt = now
        sent = data.get("payload", {}).get("t")
        if sent is not None:
            self.latencies.append(now - sent)
        self.seen.setdefault((conn, data["stream"]), []).append(data["seq"])


async def open_conn(
    session: Any, url: str, token: str, index: int, rec: Recorder
) -> Conn:
    """`session` is unused (the raw client opens its own socket); kept for the callers."""
    host, _, port = url.removeprefix("http://").partition(":")
    ws = RawWebSocket()
    await asyncio.get_running_loop().create_connection(lambda: ws, host, int(port))
    assert ws.transport is not None
    key = base64.b64encode(os.urandom(16)).decode()
    ws.transport.write(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await ws.ready
    opened = await ws.receive_str()
    if not opened.startswith("0"):
        raise RuntimeError(f"unexpected engine.io open: {opened[:80]}")
    await ws.send_str("40" + json.dumps({"token": token}))
    while True:
        msg = await ws.receive_str()
        if msg == "2":
            await ws.send_str("3")
            continue
        if msg.startswith("40"):
            break
        raise RuntimeError(f"connect refused: {msg[:200]}")
    conn = Conn(index, ws)
    conn_index = conn.index
    loads = json.loads

    def on_text(data: str, now: float) -> None:
        if data.startswith("42"):
            name, *args = loads(data[2:])
            if name == "event":
                rec.event(conn_index, args[0], now)
        elif data == "2":
            ws.send_text("3")
        elif data.startswith("43"):
            body = data[2:]
            split = body.index("[")
            future = conn.acks.pop(int(body[:split]), None)
            if future is not None and not future.done():
                future.set_result(loads(body[split:]))

    while not ws.inbox.empty():
        on_text(ws.inbox.get_nowait(), time.time())
    ws.on_text = on_text
    return conn


async def call(conn: Conn, event: str, data: Any, wait: float = 30) -> Any:
    ack_id = conn.next_ack
    conn.next_ack += 1
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    conn.acks[ack_id] = future
    await conn.ws.send_str(f"42{ack_id}" + json.dumps([event, data]))
    return (await asyncio.wait_for(future, wait))[0]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def fan_out(
    emitter: Any,
    rec: Recorder,
    stream: str,
    members: int,
    messages: int,
    rate: float | None,
    first_seq: int,
    server: psutil.Process | None = None,
) -> dict[str, Any]:
    """Send `messages` events to `stream` (paced at `rate` per second, or as fast as
    possible) and wait for every member to have them all.

    Also measures the CPU time the web process and this load generator spent meanwhile:
    on 2 shared cores, which one ran out of CPU decides whose latency the row shows."""
    rec.reset()
    expected = members * messages
    server_cpu0 = _cpu(server)
    own_cpu0 = _own_cpu()
    start = time.time()
    for i in range(messages):
        if rate:
            delay = start + i / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        await emitter.emit(
            "event",
            {
                "stream": stream,
                "seq": first_seq + i,
                "kind": "bench.tick",
                "payload": {"t": time.time()},
            },
            room=stream,
        )
    deadline = min(time.time() + 30, DEADLINE)
    while rec.count < expected and time.time() < deadline:  # noqa: ASYNC110 (polling a counter)
        await asyncio.sleep(0.02)
    elapsed = max(rec.last_receipt - start, 1e-6)
    server_cpu = _cpu(server) - server_cpu0
    own_cpu = _own_cpu() - own_cpu0
    delivered = max(rec.count, 1)
    want = list(range(first_seq, first_seq + messages))
    lost = duplicated = 0
    for (_conn, s), seqs in rec.seen.items():
        if s != stream:
            continue
        duplicated += len(seqs) - len(set(seqs))
        lost += len(set(want) - set(seqs))
    lost += (members - sum(1 for (_c, s) in rec.seen if s == stream)) * messages
    return {
        "room": members,
        "messages": messages,
        "offered": f"{rate * members:,.0f}/s" if rate else "burst",
        "deliveries": rec.count,
        "deliveries_per_s": rec.count / elapsed,
        "p50_ms": percentile(rec.latencies, 50) * 1000,
        "p99_ms": percentile(rec.latencies, 99) * 1000,
        "lost": lost,
        "duplicated": duplicated,
        "server_us": server_cpu / delivered * 1e6,
        "loadgen_us": own_cpu / delivered * 1e6,
    }


def _cpu(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return float(times.user + times.system)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


RESUME_SHARE = 10  # one client in ten goes away and comes back
RESUME_PER_STREAM = 10  # clients following each resume stream
RESUME_LIVE = 5  # events seen live before the disconnect, so resumes start mid-stream
RESUME_MISSED = 50  # events appended per stream while its clients are away


async def append_events(pool: Any, streams: list[str], count: int) -> None:
    """`count` events per stream through the real path: `events.append` in a transaction,
    the emit queued for after commit (one transaction per event, as actions write them)."""
    from hub import db
    from hub.realtime import events

    gate = asyncio.Semaphore(6)

    async def one(stream: str) -> None:
        async with gate:
            for i in range(count):
                async with db.transaction(pool) as conn:
                    await events.append(conn, stream, "bench.resume", {"i": i})

    await asyncio.gather(*(one(s) for s in streams))


async def wait_until(predicate: Any, within: float) -> bool:
    deadline = min(time.time() + within, DEADLINE)
    while not predicate():
        if time.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def resume_run(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    conns: list[Conn],
    rec: Recorder,
    pool: Any,
) -> dict[str, Any]:
    """Disconnect one client in ten, append while they are away, resume, count per client."""
    rec.reset()
    away = conns[len(conns) - max(1, len(conns) // RESUME_SHARE) :]
    base = random.randint(10**9, 10**12)
    stream_of = {c.index: f"torrent:{base + k // RESUME_PER_STREAM}" for k, c in enumerate(away)}
    streams = sorted(set(stream_of.values()))
    last: dict[int, int] = {}

    async def follow(conn: Conn, since: int | None) -> None:
        stream = stream_of[conn.index]
        ack = await call(conn, "subscribe", {"streams": {stream: since}})
        if not ack.get("ok") or not ack["streams"][stream]["ok"]:
            raise RuntimeError(f"subscribe refused: {ack}")
        if since is None:
            last[conn.index] = int(ack["streams"][stream]["last_seq"])

    gate = asyncio.Semaphore(100)

    async def gated(coro: Any) -> None:
        async with gate:
            await coro

    await asyncio.gather(*(gated(follow(c, None)) for c in away))
    await append_events(pool, streams, RESUME_LIVE)

    def each_has(count: int) -> bool:
        return all(len(rec.seen.get((c.index, stream_of[c.index]), ())) >= count for c in away)

    live_ok = await wait_until(lambda: each_has(RESUME_LIVE), 15)
    for c in away:
        seen = rec.seen.get((c.index, stream_of[c.index]), [])
        last[c.index] = max([last[c.index], *seen])
    # Away: the sockets close; what they saw so far is forgotten by the recorder.
    for c in away:
        if c.reader is not None:
            c.reader.cancel()
        await c.ws.close()
    rec.reset()
    t0 = time.time()
    await append_events(pool, streams, RESUME_MISSED)
    appended_in = time.time() - t0
    # Back: a new socket per client, subscribing with its last sequence.
    t1 = time.time()
    back: list[Conn] = []

    async def reconnect(old: Conn) -> None:
        conn = await open_conn(session, url, token, old.index, rec)
        back.append(conn)
        await follow(conn, last[old.index])

    await asyncio.gather(*(gated(reconnect(c)) for c in away))
    acked_in = time.time() - t1
    await wait_until(lambda: each_has(RESUME_MISSED), 15)
    replayed_in = time.time() - t1
    await asyncio.sleep(0.5)  # anything sent twice would have arrived by now
    lost = duplicated = clients_lost = clients_dup = 0
    for c in away:
        got = rec.seen.get((c.index, stream_of[c.index]), [])
        want = set(range(last[c.index] + 1, last[c.index] + 1 + RESUME_MISSED))
        missing = len(want - set(got))
        # Repeats, and anything the client had before it went away, are duplicates.
        extra = len(got) - len(set(got) & want)
        lost += missing
        duplicated += extra
        clients_lost += missing > 0
        clients_dup += extra > 0
    # The resumed sockets take the old ones' places for the next level.
    by_index = {c.index: c for c in back}
    conns[:] = [by_index.get(c.index, c) for c in conns]
    return {
        "clients": len(away),
        "streams": len(streams),
        "live_ok": live_ok,
        "appended": len(streams) * RESUME_MISSED,
        "appended_in": appended_in,
        "acked_in": acked_in,
        "replayed_in": replayed_in,
        "expected": len(away) * RESUME_MISSED,
        "received": sum(len(v) for v in rec.seen.values()),
        "lost": lost,
        "duplicated": duplicated,
        "clients_lost": clients_lost,
        "clients_dup": clients_dup,
    }


def print_resume(r: dict[str, Any], level: int) -> None:
    print(
        f"  resume: {r['clients']:,} of {level:,} clients away ({r['streams']} streams of"
        f" {RESUME_PER_STREAM}); {r['appended']:,} events appended meanwhile"
        f" ({r['appended_in']:.1f}s); reconnected + subscribed in {r['acked_in']:.1f}s,"
        f" replays complete {r['replayed_in']:.1f}s",
        flush=True,
    )
    print(
        f"          expected {r['expected']:,} received {r['received']:,};"
        f" lost {r['lost']} ({r['clients_lost']} clients),"
        f" duplicated {r['duplicated']} ({r['clients_dup']} clients)"
        + ("" if r["live_ok"] else "; WARNING: live events before the disconnect were late"),
        flush=True,
    )


async def make_session_token(database_url: str) -> str:
    from hub import db
    from hub.accounts import actions

    pool = await db.create_pool(database_url, min_size=1, max_size=2)
    try:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        async with db.transaction(pool) as conn:
            user_id = await actions.create_user(
                conn,
                username=name,
                email=f"{name}@example.test",
                password=uuid.uuid4().hex,
                group_slug="member",
            )
        _sid, token = await actions.start_session(
            cast(Any, SimpleNamespace(pool=pool)), user_id, ip=None, user_agent="bench"
        )
        return token
    finally:
        await pool.close()


def start_backends(var: Path) -> tuple[str, str, Any]:
    from hub.embedded import EmbeddedServices

    database_url = os.environ.get("HUB_DATABASE_URL")
    redis_url = os.environ.get("HUB_REDIS_URL")
    embedded = EmbeddedServices(var)
    if not database_url:
        database_url = embedded.start_postgres("hub_bench")
    if not redis_url:
        redis_url = embedded.start_valkey()
    return database_url, redis_url, embedded


async def start_web(
    var: Path, database_url: str, redis_url: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(
        os.environ,
        HUB_DATABASE_URL=database_url,
        HUB_REDIS_URL=redis_url,
        HUB_VAR_DIR=str(var / "web"),
        HUB_SECRET_KEY="bench-" + uuid.uuid4().hex,
        HUB_BASE_URL=f"http://127.0.0.1:{port}",
    )
    log = open(var / "web.log", "ab")  # noqa: SIM115, ASYNC230 (the child writes it)
    proc = subprocess.Popen(  # noqa: ASYNC220 (started once)
        [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(1200):
        if proc.poll() is not None:
            raise RuntimeError(f"web process exited; see {var / 'web.log'}")
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("web process did not start")


async def connect_many(
    session: aiohttp.ClientSession, url: str, token: str, start: int, stop: int, rec: Recorder
) -> list[Conn]:
    gate = asyncio.Semaphore(100)

    async def one(i: int) -> Conn:
        async with gate:
            return await open_conn(session, url, token, i, rec)

    return list(await asyncio.gather(*(one(i) for i in range(start, stop))))


async def subscribe_all(conns: list[Conn], stream: str) -> None:
    gate = asyncio.Semaphore(200)

    async def one(conn: Conn) -> None:
        async with gate:
            ack = await call(conn, "subscribe", {"streams": {stream: None}})
            if not ack.get("ok") or not ack["streams"][stream]["ok"]:
                raise RuntimeError(f"subscribe refused: {ack}")

    await asyncio.gather(*(one(c) for c in conns))


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def print_rows(rows: list[dict[str, Any]]) -> None:
    print(
        f"  {'room':>5} {'msgs':>5} {'offered':>10} {'deliveries':>10} {'deliv/s':>9}"
        f" {'p50 ms':>7} {'p99 ms':>7} {'lost':>5} {'dup':>4}"
        f" {'srv us/d':>8} {'gen us/d':>8}"
    )
    for r in rows:
        print(
            f"  {r['room']:>5} {r['messages']:>5} {r['offered']:>10} {r['deliveries']:>10,}"
            f" {r['deliveries_per_s']:>9,.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f}"
            f" {r['lost']:>5} {r['duplicated']:>4}"
            f" {r['server_us']:>8.1f} {r['loadgen_us']:>8.1f}",
            flush=True,
        )


async def run(levels: list[int], quick: bool) -> None:
    began = time.time()
    limit = raise_nofile()
    load1, load5, _load15 = os.getloadavg()
    print(f"open files limit: {limit}; load average {load1:.2f} (1 min), {load5:.2f} (5 min)")
    with tempfile.TemporaryDirectory(prefix="hub-bench-rt-") as tmp:
        var = Path(tmp)
        database_url, redis_url, embedded = await asyncio.to_thread(start_backends, var)
        proc, url = await start_web(var, database_url, redis_url)
        emitter = socketio.AsyncRedisManager(redis_url, write_only=True)
        rec = Recorder()
        conns: list[Conn] = []
        connector = aiohttp.TCPConnector(limit=0)
        pool: Any = None
        try:
            token = await make_session_token(database_url)
            from hub import db
            from hub.realtime import events

            pool = await db.create_pool(database_url, min_size=1, max_size=6)
            # events.append's after-commit emits go out through the same Redis manager.
            events.set_emitter(emitter)
            async with aiohttp.ClientSession(connector=connector) as session:
                warm = await open_conn(session, url, token, -1, rec)
                await call(warm, "subscribe", {"streams": {"site": None}})
                await asyncio.sleep(0.5)
                base_rss = rss(proc.pid)
                server = psutil.Process(proc.pid)
                print(f"web process pid {proc.pid}, RSS with one socket {base_rss / 2**20:.1f} MiB")
                seq = 1
                small, large = ("torrent:900000100", "torrent:900001000")
                for level in levels:
                    if time.time() > DEADLINE - 45:
                        print(f"\n{level:,} connections: skipped, out of time budget", flush=True)
                        break
                    t0 = time.time()
                    async with asyncio.timeout(max(5.0, DEADLINE - time.time())):
                        conns += await connect_many(session, url, token, len(conns), level, rec)
                    took = time.time() - t0
                    await subscribe_all([c for c in conns if c.index < 100 and c.index >= 0], small)
                    await subscribe_all(
                        [c for c in conns[: min(1000, level)] if c.index >= 0], large
                    )
                    # The load generator's own full GC passes over thousands of sockets
                    # would show up as server latency: keep what exists out of them.
                    gc.collect()
                    gc.freeze()
                    await asyncio.sleep(2.0)
                    now_rss = rss(proc.pid)
                    per_conn = (now_rss - base_rss) / level
                    print(
                        f"\n{level:,} connections open (+{took:.1f}s to connect);"
                        f" server RSS {now_rss / 2**20:.1f} MiB,"
                        f" {per_conn / 1024:.1f} KiB per connection",
                        flush=True,
                    )
                    large_members = min(1000, level)
                    msgs_small, msgs_large = (50, 10) if quick else (200, 30)
                    # Warm-up, not reported: first emits pay for imports and allocations.
                    await fan_out(emitter, rec, large, large_members, 3, None, seq, server)
                    seq += 3
                    rows = []
                    for stream, members, messages, rate in (
                        (small, 100, msgs_small, 100.0),
                        (large, large_members, msgs_large, 10.0),
                        (small, 100, msgs_small, None),
                        (large, large_members, msgs_large, None),
                    ):
                        if time.time() > DEADLINE - 5:
                            print("  (remaining fan-out runs skipped: time budget)")
                            break
                        rows.append(
                            await fan_out(
                                emitter, rec, stream, members, messages, rate, seq, server
                            )
                        )
                        seq += messages
                    print_rows(rows)
                    if time.time() > DEADLINE - 25:
                        print("  resume run skipped: time budget", flush=True)
                    else:
                        print_resume(
                            await resume_run(session, url, token, conns, rec, pool), level
                        )
                # Leave the rooms before closing: the server is measured, not the teardown.
                for conn in conns:
                    await conn.ws.close()
                await warm.ws.close()
        finally:
            for conn in conns:
                if conn.reader is not None:
                    conn.reader.cancel()
            if pool is not None:
                await pool.close()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            await asyncio.to_thread(embedded.stop)
    print(f"\ntotal {time.time() - began:.0f}s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.realtime", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 and 500 connections")
    parser.add_argument("--connections", default=None, help="comma-separated levels")
    args = parser.parse_args(argv)
    if args.connections:
        levels = [int(x) for x in args.connections.split(",")]
    else:
        levels = [200, 500] if args.quick else [1000, 5000]
    global DEADLINE
    DEADLINE = time.time() + BUDGET_SECONDS

    def interrupted(signum: int, frame: Any) -> None:
        # Unwind through run()'s cleanup: the web process and the embedded servers stop.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        asyncio.run(run(levels, args.quick))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
