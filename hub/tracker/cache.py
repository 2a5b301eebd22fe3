"""Passkeys and torrents held in process memory, so an announce never waits on SQL.

Loaded whole at start; one row is reloaded when `hub.tracker.invalidate` says it changed.
Entries are updated in place so the swarm's references to a user stay valid.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from uuid import UUID

import asyncpg

_SLICE = 5000

USER_COLUMNS = """
    SELECT u.id, u.passkey, u.is_banned, u.is_disabled, g.can_download, g.max_download_slots
      FROM users u JOIN user_groups g ON g.id = u.group_id
"""

TORRENT_COLUMNS = """
    SELECT t.id, t.info_hash, t.info_hash_v2, t.moderation_status, t.moderation_reason,
           t.is_deleted, t.deleted_reason, t.is_freeleech, t.is_neutral_leech,
           t.is_double_upload, extract(epoch FROM t.freeleech_until)::float8 AS freeleech_until,
           t.uploader_id, coalesce(s.times_completed, 0) AS times_completed
      FROM torrents t LEFT JOIN torrent_statistics s ON s.torrent_id = t.id
"""


class UserEntry:
    __slots__ = ("can_download", "id", "leeching", "max_slots", "passkey", "refused", "seeding")

    def __init__(self, user_id: UUID) -> None:
        self.id = user_id
        self.passkey = ""
        self.refused = False  # banned or disabled
        self.can_download = False
        self.max_slots: int | None = None
        self.leeching = 0
        self.seeding = 0

    def load(self, row: asyncpg.Record) -> None:
        self.passkey = row["passkey"]
        self.refused = row["is_banned"] or row["is_disabled"]
        self.can_download = row["can_download"]
        self.max_slots = row["max_download_slots"]


class TorrentEntry:
    __slots__ = (
        "completed", "deleted", "deleted_reason", "double_upload", "freeleech",
        "freeleech_until", "id", "info_hash", "info_hash_v2", "neutral", "reason", "status",
        "uploader_id",
    )

    def __init__(self, torrent_id: int) -> None:
        self.id = torrent_id
        self.info_hash = b""
        self.info_hash_v2: bytes | None = None  # truncated to 20 bytes, as clients announce it
        self.status = "pending"
        self.reason: str | None = None
        self.deleted = False
        self.deleted_reason: str | None = None
        self.freeleech = False
        self.freeleech_until: float | None = None
        self.neutral = False
        self.double_upload = False
        self.uploader_id: UUID | None = None
        self.completed = 0

    def load(self, row: asyncpg.Record) -> None:
        self.info_hash = bytes(row["info_hash"])
        v2 = row["info_hash_v2"]
        self.info_hash_v2 = bytes(v2[:20]) if v2 is not None else None
        self.status = row["moderation_status"]
        self.reason = row["moderation_reason"]
        self.deleted = row["is_deleted"]
        self.deleted_reason = row["deleted_reason"]
        self.freeleech = row["is_freeleech"]
        self.freeleech_until = row["freeleech_until"]
        self.neutral = row["is_neutral_leech"]
        self.double_upload = row["is_double_upload"]
        self.uploader_id = row["uploader_id"]
        self.completed = max(self.completed, row["times_completed"])

    def is_freeleech(self, now: float) -> bool:
        return self.freeleech and (self.freeleech_until is None or now < self.freeleech_until)


class SiteWindow:
    __slots__ = ("double_upload", "ends", "starts")

    def __init__(self, starts: float, ends: float, double_upload: bool) -> None:
        self.starts = starts
        self.ends = ends
        self.double_upload = double_upload


class Caches:
    def __init__(self) -> None:
        self.users_by_passkey: dict[str, UserEntry] = {}
        self.users: dict[UUID, UserEntry] = {}
        self.torrents_by_hash: dict[bytes, TorrentEntry] = {}
        self.torrents: dict[int, TorrentEntry] = {}
        self.site_windows: list[SiteWindow] = []

    # --- credit rules --------------------------------------------------------------------
    def site_window(self, now: float) -> SiteWindow | None:
        for window in self.site_windows:
            if window.starts <= now < window.ends:
                return window
        return None

    # --- loading -------------------------------------------------------------------------
    async def load_all(self, conn: asyncpg.Connection) -> None:
        # Applied in slices with a yield between them: on a large site a full reload must
        # not hold the event loop (and every announce waiting on it) for seconds.
        users = await conn.fetch(USER_COLUMNS)
        for i in range(0, len(users), _SLICE):
            self.apply_users(users[i:i + _SLICE])
            await asyncio.sleep(0)
        torrents = await conn.fetch(TORRENT_COLUMNS)
        for i in range(0, len(torrents), _SLICE):
            self.apply_torrents(torrents[i:i + _SLICE])
            await asyncio.sleep(0)
        await self.load_site_windows(conn)

    async def load_site_windows(self, conn: asyncpg.Connection) -> None:
        rows = await conn.fetch(
            """SELECT extract(epoch FROM starts_at)::float8 AS starts,
                      extract(epoch FROM ends_at)::float8 AS ends, is_double_upload
                 FROM site_freeleech WHERE ends_at > now()"""
        )
        self.site_windows = [
            SiteWindow(r["starts"], r["ends"], r["is_double_upload"]) for r in rows
        ]

    async def reload_user(self, conn: asyncpg.Connection, user_id: UUID) -> None:
        rows = await conn.fetch(USER_COLUMNS + " WHERE u.id = $1", user_id)
        if rows:
            self.apply_users(rows)
        else:
            entry = self.users.pop(user_id, None)
            if entry is not None:
                self.users_by_passkey.pop(entry.passkey, None)
                entry.refused = True

    async def reload_torrent(self, conn: asyncpg.Connection, torrent_id: int) -> None:
        rows = await conn.fetch(TORRENT_COLUMNS + " WHERE t.id = $1", torrent_id)
        if rows:
            self.apply_torrents(rows)
        else:
            entry = self.torrents.pop(torrent_id, None)
            if entry is not None:
                self._unindex_torrent(entry)

    async def lookup(self, conn: asyncpg.Connection, passkeys: list[str],
                     hashes: list[bytes]) -> None:
        """Load users and torrents a cache miss named (see Tracker.missed_passkeys)."""
        if passkeys:
            self.apply_users(await conn.fetch(USER_COLUMNS + " WHERE u.passkey = ANY($1)",
                                              passkeys))
        if hashes:
            self.apply_torrents(await conn.fetch(
                TORRENT_COLUMNS + " WHERE t.info_hash = ANY($1::bytea[])"
                " OR substring(t.info_hash_v2 FROM 1 FOR 20) = ANY($1::bytea[])",
                hashes,
            ))

    def apply_users(self, rows: Iterable[asyncpg.Record]) -> None:
        for row in rows:
            entry = self.users.get(row["id"])
            if entry is None:
                entry = self.users[row["id"]] = UserEntry(row["id"])
            elif self.users_by_passkey.get(entry.passkey) is entry:
                del self.users_by_passkey[entry.passkey]  # the passkey may have been rotated
            entry.load(row)
            self.users_by_passkey[entry.passkey] = entry

    def apply_torrents(self, rows: Iterable[asyncpg.Record]) -> None:
        for row in rows:
            entry = self.torrents.get(row["id"])
            if entry is None:
                entry = self.torrents[row["id"]] = TorrentEntry(row["id"])
            else:
                self._unindex_torrent(entry)
            entry.load(row)
            self.torrents_by_hash[entry.info_hash] = entry
            if entry.info_hash_v2 is not None:
                self.torrents_by_hash[entry.info_hash_v2] = entry

    def _unindex_torrent(self, entry: TorrentEntry) -> None:
        for key in (entry.info_hash, entry.info_hash_v2):
            if key is not None and self.torrents_by_hash.get(key) is entry:
                del self.torrents_by_hash[key]

