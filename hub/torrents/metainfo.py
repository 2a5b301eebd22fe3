"""Read, check and rewrite uploaded .torrent files.

An upload is refused with one precise message naming the first problem found. An accepted
file is rewritten the way private trackers do: `private=1` and the site's `source` go into
the info dictionary, and the info hash is computed from that re-encoded dictionary, so the
hash the site stores is the one every member's client will announce.

v1 and hybrid (v1+v2) torrents are accepted. A hybrid keeps its SHA-1 info hash (what v1
clients announce) and the full SHA-256 (`info_hash_v2`; v2 clients announce its first 20
bytes). v2-only torrents are refused: every swarm here is keyed by a v1 info hash, and
clients that can make a v2 torrent can make a hybrid one.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import bencodepy

# One pebibyte: nothing real is larger, and it keeps sums far from bigint overflow.
MAX_TOTAL_SIZE = 1 << 50
MAX_PIECE_LENGTH = 1 << 28  # 256 MiB; libtorrent refuses more
MIN_V2_PIECE_LENGTH = 16 * 1024
MAX_PATH_CHARS = 4096
MAX_NAME_CHARS = 512
# Only these top-level keys survive; trackers, DHT nodes and web seeds are the site's to set.
KEPT_TOP_LEVEL = (b"comment", b"created by", b"creation date", b"encoding", b"piece layers")


class MetainfoError(ValueError):
    """The upload is not an acceptable .torrent; the message says exactly why."""


@dataclass(frozen=True)
class TorrentFile:
    path: str
    size: int


@dataclass(frozen=True)
class Metainfo:
    name: str
    info_hash: bytes  # SHA-1 of the re-encoded info dictionary
    info_hash_v2: bytes | None  # full SHA-256 of it, for hybrids
    size: int  # payload bytes, padding files excluded
    files: tuple[TorrentFile, ...]
    piece_length: int
    piece_count: int
    torrent_data: bytes  # the re-encoded .torrent without any announce URL
    comment: str = ""

    @property
    def is_hybrid(self) -> bool:
        return self.info_hash_v2 is not None


def parse(data: bytes, *, max_bytes: int, max_files: int, source: str = "") -> Metainfo:
    """Check `data` and return the rewritten torrent, or raise MetainfoError."""
    if not data:
        raise MetainfoError("the file is empty")
    if len(data) > max_bytes:
        raise MetainfoError(f"the file is {len(data)} bytes; the limit is {max_bytes} bytes")
    top = _decode(data)
    if not isinstance(top, dict):
        raise MetainfoError("not a torrent: the file must be a bencoded dictionary")
    if b"info" not in top:
        raise MetainfoError("missing 'info' dictionary")
    info = top[b"info"]
    if not isinstance(info, dict):
        raise MetainfoError("'info' must be a dictionary")

    name = _name(info)
    piece_length = _int(info, b"piece length", "info.piece length")
    if piece_length <= 0:
        raise MetainfoError("info.piece length must be positive")
    if piece_length > MAX_PIECE_LENGTH:
        raise MetainfoError(
            f"info.piece length {piece_length} is larger than {MAX_PIECE_LENGTH} bytes"
        )

    has_v1 = b"pieces" in info
    meta_version = info.get(b"meta version")
    has_v2 = b"file tree" in info or meta_version is not None
    if has_v2 and not has_v1:
        raise MetainfoError(
            "v2-only torrents are not accepted: create a hybrid (v1+v2) torrent instead"
        )
    if not has_v1:
        raise MetainfoError("missing info.pieces")

    v1_files, v1_total = _v1_files(info, name, max_files)
    payload = [f for f in v1_files if not f.is_padding]
    size = sum(f.size for f in payload)
    if size <= 0:
        raise MetainfoError("the torrent holds no data: every file is empty")

    pieces = info[b"pieces"]
    if not isinstance(pieces, bytes):
        raise MetainfoError("info.pieces must be a byte string")
    if len(pieces) % 20 != 0:
        raise MetainfoError(
            f"info.pieces is {len(pieces)} bytes, not a multiple of 20 (one SHA-1 per piece)"
        )
    piece_count = len(pieces) // 20
    expected = math.ceil(v1_total / piece_length)
    if piece_count != expected:
        raise MetainfoError(
            f"info.pieces holds {piece_count} piece hashes but {v1_total} bytes in pieces of "
            f"{piece_length} need {expected}"
        )

    if has_v2:
        _check_v2(top, info, piece_length, payload, max_files)

    new_info = OrderedDict(info)
    new_info[b"private"] = 1
    if source:
        new_info[b"source"] = source.encode()
    else:
        new_info.pop(b"source", None)
    encoded_info = bencodepy.encode(_canonical(new_info))
    new_top: dict[bytes, Any] = {k: top[k] for k in KEPT_TOP_LEVEL if k in top}
    new_top[b"info"] = new_info
    comment = top.get(b"comment")
    return Metainfo(
        name=name,
        info_hash=hashlib.sha1(encoded_info).digest(),  # noqa: S324 - BitTorrent v1 defines it
        info_hash_v2=hashlib.sha256(encoded_info).digest() if has_v2 else None,
        size=size,
        files=tuple(TorrentFile(f.path, f.size) for f in payload),
        piece_length=piece_length,
        piece_count=piece_count,
        torrent_data=bencodepy.encode(_canonical(new_top)),
        comment=_text(comment) if isinstance(comment, bytes) else "",
    )


def with_announce(torrent_data: bytes, announce_url: str) -> bytes:
    """The stored torrent with one member's announce URL; the info dictionary is untouched."""
    top = bencodepy.decode(torrent_data)
    assert isinstance(top, dict)
    top[b"announce"] = announce_url.encode()
    return bencodepy.encode(_canonical(top))


