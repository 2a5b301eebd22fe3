"""SQL for torrents, their files, tags, metadata and moderation history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

SORTS = {
    "added": "t.created_at",
    "size": "t.size",
    "seeders": "coalesce(s.seeders, 0)",
    "snatches": "coalesce(s.times_completed, 0)",
    "name": "lower(t.name)",
}


@dataclass(frozen=True)
class TorrentRow:
    id: int
    info_hash: bytes
    info_hash_v2: bytes | None
    name: str
    description: str
    description_html: str
    category_id: int
    category_name: str
    category_slug: str
    uploader_id: UUID | None
    uploader_name: str | None
    is_anonymous: bool
    size: int
    file_count: int
    piece_length: int | None
    piece_count: int | None
    moderation_status: str
    moderation_reason: str | None
    moderated_by_name: str | None
    moderated_at: datetime | None
    is_freeleech: bool
    is_neutral_leech: bool
    is_double_upload: bool
    freeleech_until: datetime | None
    is_deleted: bool
    created_at: datetime
    approved_at: datetime | None
    seeders: int = 0
    leechers: int = 0
    times_completed: int = 0
    tmdb_id: int | None = None
    imdb_id: str | None = None
    igdb_id: int | None = None
    musicbrainz_id: UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_approved(self) -> bool:
        return self.moderation_status == "approved" and not self.is_deleted


_TORRENT_COLUMNS = """
    t.id, t.info_hash, t.info_hash_v2, t.name, t.description, t.description_html,
    t.category_id, c.name AS category_name, c.slug AS category_slug,
    t.uploader_id, u.username::text AS uploader_name, t.is_anonymous, t.size, t.file_count,
    t.piece_length, t.piece_count, t.moderation_status, t.moderation_reason,
    m.username::text AS moderated_by_name, t.moderated_at,
    t.is_freeleech, t.is_neutral_leech, t.is_double_upload, t.freeleech_until,
    t.is_deleted, t.created_at, t.approved_at,
    coalesce(s.seeders, 0) AS seeders, coalesce(s.leechers, 0) AS leechers,
    coalesce(s.times_completed, 0) AS times_completed
"""

_TORRENT_FROM = """
    FROM torrents t
    JOIN torrent_categories c ON c.id = t.category_id
    LEFT JOIN users u ON u.id = t.uploader_id
    LEFT JOIN users m ON m.id = t.moderated_by
    LEFT JOIN torrent_statistics s ON s.torrent_id = t.id
