"""Search documents built from Postgres, for backends that keep their own copy
(Meilisearch). An entity that must not be found any more (a pending or deleted torrent, a
disabled user, a deleted post) comes back in `gone` so the backend deletes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

# entity type -> the backend index it lives in (the seed's names)
INDEXES = {
    "torrent": "torrent_index",
    "user": "user_index",
    "forum_post": "forum_index",
    "forum_topic": "forum_index",
}


@dataclass
class Documents:
    index: str
    docs: list[dict[str, Any]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


def _epoch(value: Any) -> int:
    return int(value.timestamp())


async def load(conn: asyncpg.Connection, entity_type: str, ids: Sequence[str]) -> Documents | None:
    """Documents for `ids` of `entity_type`; None for types no backend index holds."""
    if entity_type == "torrent":
        return await _torrents(conn, [int(i) for i in ids])
    if entity_type == "user":
        return await _users(conn, [UUID(i) for i in ids])
    if entity_type == "forum_post":
        return await _posts(conn, [int(i) for i in ids], by_topic=False)
    if entity_type == "forum_topic":
        return await _posts(conn, [int(i) for i in ids], by_topic=True)
    return None


async def _torrents(conn: asyncpg.Connection, ids: list[int]) -> Documents:
    rows = await conn.fetch(
        """SELECT t.id, t.name, t.description, t.category_id, c.parent_id AS category_parent_id,
                  t.size, t.created_at, t.is_freeleech,
                  t.moderation_status = 'approved' AND NOT t.is_deleted AS visible,
                  coalesce(st.seeders, 0) AS seeders, coalesce(st.leechers, 0) AS leechers,
                  coalesce(st.times_completed, 0) AS snatches,
                  coalesce((SELECT array_agg(tg.name::text ORDER BY a.score DESC)
                              FROM torrent_tag_assignments a
                              JOIN torrent_tags tg ON tg.id = a.tag_id
                             WHERE a.torrent_id = t.id AND a.score >= 0), '{}') AS tags
             FROM torrents t
             JOIN torrent_categories c ON c.id = t.category_id
             LEFT JOIN torrent_statistics st ON st.torrent_id = t.id
            WHERE t.id = ANY($1::bigint[])""",
        ids,
    )
    out = Documents(INDEXES["torrent"])
    found = set()
    for r in rows:
        found.add(r["id"])
        if not r["visible"]:
            out.gone.append(str(r["id"]))
            continue
        category_ids = [r["category_id"]] + (
            [r["category_parent_id"]] if r["category_parent_id"] else []
        )
        out.docs.append({
            "id": r["id"],
            "name": r["name"],
            "description": r["description"][:10000],
            "tags": list(r["tags"]),
            "category_id": r["category_id"],
            "category_ids": category_ids,
            "size": r["size"],
            "created_at": _epoch(r["created_at"]),
            "is_freeleech": r["is_freeleech"],
            "seeders": r["seeders"],
            "leechers": r["leechers"],
            "snatches": r["snatches"],
        })
    out.gone.extend(str(i) for i in ids if i not in found)
    return out


async def _users(conn: asyncpg.Connection, ids: list[UUID]) -> Documents:
    rows = await conn.fetch(
        """SELECT id, username::text AS username, group_id, is_disabled
             FROM users WHERE id = ANY($1::uuid[])""",
        ids,
    )
    out = Documents(INDEXES["user"])
    found = set()
    for r in rows:
        found.add(r["id"])
        if r["is_disabled"]:
            out.gone.append(str(r["id"]))
        else:
            out.docs.append(
                {"id": str(r["id"]), "username": r["username"], "group_id": r["group_id"]}
            )
    out.gone.extend(str(i) for i in ids if i not in found)
    return out


async def _posts(conn: asyncpg.Connection, ids: list[int], *, by_topic: bool) -> Documents:
    where = "p.topic_id = ANY($1::bigint[])" if by_topic else "p.id = ANY($1::bigint[])"
    rows = await conn.fetch(
        f"""SELECT p.id, p.topic_id, t.title, t.forum_id, p.author_id, p.body, p.created_at,
                   f.min_read_level, f.staff_only,
                   p.deleted_at IS NULL AND t.deleted_at IS NULL AS visible
              FROM forum_posts p
              JOIN forum_topics t ON t.id = p.topic_id
              JOIN forums f ON f.id = t.forum_id
             WHERE {where}""",  # noqa: S608 (a fixed choice of two clauses)
        ids,
    )
    out = Documents(INDEXES["forum_post"])
    found = set()
    for r in rows:
        found.add(r["id"])
        if not r["visible"]:
            out.gone.append(str(r["id"]))
            continue
        out.docs.append({
            "id": r["id"],
            "topic_id": r["topic_id"],
            "topic_title": r["title"],
            "forum_id": r["forum_id"],
            "author_id": str(r["author_id"]) if r["author_id"] else None,
            "body": r["body"][:20000],
            "created_at": _epoch(r["created_at"]),
            "min_read_level": r["min_read_level"],
            "staff_only": r["staff_only"],
        })
    if not by_topic:
        out.gone.extend(str(i) for i in ids if i not in found)
    return out
