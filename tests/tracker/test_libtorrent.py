"""Two real libtorrent sessions swarm through our tracker on loopback: the torrent goes
through the API's upload and approval, each member downloads it with their own passkey, one
seeds, the other downloads until complete, and Postgres credits exactly the size both
ways."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.tracker import invalidate
from tests.conftest import free_port
from tests.factories import csrf_headers, login, make_moderator, make_user
from tests.tracker.conftest import flush, wait_for

lt = pytest.importorskip("libtorrent")

SIZE = 3 * 1024 * 1024 + 12345  # not a whole number of pieces


@contextlib.asynccontextmanager
async def _logged_in(server: Any, user: Any) -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=server.base_url, cookie_jar=jar) as http:
        await login(http, user)
        yield http


def _make_torrent(folder: Path) -> bytes:
    (folder / "payload.bin").write_bytes(os.urandom(SIZE))
    files = lt.list_files(str(folder / "payload.bin"))
    ct = lt.create_torrent(files, 256 * 1024)  # libtorrent 2 makes a v1+v2 hybrid by default
    ct.set_priv(True)
    lt.set_piece_hashes(ct, str(folder))
    return bytes(lt.bencode(ct.generate()))


def _session(port: int) -> Any:
    return lt.session({
        "listen_interfaces": f"127.0.0.1:{port}",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # loopback tracker and peers: libtorrent refuses both by default
        "ssrf_mitigation": False,
        "allow_multiple_connections_per_ip": True,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "alert_mask": 0,
    })


def _params(data: bytes, folder: Path) -> Any:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(lt.bdecode(data))
    params.save_path = str(folder)
    return params


async def _known(hub: Any, user: Any) -> None:
    async def send() -> None:
        await hub.redis.publish(invalidate.CHANNEL, f'{{"kind": "user", "id": "{user.id}"}}')

    await send()
    await wait_for(lambda: user.passkey in hub.tracker.tracker.caches.users_by_passkey)


@pytest.mark.libtorrent
async def test_libtorrent_seeder_and_leecher_swarm_and_are_credited(
    hub: Any, server: Any, tmp_path: Path
) -> None:
    uploader, leecher, moderator = (await make_user(hub), await make_user(hub),
                                    await make_moderator(hub))
    for user in (uploader, leecher):
        await _known(hub, user)
    seed_dir, leech_dir = tmp_path / "seed", tmp_path / "leech"
    seed_dir.mkdir()
    leech_dir.mkdir()
    raw = _make_torrent(seed_dir)
    async with hub.pool.acquire() as conn:
        category = await conn.fetchval("SELECT min(id) FROM torrent_categories")
    # Through the API, as a member would: upload, a moderator approves, each member
    # downloads the .torrent carrying their own passkey.
    async with _logged_in(server, uploader) as up_http:
        form = aiohttp.FormData()
        form.add_field("file", raw, filename="payload.torrent",
                       content_type="application/x-bittorrent")
        form.add_field("category_id", str(category))
        async with up_http.post("/api/v1/torrents", data=form,
                                headers=csrf_headers(up_http)) as resp:
            body = await resp.json()
            assert resp.status == 201, body
            torrent_id = body["id"]
        async with _logged_in(server, moderator) as mod_http, mod_http.post(
            f"/api/v1/torrents/{torrent_id}/approve", headers=csrf_headers(mod_http)
        ) as resp:
            assert resp.status == 200, await resp.text()
        async with up_http.get(f"/api/v1/torrents/{torrent_id}/download") as resp:
            assert resp.status == 200
            seed_file = await resp.read()
    async with _logged_in(server, leecher) as leech_http, leech_http.get(
        f"/api/v1/torrents/{torrent_id}/download"
    ) as resp:
        assert resp.status == 200
        leech_file = await resp.read()
    entry = hub.tracker.tracker.caches.torrents
    await wait_for(lambda: torrent_id in entry and entry[torrent_id].status == "approved")
    assert uploader.passkey.encode() in seed_file and leecher.passkey.encode() in leech_file

    seeder_session, leecher_session = _session(free_port()), _session(free_port())
    try:
        seed = seeder_session.add_torrent(_params(seed_file, seed_dir))
        leech = leecher_session.add_torrent(_params(leech_file, leech_dir))
        async with asyncio.timeout(90):
            await wait_for(lambda: leech.status().is_seeding, 90)
            # the seeder reports what it sent on its next announce
            seed.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
            expected = (SIZE, SIZE)
            while True:
                await flush(hub)
                async with hub.pool.acquire() as conn:
                    up = await conn.fetchval(
                        "SELECT uploaded FROM user_statistics WHERE user_id = $1", uploader.id)
                    down = await conn.fetchval(
                        "SELECT downloaded FROM user_statistics WHERE user_id = $1", leecher.id)
                if (up, down) == expected:
                    break
                await asyncio.sleep(0.3)
        assert (leech_dir / "payload.bin").read_bytes() == (seed_dir / "payload.bin").read_bytes()
        swarm = hub.tracker.tracker.swarms[torrent_id]
        assert (swarm.seeders, swarm.leechers) == (2, 0)
        async with hub.pool.acquire() as conn:
            snatches = await conn.fetchval(
                "SELECT count(*) FROM snatches WHERE torrent_id = $1", torrent_id)
            stats = await conn.fetchrow(
                "SELECT seeders, leechers, times_completed FROM torrent_statistics"
                " WHERE torrent_id = $1", torrent_id)
            leecher_up = await conn.fetchval(
                "SELECT uploaded FROM user_statistics WHERE user_id = $1", leecher.id)
        assert snatches == 1
        assert (stats["seeders"], stats["leechers"], stats["times_completed"]) == (2, 0, 1)
        assert leecher_up == 0
    finally:
        for session in (seeder_session, leecher_session):
            session.pause()
        del seeder_session, leecher_session