def info_hash_of(torrent_data: bytes) -> bytes:
    """SHA-1 of the info dictionary exactly as it is encoded in `torrent_data`."""
    top = bencodepy.decode(torrent_data)
    assert isinstance(top, dict)
    return hashlib.sha1(bencodepy.encode(_canonical(top[b"info"]))).digest()  # noqa: S324


# --- decoding ---------------------------------------------------------------------------


def _decode(data: bytes) -> Any:
    if data[:1] != b"d":
        raise MetainfoError("broken bencoding: a torrent starts with 'd' (a dictionary)")
    try:
        value = bencodepy.decode(data)
    except TypeError:
        # bencodepy used a list or dictionary as a dictionary key.
        raise MetainfoError("broken bencoding: a dictionary key is not a string") from None
    except (bencodepy.DecodingError, ValueError, IndexError, RecursionError) as exc:
        raise MetainfoError(f"broken bencoding: {exc}") from None
    # bencodepy is lenient: it ignores trailing bytes and accepts "i01e", "i-0e" and repeated
    # keys. Re-encoding the exact structure read must give back exactly as many bytes.
    try:
        again = bencodepy.encode(value)
    except bencodepy.EncodingError as exc:  # pragma: no cover - decode only yields encodables
        raise MetainfoError(f"broken bencoding: {exc}") from None
    _check_keys(value)
    if len(again) != len(data):
        if data.startswith(again):
            raise MetainfoError(
                f"broken bencoding: {len(data) - len(again)} unexpected bytes after the end"
            )
        raise MetainfoError("broken bencoding: non-canonical integers or repeated dictionary keys")
    return value


