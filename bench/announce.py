"""Announce benchmark: `python -m bench.announce` (about two and a half minutes).

Loads a tracker with 10,000 torrents, 10,000 members and 100,000 peers (swarm sizes skewed
as on a real site: a few torrents hold most peers), then replays a realistic mix of
announces (mostly regular ones, some started, completed and stopped, from thousands of
passkeys) through a small C load generator (bench/loadgen.c), once with keep-alive and once
with a new connection per request as most clients do. Prints announces per second and
latency percentiles; when opentracker is installed it runs it on the same load and prints our
ratio to it. Then: swarm memory per peer for 1,000,000 peers, and the time to flush 100,000
accumulated deltas to Postgres.

Options: --seconds N per run, --connections N, --compare-servers (Granian, Uvicorn and
Hypercorn in turn), --server NAME, --no-opentracker, --skip-memory, --skip-flush.
Backends: HUB_DATABASE_URL / HUB_REDIS_URL when set (a scratch database is created and
dropped), otherwise embedded servers in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
TORRENTS = 10_000
MEMBERS = 10_000
PEERS = 100_000
REQUESTS = 120_000
AGENTS = ("qBittorrent/4.6.2", "Transmission/4.0.5", "Deluge/2.1.1 libtorrent/2.0.9",
          "rtorrent/0.9.8/0.13.8", "qBittorrent/4.5.5")
PREFIXES = (b"-qB4620-", b"-TR4050-", b"-DE2110-", b"-lt0D80-", b"-qB4550-")


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({os.sched_getaffinity(0).__len__()} usable), {model}, " \
           f"Python {platform.python_version()}, {platform.system()} {platform.release()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- data ------------------------------------------------------------------------------------
@dataclass
class BenchPeer:
    user: int
    torrent: int
    peer_id: bytes
    port: int
    size: int
    left: int
    uploaded: int = 0
    downloaded: int = 0
    active: bool = True


@dataclass
class World:
    passkeys: list[str]
    hashes: list[bytes]
    sizes: list[int]
    peers: list[BenchPeer] = field(default_factory=list)
    per_pair: dict[tuple[int, int], int] = field(default_factory=dict)

    def new_peer(self, rng: random.Random, leecher: bool | None = None) -> BenchPeer:
        while True:
            torrent = int(TORRENTS * rng.random() ** 2)  # skewed: popular torrents first
            user = rng.randrange(MEMBERS)
            if self.per_pair.get((user, torrent), 0) < 2:
                break
        self.per_pair[(user, torrent)] = self.per_pair.get((user, torrent), 0) + 1
        size = self.sizes[torrent]
        seeding = (rng.random() < 0.6) if leecher is None else not leecher
        left = 0 if seeding else rng.randrange(1, size)
        pid = rng.choice(PREFIXES) + rng.randbytes(12)
        peer = BenchPeer(user, torrent, pid, rng.randrange(10_000, 60_000), size, left,
                         rng.randrange(0, 1 << 34), size - left if not seeding else 0)
        self.peers.append(peer)
        return peer


def build_world(rng: random.Random) -> World:
    world = World(
        passkeys=[secrets.token_hex(16) for _ in range(MEMBERS)],
        hashes=[rng.randbytes(20) for _ in range(TORRENTS)],
        sizes=[rng.randrange(50 << 20, 40 << 30) for _ in range(TORRENTS)],
    )
    for _ in range(PEERS):
        world.new_peer(rng)
    return world


async def seed_database(dsn: str, world: World) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        user_ids = [uuid.uuid4() for _ in range(MEMBERS)]
        names = [f"bench{i:05d}" for i in range(MEMBERS)]
        await conn.execute(
            """INSERT INTO users (id, username, email, password_hash, passkey, group_id)
               SELECT id, n, n || '@bench.test', 'x', pk, 4
                 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS d(id, n, pk)""",
            user_ids, names, world.passkeys)
        torrent_ids = await conn.fetch(
            """INSERT INTO torrents (info_hash, name, category_id, size, torrent_data,
                                     moderation_status)
               SELECT h, 'bench ' || encode(h, 'hex'), (SELECT min(id) FROM torrent_categories),
                      s, 'd', 'approved'
                 FROM unnest($1::bytea[], $2::bigint[]) WITH ORDINALITY AS d(h, s, n)
                ORDER BY n
               RETURNING id""",
            world.hashes, world.sizes)
        tids = [r["id"] for r in torrent_ids]
        peers = world.peers
        await conn.execute(
            """INSERT INTO peers (torrent_id, user_id, peer_id, ip, port, uploaded, downloaded,
                                  left_bytes, is_seeder, user_agent)
               SELECT t, u, p, ip::inet, port, up, down, lft, lft = 0, 'qBittorrent/4.6.2'
                 FROM unnest($1::bigint[], $2::uuid[], $3::bytea[], $4::text[], $5::int[],
                             $6::bigint[], $7::bigint[], $8::bigint[])
                      AS d(t, u, p, ip, port, up, down, lft)
               ON CONFLICT DO NOTHING""",
            [tids[p.torrent] for p in peers], [user_ids[p.user] for p in peers],
            [p.peer_id for p in peers],
            [f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}" for i in range(len(peers))],
            [p.port for p in peers], [p.uploaded for p in peers],
            [p.downloaded for p in peers], [p.left for p in peers])
    finally:
        await conn.close()


def build_requests(world: World, rng: random.Random, host: str, keepalive: bool,
                   opentracker: bool) -> bytes:
    """A file of length-prefixed raw HTTP requests for loadgen, in a realistic mix."""
    out = bytearray()
    conn = b"keep-alive" if keepalive else b"close"
    pool = list(world.peers)
    for _ in range(REQUESTS):
        roll = rng.random()
        if roll < 0.04:
            peer = world.new_peer(rng, leecher=True)
            pool.append(peer)
            event = b"started"
        else:
            peer = rng.choice(pool)
            event = b""
            if not peer.active:
                peer.active = True
                event = b"started"
            elif roll < 0.08 and peer.left:
                peer.downloaded += peer.left
                peer.left = 0
                event = b"completed"
            elif roll < 0.12:
                peer.active = False
                event = b"stopped"
            else:
                step = rng.randrange(0, 64 << 20)
                peer.uploaded += step
                if peer.left:
                    got = min(peer.left, step)
                    peer.downloaded += got
                    peer.left -= got
        path = b"/announce?" if opentracker else \
            b"/announce/" + world.passkeys[peer.user].encode() + b"?"
        qs = (b"info_hash=" + quote_from_bytes(world.hashes[peer.torrent], safe="").encode()
              + b"&peer_id=" + quote_from_bytes(peer.peer_id, safe="").encode()
              + b"&port=%d&uploaded=%d&downloaded=%d&left=%d&corrupt=0&key=%08X"
              % (peer.port, peer.uploaded, peer.downloaded, peer.left,
                 rng.getrandbits(32))
              + (b"&event=" + event if event else b"")
              + b"&numwant=200&compact=1&no_peer_id=1&supportcrypto=1&redundant=0")
        agent = AGENTS[PREFIXES.index(peer.peer_id[:8])].encode()
        req = (b"GET " + path + qs + b" HTTP/1.1\r\nHost: " + host.encode()
               + b"\r\nUser-Agent: " + agent
               + b"\r\nAccept-Encoding: gzip\r\nConnection: " + conn + b"\r\n\r\n")
        out += len(req).to_bytes(4, "little") + req
    return bytes(out)


# --- servers ---------------------------------------------------------------------------------
def wait_ready(port: int, path: bytes, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = s.recv(65536)
                if b"complete" in data or b"failure reason" in data:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_load(loadgen: Path, port: int, requests: Path, connections: int, seconds: float,
             keepalive: bool) -> dict[str, Any]:
    out = subprocess.run(
        [str(loadgen), "127.0.0.1", str(port), str(requests), str(connections), str(seconds),
         "keepalive" if keepalive else "close"],
        check=True, capture_output=True, timeout=seconds + 30)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def line(label: str, r: dict[str, Any]) -> str:
    return (f"  {label:<34} {r['rps']:>9,.0f}/s  p50 {r['p50_ms']:6.2f} ms  "
            f"p99 {r['p99_ms']:6.2f} ms  ({r['requests']:,} answers, {r['failures']:,} "
            f"failure replies, {r['errors']} socket errors"
            + (f", {r['reconnects']:,} reconnects after the server closed" if r.get("reconnects")
               else "") + ")")


# --- in-process measurements ------------------------------------------------------------------
def swarm_bytes_per_peer(count: int = 1_000_000) -> float:
    from hub.tracker.cache import UserEntry
    from hub.tracker.swarm import Peer, Swarm

    rng = random.Random(7)
    users = [UserEntry(uuid.uuid4()) for _ in range(MEMBERS)]
    gc.collect()
    gc.disable()
    before = _rss()
    swarms: dict[int, Swarm] = {}
    now = int(time.time())
    for i in range(count):
        torrent = int(TORRENTS * 10 * rng.random() ** 2)
        swarm = swarms.get(torrent)
        if swarm is None:
            swarm = swarms[torrent] = Swarm()
        left = 0 if rng.random() < 0.6 else rng.randrange(1, 1 << 34)
        peer = Peer(users[i % MEMBERS], rng.randrange(1 << 36), rng.randrange(1 << 36), left,
                    now - rng.randrange(1800))
        peer.addr4 = rng.randbytes(6)
        if rng.random() < 0.2:
            peer.addr6 = rng.randbytes(18)
        swarm.add(rng.randbytes(20), peer)
    after = _rss()
    gc.enable()
    total = sum(len(s.peers) for s in swarms.values())
    per_peer = (after - before) / total
    del swarms
    return per_peer


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def flush_benchmark(dsn: str, world: World, count: int = 100_000) -> dict[str, float]:
    """Time flushes of `count` deltas as the tracker service writes them: the credit
    transaction and the announce log side by side on two connections. The first flush
    inserts every peer and history row (a tracker's first minutes); the second updates
    them (steady state, each peer announcing again)."""
    from hub.config import Settings
    from hub.tracker import flusher
    from hub.tracker.accumulator import Batch
    from hub.tracker.announce import Tracker
    from hub.tracker.cache import Caches

    settings = Settings(announce_min_interval=0, max_peers_per_user_torrent=20)
    tracker = Tracker(settings, Caches())
    credit_conn = await asyncpg.connect(dsn)
    log_conn = await asyncpg.connect(dsn)

    def users(_u: Any) -> flusher.UserCounts:
        return flusher.UserCounts(1, 1)

    def torrents(_t: int) -> flusher.TorrentCounts:
        return flusher.TorrentCounts(1, 1)

    async def flush_once() -> float:
        taken = tracker.accumulator.take()
        assert len(taken.deltas) == count, len(taken.deltas)
        credits, log = Batch(), Batch()
        credits.deltas, log.announces = taken.deltas, taken.announces
        t0 = time.perf_counter()
        copied = asyncio.Event()

        async def write_log() -> None:
            await copied.wait()  # as the service does: see flusher.write_credits
            await flusher.write_log(log_conn, log, uuid.uuid4())

        await asyncio.gather(
            flusher.write_credits(credit_conn, credits, uuid.uuid4(), users, torrents,
                                  copied=copied),
            write_log(),
        )
        return time.perf_counter() - t0

    try:
        await tracker.caches.load_all(credit_conn)
        for entry in tracker.caches.users.values():
            entry.max_slots = None
        gc.freeze()  # as the tracker service does after its initial load
        rng = random.Random(11)
        queries = []
        for k in range(count):
            user = world.passkeys[k % MEMBERS]
            info_hash = world.hashes[(k * 7 + k // MEMBERS) % TORRENTS]
            pid = b"-qB4620-" + rng.randbytes(12)
            base = (b"info_hash=" + quote_from_bytes(info_hash, safe="").encode()
                    + b"&peer_id=" + quote_from_bytes(pid, safe="").encode()
                    + b"&port=51413&compact=1&numwant=50")
            queries.append((user, base))
        for user, base in queries:
            tracker.announce(user, base + b"&uploaded=0&downloaded=0&left=1000&event=started",
                             "10.1.2.3", b"qBittorrent/4.6.2")
        first = await flush_once()
        t0 = time.perf_counter()
        for user, base in queries:
            tracker.announce(user, base + b"&uploaded=5000&downloaded=700&left=300",
                             "10.1.2.3", b"qBittorrent/4.6.2")
        handler = time.perf_counter() - t0
        steady = await flush_once()
    finally:
        await credit_conn.close()
        await log_conn.close()
    return {"handler_per_second": count / handler, "first_flush_seconds": first,
            "flush_seconds": steady, "deltas": float(count)}


# --- main --------------------------------------------------------------------------------------
async def _create_db(admin: str, name: str) -> str:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, q = admin.partition("?")
    scheme, _, rest = base.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/{name}" + (f"?{q}" if q else "")


async def _drop_db(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--server", default=None, help="granian | uvicorn | hypercorn")
    parser.add_argument("--compare-servers", action="store_true")
    parser.add_argument("--no-opentracker", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-flush", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()

    from hub import db
    from hub.embedded import EmbeddedServices
    from hub.tracker.serve import DEFAULT_SERVER

    print(f"machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    work.chmod(0o755)  # opentracker drops to `nobody` and must read its whitelist here
    embedded = EmbeddedServices(work / "var")
    admin = os.environ.get("HUB_DATABASE_URL")
    scratch = f"hub_bench_{uuid.uuid4().hex[:8]}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        dsn = asyncio.run(_create_db(admin, scratch)) if admin else \
            embedded.start_postgres("hub_bench")
        redis_url = os.environ.get("HUB_REDIS_URL") or embedded.start_valkey()
        asyncio.run(db.migrate(dsn))
        loadgen = work / "loadgen"
        subprocess.run(["gcc", "-O2", "-o", str(loadgen), str(ROOT / "bench" / "loadgen.c")],
                       check=True)
        rng = random.Random(42)
        world = build_world(rng)
        t0 = time.monotonic()
        asyncio.run(seed_database(dsn, world))
        print(f"seeded {TORRENTS:,} torrents, {MEMBERS:,} members, {len(world.peers):,} peers "
              f"in {time.monotonic() - t0:.1f} s")

        every = [DEFAULT_SERVER] + [s for s in ("granian", "granian-rsgi", "uvicorn", "hypercorn")
                                    if s != DEFAULT_SERVER]
        servers = every if args.compare_servers else (args.server or DEFAULT_SERVER).split(",")
        env = {**os.environ, "HUB_DATABASE_URL": dsn, "HUB_REDIS_URL": redis_url,
               "HUB_VAR_DIR": str(work / "hubvar"), "HUB_SECRET_KEY": "bench",
               "HUB_ANNOUNCE_MIN_INTERVAL": "0"}
        results: dict[str, dict[str, Any]] = {}
        for server in servers:
            port = free_port()
            host = f"127.0.0.1:{port}"
            files = {}
            for keepalive in (True, False):
                path = work / f"req-{server}-{keepalive}.bin"
                path.write_bytes(build_requests(world, random.Random(5), host, keepalive,
                                                False))
                files[keepalive] = path
            proc = subprocess.Popen(
                [sys.executable, "-m", "hub.tracker.serve", "--server", server,
                 "--port", str(port)], env=env, cwd=ROOT,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(proc)
            try:
                probe = (b"/announce/" + world.passkeys[0].encode() + b"?info_hash="
                         + quote_from_bytes(world.hashes[0], safe="").encode())
                t0 = time.monotonic()
                wait_ready(port, probe, proc)
                print(f"{server}: ready in {time.monotonic() - t0:.1f} s "
                      f"(swarm of {PEERS:,} peers reloaded from Postgres)")
                for keepalive in (True, False):
                    label = f"{server} {'keep-alive' if keepalive else 'new connection'}"
                    r = run_load(loadgen, port, files[keepalive], args.connections,
                                 args.seconds, keepalive)
                    results[label] = r
                    print(line(label, r), flush=True)
            finally:
                stop(proc)

        binary = shutil.which("opentracker") or \
            ("/usr/sbin/opentracker" if Path("/usr/sbin/opentracker").exists() else None)
        if binary and not args.no_opentracker:
            port = free_port()
            whitelist = work / "whitelist"
            whitelist.write_text("".join(h.hex() + "\n" for h in world.hashes))
            whitelist.chmod(0o644)
            files = {}
            for keepalive in (True, False):
                files[keepalive] = work / f"req-opentracker-{keepalive}.bin"
                files[keepalive].write_bytes(build_requests(
                    world, random.Random(5), f"127.0.0.1:{port}", keepalive, True))
            proc = subprocess.Popen(
                [binary, "-i", "127.0.0.1", "-p", str(port), "-P", str(port), "-d", str(work),
                 "-w", "/whitelist"], cwd=work,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(proc)
            try:
                probe = (b"/announce?info_hash="
                         + quote_from_bytes(world.hashes[0], safe="").encode())
                wait_ready(port, probe, proc)
                time.sleep(1.0)  # the whitelist loads in a background thread
                # Keep-alive: opentracker answers HTTP/1.0 and closes after each reply, so the
                # generator reconnects; the row shows what a keep-alive client gets from it.
                for keepalive in (True, False):
                    label = f"opentracker {'keep-alive' if keepalive else 'new connection'}"
                    r = run_load(loadgen, port, files[keepalive], args.connections,
                                 args.seconds, keepalive)
                    results[label] = r
                    print(line(label, r), flush=True)
            finally:
                stop(proc)
            for mode in ("keep-alive", "new connection"):
                ours, theirs = results.get(f"{servers[0]} {mode}"), results[f"opentracker {mode}"]
                if ours and theirs["rps"]:
                    print(f"  ratio to opentracker ({mode}): {ours['rps'] / theirs['rps']:.2f}")
        else:
            print("opentracker: skipped" if binary else
                  "opentracker not installed: no side-by-side run")

        if not args.skip_memory:
            per_peer = swarm_bytes_per_peer()
            print(f"swarm memory: {per_peer:.0f} bytes per peer for 1,000,000 peers "
                  f"(process RSS growth / peers)")
        if not args.skip_flush:
            f = asyncio.run(flush_benchmark(dsn, world))
            print(f"in-process handler (no HTTP): {f['handler_per_second']:,.0f} announces/s")
            print(f"flush of {int(f['deltas']):,} deltas and {int(f['deltas']):,} announce log "
                  f"rows: {f['flush_seconds']:.2f} s steady state (rows updated), "
                  f"{f['first_flush_seconds']:.2f} s when every row is new")
        print(f"bench finished in {time.monotonic() - started:.0f} s")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        if admin:
            asyncio.run(_drop_db(admin, scratch))
        embedded.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
