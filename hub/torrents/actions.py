"""What people do with torrents: upload, moderate, flag, tag, download.

Each function is one transaction; its events, notifications, queue entries and tracker
invalidations are written inside it, so they happen exactly when the change commits.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from hub import db
from hub.community import notifications
from hub.errors import Refusal
from hub.moderation import audit
from hub.moderation import queue as modqueue
from hub.realtime import events
from hub.torrents import metainfo, queries
from hub.torrents.description import MAX_DESCRIPTION_CHARS, render_description
from hub.torrents.metadata import ExternalIds
from hub.torrents.metadata import provider as metadata_provider
from hub.tracker import invalidate

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.policy import Viewer

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._+#-]{0,63}$")
MAX_TAGS_PER_UPLOAD = 20
MAX_REASON_CHARS = 2000


class TorrentError(Refusal):
    """Why an action cannot happen; `status` is the HTTP status a route answers with."""

    def __init__(self, status: int, message: str, field: str | None = None, **extra: Any):
        super().__init__(message, status=status, field=field, **extra)


def torrent_stream(torrent_id: int) -> str:
    return f"torrent:{torrent_id}"


def can_see(viewer: Viewer, t: queries.TorrentRow) -> bool:
    """Approved torrents are for members; anything else only for its uploader and staff."""
    if not viewer.is_authenticated:
        return False
    if t.is_approved:
        return True
    return viewer.is_moderator or (t.uploader_id is not None and t.uploader_id == viewer.user_id)


def normalise_tags(raw: str | list[str] | tuple[str, ...]) -> list[str]:
    """Tags from a comma/space separated string or a list; TorrentError names a bad one."""
    items = re.split(r"[,\s]+", raw) if isinstance(raw, str) else list(raw)
    tags: list[str] = []
    for item in items:
        tag = item.strip().lower()
        if not tag:
            continue
        if not TAG_RE.match(tag):
            raise TorrentError(
                400,
                f"tag {tag[:70]!r} must start with a letter or digit and use only "
                "letters, digits and . _ + # - (at most 64 characters)",
                "tags",
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS_PER_UPLOAD:
        raise TorrentError(400, f"at most {MAX_TAGS_PER_UPLOAD} tags", "tags")
    return tags


async def upload_torrent(
    hub: Hub,
    viewer: Viewer,
    data: bytes,
    *,
    name: str | None = None,
    description: str = "",
    category_id: int | None,
    tags: str | list[str] | tuple[str, ...] = (),
    ids: ExternalIds | None = None,
    tmdb_id: int | None = None,
    imdb_id: str | None = None,
    igdb_id: int | None = None,
    musicbrainz_id: UUID | None = None,
    anonymous: bool = False,
) -> int:
    """Store a new torrent; pending review unless the uploader's group skips it."""
    if not viewer.has("upload"):
        raise TorrentError(403, "your class may not upload")
    s = hub.settings
    try:
        meta = metainfo.parse(
            data,
            max_bytes=s.max_torrent_file_bytes,
            max_files=s.max_torrent_files,
            source=s.torrent_source,
        )
    except metainfo.MetainfoError as exc:
        raise TorrentError(400, str(exc), "file") from None
    title = (name or "").strip() or meta.name
    if len(title) > 512:
        raise TorrentError(400, "name is longer than 512 characters", "name")
    if any(ord(ch) < 32 for ch in title):
        raise TorrentError(400, "name contains control characters", "name")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise TorrentError(
            400, f"description is longer than {MAX_DESCRIPTION_CHARS} characters", "description"
        )
    if category_id is None:
        raise TorrentError(400, "choose a category", "category_id")
    tag_names = normalise_tags(tags)
    ext = ids or ExternalIds(tmdb_id, imdb_id, igdb_id, musicbrainz_id)
    fetched = await metadata_provider.lookup(ext)
    html = render_description(description)
    unmoderated = viewer.has("upload_unmoderated")
    status = "approved" if unmoderated else "pending"

    async with db.transaction(hub.pool) as conn:
        if not await queries.category_exists(conn, category_id):
            raise TorrentError(400, "no such category", "category_id")
        existing = await queries.select_torrent_id_by_hash(conn, meta.info_hash, meta.info_hash_v2)
        if existing is not None:
            raise _duplicate(existing)
        try:
            async with conn.transaction():  # a savepoint: a racing twin is a 409, not a 500
                torrent_id = await queries.insert_torrent(
                    conn,
                    info_hash=meta.info_hash,
                    info_hash_v2=meta.info_hash_v2,
                    name=title,
                    description=description,
                    description_html=html,
                    category_id=category_id,
                    uploader_id=viewer.user_id,
                    is_anonymous=anonymous,
                    size=meta.size,
                    file_count=len(meta.files),
                    piece_length=meta.piece_length,
                    piece_count=meta.piece_count,
                    torrent_data=meta.torrent_data,
                    status=status,
                )
        except asyncpg.UniqueViolationError:
            again = await queries.select_torrent_id_by_hash(conn, meta.info_hash, meta.info_hash_v2)
            raise _duplicate(again or 0) from None
        await queries.insert_files(conn, torrent_id, [(f.path, f.size) for f in meta.files])
        await queries.insert_statistics(conn, torrent_id)
        await queries.upsert_metadata(
            conn,
            torrent_id,
            tmdb_id=ext.tmdb_id,
            imdb_id=ext.imdb_id,
            igdb_id=ext.igdb_id,
            musicbrainz_id=ext.musicbrainz_id,
            data=fetched.data,
        )
        for tag in tag_names:
            await _propose(conn, torrent_id, tag, viewer.user_id)
        await queries.insert_moderation(conn, torrent_id, viewer.user_id, "submitted")
        if unmoderated:
            await queries.insert_moderation(
                conn, torrent_id, None, "approved", "uploader's class skips review"
            )
            await queries.enqueue_search(conn, torrent_id)
        else:
            await modqueue.enqueue(conn, "torrent", torrent_id, "review", viewer.user_id)
        await events.append(
            conn,
            torrent_stream(torrent_id),
            "torrent_created",
            {"id": torrent_id, "name": title, "status": status},
        )
        if unmoderated:
            await _announce_listed(conn, torrent_id, title)
        invalidate.torrent_changed(hub.redis, torrent_id)
    return torrent_id


