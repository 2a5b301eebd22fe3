"""Torrent pages: browse, detail, upload, download, and the moderator's buttons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for

from hub.pages.api_torrents import browse_filters_from_args, download_response, metadata_ids
from hub.pages.web import ApiError, current_hub, render_error, viewer
from hub.policy import Access, allow
from hub.torrents import actions, queries
from hub.torrents.actions import TorrentError
from hub.torrents.metadata import MetadataError, parse_ids
from hub.torrents.metadata import provider as metadata_provider

bp = Blueprint("torrents", __name__)

SORT_LABELS = {
    "added": "Added",
    "name": "Name",
    "size": "Size",
    "seeders": "Seeders",
    "snatches": "Snatches",
}


@bp.get("/torrents")
@allow(Access.MEMBER)
async def browse_page() -> Any:
    try:
        f = browse_filters_from_args()
    except ApiError as exc:
        return await render_error(exc.status, exc.message)
    async with current_hub().pool.acquire() as conn:
        rows, total = await queries.browse(conn, f)
        tags = await queries.select_shown_tags_for(conn, [t.id for t in rows])
        categories = await queries.select_categories(conn)
        windows = await queries.select_site_windows(conn)
    now = datetime.now(UTC)
    pages = max(1, -(-total // f.per_page))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return await render_template(
        "torrents/browse.html",
        torrents=rows,
        tags=tags,
        total=total,
        filters=f,
        pages=pages,
        args=args,
        categories=categories,
        sort_labels=SORT_LABELS,
        current_windows=[w for w in windows if w.starts_at <= now],
        windows=windows,
    )


@bp.get("/torrents/<int:torrent_id>")
@allow(Access.MEMBER)
async def detail_page(torrent_id: int) -> Any:
    who = viewer()
    async with current_hub().pool.acquire() as conn:
        # Read the stream position first: an event after it is replayed by the page's
        # live client, so nothing between this read and the torrent's is lost.
        seq = await queries.stream_seq(conn, actions.torrent_stream(torrent_id))
        t = await queries.select_torrent(conn, torrent_id)
        if t is None or not actions.can_see(who, t) or (t.is_deleted and not who.is_moderator):
            return await render_error(404, "There is no such torrent.")
        files = await queries.select_files(conn, torrent_id)
        tags = await queries.select_tags(conn, torrent_id, who.user_id, shown_only=False)
        own = t.uploader_id is not None and t.uploader_id == who.user_id
        history = (
            await queries.select_moderation_history(conn, torrent_id)
            if who.is_moderator or own
            else []
        )
    show_uploader = not t.is_anonymous or who.is_moderator or own
    return await render_template(
        "torrents/detail.html",
        t=t,
        files=files,
        shown_tags=[g for g in tags if g.score > 0],
        hidden_tags=[g for g in tags if g.score <= 0],
        own=own,
        show_uploader=show_uploader,
        history=history,
        links=metadata_provider.links(metadata_ids(t)),
        can_download=own or who.is_moderator or (t.is_approved and who.has("download")),
        seq=seq,
    )


@bp.get("/torrents/<int:torrent_id>/download")
@allow(Access.MEMBER)
async def download(torrent_id: int) -> Any:
    """The download button: same rules as the API (approved, or own upload, or staff)."""
    try:
        return await download_response(torrent_id)
    except ApiError as exc:
        return await render_error(exc.status, exc.message)


async def _upload_form(**context: Any) -> str:
    async with current_hub().pool.acquire() as conn:
        categories = await queries.select_categories(conn)
    return await render_template(
        "torrents/upload.html",
        categories=categories,
        max_bytes=current_hub().settings.max_torrent_file_bytes,
        **context,
    )


@bp.get("/torrents/upload")
@allow(Access.MEMBER, right="upload")
async def upload_page() -> Any:
    return await _upload_form(form={}, error=None, field=None)


@bp.post("/torrents/upload")
@allow(Access.MEMBER, right="upload")
async def upload_submit() -> Any:
    hub = current_hub()
    form = await request.form
    files = await request.files
    values = {
        k: form.get(k, "")
        for k in (
            "name",
            "description",
            "category_id",
            "tags",
            "tmdb_id",
            "imdb_id",
            "igdb_id",
            "musicbrainz_id",
        )
    }
    values["anonymous"] = "on" if form.get("anonymous") else ""
    storage = files.get("file")
    try:
        if storage is None or not storage.filename:
            raise TorrentError(400, "choose a .torrent file", "file")
        raw = storage.read(hub.settings.max_torrent_file_bytes + 1)
        try:
            category_id = int(values["category_id"]) if values["category_id"] else None
        except ValueError:
            raise TorrentError(400, "choose a category", "category_id") from None
        ids = parse_ids(
            tmdb_id=values["tmdb_id"],
            imdb_id=values["imdb_id"],
            igdb_id=values["igdb_id"],
            musicbrainz_id=values["musicbrainz_id"],
        )
        torrent_id = await actions.upload_torrent(
            hub,
            viewer(),
            raw,
            name=values["name"],
            description=values["description"],
            category_id=category_id,
            tags=values["tags"],
            ids=ids,
            anonymous=bool(values["anonymous"]),
        )
    except MetadataError as exc:
        return await _upload_form(form=values, error=exc.message, field=exc.field), 400
    except TorrentError as exc:
        status = exc.status if exc.status in (400, 403, 409) else 400
        return (
            await _upload_form(
                form=values,
                error=exc.message,
                field=exc.field,
                existing_url=exc.extra.get("existing_url"),
            ),
            status,
        )
    await flash(
        "Uploaded. Download the .torrent from this page and seed it: the site rewrote it, so "
        "the copy you uploaded will not work here.",
        "success",
    )
    return redirect(url_for("torrents.detail_page", torrent_id=torrent_id))


# --- moderator and member actions from the detail page -------------------------------------


async def _back(torrent_id: int, message: str, category: str = "success") -> Any:
    await flash(message, category)
    return redirect(url_for("torrents.detail_page", torrent_id=torrent_id))


async def _run(torrent_id: int, action: Any, done: str) -> Any:
    try:
        await action
    except TorrentError as exc:
        return await _back(torrent_id, exc.message, "error")
    return await _back(torrent_id, done)


@bp.post("/torrents/<int:torrent_id>/approve")
@allow(Access.MODERATOR)
async def approve_form(torrent_id: int) -> Any:
    return await _run(
        torrent_id, actions.approve_torrent(current_hub(), viewer(), torrent_id), "Approved."
    )


@bp.post("/torrents/<int:torrent_id>/reject")
@allow(Access.MODERATOR)
async def reject_form(torrent_id: int) -> Any:
    reason = (await request.form).get("reason", "")
    return await _run(
        torrent_id,
        actions.reject_torrent(current_hub(), viewer(), torrent_id, reason),
        "Rejected; the uploader sees your reason.",
    )


@bp.post("/torrents/<int:torrent_id>/postpone")
@allow(Access.MODERATOR)
async def postpone_form(torrent_id: int) -> Any:
    reason = (await request.form).get("reason", "")
    return await _run(
        torrent_id,
        actions.postpone_torrent(current_hub(), viewer(), torrent_id, reason),
        "Postponed.",
    )


@bp.post("/torrents/<int:torrent_id>/flags")
@allow(Access.MODERATOR)
async def flags_form(torrent_id: int) -> Any:
    form = await request.form
    until: datetime | None = None
    raw_until = (form.get("freeleech_until") or "").strip()
    if raw_until:
        try:
            until = datetime.fromisoformat(raw_until)
        except ValueError:
            return await _back(torrent_id, "Freeleech end: use a date and time.", "error")
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
    return await _run(
        torrent_id,
        actions.set_flags(
            current_hub(),
            viewer(),
            torrent_id,
            freeleech=bool(form.get("freeleech")),
            neutral=bool(form.get("neutral_leech")),
            double_upload=bool(form.get("double_upload")),
            freeleech_until=until,
        ),
        "Flags saved.",
    )


@bp.post("/torrents/<int:torrent_id>/tags")
@allow(Access.MEMBER)
async def tag_form(torrent_id: int) -> Any:
    name = (await request.form).get("name", "")
    return await _run(
        torrent_id,
        actions.propose_tag(current_hub(), viewer(), torrent_id, name),
        "Tag added.",
    )


@bp.post("/torrents/<int:torrent_id>/tags/<tag>/vote")
@allow(Access.MEMBER)
async def tag_vote_form(torrent_id: int, tag: str) -> Any:
    raw = (await request.form).get("vote", "0")
    try:
        vote = int(raw)
    except ValueError:
        vote = 99  # refused by the action with a message
    return await _run(
        torrent_id,
        actions.vote_tag(current_hub(), viewer(), torrent_id, tag, vote),
        "Vote counted.",
    )


@bp.post("/torrents/freeleech")
@allow(Access.ADMIN)
async def site_freeleech_form() -> Any:
    form = await request.form
    try:
        ends_at = _utc(form.get("ends_at", ""), "ends_at")
        starts_raw = (form.get("starts_at") or "").strip()
        starts_at = _utc(starts_raw, "starts_at") if starts_raw else None
        await actions.start_site_freeleech(
            current_hub(),
            viewer(),
            ends_at=ends_at,
            starts_at=starts_at,
            double_upload=bool(form.get("double_upload")),
            reason=form.get("reason", ""),
        )
    except TorrentError as exc:
        await flash(exc.message, "error")
    else:
        await flash("Site-wide freeleech scheduled.", "success")
    return redirect(url_for("torrents.browse_page"))


@bp.post("/torrents/freeleech/<int:window_id>/end")
@allow(Access.ADMIN)
async def end_site_freeleech_form(window_id: int) -> Any:
    try:
        await actions.end_site_freeleech(current_hub(), viewer(), window_id)
    except TorrentError as exc:
        await flash(exc.message, "error")
    else:
        await flash("Site-wide freeleech ended.", "success")
    return redirect(url_for("torrents.browse_page"))


def _utc(raw: str, field: str) -> datetime:
    """A datetime-local value from a form, read as UTC."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise TorrentError(400, f"{field}: use a date and time", field) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
