"""Announce and scrape query strings, parsed as bytes.

`info_hash` and `peer_id` are arbitrary binary: decoding the query to str and back would
mangle them, so the raw query string is split and percent-decoded here byte for byte.
"""

from __future__ import annotations

import binascii
import re
from urllib.parse import unquote_to_bytes

EVENTS = frozenset({b"started", b"stopped", b"completed", b"paused"})
# Regular announces arrive with no event or one of these spellings.
REGULAR_EVENTS = frozenset({b"", b"update", b"none", b"empty"})
MAX_NUMBER = 2**62


class BadRequest(Exception):
    """A request the tracker answers with a `failure reason` (still HTTP 200)."""


_LOWER_ESCAPE = re.compile(rb"%[0-9A-Fa-f]?[a-f]")
_a2b_qp = binascii.a2b_qp


def _unquote(value: bytes) -> bytes:
    if b"+" in value:
        # Form encoding (Python's urlencode, some clients) writes byte 0x20 as "+"; a real
        # "+" arrives as %2B. As "%20" rather than " ": the fast path below would strip
        # a trailing space, as quoted-printable does at the end of a line.
        value = value.replace(b"+", b"%20")
    if b"%" not in value:
        return value
    # Percent-encoding with upper-case hex is quoted-printable with `%` for `=`, which
    # binascii decodes in C, several times faster than urllib's Python loop. Soft line
    # breaks cannot occur: a query string holds no CR or LF.
    if _LOWER_ESCAPE.search(value) is None:
        return _a2b_qp(value.replace(b"=", b"=3D").replace(b"%", b"="))
    return unquote_to_bytes(value)


def parse(query: bytes) -> dict[bytes, bytes]:
    """The raw (still percent-encoded) last value of each key."""
    params: dict[bytes, bytes] = {}
    for part in query.split(b"&"):
        key, _, value = part.partition(b"=")
        params[key] = value
    return params


def info_hashes(query: bytes) -> list[bytes]:
    """Every `info_hash` of a scrape, decoded."""
    return [_unquote(part[10:]) for part in query.split(b"&") if part.startswith(b"info_hash=")]


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