"""


def _torrent(row: asyncpg.Record) -> TorrentRow:
    return TorrentRow(**dict(row))


async def select_torrent(conn: asyncpg.Connection, torrent_id: int) -> TorrentRow | None:
    row = await conn.fetchrow(
        f"""SELECT {_TORRENT_COLUMNS}, md.tmdb_id, md.imdb_id, md.igdb_id, md.musicbrainz_id
            {_TORRENT_FROM}
            LEFT JOIN torrent_metadata md ON md.torrent_id = t.id
            WHERE t.id = $1""",
        torrent_id,
    )
    return _torrent(row) if row else None


async def select_torrent_id_by_hash(
    conn: asyncpg.Connection, info_hash: bytes, info_hash_v2: bytes | None
) -> int | None:
    """The torrent with either hash (a hybrid is the same torrent by both)."""
    value: int | None = await conn.fetchval(
        "SELECT id FROM torrents WHERE info_hash = $1 OR info_hash_v2 = $2 LIMIT 1",
        info_hash,
        info_hash_v2,
    )
    return value


async def select_torrent_by_v2_prefix(conn: asyncpg.Connection, prefix: bytes) -> int | None:
    """A hybrid by the truncated SHA-256 hash v2 clients announce."""
    value: int | None = await conn.fetchval(
        "SELECT id FROM torrents WHERE substring(info_hash_v2 FROM 1 FOR 20) = $1 LIMIT 1",
        prefix,
    )
    return value


async def select_torrent_data(conn: asyncpg.Connection, torrent_id: int) -> bytes | None:
    value: bytes | None = await conn.fetchval(
        "SELECT torrent_data FROM torrents WHERE id = $1", torrent_id
    )
    return value


async def category_exists(conn: asyncpg.Connection, category_id: int) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM torrent_categories WHERE id = $1", category_id))


@dataclass(frozen=True)
class Category:
    id: int
    parent_id: int | None
    slug: str
    name: str
    depth: int


async def select_categories(conn: asyncpg.Connection) -> list[Category]:
    """Every category, parents before their children, in display order."""
    rows = await conn.fetch(
        """WITH RECURSIVE tree AS (
               SELECT id, parent_id, slug, name, position, 0 AS depth,
                      ARRAY[position, id] AS sort_path
                 FROM torrent_categories WHERE parent_id IS NULL
               UNION ALL
               SELECT c.id, c.parent_id, c.slug, c.name, c.position, tree.depth + 1,
                      tree.sort_path || ARRAY[c.position, c.id]
                 FROM torrent_categories c JOIN tree ON c.parent_id = tree.id
           )
           SELECT id, parent_id, slug, name, depth FROM tree ORDER BY sort_path"""
    )
    return [Category(**dict(r)) for r in rows]


async def insert_torrent(
    conn: asyncpg.Connection,
    *,
    info_hash: bytes,
    info_hash_v2: bytes | None,
    name: str,
    description: str,
    description_html: str,
    category_id: int,
    uploader_id: UUID | None,
    is_anonymous: bool,
    size: int,
    file_count: int,
    piece_length: int,
    piece_count: int,
    torrent_data: bytes,
    status: str,
) -> int:
    torrent_id: int = await conn.fetchval(
        """INSERT INTO torrents (info_hash, info_hash_v2, name, description, description_html,
                                 category_id, uploader_id, is_anonymous, size, file_count,
                                 piece_length, piece_count, torrent_data, moderation_status,
                                 approved_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                   CASE WHEN $14 = 'approved' THEN now() END)
           RETURNING id""",
        info_hash,
        info_hash_v2,
        name,
        description,
        description_html,
        category_id,
        uploader_id,
        is_anonymous,
        size,
        file_count,
        piece_length,
        piece_count,
        torrent_data,
        status,
    )
    return torrent_id


async def insert_files(
    conn: asyncpg.Connection, torrent_id: int, files: list[tuple[str, int]]
) -> None:
    await conn.execute(
        """INSERT INTO torrent_files (torrent_id, path, size, position)
           SELECT $1, f.path, f.size, f.ord - 1
             FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS f (path, size, ord)""",
        torrent_id,
        [p for p, _ in files],
        [s for _, s in files],
    )


async def insert_statistics(conn: asyncpg.Connection, torrent_id: int) -> None:
    await conn.execute(
        "INSERT INTO torrent_statistics (torrent_id) VALUES ($1) ON CONFLICT DO NOTHING",
        torrent_id,
    )


async def upsert_metadata(
    conn: asyncpg.Connection,
    torrent_id: int,
    *,
    tmdb_id: int | None,
    imdb_id: str | None,
    igdb_id: int | None,
    musicbrainz_id: UUID | None,
    data: dict[str, Any],
) -> None:
    await conn.execute(
        """INSERT INTO torrent_metadata
                  (torrent_id, tmdb_id, imdb_id, igdb_id, musicbrainz_id, data)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (torrent_id) DO UPDATE
              SET tmdb_id = EXCLUDED.tmdb_id, imdb_id = EXCLUDED.imdb_id,
                  igdb_id = EXCLUDED.igdb_id, musicbrainz_id = EXCLUDED.musicbrainz_id,
                  data = EXCLUDED.data""",
        torrent_id,
        tmdb_id,
        imdb_id,
        igdb_id,
        musicbrainz_id,
        data,
    )


async def insert_moderation(
    conn: asyncpg.Connection,
    torrent_id: int,
    moderator_id: UUID | None,
    action: str,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO torrent_moderation (torrent_id, moderator_id, action, reason, changes)
           VALUES ($1, $2, $3, $4, $5)""",
        torrent_id,
        moderator_id,
        action,
        reason,
        changes,
    )


