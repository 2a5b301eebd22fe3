"""External catalogue ids (TMDB, IMDb, IGDB, MusicBrainz) for a torrent.

`MetadataProvider` is the seam for fetching titles, posters and years later. The one
implementation here, `OfflineProvider`, makes no network calls: it validates the ids,
stores nothing beyond them, and links to each catalogue's page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

_IMDB = re.compile(r"^tt[0-9]{7,10}$")


class MetadataError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class ExternalIds:
    tmdb_id: int | None = None
    imdb_id: str | None = None
    igdb_id: int | None = None
    musicbrainz_id: UUID | None = None

    @property
    def any(self) -> bool:
        return any(
            v is not None for v in (self.tmdb_id, self.imdb_id, self.igdb_id, self.musicbrainz_id)
        )


@dataclass(frozen=True)
class ExternalLink:
    provider: str
    label: str
    url: str


@dataclass(frozen=True)
class MetadataResult:
    ids: ExternalIds
    data: dict[str, Any] = field(default_factory=dict)  # what a provider fetched, if anything


class MetadataProvider(Protocol):
    async def lookup(self, ids: ExternalIds) -> MetadataResult: ...

    def links(self, ids: ExternalIds) -> list[ExternalLink]: ...


def parse_ids(
    *,
    tmdb_id: object = None,
    imdb_id: object = None,
    igdb_id: object = None,
    musicbrainz_id: object = None,
) -> ExternalIds:
    """Ids from form or JSON values ('' means absent); MetadataError names a bad field."""

    def blank(v: object) -> bool:
        return v is None or (isinstance(v, str) and not v.strip())

    def positive(name: str, v: object) -> int | None:
        if blank(v):
            return None
        try:
            n = int(str(v).strip())
        except ValueError:
            raise MetadataError(name, f"{name} must be a positive whole number") from None
        if n <= 0 or n > 2**31 - 1:
            raise MetadataError(name, f"{name} must be a positive whole number")
        return n

    imdb: str | None = None
    if not blank(imdb_id):
        imdb = str(imdb_id).strip()
        if not _IMDB.match(imdb):
            raise MetadataError("imdb_id", "imdb_id looks like tt0111161 (tt and 7-10 digits)")
    mbid: UUID | None = None
    if not blank(musicbrainz_id):
        try:
            mbid = UUID(str(musicbrainz_id).strip())
        except ValueError:
            raise MetadataError("musicbrainz_id", "musicbrainz_id must be a UUID") from None
    return ExternalIds(
        tmdb_id=positive("tmdb_id", tmdb_id),
        imdb_id=imdb,
        igdb_id=positive("igdb_id", igdb_id),
        musicbrainz_id=mbid,
    )


class OfflineProvider:
    """Stores and shows the ids; fetches nothing."""

    async def lookup(self, ids: ExternalIds) -> MetadataResult:
        return MetadataResult(ids=ids)

    def links(self, ids: ExternalIds) -> list[ExternalLink]:
        out: list[ExternalLink] = []
        if ids.tmdb_id is not None:
            out.append(
                ExternalLink(
                    "tmdb", f"TMDB {ids.tmdb_id}", f"https://www.themoviedb.org/movie/{ids.tmdb_id}"
                )
            )
        if ids.imdb_id is not None:
            out.append(
                ExternalLink(
                    "imdb", f"IMDb {ids.imdb_id}", f"https://www.imdb.com/title/{ids.imdb_id}/"
                )
            )
        if ids.igdb_id is not None:
            # IGDB pages are addressed by slug; the id is shown for staff to look up.
            out.append(ExternalLink("igdb", f"IGDB {ids.igdb_id}", "https://www.igdb.com/"))
        if ids.musicbrainz_id is not None:
            out.append(
                ExternalLink(
                    "musicbrainz",
                    f"MusicBrainz {ids.musicbrainz_id}",
                    f"https://musicbrainz.org/release/{ids.musicbrainz_id}",
                )
            )
        return out


provider: MetadataProvider = OfflineProvider()
