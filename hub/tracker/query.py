"""Announce and scrape query strings, parsed as bytes.

`info_hash` and `peer_id` are arbitrary binary: decoding the query to str and back would
mangle them, so the raw query string is split and percent-decoded here byte for byte.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

EVENTS = frozenset({b"started", b"stopped", b"completed", b"paused"})
# Regular announces arrive with no event or one of these spellings.
REGULAR_EVENTS = frozenset({b"", b"update", b"none", b"empty"})
MAX_NUMBER = 2**62


class BadRequest(Exception):
    """A request the tracker answers with a `failure reason` (still HTTP 200)."""


def _unquote(value: bytes) -> bytes:
    return unquote_to_bytes(value) if b"%" in value else value


def parse(query: bytes) -> tuple[dict[bytes, bytes], list[bytes]]:
    """The last value of each key, and every `info_hash` (scrape takes several)."""
    params: dict[bytes, bytes] = {}
    hashes: list[bytes] = []
    for part in query.split(b"&"):
        key, _, value = part.partition(b"=")
        if key == b"info_hash":
            hashes.append(_unquote(value))
        params[key] = value
    return params, hashes


def twenty_bytes(params: dict[bytes, bytes], name: bytes) -> bytes:
    raw = params.get(name)
    if raw is None:
        raise BadRequest(f"missing {name.decode()}")
    value = _unquote(raw)
    if len(value) != 20:
        raise BadRequest(f"invalid {name.decode()}: must be 20 bytes, got {len(value)}")
    return value


def number(params: dict[bytes, bytes], name: bytes, default: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == b"":
        if default is None:
            raise BadRequest(f"missing {name.decode()}")
        return default
    # isdigit() on bytes is ASCII-only, so "½" or "-1" never sneak through int().
    if not raw.isdigit() or len(raw) > 19:
        raise BadRequest(f"invalid {name.decode()}: not a non-negative integer")
    value = int(raw)
    if value > MAX_NUMBER:
        raise BadRequest(f"invalid {name.decode()}: too large")
    return value
