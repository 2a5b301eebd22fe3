"""Announce and scrape, answered from memory: the tracker's hot path.

Nothing here awaits. A request is parsed from raw bytes, checked against the cached
passkeys and torrents, applied to the swarm, credited into the accumulator and answered
with bencoded bytes. Every refusal is a bencoded `failure reason` with HTTP 200, because
clients show that text to the member and ignore the body of any other status.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable

from hub.config import Settings
from hub.tracker import bencode
from hub.tracker.accumulator import Accumulator
from hub.tracker.cache import Caches, TorrentEntry, UserEntry
from hub.tracker.clients import ClientPolicy, is_browser
from hub.tracker.query import (
    EVENTS,
    REGULAR_EVENTS,
    BadRequest,
    info_hashes,
    number,
    parse,
    twenty_bytes,
)
from hub.tracker.swarm import Peer, Swarm, unpack_state

_random = random.random
_inet_pton = socket.inet_pton
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
MAX_MISSES = 1000


class Refused(Exception):
    """Answer with this failure reason."""


class Tracker:
    def __init__(self, settings: Settings, caches: Caches | None = None) -> None:
        self.settings = settings
        self.caches = caches or Caches()
        self.swarms: dict[int, Swarm] = {}
        self.accumulator = Accumulator()
        self.clients = ClientPolicy(settings.client_whitelist)
        self.blacklisted_ports = frozenset(settings.blacklisted_ports)
        # Torrents whose seeder/leecher/completed counts changed since the last publish.
        self.dirty: set[int] = set()
        self._interval = settings.announce_interval
        self._jitter = max(1, settings.announce_interval // 10)
        self._min_interval = settings.announce_min_interval
        # Keys missing from the caches, for the service to look up off the hot path: a
        # member created without an invalidation message (or one lost in a Redis blip) is
        # known from the client's next announce instead of the next full reload.
        self.missed_passkeys: set[str] = set()
        self.missed_hashes: set[bytes] = set()
        self.on_miss: Callable[[], None] | None = None

    # --- replies -------------------------------------------------------------------------
    def failure(self, reason: str) -> bytes:
        return bencode.failure(reason, self._interval)

    def _reply(self, torrent: TorrentEntry, swarm: Swarm | None, peers: bytes, peers6: bytes,
               warning: str | None) -> bytes:
        seeders, leechers = (swarm.seeders, swarm.leechers) if swarm is not None else (0, 0)
        return bencode.announce(
            seeders, torrent.completed, leechers,
            self._interval + int(_random() * self._jitter), self._min_interval,
            peers, peers6, warning,
        )

    # --- announce ------------------------------------------------------------------------
    def announce(self, passkey: str, query: bytes, ip: str, agent: bytes) -> bytes:
        try:
            return self._announce(passkey, query, ip, agent)
        except (Refused, BadRequest) as exc:
            return self.failure(str(exc))

    def _user(self, passkey: str) -> UserEntry:
        user = self.caches.users_by_passkey.get(passkey)
        if user is None:
            if len(passkey) == 32 and len(self.missed_passkeys) < MAX_MISSES:
                self.missed_passkeys.add(passkey)
                if self.on_miss is not None:
                    self.on_miss()
            raise Refused("unknown passkey: download the .torrent again from the site")
        if user.refused:
            raise Refused("your account is disabled")
        return user

    def _announce(self, passkey: str, query: bytes, ip: str, agent: bytes) -> bytes:
        user = self._user(passkey)
        if agent and is_browser(agent):
            raise Refused("browsers may not announce: use a BitTorrent client")
        params = parse(query)
        info_hash = twenty_bytes(params, b"info_hash")
        peer_id = twenty_bytes(params, b"peer_id")
        port = number(params, b"port")
        uploaded = number(params, b"uploaded")
        downloaded = number(params, b"downloaded")
        left = number(params, b"left")
        event = params.get(b"event", b"")
        if event not in REGULAR_EVENTS and event not in EVENTS:
            raise BadRequest("invalid event")
        numwant = min(number(params, b"numwant", self.settings.announce_numwant_default),
                      self.settings.announce_numwant_max)
        if not self.clients.allows(peer_id):
            raise Refused("your client is not on this tracker's whitelist")
        if port < 1024 or port > 65535:
            raise Refused(f"port {port} is not allowed: use a port from 1024 to 65535")
        if port in self.blacklisted_ports:
            raise Refused(f"port {port} is blacklisted: choose another port")
        torrent = self.caches.torrents_by_hash.get(info_hash)
        if torrent is None:
            if len(self.missed_hashes) < MAX_MISSES:
                self.missed_hashes.add(info_hash)
                if self.on_miss is not None:
                    self.on_miss()
            raise Refused("unregistered torrent")
        if torrent.deleted:
            raise Refused(f"torrent deleted: {torrent.deleted_reason or 'no reason given'}")
        if torrent.status == "rejected":
            raise Refused(f"torrent rejected: {torrent.reason or 'no reason given'}")
        warning = "torrent is pending moderation" if torrent.status != "approved" else None

        v6 = ":" in ip
        if v6 and ip.startswith("::ffff:") and "." in ip:
            ip, v6 = ip[7:], False
        try:
            packed = _inet_pton(_AF_INET6 if v6 else _AF_INET, ip)
        except OSError:
            raise Refused("cannot read your address") from None
        addr = packed + port.to_bytes(2, "big")

        now = int(time.time())
        swarms = self.swarms
        swarm = swarms.get(torrent.id)
        peer = swarm.peers.get(peer_id) if swarm is not None else None
        if peer is not None and peer.user is not user:
            raise Refused("this peer_id is in use by another member")
        key = (user.id, torrent.id, peer_id)
        event_name = event.decode() if event else None

        if event == b"stopped":
            if peer is None or swarm is None:
                return self._reply(torrent, swarm, b"", b"", "stopped from an unknown peer")
            self._credit(torrent, peer, key, uploaded, downloaded, left, now, event_name, ip,
                         port, agent)
            swarm.remove(peer_id)
            self.accumulator.entry(key).removed = True  # after _credit: its state is kept
            self.dirty.add(torrent.id)
            return self._reply(torrent, swarm, b"", b"", warning)

        if left and not user.can_download:
            raise Refused("your account may not download: seeding is still allowed")

        if peer is None:
            if swarm is None:
                swarm = swarms[torrent.id] = Swarm()
            if swarm.peers_of(user) >= self.settings.max_peers_per_user_torrent:
                raise Refused("too many clients on this torrent: at most "
                              f"{self.settings.max_peers_per_user_torrent} per member")
            if left and user.max_slots is not None and user.leeching >= user.max_slots:
                return self._reply(torrent, swarm, b"", b"",
                                   f"all {user.max_slots} download slots are in use: "
                                   "finish or stop a download first")
            peer = Peer(user, uploaded, downloaded, left, now)
            swarm.add(peer_id, peer)
            self.dirty.add(torrent.id)
            self._record(key, 0, 0, 0, 0, now, event_name, uploaded, downloaded, left,
                         ip, port, agent, event == b"completed")
        elif (not event and self._min_interval and now - peer.last < self._min_interval):
            # Too soon: answered, but neither credited nor moved, so the next announce
            # after the interval credits the whole difference once.
            warning = f"announcing too often: wait {self._min_interval} seconds between announces"
        else:
            self._credit(torrent, peer, key, uploaded, downloaded, left, now, event_name, ip,
                         port, agent)
            if left == 0 and not peer.seeder:
                swarm.became_seeder(peer)  # type: ignore[union-attr]
                self.dirty.add(torrent.id)
        if v6:
            peer.addr6 = addr
        else:
            peer.addr4 = addr
        peers4, peers6 = swarm.select(user, numwant, peer.seeder)  # type: ignore[union-attr]
        return self._reply(torrent, swarm, peers4, peers6, warning)

    def _credit(self, torrent: TorrentEntry, peer: Peer, key: tuple, uploaded: int,
                downloaded: int, left: int, now: int, event: str | None, ip: str, port: int,
                agent: bytes) -> None:
        last_up, last_down, _left, last = unpack_state(peer.state)
        up = uploaded - last_up
        down = downloaded - last_down
        if up < 0 or down < 0:
            up = down = 0  # the client restarted and its totals began again from zero
        elapsed = min(now - last, self.settings.peer_expiry_seconds)
        seed_time, leech_time = (elapsed, 0) if peer.seeder else (0, elapsed)
        cred_up, cred_down = up, down
        if torrent.neutral:
            cred_up = cred_down = 0
        else:
            window = self.caches.site_window(now) if self.caches.site_windows else None
            if torrent.is_freeleech(now) or (window is not None and not window.double_upload):
                cred_down = 0
            if torrent.double_upload or (window is not None and window.double_upload):
                cred_up *= 2
        peer.update(uploaded, downloaded, left, now)
        self._record(key, up, down, cred_up, cred_down, now, event, uploaded, downloaded,
                     left, ip, port, agent, event == "completed", seed_time, leech_time)

    def _record(self, key: tuple, up: int, down: int, cred_up: int, cred_down: int,
                now: int, event: str | None, uploaded: int, downloaded: int, left: int, ip: str,
                port: int, agent: bytes, completed: bool, seed_time: int = 0,
                leech_time: int = 0) -> None:
        d = self.accumulator.entry(key)
        d.up += up
        d.down += down
        d.cred_up += cred_up
        d.cred_down += cred_down
        d.seed_time += seed_time
        d.leech_time += leech_time
        if completed and d.completed_at is None:
            d.completed_at = now
        d.removed = False
        if ":" in ip:
            d.ip6 = ip
        else:
            d.ip4 = ip
        d.port = port
        d.uploaded = uploaded
        d.downloaded = downloaded
        d.left = left
        d.seeder = left == 0
        name = _agent(agent)
        d.agent = name
        d.last_at = now
        self.accumulator.log((key[0], key[1], key[2], event, uploaded, downloaded, left, up,
                              down, ip, port, name, now))

    # --- scrape --------------------------------------------------------------------------
    def scrape(self, passkey: str, query: bytes) -> bytes:
        try:
            user = self._user(passkey)
            hashes = info_hashes(query)
            if not hashes:
                raise Refused("full scrape is not allowed: name each info_hash")
            limit = self.settings.scrape_max_hashes
            if len(hashes) > limit:
                raise Refused(f"too many info_hashes: at most {limit} per scrape")
            files: dict[bytes, tuple[int, int, int]] = {}
            for info_hash in hashes:
                if len(info_hash) != 20:
                    raise BadRequest(f"invalid info_hash: must be 20 bytes, got {len(info_hash)}")
                torrent = self.caches.torrents_by_hash.get(info_hash)
                if torrent is None or torrent.deleted:
                    continue
                if torrent.status != "approved" and torrent.uploader_id != user.id:
                    continue
                swarm = self.swarms.get(torrent.id)
                seeders, leechers = (swarm.seeders, swarm.leechers) if swarm else (0, 0)
                files[info_hash] = (seeders, torrent.completed, leechers)
            return bencode.scrape(files, self._interval)
        except (Refused, BadRequest) as exc:
            return self.failure(str(exc))

    # --- upkeep --------------------------------------------------------------------------
    def expire(self, now: int | None = None) -> int:
        """Drop peers that stopped announcing; their rows go with the next flush."""
        cutoff = (now or int(time.time())) - self.settings.peer_expiry_seconds
        removed = 0
        for torrent_id, swarm in list(self.swarms.items()):
            stale = [pid for pid, p in swarm.peers.items() if p.last < cutoff]
            for pid in stale:
                peer = swarm.remove(pid)
                if peer is not None:
                    delta = self.accumulator.entry((peer.user.id, torrent_id, pid))
                    delta.removed = True
                    delta.last_at = delta.last_at or peer.last
                    removed += 1
            if stale:
                self.dirty.add(torrent_id)
            if not swarm.peers:
                del self.swarms[torrent_id]
        return removed

    def peer_count(self) -> int:
        return sum(len(s.peers) for s in self.swarms.values())


_agents: dict[bytes, str] = {}


def _agent(raw: bytes) -> str | None:
    """User agents interned: a swarm holds a handful of distinct strings, not one per peer."""
    if not raw:
        return None
    found = _agents.get(raw)
    if found is None:
        if len(_agents) > 10_000:
            _agents.clear()
        found = _agents[raw] = raw[:256].decode("utf-8", "replace")
    return found
