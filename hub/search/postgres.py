"""The default search backend: Postgres full-text search, with pg_trgm catching typos.

Torrents and forum posts match on their generated `search_vector` (websearch syntax:
quotes, `-word`, `or`), or, for a misspelt word, on trigram word similarity (`<%`, the
`pg_trgm.word_similarity_threshold`, 0.6 by default) against the name or body; both use
the GIN indexes of the schema. Users match on a username prefix or trigram similarity.
Ranking adds the full-text rank and the similarity, so exact words win and near misses
still appear.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from hub.search.backend import (
    Page,
    PostHit,
    Reader,
    TorrentHit,
    TorrentQuery,
    UserHit,
    clamp,
)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _clean(text: str) -> str:
    return " ".join(text.split())[:200]


class PostgresSearch:
    name = "postgres"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def setup(self) -> None:
        return None  # the indexes are in the migrations

    # The search_vector columns are generated from the rows: nothing to push.
    async def index(self, entity_type: str, ids: Sequence[str]) -> int:
        return 0

    async def delete(self, entity_type: str, ids: Sequence[str]) -> int:
        return 0

    async def search_torrents(self, query: TorrentQuery) -> Page[TorrentHit]:
        limit, offset = clamp(query.limit, query.offset)
        text = _clean(query.text)
        if not text:
            return Page([], 0, limit, offset, self.name)
        rows = await self.pool.fetch(
            """WITH q AS (SELECT websearch_to_tsquery('english', $1) AS tsq)
               SELECT t.id, t.name, t.size, t.category_id, t.created_at,
                      coalesce(st.seeders, 0) AS seeders, coalesce(st.leechers, 0) AS leechers,
                      ts_rank_cd(t.search_vector, q.tsq) + word_similarity($1, t.name) AS score,
                      count(*) OVER () AS total
                 FROM torrents t
                 CROSS JOIN q
                 LEFT JOIN torrent_statistics st ON st.torrent_id = t.id
                WHERE t.moderation_status = 'approved' AND NOT t.is_deleted
                  AND (t.search_vector @@ q.tsq OR $1 <% t.name)
                  AND ($2::int IS NULL OR t.category_id = $2
                       OR t.category_id IN (SELECT id FROM torrent_categories
                                             WHERE parent_id = $2))
                  AND (NOT $3 OR t.is_freeleech)
                ORDER BY score DESC, t.id DESC
                LIMIT $4 OFFSET $5""",
            text,
            query.category_id,
            query.freeleech_only,
            limit,
            offset,
        )
        hits = [
            TorrentHit(r["id"], r["name"], r["size"], r["category_id"], r["created_at"],
                       r["seeders"], r["leechers"], float(r["score"]))
            for r in rows
        ]
        return Page(hits, int(rows[0]["total"]) if rows else 0, limit, offset, self.name)

    async def search_users(self, text: str, limit: int = 25, offset: int = 0) -> Page[UserHit]:
        limit, offset = clamp(limit, offset)
        text = _clean(text)
        if not text:
            return Page([], 0, limit, offset, self.name)
        rows = await self.pool.fetch(
            """SELECT id, username::text AS username, group_id,
                      CASE WHEN username::text ILIKE $2 THEN 1.0
                           ELSE similarity(username::text, $1) END AS score,
                      count(*) OVER () AS total
                 FROM users
                WHERE NOT is_disabled
                  AND (username::text ILIKE $2 OR username::text % $1)
                ORDER BY score DESC, char_length(username::text), username
                LIMIT $3 OFFSET $4""",
            text,
            escape_like(text) + "%",
            limit,
            offset,
        )
        hits = [UserHit(r["id"], r["username"], r["group_id"], float(r["score"])) for r in rows]
        return Page(hits, int(rows[0]["total"]) if rows else 0, limit, offset, self.name)

    async def search_posts(
        self, text: str, reader: Reader, limit: int = 25, offset: int = 0
    ) -> Page[PostHit]:
        limit, offset = clamp(limit, offset)
        text = _clean(text)
        if not text:
            return Page([], 0, limit, offset, self.name)
        # The excerpt is built after LIMIT: ts_headline is costly per row.
        rows = await self.pool.fetch(
            """WITH q AS (SELECT websearch_to_tsquery('english', $1) AS tsq),
               found AS (
                   SELECT p.id, p.topic_id, t.title, t.forum_id, p.author_id, p.created_at,
                          p.body,
                          ts_rank_cd(p.search_vector, q.tsq) + word_similarity($1, p.body)
                              AS score,
                          count(*) OVER () AS total
                     FROM forum_posts p
                     CROSS JOIN q
                     JOIN forum_topics t ON t.id = p.topic_id
                     JOIN forums f ON f.id = t.forum_id
                    WHERE (p.search_vector @@ q.tsq OR $1 <% p.body)
                      AND p.deleted_at IS NULL AND t.deleted_at IS NULL
                      AND f.min_read_level <= $2 AND (NOT f.staff_only OR $3)
                    ORDER BY score DESC, p.id DESC
                    LIMIT $4 OFFSET $5
               )
               SELECT found.*,
                      ts_headline('english', found.body, q.tsq,
                                  'MaxWords=30, MinWords=12, StartSel="", StopSel=""')
                          AS excerpt
                 FROM found CROSS JOIN q
                ORDER BY score DESC, id DESC""",
            text,
            reader.level,
            reader.is_staff,
            limit,
            offset,
        )
        hits = [
            PostHit(r["id"], r["topic_id"], r["title"], r["forum_id"], r["author_id"],
                    r["excerpt"], r["created_at"], float(r["score"]))
            for r in rows
        ]
        return Page(hits, int(rows[0]["total"]) if rows else 0, limit, offset, self.name)
