"""Privacy and profiles, passkey rotation, groups as data, group changes and bans."""

from __future__ import annotations

import aiohttp

from hub import db
from hub.accounts import actions
from tests.factories import csrf_headers, login, make_admin, make_moderator, make_user


async def session_for(server, user) -> aiohttp.ClientSession:
    jar = aiohttp.CookieJar(unsafe=True)
    session = aiohttp.ClientSession(base_url=server.base_url, cookie_jar=jar)
    await login(session, user)
    return session


async def test_paranoia_hides_stats_from_members_but_not_staff(hub, http, server):
    owner = await make_user(hub)
    await login(http, owner)
    async with http.put(
        "/api/v1/me/privacy",
        json={"paranoia": 3, "notification_prefs": {"comment": False}},
        headers=csrf_headers(http),
    ) as response:
        privacy = await response.json()
        assert response.status == 200, privacy
    assert privacy["paranoia"] == 3
    assert privacy["notification_prefs"] == {"comment": False}

    other = await make_user(hub)
    async with (
        await session_for(server, other) as member,
        member.get(f"/api/v1/users/{owner.username}") as response,
    ):
        seen = await response.json()
    assert seen["stats"] is None
    assert seen["last_seen_at"] is None
    assert "hide_stats" in seen["hidden"]
    assert "email" not in seen

    mod = await make_moderator(hub)
    async with (
        await session_for(server, mod) as staff,
        staff.get(f"/api/v1/users/{owner.username}") as response,
    ):
        seen = await response.json()
    assert seen["stats"] is not None
    assert seen["hidden"] == []
    assert seen["email"] == owner.email

    async with http.get(f"/api/v1/users/{owner.username}") as response:
        assert (await response.json())["stats"] is not None  # the owner sees their own


async def test_bad_privacy_value_names_the_field(hub, http):
    user = await make_user(hub)
    await login(http, user)
    async with http.put(
        "/api/v1/me/privacy", json={"paranoia": 9}, headers=csrf_headers(http)
    ) as response:
        body = await response.json()
    assert response.status == 400
    assert body["field"] == "paranoia"


async def test_passkey_rotation_is_audited_and_changes_the_announce_url(hub, http):
    user = await make_user(hub)
    await login(http, user)
    async with http.post("/api/v1/me/passkey", headers=csrf_headers(http)) as response:
        body = await response.json()
    assert body["passkey"] != user.passkey and len(body["passkey"]) == 32
    assert body["announce_url"].endswith(f"/announce/{body['passkey']}")
    action = await db.fetch_val(
        hub.pool,
        "SELECT action FROM audit_logs WHERE user_id = $1 AND action = 'passkey.rotate'",
        user.id,
    )
    assert action == "passkey.rotate"


async def test_admin_edits_group_rights_and_members_feel_it_at_once(hub, http, server):
    admin = await make_admin(hub)
    await login(http, admin)
    async with http.get("/api/v1/admin/groups") as response:
        groups = (await response.json())["groups"]
    assert len(groups) >= 13
    leech = next(g for g in groups if g["slug"] == "leech")
    member = await make_user(hub, "leech")
    try:
        async with http.patch(
            f"/api/v1/admin/groups/{leech['id']}",
            json={"can_invite": True},
            headers=csrf_headers(http),
        ) as response:
            assert response.status == 200, await response.text()
        async with await session_for(server, member) as m, m.get("/api/v1/me") as response:
            assert "invite" in (await response.json())["rights"]
    finally:
        async with http.patch(
            f"/api/v1/admin/groups/{leech['id']}",
            json={"can_invite": False},
            headers=csrf_headers(http),
        ) as response:
            assert response.status == 200
    logged = await db.fetch_val(
        hub.pool,
        "SELECT count(*) FROM audit_logs WHERE action = 'group.update' AND user_id = $1",
        admin.id,
    )
    assert logged == 2


async def test_group_rule_violation_is_a_400_naming_the_field(hub, http):
    admin = await make_admin(hub)
    await login(http, admin)
    async with http.patch(
        "/api/v1/admin/groups/4",  # member
        json={"can_upload": False, "can_upload_unmoderated": True},
        headers=csrf_headers(http),
    ) as response:
        body = await response.json()
    assert response.status == 400
    assert body["field"] in ("can_upload", "can_upload_unmoderated")


async def test_admin_changes_a_members_group_with_an_audit_entry(hub, http):
    admin = await make_admin(hub)
    user = await make_user(hub)
    await login(http, admin)
    async with http.put(
        f"/api/v1/admin/users/{user.id}/group", json={"group": "vip"}, headers=csrf_headers(http)
    ) as response:
        assert response.status == 200, await response.text()
    slug = await db.fetch_val(
        hub.pool,
        "SELECT g.slug FROM users u JOIN user_groups g ON g.id = u.group_id WHERE u.id = $1",
        user.id,
    )
    assert slug == "vip"
    details = await db.fetch_val(
        hub.pool,
        "SELECT details FROM audit_logs WHERE action = 'user.group_change' AND target_id = $1",
        str(user.id),
    )
    assert details["from"] == "member" and details["to"] == "vip"


async def test_admin_cannot_promote_to_their_own_level_or_act_on_peers(hub, http):
    admin = await make_admin(hub)
    peer = await make_admin(hub)
    user = await make_user(hub)
    await login(http, admin)
    async with http.put(
        f"/api/v1/admin/users/{user.id}/group",
        json={"group": "administrator"},
        headers=csrf_headers(http),
    ) as response:
        assert response.status == 403
    async with http.post(
        f"/api/v1/admin/users/{peer.id}/ban", json={"reason": "x"}, headers=csrf_headers(http)
    ) as response:
        assert response.status == 403


async def test_unban_lets_the_member_log_in_again(hub, http, server):
    admin = await make_admin(hub)
    user = await make_user(hub)
    admin_viewer = await _viewer(hub, admin)
    await actions.ban_user(hub, admin_viewer, user.id, reason="test", ip=None)
    await actions.unban_user(hub, admin_viewer, user.id, ip=None)
    await login(http, user)  # asserts the login is accepted
    async with http.get("/api/v1/me") as response:
        me = await response.json()
    assert response.status == 200, me
    assert me["username"] == user.username, me


async def _viewer(hub, user):
    from hub.accounts.auth import viewer_for_session_token

    _sid, token = await actions.start_session(hub, user.id, ip=None, user_agent="test")
    viewer = await viewer_for_session_token(hub, token)
    assert viewer is not None
    return viewer
