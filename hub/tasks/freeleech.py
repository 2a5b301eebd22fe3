"""Freeleech upkeep: end timed torrent freeleech, and tell trackers about site windows.

- A torrent whose `freeleech_until` passed loses `is_freeleech` (the tracker already stops
  honouring it at that moment from its cache; this makes the pages and the row agree) and
  the trackers reload it; an event on `torrent:<id>` lets open pages update.
- Site-wide windows (`site_freeleech`) are loaded by each tracker at start and checked
  against the clock there. When the set of current and future windows changes (an admin
  added, moved or ended one), this job publishes `{"kind": "site_freeleech"}` on the tracker
  invalidation channel so trackers reload them, and keeps the current state under the
  Redis key `hub:site-freeleech` for pages that show a banner.
"""

from __future__ import annotations

import hashlib
import json

from hub import db
from hub.realtime import events
from hub.tasks.runner import JobContext, JobResult
from hub.tracker import invalidate

STATE_KEY = "hub:site-freeleech"
FINGERPRINT_KEY = "hub:site-freeleech:windows"


async def freeleech_upkeep(ctx: JobContext) -> JobResult:
    async with db.transaction(ctx.pool) as conn:
        ended = await conn.fetch(
            """UPDATE torrents SET is_freeleech = false, freeleech_until = NULL
                WHERE is_freeleech AND freeleech_until IS NOT NULL AND freeleech_until <= now()
               RETURNING id"""
        )
        for row in ended:
            invalidate.torrent_changed(ctx.hub.redis, row["id"])
            await events.append(
                conn, f"torrent:{row['id']}", "freeleech_ended", {"torrent_id": row["id"]}
            )
        windows = await conn.fetch(
            """SELECT id, starts_at, ends_at, is_double_upload, reason FROM site_freeleech
                WHERE ends_at > now() ORDER BY starts_at, id"""
        )
        now = await conn.fetchval("SELECT now()")
    fingerprint = hashlib.sha256(
        json.dumps(
            [[w["id"], w["starts_at"].isoformat(), w["ends_at"].isoformat(),
              w["is_double_upload"]] for w in windows]
        ).encode()
    ).hexdigest()
    active = [w for w in windows if w["starts_at"] <= now]
    state = {
        "freeleech": bool(active),
        "double_upload": any(w["is_double_upload"] for w in active),
        "until": max(w["ends_at"] for w in active).isoformat() if active else None,
        "reason": active[0]["reason"] if active else "",
    }
    await ctx.hub.redis.set(STATE_KEY, json.dumps(state))
    previous = await ctx.hub.redis.getset(FINGERPRINT_KEY, fingerprint)
    if isinstance(previous, bytes):
        previous = previous.decode()
    changed = previous != fingerprint
    if changed:
        await ctx.hub.redis.publish(invalidate.CHANNEL, json.dumps({"kind": "site_freeleech"}))
    return {
        "torrents_ended": len(ended),
        "site_window_active": state["freeleech"],
        "windows_changed": changed,
    }
