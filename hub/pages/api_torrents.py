"""The torrents JSON API under /api/v1: upload, list, detail, download, moderate, tag.

Download is open to every member at the route and decided in the action: approved
torrents need the download right, while an uploader may always fetch their own upload
(they need it to seed) and staff may fetch any (see docs/torrents.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quart import Blueprint, Response, jsonify, request
from quart_schema import DataSource, validate_request
from quart_schema.pydantic import File

from hub.pages.web import ApiError, current_hub, viewer
from hub.policy import Access, allow
from hub.torrents import actions, queries
from hub.torrents.metadata import MetadataError, parse_ids
from hub.torrents.metadata import provider as metadata_provider

bp = Blueprint("api_torrents", __name__, url_prefix="/api/v1")

STATUSES = ("approved", "pending", "postponed", "rejected", "any")

READ = "torrents:read"
WRITE = "torrents:write"
MODERATE = "torrents:moderate"




def torrent_json(t: queries.TorrentRow, *, staff: bool, own: bool) -> dict[str, Any]:
    """A torrent as the API shows it; anonymous uploaders stay hidden from members."""
    show_uploader = not t.is_anonymous or staff or own
    out: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "info_hash": t.info_hash.hex(),
        "info_hash_v2": t.info_hash_v2.hex() if t.info_hash_v2 else None,
        "category": {"id": t.category_id, "slug": t.category_slug, "name": t.category_name},
        "size": t.size,
        "file_count": t.file_count,
        "uploader": t.uploader_name if show_uploader else None,
        "anonymous": t.is_anonymous,
        "status": t.moderation_status,
        "freeleech": t.is_freeleech,
        "freeleech_until": t.freeleech_until.isoformat() if t.freeleech_until else None,
        "neutral_leech": t.is_neutral_leech,
        "double_upload": t.is_double_upload,
        "seeders": t.seeders,
        "leechers": t.leechers,
        "snatches": t.times_completed,
        "created_at": t.created_at.isoformat(),
        "url": f"/torrents/{t.id}",
        "download_url": f"/api/v1/torrents/{t.id}/download",
    }
    if staff or own:
        out["moderation_reason"] = t.moderation_reason
    return out


@dataclass
class UploadForm:
    file: File
    category_id: int
    name: str = ""
    description: str = ""
    tags: str = ""
    tmdb_id: str = ""
    imdb_id: str = ""
    igdb_id: str = ""
    musicbrainz_id: str = ""
    anonymous: bool = False


@bp.post("/torrents")
@allow(Access.MEMBER, right="upload", token_scope=WRITE)
@validate_request(UploadForm, source=DataSource.FORM_MULTIPART)
async def upload(data: UploadForm) -> Any:
    """Upload a .torrent (multipart field `file`) → 201 {id, info_hash, status}."""
    hub = current_hub()
    limit = hub.settings.max_torrent_file_bytes
    raw = data.file.read(limit + 1)
    try:
        ids = parse_ids(
            tmdb_id=data.tmdb_id,
            imdb_id=data.imdb_id,
            igdb_id=data.igdb_id,
            musicbrainz_id=data.musicbrainz_id,
        )
        torrent_id = await actions.upload_torrent(
            hub,
            viewer(),
            raw,
            name=data.name,
            description=data.description,
            category_id=data.category_id,
            tags=data.tags,
            ids=ids,
            anonymous=data.anonymous,
        )
    except MetadataError as exc:
        raise ApiError(400, exc.message, exc.field) from None
    async with hub.pool.acquire() as conn:
        t = await queries.select_torrent(conn, torrent_id)
    assert t is not None
    body = {
        "id": t.id,
        "info_hash": t.info_hash.hex(),
        "info_hash_v2": t.info_hash_v2.hex() if t.info_hash_v2 else None,
        "status": t.moderation_status,
        "url": f"/torrents/{t.id}",
    }
    return jsonify(body), 201, {"Location": f"/api/v1/torrents/{t.id}"}


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number", name) from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}", name)
    return value


def browse_filters_from_args() -> queries.BrowseFilters:
    """Filters from the query string, shared by the browse page and the list API."""
    who = viewer()
    sort = request.args.get("sort", "added") or "added"
    if sort not in queries.SORTS:
        raise ApiError(400, f"sort must be one of {', '.join(queries.SORTS)}", "sort")
    order = request.args.get("order", "desc") or "desc"
    if order not in ("asc", "desc"):
        raise ApiError(400, "order must be asc or desc", "order")
    status = request.args.get("status", "approved") or "approved"
    if status not in STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(STATUSES)}", "status")
    uploader = (request.args.get("uploader") or "").strip() or None
    own_listing = uploader is not None and uploader.lower() == who.username.lower()
    if status != "approved" and not (who.is_moderator or own_listing):
        raise ApiError(
            403, "only staff list unapproved torrents, except your own (uploader=you)", "status"
        )
    category = request.args.get("category") or None
    category_id = None
    if category is not None:
        category_id = _int_arg("category", 0, 1, 2**31 - 1)
    return queries.BrowseFilters(
        category_id=category_id,
        tag=(request.args.get("tag") or "").strip().lower() or None,
        freeleech=request.args.get("freeleech") in ("1", "true", "on", "yes"),
        uploader=uploader,
        q=(request.args.get("q") or "").strip()[:200] or None,
        sort=sort,
        descending=order == "desc",
        page=_int_arg("page", 1, 1, 100_000),
        per_page=_int_arg("per_page", 50, 1, 100),
        reveal_anonymous=who.is_moderator,
        viewer_id=who.user_id,
        status=status,
    )


@bp.get("/torrents")
@allow(Access.MEMBER, token_scope=READ)
async def list_torrents() -> Any:
    """Approved torrents: ?q, category, tag, freeleech, uploader, sort, order, page;
    `status` (pending, postponed, rejected, any) for staff, or with uploader=<yourself>."""
    f = browse_filters_from_args()
    who = viewer()
    async with current_hub().pool.acquire() as conn:
        rows, total = await queries.browse(conn, f)
        tags = await queries.select_shown_tags_for(conn, [t.id for t in rows])
    items = []
    for t in rows:
        item = torrent_json(t, staff=who.is_moderator, own=t.uploader_id == who.user_id)
        item["tags"] = tags.get(t.id, [])
        items.append(item)
    return jsonify(items=items, total=total, page=f.page, per_page=f.per_page)


async def _visible(torrent_id: int) -> queries.TorrentRow:
    who = viewer()
    async with current_hub().pool.acquire() as conn:
        t = await queries.select_torrent(conn, torrent_id)
    if t is None or not actions.can_see(who, t) or (t.is_deleted and not who.is_moderator):
        raise ApiError(404, "no such torrent")
    return t


@bp.get("/torrents/<int:torrent_id>")
@allow(Access.MEMBER, token_scope=READ)
async def get_torrent(torrent_id: int) -> Any:
    who = viewer()
    t = await _visible(torrent_id)
    async with current_hub().pool.acquire() as conn:
        files = await queries.select_files(conn, torrent_id)
        tags = await queries.select_tags(conn, torrent_id, who.user_id, shown_only=False)
    body = torrent_json(t, staff=who.is_moderator, own=t.uploader_id == who.user_id)
    body["description"] = t.description
    body["description_html"] = t.description_html
    body["files"] = [{"path": f["path"], "size": f["size"]} for f in files]
    body["tags"] = [
        {"name": g.name, "score": g.score, "my_vote": g.my_vote, "shown": g.score > 0} for g in tags
    ]
    ids = metadata_ids(t)
    body["metadata"] = {
        "tmdb_id": t.tmdb_id,
        "imdb_id": t.imdb_id,
        "igdb_id": t.igdb_id,
        "musicbrainz_id": str(t.musicbrainz_id) if t.musicbrainz_id else None,
        "links": [{"label": link.label, "url": link.url} for link in metadata_provider.links(ids)],
    }
    return jsonify(body)


def metadata_ids(t: queries.TorrentRow) -> Any:
    from hub.torrents.metadata import ExternalIds

    return ExternalIds(t.tmdb_id, t.imdb_id, t.igdb_id, t.musicbrainz_id)


async def download_response(torrent_id: int) -> Response:
    filename, body = await actions.torrent_for_download(current_hub(), viewer(), torrent_id)
    response = Response(body, mimetype="application/x-bittorrent")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"  # it holds the member's passkey
    return response


@bp.get("/torrents/<int:torrent_id>/download")
@allow(Access.MEMBER, token_scope=READ)
async def download(torrent_id: int) -> Any:
    """The .torrent with the member's own announce URL (application/x-bittorrent)."""
    return await download_response(torrent_id)


