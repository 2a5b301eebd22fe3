"""The search interface: what a page asks, and what any backend answers.

Two implementations: `PostgresSearch` (full-text search with `pg_trgm` for typos; always
available, the default) and `MeiliSearch` (when `HUB_MEILISEARCH_URL` is set). Both are
fed from `search_index_queue` by the indexer job; for Postgres that is a no-op because the
`search_vector` columns are generated from the rows themselves.

Visibility is the backend's job: torrents are searched among approved, not deleted ones;
forum posts only in forums the viewer may read (level, staff), never deleted ones; users
exclude disabled accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from uuid import UUID

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.policy import Viewer

T = TypeVar("T")

MAX_LIMIT = 100


@dataclass(frozen=True)
class TorrentQuery:
    text: str
    category_id: int | None = None
    freeleech_only: bool = False
    limit: int = 25
    offset: int = 0


@dataclass(frozen=True)
class TorrentHit:
    id: int
    name: str
    size: int
    category_id: int
    created_at: datetime
    seeders: int
    leechers: int
    score: float


@dataclass(frozen=True)
class UserHit:
    id: UUID
    username: str
    group_id: int
    score: float


@dataclass(frozen=True)
class PostHit:
    id: int
    topic_id: int
    topic_title: str
    forum_id: int
    author_id: UUID | None
    excerpt: str
    created_at: datetime
    score: float


@dataclass(frozen=True)
class Page(Generic[T]):
    hits: list[T]
    total: int
    limit: int
    offset: int
    backend: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reader:
    """Who is searching, as far as visibility goes (forum read levels, staff forums)."""

    level: int = 0
    is_staff: bool = False

    @classmethod
    def of(cls, viewer: Viewer) -> Reader:
        """The reader a page's viewer is (anonymous visitors read level 0, no staff)."""
        return cls(level=viewer.level if viewer.is_authenticated else 0,
                   is_staff=viewer.is_moderator)


class SearchBackend(Protocol):
    name: str

    async def setup(self) -> None:
        """Create indexes and settings on the backend (idempotent)."""

    async def search_torrents(self, query: TorrentQuery) -> Page[TorrentHit]: ...

    async def search_users(self, text: str, limit: int = 25, offset: int = 0) -> Page[UserHit]: ...

    async def search_posts(
        self, text: str, reader: Reader, limit: int = 25, offset: int = 0
    ) -> Page[PostHit]: ...

    async def index(self, entity_type: str, ids: Sequence[str]) -> int:
        """Bring the given entities up to date on the backend; returns how many were sent."""

    async def delete(self, entity_type: str, ids: Sequence[str]) -> int: ...


def clamp(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(limit, MAX_LIMIT)), max(0, offset)


def create_backend(hub: Hub) -> SearchBackend:
    """The configured backend: Meilisearch when HUB_MEILISEARCH_URL is set, else Postgres."""
    if hub.settings.meilisearch_url:
        from hub.search.meili import MeiliSearch

        return MeiliSearch(hub.pool, hub.settings.meilisearch_url, hub.settings.meilisearch_key)
    from hub.search.postgres import PostgresSearch

    return PostgresSearch(hub.pool)
