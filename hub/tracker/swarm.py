"""Swarms in process memory: one `Swarm` per torrent, one slotted `Peer` per client.

A peer keeps its addresses already packed in the compact form replies use (6 bytes for
IPv4, 18 for IPv6), so choosing peers is slicing and joining, never formatting. A client that
announces the same peer_id over IPv4 and IPv6 is one `Peer` with both addresses.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator

from hub.tracker.cache import UserEntry

_STATE = struct.Struct("<QQQI")  # uploaded, downloaded, left, last announce (unix s)
_pack = _STATE.pack
unpack_state = _STATE.unpack


class Peer:
    """One client in one swarm.

    The four numbers live packed in one 28-byte `state` string instead of four int objects
    (32 bytes each, plus a slot each): about 70 bytes less per peer, which is what keeps a
    million peers under 400 bytes apiece. The hot path unpacks and repacks them once per
    announce (well under a microsecond).
    """

    __slots__ = ("addr4", "addr6", "seeder", "state", "user")

    def __init__(self, user: UserEntry, uploaded: int, downloaded: int, left: int,
                 last: int) -> None:
        self.user = user
        self.addr4: bytes | None = None
        self.addr6: bytes | None = None
        self.state = _pack(uploaded, downloaded, left, last)
        self.seeder = left == 0

    def update(self, uploaded: int, downloaded: int, left: int, last: int) -> None:
        self.state = _pack(uploaded, downloaded, left, last)

    @property
    def uploaded(self) -> int:
        return int(unpack_state(self.state)[0])

    @property
    def downloaded(self) -> int:
        return int(unpack_state(self.state)[1])

    @property
    def left(self) -> int:
        return int(unpack_state(self.state)[2])

    @property
    def last(self) -> int:
        """Unix seconds of the last credited announce."""
        return int(unpack_state(self.state)[3])

    @last.setter
    def last(self, value: int) -> None:
        up, down, left, _ = unpack_state(self.state)
        self.state = _pack(up, down, left, value)


class Swarm:
    __slots__ = ("leechers", "peers", "seeders")

    def __init__(self) -> None:
        self.peers: dict[bytes, Peer] = {}
        self.seeders = 0
        self.leechers = 0

    def add(self, peer_id: bytes, peer: Peer) -> None:
        self.peers[peer_id] = peer
        if peer.seeder:
            self.seeders += 1
            peer.user.seeding += 1
        else:
            self.leechers += 1
            peer.user.leeching += 1

    def remove(self, peer_id: bytes) -> Peer | None:
        peer = self.peers.pop(peer_id, None)
        if peer is not None:
            if peer.seeder:
                self.seeders -= 1
                peer.user.seeding -= 1
            else:
                self.leechers -= 1
                peer.user.leeching -= 1
        return peer

    def became_seeder(self, peer: Peer) -> None:
        peer.seeder = True
        self.seeders += 1
        self.leechers -= 1
        peer.user.seeding += 1
        peer.user.leeching -= 1

    def peers_of(self, user: UserEntry) -> int:
        return sum(1 for p in self.peers.values() if p.user is user)

    def select(self, user: UserEntry, numwant: int, seeder: bool) -> tuple[bytes, bytes]:
        """Up to `numwant` other peers as compact IPv4 and IPv6 strings.

        Never the requester nor any other client of the same member (that would only make
        a member's boxes trade with each other), and no seeders for a seeder.
        """
        peers = self.peers
        if numwant <= 0 or not peers:
            return b"", b""
        if len(peers) <= numwant:
            # The common case (most swarms are small): everyone eligible, no counting.
            if seeder:
                chosen = [p for p in peers.values() if p.user is not user and not p.seeder]
            else:
                chosen = [p for p in peers.values() if p.user is not user]
            return (b"".join([p.addr4 for p in chosen if p.addr4 is not None]),
                    b"".join([p.addr6 for p in chosen if p.addr6 is not None]))
        candidates: Iterator[Peer] | list[Peer]
        if len(self.peers) > numwant * 2:
            # Large swarm: a random window so every peer gets handed out over time.
            values = list(self.peers.values())
            start = random.randrange(len(values))
            candidates = values[start:] + values[:start]
        else:
            candidates = iter(self.peers.values())
        out4: list[bytes] = []
        out6: list[bytes] = []
        taken = 0
        for p in candidates:
            if p.user is user or (seeder and p.seeder):
                continue
            if p.addr4 is not None:
                out4.append(p.addr4)
            if p.addr6 is not None:
                out6.append(p.addr6)
            taken += 1
            if taken >= numwant:
                break
        return b"".join(out4), b"".join(out6)
