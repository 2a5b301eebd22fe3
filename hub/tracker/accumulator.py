"""Transfer deltas and peer state gathered between two flushes.

Keyed by (user, torrent, peer_id): one entry per client however often it announces in the
window, so a flush writes each row once. `take()` hands the whole window to the flusher and
starts a fresh one; `merge_back()` returns a window whose transaction failed, so nothing is
lost, and entries announced since keep their newer state.
"""

from __future__ import annotations

from uuid import UUID

Key = tuple[UUID, int, bytes]


class Delta:
    __slots__ = (
        "agent", "completed_at", "cred_down", "cred_up", "down", "downloaded", "ip4", "ip6",
        "last_at", "leech_time", "left", "port", "removed", "seed_time", "seeder", "up",
        "uploaded",
    )

    def __init__(self) -> None:
        self.up = 0
        self.down = 0
        self.cred_up = 0
        self.cred_down = 0
        self.seed_time = 0
        self.leech_time = 0
        self.completed_at: float | None = None
        # Latest state of the peer, for the `peers` table; `removed` = delete its row.
        self.removed = False
        self.ip4: str | None = None
        self.ip6: str | None = None
        self.port = 0
        self.uploaded = 0
        self.downloaded = 0
        self.left = 0
        self.seeder = False
        self.agent: str | None = None
        self.last_at = 0.0

    def absorb_counters(self, older: Delta) -> None:
        self.up += older.up
        self.down += older.down
        self.cred_up += older.cred_up
        self.cred_down += older.cred_down
        self.seed_time += older.seed_time
        self.leech_time += older.leech_time
        if self.completed_at is None:
            self.completed_at = older.completed_at


# (user_id, torrent_id, peer_id, event, uploaded, downloaded, left, up_delta, down_delta,
#  ip, port, user_agent, at)
AnnounceRow = tuple[UUID, int, bytes, str | None, int, int, int, int, int, str, int,
                    str | None, float]


class Batch:
    __slots__ = ("announces", "deltas")

    def __init__(self) -> None:
        self.deltas: dict[Key, Delta] = {}
        self.announces: list[AnnounceRow] = []

    def __len__(self) -> int:
        return len(self.deltas) + len(self.announces)


class Accumulator:
    def __init__(self) -> None:
        self.batch = Batch()

    def entry(self, key: Key) -> Delta:
        delta = self.batch.deltas.get(key)
        if delta is None:
            delta = self.batch.deltas[key] = Delta()
        return delta

    def log(self, row: AnnounceRow) -> None:
        self.batch.announces.append(row)

    def take(self) -> Batch:
        batch, self.batch = self.batch, Batch()
        return batch

    def merge_back(self, failed: Batch) -> None:
        current = self.batch.deltas
        for key, old in failed.deltas.items():
            newer = current.get(key)
            if newer is None:
                current[key] = old
            else:
                newer.absorb_counters(old)
        self.batch.announces[:0] = failed.announces

    def pending(self) -> int:
        return len(self.batch)