def _check_keys(value: Any, depth: int = 0) -> None:
    """Dictionary keys must be byte strings (bencodepy accepts any value as a key)."""
    if depth > 64:
        raise MetainfoError("broken bencoding: nested more than 64 levels deep")
    if isinstance(value, dict):
        for key, child in value.items():
            if not isinstance(key, bytes):
                raise MetainfoError("broken bencoding: a dictionary key is not a string")
            _check_keys(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            _check_keys(child, depth + 1)


def _canonical(value: Any) -> Any:
    """Dictionaries with keys in sorted order, as BEP 3 requires and info hashes assume."""
    if isinstance(value, dict):
        return OrderedDict((k, _canonical(value[k])) for k in sorted(value))
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _int(d: dict[bytes, Any], key: bytes, label: str) -> int:
    if key not in d:
        raise MetainfoError(f"missing {label}")
    value = d[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise MetainfoError(f"{label} must be an integer")
    return value


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _utf8(raw: Any, label: str) -> str:
    if not isinstance(raw, bytes):
        raise MetainfoError(f"{label} must be a byte string")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MetainfoError(f"{label} is not valid UTF-8") from None


def _name(info: dict[bytes, Any]) -> str:
    if b"name" not in info:
        raise MetainfoError("missing info.name")
    raw = info.get(b"name.utf-8", info[b"name"])
    name = _utf8(raw, "info.name")
    _check_component(name, "info.name")
    if len(name) > MAX_NAME_CHARS:
        raise MetainfoError(f"info.name is longer than {MAX_NAME_CHARS} characters")
    return name


def _check_component(part: str, label: str) -> None:
    """One path element: a plain name, never a way out of the download folder."""
    if part == "":
        raise MetainfoError(f"{label} has an empty path component")
    if part in (".", ".."):
        raise MetainfoError(f"{label} has a path traversal component {part!r}")
    if "/" in part or "\\" in part:
        raise MetainfoError(f"{label} component {part!r} contains a path separator")
    if len(part) >= 2 and part[1] == ":" and part[0].isalpha():
        raise MetainfoError(f"{label} component {part!r} is an absolute (drive) path")
    if any(unicodedata.category(ch) == "Cc" for ch in part):
        raise MetainfoError(f"{label} component {part!r} contains control characters")


@dataclass(frozen=True)
class _File:
    path: str
    size: int
    is_padding: bool


def _v1_files(info: dict[bytes, Any], name: str, max_files: int) -> tuple[list[_File], int]:
    if b"length" in info and b"files" in info:
        raise MetainfoError("info has both 'length' and 'files'; a torrent is one or the other")
    if b"length" in info:
        length = _int(info, b"length", "info.length")
        if length < 0:
            raise MetainfoError("info.length is negative")
        if length > MAX_TOTAL_SIZE:
            raise MetainfoError(f"info.length {length} is absurdly large")
        return [_File(name, length, False)], length
    if b"files" not in info:
        raise MetainfoError("info needs 'length' (one file) or 'files' (several)")
    raw_files = info[b"files"]
    if not isinstance(raw_files, list):
        raise MetainfoError("info.files must be a list")
    if not raw_files:
        raise MetainfoError("info.files is empty")
    if len(raw_files) > max_files:
        raise MetainfoError(f"info.files lists {len(raw_files)} files; the limit is {max_files}")
    files: list[_File] = []
    total = 0
    seen: set[str] = set()
    for i, entry in enumerate(raw_files):
        label = f"info.files[{i}]"
        if not isinstance(entry, dict):
            raise MetainfoError(f"{label} must be a dictionary")
        length = _int(entry, b"length", f"{label}.length")
        if length < 0:
            raise MetainfoError(f"{label}.length is negative")
        raw_path = entry.get(b"path.utf-8", entry.get(b"path"))
        if raw_path is None:
            raise MetainfoError(f"missing {label}.path")
        if not isinstance(raw_path, list) or not raw_path:
            raise MetainfoError(f"{label}.path must be a non-empty list")
        parts = [_utf8(p, f"{label}.path") for p in raw_path]
        for part in parts:
            _check_component(part, f"{label}.path")
        path = "/".join([name, *parts])
        if len(path) > MAX_PATH_CHARS:
            raise MetainfoError(f"{label}.path is longer than {MAX_PATH_CHARS} characters")
        if path in seen:
            raise MetainfoError(f"{label}.path {path!r} appears twice")
        seen.add(path)
        attr = entry.get(b"attr", b"")
        is_padding = isinstance(attr, bytes) and b"p" in attr
        files.append(_File(path, length, is_padding))
        total += length
        if total > MAX_TOTAL_SIZE:
            raise MetainfoError(f"the files add up to more than {MAX_TOTAL_SIZE} bytes")
    return files, total


def _check_v2(
    top: dict[bytes, Any],
    info: dict[bytes, Any],
    piece_length: int,
    v1_payload: list[_File],
    max_files: int,
) -> None:
    if info.get(b"meta version") != 2:
        raise MetainfoError("info.meta version must be 2 when info.file tree is present")
    if b"file tree" not in info:
        raise MetainfoError("missing info.file tree (required by meta version 2)")
    if piece_length < MIN_V2_PIECE_LENGTH or piece_length & (piece_length - 1):
        raise MetainfoError(
            "info.piece length must be a power of two of at least 16 KiB in a v2 torrent"
        )
    tree = info[b"file tree"]
    if not isinstance(tree, dict) or not tree:
        raise MetainfoError("info.file tree must be a non-empty dictionary")
    leaves: list[tuple[str, int, bytes | None]] = []
    _walk_tree(tree, [], leaves, max_files)
    layers = top.get(b"piece layers", {})
    if not isinstance(layers, dict):
        raise MetainfoError("'piece layers' must be a dictionary")
    for path, length, root in leaves:
        if length > piece_length:
            layer = layers.get(root)
            if not isinstance(layer, bytes):
                raise MetainfoError(f"'piece layers' has no hashes for file {path!r}")
            expected = math.ceil(length / piece_length) * 32
            if len(layer) != expected:
                raise MetainfoError(
                    f"'piece layers' for {path!r} is {len(layer)} bytes; expected {expected}"
                )
    # A hybrid is only safe if both halves describe the same files.
    # BEP 52: a single-file tree is {name: file}; a multi-file tree omits the root folder.
    name = _name(info)
    single = b"length" in info
    v2_set = sorted((p if single else f"{name}/{p}", n) for p, n, _r in leaves)
    v1_set = sorted((f.path, f.size) for f in v1_payload)
    if v2_set != v1_set:
        raise MetainfoError("hybrid torrent: info.files and info.file tree list different files")


def _walk_tree(
    node: dict[bytes, Any],
    prefix: list[str],
    leaves: list[tuple[str, int, bytes | None]],
    max_files: int,
) -> None:
    for raw_key, child in node.items():
        label = "info.file tree"
        if raw_key == b"":
            if not prefix:
                raise MetainfoError("info.file tree has a file entry with no name")
            if not isinstance(child, dict):
                raise MetainfoError(f"{label} entry {'/'.join(prefix)!r} must be a dictionary")
            length = _int(child, b"length", f"{label} length of {'/'.join(prefix)!r}")
            if length < 0:
                raise MetainfoError(f"{label} length of {'/'.join(prefix)!r} is negative")
            root = child.get(b"pieces root")
            if length > 0 and (not isinstance(root, bytes) or len(root) != 32):
                raise MetainfoError(
                    f"{label} 'pieces root' of {'/'.join(prefix)!r} must be 32 bytes"
                )
            leaves.append(("/".join(prefix), length, root))
            if len(leaves) > max_files:
                raise MetainfoError(f"info.file tree lists more than {max_files} files")
            continue
        part = _utf8(raw_key, label)
        _check_component(part, label)
        if not isinstance(child, dict):
            raise MetainfoError(f"{label} node {part!r} must be a dictionary")
        _walk_tree(child, [*prefix, part], leaves, max_files)