async def select_moderation_history(
    conn: asyncpg.Connection, torrent_id: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT h.action, h.reason, h.created_at, u.username::text AS moderator
             FROM torrent_moderation h LEFT JOIN users u ON u.id = h.moderator_id
            WHERE h.torrent_id = $1 ORDER BY h.created_at, h.id""",
        torrent_id,
    )
    return rows


async def set_status(
    conn: asyncpg.Connection,
    torrent_id: int,
    *,
    expect: tuple[str, ...],
    to: str,
    moderator_id: UUID | None,
    reason: str | None,
) -> asyncpg.Record | None:
    """Move the moderation status only if it is still one of `expect` (None otherwise).

    Under READ COMMITTED a concurrent second UPDATE waits for the first to commit, then
    re-checks the WHERE clause against the new row, so exactly one moderator wins.
    """
    row: asyncpg.Record | None = await conn.fetchrow(
        """UPDATE torrents
              SET moderation_status = $3, moderation_reason = $4, moderated_by = $5,
                  moderated_at = now(),
                  approved_at = CASE WHEN $3 = 'approved' THEN now() ELSE approved_at END
            WHERE id = $1 AND moderation_status = ANY($2::text[]) AND NOT is_deleted
            RETURNING id, name, uploader_id, moderation_status""",
        torrent_id,
        list(expect),
        to,
        reason,
        moderator_id,
    )
    return row


async def set_flags(
    conn: asyncpg.Connection,
    torrent_id: int,
    *,
    freeleech: bool,
    freeleech_until: datetime | None,
    neutral: bool,
    double_upload: bool,
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        """UPDATE torrents t
              SET is_freeleech = $2, freeleech_until = $3, is_neutral_leech = $4,
                  is_double_upload = $5
             FROM (SELECT id, is_freeleech, freeleech_until, is_neutral_leech, is_double_upload
                     FROM torrents WHERE id = $1 FOR UPDATE) old
            WHERE t.id = old.id
            RETURNING old.is_freeleech, old.freeleech_until, old.is_neutral_leech,
                      old.is_double_upload""",
        torrent_id,
        freeleech,
        freeleech_until,
        neutral,
        double_upload,
    )
    return row


async def enqueue_search(
    conn: asyncpg.Connection, torrent_id: int, operation: str = "index"
) -> None:
    await conn.execute(
        """INSERT INTO search_index_queue (entity_type, entity_id, operation)
           VALUES ('torrent', $1, $2)""",
        str(torrent_id),
        operation,
    )


async def select_files(
    conn: asyncpg.Connection, torrent_id: int, *, limit: int = 1000
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT path, size FROM torrent_files WHERE torrent_id = $1 ORDER BY position LIMIT $2",
        torrent_id,
        limit,
    )
    return rows


# --- tags -------------------------------------------------------------------------------


async def upsert_tag(conn: asyncpg.Connection, name: str, created_by: UUID | None) -> int:
    tag_id: int = await conn.fetchval(
        """WITH ins AS (
               INSERT INTO torrent_tags (name, created_by) VALUES ($1, $2)
               ON CONFLICT (name) DO NOTHING RETURNING id
           )
           SELECT id FROM ins UNION ALL SELECT id FROM torrent_tags WHERE name = $1 LIMIT 1""",
        name,
        created_by,
    )
    return tag_id


async def assign_tag(
    conn: asyncpg.Connection, torrent_id: int, tag_id: int, added_by: UUID | None
) -> bool:
    """Attach a tag to a torrent; False when it was already attached."""
    new = await conn.fetchval(
        """INSERT INTO torrent_tag_assignments (torrent_id, tag_id, added_by)
           VALUES ($1, $2, $3) ON CONFLICT (torrent_id, tag_id) DO NOTHING RETURNING id""",
        torrent_id,
        tag_id,
        added_by,
    )
    if new is not None:
        await conn.execute(
            "UPDATE torrent_tags SET use_count = use_count + 1 WHERE id = $1", tag_id
        )
    return new is not None


async def tag_id_on_torrent(conn: asyncpg.Connection, torrent_id: int, name: str) -> int | None:
    value: int | None = await conn.fetchval(
        """SELECT g.id FROM torrent_tag_assignments a JOIN torrent_tags g ON g.id = a.tag_id
            WHERE a.torrent_id = $1 AND g.name = $2""",
        torrent_id,
        name,
    )
    return value


async def set_tag_vote(
    conn: asyncpg.Connection, torrent_id: int, tag_id: int, user_id: UUID, vote: int
) -> int:
    """Record (or clear, with 0) a member's vote and return the tag's new score."""
    if vote == 0:
        await conn.execute(
            "DELETE FROM torrent_tag_votes WHERE torrent_id = $1 AND tag_id = $2 AND user_id = $3",
            torrent_id,
            tag_id,
            user_id,
        )
    else:
        await conn.execute(
            """INSERT INTO torrent_tag_votes (torrent_id, tag_id, user_id, vote)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (torrent_id, tag_id, user_id) DO UPDATE SET vote = EXCLUDED.vote""",
            torrent_id,
            tag_id,
            user_id,
            vote,
        )
    # Recomputed rather than incremented, so a changed vote can never be counted twice.
    score: int = await conn.fetchval(
        """UPDATE torrent_tag_assignments a
              SET score = (SELECT coalesce(sum(v.vote), 0) FROM torrent_tag_votes v
                            WHERE v.torrent_id = a.torrent_id AND v.tag_id = a.tag_id)
            WHERE a.torrent_id = $1 AND a.tag_id = $2
            RETURNING score""",
        torrent_id,
        tag_id,
    )
    return score


@dataclass(frozen=True)
class TagOnTorrent:
    name: str
    score: int
    my_vote: int


async def select_tags(
    conn: asyncpg.Connection, torrent_id: int, viewer_id: UUID | None, *, shown_only: bool
) -> list[TagOnTorrent]:
    """Tags of a torrent, best first; `shown_only` keeps those the community kept (score > 0)."""
    rows = await conn.fetch(
        """SELECT g.name::text AS name, a.score,
                  coalesce((SELECT v.vote FROM torrent_tag_votes v
                             WHERE v.torrent_id = a.torrent_id AND v.tag_id = a.tag_id
                               AND v.user_id = $2), 0)::int AS my_vote
             FROM torrent_tag_assignments a JOIN torrent_tags g ON g.id = a.tag_id
            WHERE a.torrent_id = $1 AND (NOT $3 OR a.score > 0)
            ORDER BY a.score DESC, g.name""",
        torrent_id,
        viewer_id,
        shown_only,
    )
    return [TagOnTorrent(**dict(r)) for r in rows]


async def select_shown_tags_for(
    conn: asyncpg.Connection, torrent_ids: list[int]
) -> dict[int, list[str]]:
    rows = await conn.fetch(
        """SELECT a.torrent_id, g.name::text AS name
             FROM torrent_tag_assignments a JOIN torrent_tags g ON g.id = a.tag_id
            WHERE a.torrent_id = ANY($1::bigint[]) AND a.score > 0
            ORDER BY a.score DESC, g.name""",
        torrent_ids,
    )
    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(r["torrent_id"], []).append(r["name"])
    return out


# --- browse -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BrowseFilters:
    category_id: int | None = None
    tag: str | None = None
    freeleech: bool = False
    uploader: str | None = None
    q: str | None = None
    sort: str = "added"
    descending: bool = True
    page: int = 1
    per_page: int = 50
    # Staff may see the uploader behind an anonymous upload; members may not.
    reveal_anonymous: bool = False
    viewer_id: UUID | None = None
    # 'approved' for everyone; other states (or 'any') only for staff or one's own uploads.
    status: str = "approved"


async def browse(conn: asyncpg.Connection, f: BrowseFilters) -> tuple[list[TorrentRow], int]:
    """Approved torrents matching the filters, and how many match in all."""
    where = ["NOT t.is_deleted"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.status != "any":
        where.append(f"t.moderation_status = {arg(f.status)}")

    if f.category_id is not None:
        # A parent category includes its children.
        where.append(
            f"""t.category_id IN (WITH RECURSIVE sub AS (
                    SELECT id FROM torrent_categories WHERE id = {arg(f.category_id)}
                    UNION ALL
                    SELECT c.id FROM torrent_categories c JOIN sub ON c.parent_id = sub.id)
                SELECT id FROM sub)"""  # noqa: S608 - placeholders only
        )
    if f.tag:
        where.append(
            f"""EXISTS (SELECT 1 FROM torrent_tag_assignments a JOIN torrent_tags g
                          ON g.id = a.tag_id
                         WHERE a.torrent_id = t.id AND a.score > 0
                           AND g.name = {arg(f.tag)}::citext)"""  # noqa: S608
        )
    if f.freeleech:
        where.append(
            "(t.is_freeleech AND (t.freeleech_until IS NULL OR t.freeleech_until > now()))"
        )
    if f.uploader:
        uploader = arg(f.uploader)
        if f.reveal_anonymous:
            where.append(f"u.username = {uploader}::citext")
        else:
            viewer = arg(f.viewer_id)
            where.append(
                f"u.username = {uploader}::citext"
                f" AND (NOT t.is_anonymous OR t.uploader_id = {viewer})"
            )
    if f.q:
        where.append(f"t.search_vector @@ websearch_to_tsquery('english', {arg(f.q)})")
    order = SORTS.get(f.sort, SORTS["added"])
    direction = "DESC" if f.descending else "ASC"
    where_sql = " AND ".join(where)
    total: int = await conn.fetchval(
        f"SELECT count(*) {_TORRENT_FROM} WHERE {where_sql}",
        *args,
    )
    limit = arg(f.per_page)
    offset = arg((max(f.page, 1) - 1) * f.per_page)
    rows = await conn.fetch(
        f"""SELECT {_TORRENT_COLUMNS} {_TORRENT_FROM} WHERE {where_sql}
            ORDER BY {order} {direction}, t.id {direction}
            LIMIT {limit} OFFSET {offset}""",
        *args,
    )
    return [_torrent(r) for r in rows], total


async def select_user_passkey(conn: asyncpg.Connection, user_id: UUID) -> str | None:
    value: str | None = await conn.fetchval("SELECT passkey FROM users WHERE id = $1", user_id)
    return value


# --- site-wide freeleech windows ------------------------------------------------------------


@dataclass(frozen=True)
class SiteWindow:
    id: int
    starts_at: datetime
    ends_at: datetime
    is_double_upload: bool
    reason: str
    created_by_name: str | None

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "double_upload": self.is_double_upload,
            "reason": self.reason,
        }


_WINDOW = """SELECT w.id, w.starts_at, w.ends_at, w.is_double_upload, w.reason,
                    u.username::text AS created_by_name
               FROM site_freeleech w LEFT JOIN users u ON u.id = w.created_by"""


async def select_site_windows(conn: asyncpg.Connection) -> list[SiteWindow]:
    """Current and upcoming windows, soonest first."""
    rows = await conn.fetch(_WINDOW + " WHERE w.ends_at > now() ORDER BY w.starts_at, w.id")
    return [SiteWindow(**dict(r)) for r in rows]


async def insert_site_window(
    conn: asyncpg.Connection,
    *,
    starts_at: datetime,
    ends_at: datetime,
    double_upload: bool,
    reason: str,
    created_by: UUID | None,
) -> SiteWindow:
    window_id = await conn.fetchval(
        """INSERT INTO site_freeleech (starts_at, ends_at, is_double_upload, reason, created_by)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        starts_at,
        ends_at,
        double_upload,
        reason,
        created_by,
    )
    row = await conn.fetchrow(_WINDOW + " WHERE w.id = $1", window_id)
    return SiteWindow(**dict(row))


async def end_site_window(conn: asyncpg.Connection, window_id: int) -> SiteWindow | None:
    """End a current window now, or cancel an upcoming one (its row is deleted)."""
    row = await conn.fetchrow(_WINDOW + " WHERE w.id = $1 AND w.ends_at > now()", window_id)
    if row is None:
        return None
    window = SiteWindow(**dict(row))
    if window.starts_at > datetime.now(window.starts_at.tzinfo):
        await conn.execute("DELETE FROM site_freeleech WHERE id = $1", window_id)
        return window
    await conn.execute(
        "UPDATE site_freeleech SET ends_at = greatest(now(), starts_at + interval '1 second') "
        "WHERE id = $1",
        window_id,
    )
    return window


async def stream_seq(conn: asyncpg.Connection, stream: str) -> int:
    """The last event sequence of a live stream (0 if it has none yet)."""
    value: int | None = await conn.fetchval(
        "SELECT last_seq FROM event_streams WHERE stream = $1", stream
    )
    return value or 0
