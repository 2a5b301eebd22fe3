"""The announce query parser: bytes in, bytes out, whatever encoding the client chose."""

import re
from urllib.parse import quote, quote_plus

import pytest

from hub.tracker.query import BadRequest, info_hashes, parse, twenty_bytes

AWKWARD = bytes([0x20, 0x2B, 0x25, 0x3D, 0x26, 0x00, 0xFF, 0x41, 0x61, 0x7E] * 2)


def _lower_hex(value: bytes) -> str:
    return re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(value))


@pytest.mark.parametrize("encode", [quote, quote_plus, _lower_hex])
def test_info_hash_survives_every_percent_encoding(encode):
    query = f"info_hash={encode(AWKWARD)}&port=1".encode()
    assert twenty_bytes(parse(query), b"info_hash") == AWKWARD


def test_space_as_plus_at_the_end_keeps_all_twenty_bytes():
    value = bytes(19 * [0x41]) + b" "
    query = f"peer_id={quote_plus(value)}".encode()
    assert twenty_bytes(parse(query), b"peer_id") == value


def test_scrape_hashes_decode_like_announce_hashes():
    query = f"info_hash={quote_plus(AWKWARD)}&info_hash={quote(AWKWARD)}".encode()
    assert info_hashes(query) == [AWKWARD, AWKWARD]


def test_wrong_length_names_the_field():
    with pytest.raises(BadRequest, match="invalid info_hash: must be 20 bytes, got 3"):
        twenty_bytes(parse(b"info_hash=abc"), b"info_hash")