@dataclass
class ReasonBody:
    reason: str = ""


@bp.post("/torrents/<int:torrent_id>/approve")
@allow(Access.MODERATOR, token_scope=MODERATE)
async def approve(torrent_id: int) -> Any:
    await actions.approve_torrent(current_hub(), viewer(), torrent_id)
    return jsonify(id=torrent_id, status="approved")


@bp.post("/torrents/<int:torrent_id>/reject")
@allow(Access.MODERATOR, token_scope=MODERATE)
@validate_request(ReasonBody)
async def reject(torrent_id: int, data: ReasonBody) -> Any:
    await actions.reject_torrent(current_hub(), viewer(), torrent_id, data.reason)
    return jsonify(id=torrent_id, status="rejected", reason=data.reason.strip())


@bp.post("/torrents/<int:torrent_id>/postpone")
@allow(Access.MODERATOR, token_scope=MODERATE)
async def postpone(torrent_id: int) -> Any:
    """Postpone review; an optional JSON body {"reason": "..."} is shown to staff."""
    body = await request.get_json(silent=True)
    reason = body.get("reason") if isinstance(body, dict) else None
    if reason is not None and not isinstance(reason, str):
        raise ApiError(400, "reason must be text", "reason")
    await actions.postpone_torrent(current_hub(), viewer(), torrent_id, reason)
    return jsonify(id=torrent_id, status="postponed")


