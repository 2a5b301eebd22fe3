"""`hub seed-demo` gives a fresh site members, forums and a lobby conversation, once."""

from __future__ import annotations

from hub.accounts import actions
from hub.tasks.demo import MEMBERS, demo_password, seed_demo


async def test_demo_seed_creates_members_forums_and_chat_and_is_idempotent(hub):
    first = await seed_demo(hub)
    second = await seed_demo(hub)
    assert not any(second.values()), second
    names = {m.username for m in MEMBERS}
    assert set(first["users"]) <= names
    for member in MEMBERS:
        result = await actions.login(
            hub, login=member.username, password=demo_password(), ip=None, user_agent="test"
        )
        assert result.session_id is not None
        await actions.logout(hub, result.session_id)
    async with hub.pool.acquire() as conn:
        forums = await conn.fetchval("SELECT count(*) FROM forums WHERE slug = 'general'")
        lobby = await conn.fetchval(
            """SELECT count(*) FROM chat_messages m JOIN chat_rooms r ON r.id = m.room_id
                WHERE r.slug = 'lobby' AND m.user_id IN
                      (SELECT id FROM users WHERE username = ANY($1::text[]))""",
            list(names),
        )
        groups = dict(
            await conn.fetch(
                """SELECT u.username::text, g.slug FROM users u JOIN user_groups g
                     ON g.id = u.group_id WHERE u.username = ANY($1::text[])""",
                list(names),
            )
        )
    assert forums == 1
    assert lobby == len(MEMBERS)
    assert groups == {m.username: m.group for m in MEMBERS}
