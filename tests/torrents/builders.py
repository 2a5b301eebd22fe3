"""Build .torrent files for tests: hand-made v1 files and libtorrent-made hybrids."""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import bencodepy

PIECE = 16384


def v1_info(
    name: str | None = None,
    files: list[tuple[list[str], int]] | None = None,
    length: int | None = 40000,
    piece_length: int = PIECE,
) -> OrderedDict[bytes, Any]:
    """A v1 info dictionary with a random name (so each call is a new info hash)."""
    name = name or f"test-{uuid.uuid4().hex[:12]}"
    info: OrderedDict[bytes, Any] = OrderedDict()
    total = 0
    if files is not None:
        info[b"files"] = [
            OrderedDict([(b"length", size), (b"path", [p.encode() for p in path])])
            for path, size in files
        ]
        total = sum(size for _, size in files)
    else:
        assert length is not None
        info[b"length"] = length
        total = length
    info[b"name"] = name.encode()
    info[b"piece length"] = piece_length
    count = math.ceil(total / piece_length)
    info[b"pieces"] = b"".join(hashlib.sha1(os.urandom(8)).digest() for _ in range(count))
    return info


def torrent(info: Any, **top: Any) -> bytes:
    d: OrderedDict[bytes, Any] = OrderedDict()
    d[b"announce"] = b"http://elsewhere.example/announce"
    for k, v in top.items():
        d[k.replace("_", " ").encode()] = v
    d[b"info"] = info
    return bencodepy.encode(d)


def v1_torrent(**kw: Any) -> bytes:
    return torrent(v1_info(**kw))


def hybrid_torrent(files: dict[str, int] | None = None) -> tuple[bytes, Path]:
    """A hybrid v1+v2 torrent made by libtorrent 2 over real random files; returns the
    file and the folder holding its content (so a test can seed it)."""
    import libtorrent as lt

    root = Path(tempfile.mkdtemp(prefix="hub-hybrid-"))
    name = f"hybrid-{uuid.uuid4().hex[:10]}"
    files = files or {"a.bin": 70000, "sub/b.bin": 30000}
    for rel, size in files.items():
        p = root / name / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(size))
    t = lt.create_torrent(lt.list_files(str(root / name)))  # libtorrent 2: hybrid by default
    lt.set_piece_hashes(t, str(root))
    return lt.bencode(t.generate()), root