@dataclass
class FlagsBody:
    freeleech: bool = False
    neutral_leech: bool = False
    double_upload: bool = False
    freeleech_until: datetime | None = None


@bp.post("/torrents/<int:torrent_id>/flags")
@allow(Access.MODERATOR, token_scope=MODERATE)
@validate_request(FlagsBody)
async def set_flags(torrent_id: int, data: FlagsBody) -> Any:
    """Freeleech (optionally until a time), neutral leech, double upload."""
    await actions.set_flags(
        current_hub(),
        viewer(),
        torrent_id,
        freeleech=data.freeleech,
        neutral=data.neutral_leech,
        double_upload=data.double_upload,
        freeleech_until=data.freeleech_until,
    )
    return jsonify(
        id=torrent_id,
        freeleech=data.freeleech,
        neutral_leech=data.neutral_leech,
        double_upload=data.double_upload,
        freeleech_until=data.freeleech_until.isoformat() if data.freeleech_until else None,
    )


@dataclass
class TagBody:
    name: str


@dataclass
class VoteBody:
    vote: int


@bp.get("/torrents/<int:torrent_id>/tags")
@allow(Access.MEMBER, token_scope=READ)
async def list_tags(torrent_id: int) -> Any:
    await _visible(torrent_id)
    async with current_hub().pool.acquire() as conn:
        tags = await queries.select_tags(conn, torrent_id, viewer().user_id, shown_only=False)
    return jsonify(
        tags=[
            {"name": g.name, "score": g.score, "my_vote": g.my_vote, "shown": g.score > 0}
            for g in tags
        ]
    )


@bp.post("/torrents/<int:torrent_id>/tags")
@allow(Access.MEMBER, token_scope=WRITE)
@validate_request(TagBody)
async def propose_tag(torrent_id: int, data: TagBody) -> Any:
    """Propose a tag (it starts with the proposer's +1)."""
    score = await actions.propose_tag(current_hub(), viewer(), torrent_id, data.name)
    return jsonify(name=data.name.strip().lower(), score=score), 201


@bp.post("/torrents/<int:torrent_id>/tags/<tag>/vote")
@allow(Access.MEMBER, token_scope=WRITE)
@validate_request(VoteBody)
async def vote_tag(torrent_id: int, tag: str, data: VoteBody) -> Any:
    """Vote a tag up (1), down (-1) or withdraw the vote (0)."""
    score = await actions.vote_tag(current_hub(), viewer(), torrent_id, tag, data.vote)
    return jsonify(name=tag.lower(), score=score, my_vote=data.vote, shown=score > 0)


@dataclass
class WindowBody:
    ends_at: datetime
    starts_at: datetime | None = None
    double_upload: bool = False
    reason: str = ""


@bp.get("/freeleech")
@allow(Access.MEMBER, token_scope=READ)
async def site_freeleech() -> Any:
    """Current and upcoming site-wide freeleech windows."""
    async with current_hub().pool.acquire() as conn:
        windows = await queries.select_site_windows(conn)
    return jsonify(windows=[w.payload() for w in windows])


@bp.post("/freeleech")
@allow(Access.ADMIN, token_scope=MODERATE)
@validate_request(WindowBody)
async def start_site_freeleech(data: WindowBody) -> Any:
    window = await actions.start_site_freeleech(
        current_hub(),
        viewer(),
        ends_at=data.ends_at,
        starts_at=data.starts_at,
        double_upload=data.double_upload,
        reason=data.reason,
    )
    return jsonify(window.payload()), 201


@bp.post("/freeleech/<int:window_id>/end")
@allow(Access.ADMIN, token_scope=MODERATE)
async def end_site_freeleech(window_id: int) -> Any:
    window = await actions.end_site_freeleech(current_hub(), viewer(), window_id)
    return jsonify(window.payload())


@bp.get("/categories")
@allow(Access.MEMBER, token_scope=READ)
async def categories() -> Any:
    async with current_hub().pool.acquire() as conn:
        cats = await queries.select_categories(conn)
    return jsonify(
        categories=[
            {"id": c.id, "parent_id": c.parent_id, "slug": c.slug, "name": c.name} for c in cats
        ]
    )


__all__ = ["bp", "browse_filters_from_args", "download_response", "torrent_json"]
