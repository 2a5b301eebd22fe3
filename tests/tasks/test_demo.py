"""`hub seed-demo` gives a fresh site members, forums and a lobby conversation, once."""

from __future__ import annotations

from hub.accounts import actions
from hub.tasks.demo import (
    LOBBY_MENTION,
    MEMBERS,
    TAG_VOTES,
    TORRENTS,
    demo_password,
    info_hash,
    seed_demo,
)


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
    assert lobby == len(MEMBERS) + 1  # the greetings and the moderator's @mention
    assert groups == {m.username: m.group for m in MEMBERS}


async def _demo_state(hub) -> dict[str, object]:
    """What the demo members did or received: a second run must leave it unchanged."""
    async with hub.pool.acquire() as conn:
        return dict(
            await conn.fetchrow(
                """WITH demo AS (SELECT id FROM users WHERE username = ANY($1::text[]))
                   SELECT (SELECT count(*) FROM torrents
                            WHERE uploader_id IN (SELECT id FROM demo)) AS torrents,
                          (SELECT count(*) FROM torrent_tag_votes
                            WHERE user_id IN (SELECT id FROM demo)) AS votes,
                          (SELECT count(*) FROM moderation_queue
                            WHERE submitted_by IN (SELECT id FROM demo)) AS queue,
                          (SELECT count(*) FROM notifications
                            WHERE user_id IN (SELECT id FROM demo)) AS notifications,
                          (SELECT count(*) FROM chat_messages
                            WHERE user_id IN (SELECT id FROM demo)) AS chat,
                          (SELECT count(*) FROM user_sessions
                            WHERE user_id IN (SELECT id FROM demo)) AS sessions""",
                [m.username for m in MEMBERS],
            )
        )


async def test_demo_seed_uploads_torrents_reviews_tags_and_mentions_once(hub):
    await seed_demo(hub)
    before = await _demo_state(hub)
    again = await seed_demo(hub)
    assert not any(again.values()), again
    assert await _demo_state(hub) == before

    by_key = {t.key: t for t in TORRENTS}
    async with hub.pool.acquire() as conn:
        rows = {}
        for t in TORRENTS:
            rows[t.key] = await conn.fetchrow(
                """SELECT t.id, t.name, t.moderation_status, u.username::text AS uploader,
                          m.username::text AS moderator, t.file_count, t.piece_count
                     FROM torrents t JOIN users u ON u.id = t.uploader_id
                     LEFT JOIN users m ON m.id = t.moderated_by
                    WHERE t.info_hash = $1""",
                info_hash(hub, t),
            )
        open_reviews = set(
            await conn.fetchval(
                """SELECT array_agg(item_id) FROM moderation_queue
                    WHERE item_type = 'torrent' AND status NOT IN ('resolved', 'closed')"""
            )
            or []
        )
        tags = {
            (key, tag): await conn.fetchval(
                """SELECT a.score FROM torrent_tag_assignments a
                     JOIN torrent_tags g ON g.id = a.tag_id
                    WHERE a.torrent_id = $1 AND g.name = $2""",
                rows[key]["id"],
                tag,
            )
            for key, _, tag, _ in TAG_VOTES
        }
        approved_note = await conn.fetchval(
            """SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id
                WHERE u.username = 'bob' AND n.kind = 'torrent_approved'
                  AND (n.payload->>'torrent_id')::bigint = $1""",
            rows["notes"]["id"],
        )
        mention_note = await conn.fetchval(
            """SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id
                WHERE u.username = 'bob' AND n.kind = 'chat_mention'
                  AND n.payload->>'from' = $1""",
            LOBBY_MENTION[0],
        )

    assert all(rows.values()), rows
    for key, row in rows.items():
        t = by_key[key]
        assert row["uploader"] == t.uploader
        assert row["file_count"] == len(t.files)
    # carol is an uploader: live at once; bob's reviewed upload was approved by dave
    for key in ("holmes", "reef", "jazz"):
        assert rows[key]["moderation_status"] == "approved"
    assert rows["notes"]["moderation_status"] == "approved"
    assert rows["notes"]["moderator"] == "dave"
    assert approved_note == 1
    # regular members' other uploads wait in the moderation queue
    for key in ("mixtape", "concert"):
        assert rows[key]["moderation_status"] == "pending"
        assert rows[key]["id"] in open_reviews
    assert tags[("jazz", "flac")] == 2
    assert tags[("holmes", "audiobook")] == 2  # carol's proposal and alice's vote
    assert tags[("reef", "4k.wanted")] == 0  # proposed by erin, voted down by bob
    assert mention_note >= 1


def test_demo_torrents_carry_real_piece_hashes():
    import hashlib

    import bencodepy

    from hub.tasks.demo import PIECE_LENGTH, torrent_bytes
    from hub.tasks.demo import _file_content as content

    for t in TORRENTS:
        info = bencodepy.decode(torrent_bytes(t))[b"info"]
        payload = b"".join(content(t.key, path, size) for path, size in t.files)
        assert len(payload) == sum(f[b"length"] for f in info[b"files"])
        hashes = [info[b"pieces"][i : i + 20] for i in range(0, len(info[b"pieces"]), 20)]
        assert hashes == [
            hashlib.sha1(payload[i : i + PIECE_LENGTH]).digest()
            for i in range(0, len(payload), PIECE_LENGTH)
        ]