def _duplicate(existing_id: int) -> TorrentError:
    return TorrentError(
        409,
        f"this torrent is already on the site as torrent {existing_id}",
        "file",
        existing_id=existing_id,
        existing_url=f"/torrents/{existing_id}",
    )


async def _announce_listed(conn: asyncpg.Connection, torrent_id: int, name: str) -> None:
    """Tell open browse pages that a torrent went live."""
    await events.append(conn, "site", "torrent_listed", {"id": torrent_id, "name": name})


# --- moderation ---------------------------------------------------------------------------

# What each decision may follow. Approving a rejected torrent is a fresh decision, so a
# moderator can reverse a rejection; nothing moves an approved torrent back to review.
_EXPECT = {
    "approved": ("pending", "postponed", "rejected"),
    "rejected": ("pending", "postponed"),
    "postponed": ("pending",),
}
_VERB = {"approved": "approve", "rejected": "reject", "postponed": "postpone"}


async def approve_torrent(hub: Hub, moderator: Viewer, torrent_id: int) -> None:
    await _moderate(hub, moderator, torrent_id, "approved", None)


async def reject_torrent(hub: Hub, moderator: Viewer, torrent_id: int, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise TorrentError(400, "a reason is required to reject a torrent", "reason")
    if len(reason) > MAX_REASON_CHARS:
        raise TorrentError(400, f"reason is longer than {MAX_REASON_CHARS} characters", "reason")
    await _moderate(hub, moderator, torrent_id, "rejected", reason)


async def postpone_torrent(
    hub: Hub, moderator: Viewer, torrent_id: int, reason: str | None = None
) -> None:
    reason = (reason or "").strip() or None
    if reason and len(reason) > MAX_REASON_CHARS:
        raise TorrentError(400, f"reason is longer than {MAX_REASON_CHARS} characters", "reason")
    await _moderate(hub, moderator, torrent_id, "postponed", reason)


async def _moderate(
    hub: Hub, moderator: Viewer, torrent_id: int, to: str, reason: str | None
) -> None:
    if not moderator.is_moderator:
        raise TorrentError(403, "only moderators review torrents")
    async with db.transaction(hub.pool) as conn:
        row = await queries.set_status(
            conn,
            torrent_id,
            expect=_EXPECT[to],
            to=to,
            moderator_id=moderator.user_id,
            reason=reason,
        )
        if row is None:
            current = await queries.select_torrent(conn, torrent_id)
            if current is None or current.is_deleted:
                raise TorrentError(404, "no such torrent")
            by = f" by {current.moderated_by_name}" if current.moderated_by_name else ""
            raise TorrentError(
                409,
                f"cannot {_VERB[to]}: the torrent is already {current.moderation_status}{by}",
                current_status=current.moderation_status,
            )
        await queries.insert_moderation(conn, torrent_id, moderator.user_id, to, reason)
        await audit.record(
            conn,
            moderator.user_id,
            f"torrent.{_VERB[to]}",
            "torrent",
            torrent_id,
            {"reason": reason} if reason else {},
        )
        if to == "postponed":
            await modqueue.postpone_item(conn, "torrent", torrent_id, moderator.user_id)
        else:
            await modqueue.resolve_item(conn, "torrent", torrent_id, moderator.user_id, to)
        payload = {
            "id": torrent_id,
            "status": to,
            "reason": reason,
            "moderator": moderator.username,
        }
        await events.append(conn, torrent_stream(torrent_id), "moderation", payload)
        uploader: UUID | None = row["uploader_id"]
        note = {"torrent_id": torrent_id, "name": row["name"]}
        if to == "approved":
            await queries.enqueue_search(conn, torrent_id)
            await _announce_listed(conn, torrent_id, row["name"])
            if uploader is not None:
                await notifications.notify(conn, uploader, "torrent_approved", note)
        elif to == "rejected" and uploader is not None:
            await notifications.notify(
                conn, uploader, "torrent_rejected", {**note, "reason": reason}
            )
        invalidate.torrent_changed(hub.redis, torrent_id)


async def set_flags(
    hub: Hub,
    moderator: Viewer,
    torrent_id: int,
    *,
    freeleech: bool,
    neutral: bool,
    double_upload: bool,
    freeleech_until: datetime | None = None,
) -> None:
    """Freeleech (optionally until a time), neutral leech and double upload; audited."""
    if not moderator.is_moderator:
        raise TorrentError(403, "only moderators set freeleech and bonus flags")
    if freeleech_until is not None and not freeleech:
        raise TorrentError(400, "freeleech_until needs freeleech", "freeleech_until")
    async with db.transaction(hub.pool) as conn:
        old = await queries.set_flags(
            conn,
            torrent_id,
            freeleech=freeleech,
            freeleech_until=freeleech_until,
            neutral=neutral,
            double_upload=double_upload,
        )
        if old is None:
            raise TorrentError(404, "no such torrent")
        new = {
            "is_freeleech": freeleech,
            "freeleech_until": freeleech_until.isoformat() if freeleech_until else None,
            "is_neutral_leech": neutral,
            "is_double_upload": double_upload,
        }
        before = {
            "is_freeleech": old["is_freeleech"],
            "freeleech_until": old["freeleech_until"].isoformat()
            if old["freeleech_until"]
            else None,
            "is_neutral_leech": old["is_neutral_leech"],
            "is_double_upload": old["is_double_upload"],
        }
        await queries.insert_moderation(
            conn, torrent_id, moderator.user_id, "edited", None, {"before": before, "after": new}
        )
        await audit.record(
            conn,
            moderator.user_id,
            "torrent.flags",
            "torrent",
            torrent_id,
            {"before": before, "after": new},
        )
        await events.append(conn, torrent_stream(torrent_id), "flags", {"id": torrent_id, **new})
        invalidate.torrent_changed(hub.redis, torrent_id)


# --- tags ---------------------------------------------------------------------------------


async def _propose(
    conn: asyncpg.Connection, torrent_id: int, tag: str, user_id: UUID | None
) -> int:
    tag_id = await queries.upsert_tag(conn, tag, user_id)
    await queries.assign_tag(conn, torrent_id, tag_id, user_id)
    if user_id is None:
        return 0
    # Proposing is voting for: a tag starts visible with its proposer's +1.
    return await queries.set_tag_vote(conn, torrent_id, tag_id, user_id, 1)


async def _visible_torrent(
    conn: asyncpg.Connection, viewer: Viewer, torrent_id: int
) -> queries.TorrentRow:
    t = await queries.select_torrent(conn, torrent_id)
    if t is None or not can_see(viewer, t) or (t.is_deleted and not viewer.is_moderator):
        raise TorrentError(404, "no such torrent")
    return t


async def _tags_event(conn: asyncpg.Connection, torrent_id: int) -> None:
    shown = await queries.select_tags(conn, torrent_id, None, shown_only=True)
    await events.append(
        conn,
        torrent_stream(torrent_id),
        "tags",
        {"id": torrent_id, "tags": [{"name": t.name, "score": t.score} for t in shown]},
    )


async def propose_tag(hub: Hub, viewer: Viewer, torrent_id: int, name: str) -> int:
    """Add a tag to a torrent (or vote up an existing one); returns its score."""
    if not viewer.is_authenticated:
        raise TorrentError(401, "log in to tag torrents")
    tags = normalise_tags([name])
    if len(tags) != 1:
        raise TorrentError(400, "give one tag", "name")
    async with db.transaction(hub.pool) as conn:
        await _visible_torrent(conn, viewer, torrent_id)
        score = await _propose(conn, torrent_id, tags[0], viewer.user_id)
        await _tags_event(conn, torrent_id)
    return score


async def vote_tag(hub: Hub, viewer: Viewer, torrent_id: int, name: str, vote: int) -> int:
    """Vote a torrent's tag up (1), down (-1) or take the vote back (0); returns its score."""
    if not viewer.is_authenticated or viewer.user_id is None:
        raise TorrentError(401, "log in to vote on tags")
    if vote not in (-1, 0, 1):
        raise TorrentError(400, "vote must be 1, -1 or 0", "vote")
    async with db.transaction(hub.pool) as conn:
        await _visible_torrent(conn, viewer, torrent_id)
        tag_id = await queries.tag_id_on_torrent(conn, torrent_id, name.strip().lower())
        if tag_id is None:
            raise TorrentError(404, "this torrent has no such tag", "name")
        score = await queries.set_tag_vote(conn, torrent_id, tag_id, viewer.user_id, vote)
        await _tags_event(conn, torrent_id)
    return score


# --- download -----------------------------------------------------------------------------


async def torrent_for_download(hub: Hub, viewer: Viewer, torrent_id: int) -> tuple[str, bytes]:
    """The .torrent with the member's own announce URL, and a file name for it.

    Approved torrents need the download right. A torrent's uploader may always fetch their
    own upload, whatever its status and even without the download right: they need it to
    seed, and the tracker allows seeding to members who may not leech. Staff may fetch any.
    """
    if not viewer.is_authenticated or viewer.user_id is None:
        raise TorrentError(401, "log in to download")
    async with hub.pool.acquire() as conn:
        t = await queries.select_torrent(conn, torrent_id)
        if t is None or (t.is_deleted and not viewer.is_moderator):
            raise TorrentError(404, "no such torrent")
        own = t.uploader_id is not None and t.uploader_id == viewer.user_id
        if not (own or viewer.is_moderator):
            if not t.is_approved:
                raise TorrentError(404, "no such torrent")
            if not viewer.has("download"):
                raise TorrentError(403, "your class may not download")
        data = await queries.select_torrent_data(conn, torrent_id)
        passkey = await queries.select_user_passkey(conn, viewer.user_id)
    if data is None or passkey is None:
        raise TorrentError(404, "no such torrent")
    body = metainfo.with_announce(data, hub.settings.announce_url(passkey))
    safe = re.sub(r"[^A-Za-z0-9._ -]+", "_", t.name).strip(" .") or "torrent"
    return f"{safe[:150]}.torrent", body


# --- site-wide freeleech ------------------------------------------------------------------

MAX_WINDOW_DAYS = 31


def _tell_trackers_site_freeleech(hub: Hub) -> None:
    # Trackers keep the windows in memory and check them against the clock per announce.
    async def send() -> None:
        await hub.redis.publish(invalidate.CHANNEL, json.dumps({"kind": "site_freeleech"}))

    db.after_commit(send)


async def start_site_freeleech(
    hub: Hub,
    admin: Viewer,
    *,
    ends_at: datetime,
    starts_at: datetime | None = None,
    double_upload: bool = False,
    reason: str = "",
) -> queries.SiteWindow:
    """A site-wide freeleech window (and double upload if asked); administrators only."""
    if not admin.is_admin:
        raise TorrentError(403, "only administrators open site-wide freeleech")
    now = datetime.now(UTC)
    start = starts_at or now
    for label, value in (("starts_at", start), ("ends_at", ends_at)):
        if value.tzinfo is None:
            raise TorrentError(400, f"{label} needs a time zone (e.g. 2030-01-01T00:00Z)", label)
    if ends_at <= max(start, now):
        raise TorrentError(400, "ends_at must be after the start and in the future", "ends_at")
    if ends_at - start > timedelta(days=MAX_WINDOW_DAYS):
        raise TorrentError(400, f"a window lasts at most {MAX_WINDOW_DAYS} days", "ends_at")
    reason = (reason or "").strip()[:200]
    async with db.transaction(hub.pool) as conn:
        window = await queries.insert_site_window(
            conn,
            starts_at=start,
            ends_at=ends_at,
            double_upload=double_upload,
            reason=reason,
            created_by=admin.user_id,
        )
        await audit.record(
            conn,
            admin.user_id,
            "site_freeleech.start",
            "site_freeleech",
            window.id,
            window.payload(),
        )
        await events.append(conn, "site", "site_freeleech", {"started": window.payload()})
        _tell_trackers_site_freeleech(hub)
    return window


async def end_site_freeleech(hub: Hub, admin: Viewer, window_id: int) -> queries.SiteWindow:
    if not admin.is_admin:
        raise TorrentError(403, "only administrators end site-wide freeleech")
    async with db.transaction(hub.pool) as conn:
        window = await queries.end_site_window(conn, window_id)
        if window is None:
            raise TorrentError(404, "no such current or upcoming window")
        await audit.record(
            conn,
            admin.user_id,
            "site_freeleech.end",
            "site_freeleech",
            window.id,
            window.payload(),
        )
        await events.append(conn, "site", "site_freeleech", {"ended": window.payload()})
        _tell_trackers_site_freeleech(hub)
    return window
