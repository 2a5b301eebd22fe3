"""The default search backend finds what a member can see, typos included."""

from __future__ import annotations

import uuid
from typing import Any

from hub import search
from hub.search.backend import Reader, TorrentQuery
from hub.search.postgres import PostgresSearch
from tests.factories import make_user
from tests.tasks.data import make_torrent


def word() -> str:
    """A made-up word no other test uses, so results are ours alone."""
    letters = "bcdfghklmnprstvz"
    raw = uuid.uuid4().int
    return "".join(letters[(raw >> (4 * i)) & 15] + "aeiou"[(raw >> (4 * i + 2)) % 5]
                   for i in range(5))


async def test_a_torrent_is_found_by_a_word_of_its_name_or_description(hub: Any) -> None:
    name, described = word(), word()
    found = await make_torrent(hub, name=f"{name.title()}.Linux.2026.x64-GROUP",
                               description=f"A release about {described} and more.")
    backend = PostgresSearch(hub.pool)

    by_name = await backend.search_torrents(TorrentQuery(name))
    by_description = await backend.search_torrents(TorrentQuery(described))

    assert [h.id for h in by_name.hits] == [found]
    assert [h.id for h in by_description.hits] == [found]
    assert by_name.total == 1 and by_name.backend == "postgres"


async def test_a_misspelt_torrent_name_still_finds_it(hub: Any) -> None:
    name = word()
    found = await make_torrent(hub, name=f"{name} Desktop amd64")
    typo = name[:-2] + name[-1] + name[-2]  # two letters swapped at the end

    page = await PostgresSearch(hub.pool).search_torrents(TorrentQuery(typo))

    assert found in [h.id for h in page.hits]


async def test_pending_and_deleted_torrents_are_not_found(hub: Any) -> None:
    name = word()
    visible = await make_torrent(hub, name=f"{name} visible")
    await make_torrent(hub, name=f"{name} pending", status="pending")
    await make_torrent(hub, name=f"{name} deleted", is_deleted=True)

    page = await PostgresSearch(hub.pool).search_torrents(TorrentQuery(name))

    assert [h.id for h in page.hits] == [visible]


async def test_torrent_search_filters_by_category_including_subcategories(hub: Any) -> None:
    name = word()
    hd = await make_torrent(hub, name=f"{name} 1080p", category_slug="movies-hd")
    await make_torrent(hub, name=f"{name} album", category_slug="music")
    movies = await hub.pool.fetchval("SELECT id FROM torrent_categories WHERE slug = 'movies'")

    page = await PostgresSearch(hub.pool).search_torrents(TorrentQuery(name, category_id=movies))

    assert [h.id for h in page.hits] == [hd]


async def test_results_page_through_with_a_total(hub: Any) -> None:
    name = word()
    ids = [await make_torrent(hub, name=f"{name} part {i}") for i in range(5)]
    backend = PostgresSearch(hub.pool)

    first = await backend.search_torrents(TorrentQuery(name, limit=2))
    third = await backend.search_torrents(TorrentQuery(name, limit=2, offset=4))

    assert first.total == 5 and len(first.hits) == 2
    assert len(third.hits) == 1
    assert set(ids) >= {h.id for h in first.hits + third.hits}


async def test_an_empty_query_finds_nothing_rather_than_everything(hub: Any) -> None:
    page = await PostgresSearch(hub.pool).search_torrents(TorrentQuery("   "))
    assert page.hits == [] and page.total == 0


async def test_users_are_found_by_prefix_and_by_a_near_miss(hub: Any) -> None:
    stem = word()
    user = await make_user(hub, username=f"{stem}_x")
    backend = PostgresSearch(hub.pool)

    by_prefix = await backend.search_users(stem[:6])
    near_miss = await backend.search_users(stem[:-1] + "q_x")

    assert user.id in [h.id for h in by_prefix.hits]
    assert user.id in [h.id for h in near_miss.hits]
    assert by_prefix.hits[0].username.startswith(stem[:6])


async def _post(hub: Any, *, staff_only: bool, body: str) -> int:
    slug = f"f-{uuid.uuid4().hex[:10]}"
    forum = await hub.pool.fetchval(
        """INSERT INTO forums (slug, name, staff_only, min_read_level)
           VALUES ($1, $1, $2, $3) RETURNING id""",
        slug, staff_only, 100 if staff_only else 0)
    topic = await hub.pool.fetchval(
        "INSERT INTO forum_topics (forum_id, title) VALUES ($1, 'A topic') RETURNING id", forum)
    return int(await hub.pool.fetchval(
        "INSERT INTO forum_posts (topic_id, body) VALUES ($1, $2) RETURNING id", topic, body))


async def test_forum_posts_are_found_only_where_the_reader_may_read(hub: Any) -> None:
    secret = word()
    public = await _post(hub, staff_only=False, body=f"Everyone can read about {secret} here.")
    staff = await _post(hub, staff_only=True, body=f"Only staff discuss {secret} in here.")
    backend = PostgresSearch(hub.pool)

    member_page = await backend.search_posts(secret, Reader(level=20))
    staff_page = await backend.search_posts(secret, Reader(level=100, is_staff=True))

    assert [h.id for h in member_page.hits] == [public]
    assert {h.id for h in staff_page.hits} == {public, staff}
    assert secret in member_page.hits[0].excerpt
    assert "<" not in member_page.hits[0].excerpt  # plain text: pages escape it


async def test_the_hub_uses_postgres_search_unless_meilisearch_is_configured(hub: Any) -> None:
    assert search.backend(hub).name == "postgres"
    assert search.backend(hub) is search.backend(hub)


def test_a_reader_is_derived_from_the_viewer() -> None:
    from uuid import uuid4

    from hub.policy import Viewer

    assert Reader.of(Viewer()) == Reader(0, False)
    member = Viewer(user_id=uuid4(), level=20, rights=frozenset({"download"}))
    assert Reader.of(member) == Reader(20, False)
    mod = Viewer(user_id=uuid4(), level=100, rights=frozenset({"moderate"}))
    assert Reader.of(mod) == Reader(100, True)
