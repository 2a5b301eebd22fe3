"""Site-wide freeleech windows: administrators open and end them; members see a banner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from tests.factories import csrf_headers, login, make_admin, make_moderator, make_user
from tests.torrents.helpers import logged_in


async def test_admin_schedules_a_window_members_see_it_and_it_is_audited(
    hub: Any, server: Any, http: aiohttp.ClientSession
) -> None:
    # Scheduled for next year, so no announce in this test run is credited with it.
    admin = await logged_in(server, await make_admin(hub))
    starts = datetime.now(UTC) + timedelta(days=365)
    ends = starts + timedelta(hours=2)
    try:
        async with admin.post(
            "/api/v1/freeleech",
            json={
                "starts_at": starts.isoformat(),
                "ends_at": ends.isoformat(),
                "double_upload": True,
                "reason": "Holidays",
            },
            headers=csrf_headers(admin),
        ) as r:
            assert r.status == 201, await r.text()
            window = await r.json()
    finally:
        await admin.close()
    await login(http, await make_user(hub))
    async with http.get("/api/v1/freeleech") as r:
        listed = {w["id"]: w for w in (await r.json())["windows"]}
    assert listed[window["id"]]["double_upload"] is True
    assert listed[window["id"]]["reason"] == "Holidays"
    async with http.get("/torrents") as r:
        page = await r.text()
    assert 'id="site-freeleech"' not in page  # not current yet: no banner
    async with hub.pool.acquire() as conn:
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_logs WHERE action = 'site_freeleech.start' "
            "AND target_id = $1",
            str(window["id"]),
        )
    assert audited == 1
    admin = await logged_in(server, await make_admin(hub))
    try:
        async with admin.post(
            f"/api/v1/freeleech/{window['id']}/end", headers=csrf_headers(admin)
        ) as r:
            assert r.status == 200
        async with admin.post(
            f"/api/v1/freeleech/{window['id']}/end", headers=csrf_headers(admin)
        ) as r:
            assert r.status == 404
    finally:
        await admin.close()


async def test_window_that_ends_in_the_past_is_refused(hub: Any, server: Any) -> None:
    admin = await logged_in(server, await make_admin(hub))
    try:
        async with admin.post(
            "/api/v1/freeleech",
            json={"ends_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
            headers=csrf_headers(admin),
        ) as r:
            assert r.status == 400
            assert (await r.json())["field"] == "ends_at"
    finally:
        await admin.close()


async def test_moderators_cannot_open_site_wide_windows(hub: Any, server: Any) -> None:
    mod = await logged_in(server, await make_moderator(hub))
    try:
        async with mod.post(
            "/api/v1/freeleech",
            json={"ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
            headers=csrf_headers(mod),
        ) as r:
            assert r.status == 403
    finally:
        await mod.close()
