"""Parsing uploads: every bad input gets a message naming its problem."""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict

import bencodepy
import pytest

from hub.torrents import metainfo
from tests.torrents.builders import hybrid_torrent, torrent, v1_info, v1_torrent


def parse(data: bytes, **kw: object) -> metainfo.Metainfo:
    opts: dict[str, object] = {"max_bytes": 1_000_000, "max_files": 50, "source": "hub"}
    opts.update(kw)
    return metainfo.parse(data, **opts)  # type: ignore[arg-type]


def refused(data: bytes, **kw: object) -> str:
    with pytest.raises(metainfo.MetainfoError) as err:
        parse(data, **kw)
    return str(err.value)


def test_v1_torrent_is_made_private_with_source_and_rehashed() -> None:
    data = v1_torrent()
    m = parse(data)
    top = bencodepy.decode(m.torrent_data)
    info = top[b"info"]
    assert info[b"private"] == 1
    assert info[b"source"] == b"hub"
    assert b"announce" not in top
    assert m.info_hash == hashlib.sha1(bencodepy.encode(info)).digest()
    original = hashlib.sha1(bencodepy.encode(bencodepy.decode(data)[b"info"])).digest()
    assert m.info_hash != original
    assert m.info_hash_v2 is None
    assert m.size == 40000 and m.piece_count == 3


def test_multi_file_paths_are_joined_under_the_name() -> None:
    m = parse(v1_torrent(name="album", files=[(["cd1", "01.flac"], 30000), (["cover.jpg"], 100)]))
    assert [(f.path, f.size) for f in m.files] == [
        ("album/cd1/01.flac", 30000),
        ("album/cover.jpg", 100),
    ]
    assert m.size == 30100


def test_rewritten_torrent_keeps_keys_sorted() -> None:
    m = parse(v1_torrent())
    assert bencodepy.encode(metainfo._canonical(bencodepy.decode(m.torrent_data))) == m.torrent_data


def test_broken_bencoding_is_refused() -> None:
    assert "broken bencoding" in refused(b"d4:infod4:name")
    assert "broken bencoding" in refused(b"this is not a torrent")


def test_trailing_garbage_is_refused() -> None:
    assert "unexpected bytes after the end" in refused(v1_torrent() + b"junk")


def test_non_canonical_integer_is_refused() -> None:
    data = v1_torrent().replace(b"12:piece lengthi16384e", b"12:piece lengthi016384e")
    assert "non-canonical" in refused(data)


def test_missing_info_is_refused() -> None:
    assert refused(bencodepy.encode({b"announce": b"x"})) == "missing 'info' dictionary"


def test_info_that_is_not_a_dictionary_is_refused() -> None:
    assert refused(bencodepy.encode({b"info": b"x"})) == "'info' must be a dictionary"


def test_missing_name_is_refused() -> None:
    info = v1_info()
    del info[b"name"]
    assert refused(torrent(info)) == "missing info.name"


def test_missing_piece_length_is_refused() -> None:
    info = v1_info()
    del info[b"piece length"]
    assert refused(torrent(info)) == "missing info.piece length"


def test_wrong_piece_hash_length_is_refused() -> None:
    info = v1_info()
    info[b"pieces"] = info[b"pieces"][:-1]
    assert "not a multiple of 20" in refused(torrent(info))


def test_wrong_piece_count_is_refused() -> None:
    info = v1_info()
    info[b"pieces"] = info[b"pieces"][:-20]
    assert "holds 2 piece hashes" in refused(torrent(info))


def test_absurd_size_is_refused() -> None:
    info = v1_info()
    info[b"length"] = 1 << 60
    assert "absurdly large" in refused(torrent(info))


def test_negative_length_is_refused() -> None:
    info = v1_info()
    info[b"length"] = -5
    assert refused(torrent(info)) == "info.length is negative"


def test_too_many_files_is_refused() -> None:
    data = v1_torrent(files=[([f"f{i}"], 10) for i in range(6)])
    assert "lists 6 files; the limit is 5" in refused(data, max_files=5)


def test_file_over_the_size_limit_is_refused() -> None:
    data = v1_torrent()
    assert "the limit is 100 bytes" in refused(data, max_bytes=100)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (["..", "etc", "passwd"], "path traversal"),
        (["a", ".", "b"], "path traversal"),
        (["", "b"], "empty path component"),
        (["/etc", "passwd"], "path separator"),
        (["C:", "x"], "absolute (drive) path"),
        (["a\\..\\b"], "path separator"),
        (["a\nb"], "control characters"),
    ],
)
def test_bad_path_components_are_refused(path: list[str], problem: str) -> None:
    data = v1_torrent(files=[(path, 1000), (["ok"], 100)])
    message = refused(data)
    assert problem in message and "info.files[0].path" in message


def test_empty_path_list_is_refused() -> None:
    info = v1_info(files=[(["x"], 100)])
    info[b"files"][0][b"path"] = []
    assert "must be a non-empty list" in refused(torrent(info))


def test_traversal_in_the_name_is_refused() -> None:
    assert "path traversal" in refused(v1_torrent(name=".."))


def test_torrent_of_empty_files_is_refused() -> None:
    info = v1_info(length=0)
    assert "holds no data" in refused(torrent(info))


def test_v2_only_torrent_is_refused_with_a_reason() -> None:
    info: OrderedDict[bytes, object] = OrderedDict(
        [
            (b"file tree", {b"a": {b"": {b"length": 10, b"pieces root": b"x" * 32}}}),
            (b"meta version", 2),
            (b"name", b"a"),
            (b"piece length", 16384),
        ]
    )
    assert "v2-only torrents are not accepted" in refused(torrent(info))


def test_hybrid_made_by_libtorrent_keeps_both_hashes() -> None:
    import libtorrent as lt

    data, _root = hybrid_torrent()
    m = parse(data)
    assert m.is_hybrid
    info = bencodepy.decode(m.torrent_data)[b"info"]
    assert info[b"meta version"] == 2 and info[b"private"] == 1
    encoded = bencodepy.encode(metainfo._canonical(info))
    assert m.info_hash == hashlib.sha1(encoded).digest()
    assert m.info_hash_v2 == hashlib.sha256(encoded).digest()
    ti = lt.torrent_info(lt.bdecode(m.torrent_data))
    assert bytes(ti.info_hashes().v1.to_bytes()) == m.info_hash
    assert bytes(ti.info_hashes().v2.to_bytes()) == m.info_hash_v2
    assert {f.path.split("/", 1)[1] for f in m.files} == {"a.bin", "sub/b.bin"}


def test_hybrid_whose_halves_disagree_is_refused() -> None:
    data, _root = hybrid_torrent()
    top = bencodepy.decode(data)
    top[b"info"][b"files"][0][b"length"] += 1
    assert "different files" in refused(bencodepy.encode(top)) or "piece hashes" in refused(
        bencodepy.encode(top)
    )


def test_announce_url_is_added_without_changing_the_info_hash() -> None:
    m = parse(v1_torrent())
    out = metainfo.with_announce(m.torrent_data, "http://t.example/announce/abc")
    assert bencodepy.decode(out)[b"announce"] == b"http://t.example/announce/abc"
    assert metainfo.info_hash_of(out) == m.info_hash


def test_missing_pieces_is_refused() -> None:
    info = v1_info()
    del info[b"pieces"]
    assert refused(torrent(info)) == "missing info.pieces"


def test_integer_dictionary_key_is_refused() -> None:
    assert "key is not a string" in refused(b"di1e1:a4:infod4:name1:aee")


def test_absurd_nesting_is_refused() -> None:
    assert "broken bencoding" in refused(b"d1:a" + b"l" * 3000 + b"e" * 3000 + b"e")


def test_mangled_files_fail_only_with_a_metainfo_error() -> None:
    import random

    rng = random.Random(1234)
    base = v1_torrent(files=[(["a"], 20000), (["b", "c"], 30000)])
    hybrid, _root = hybrid_torrent()
    for sample in (base, hybrid):
        for _ in range(4000):
            data = bytearray(sample)
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(len(data))
                choice = rng.random()
                if choice < 0.4:
                    data[pos] = rng.randrange(256)
                elif choice < 0.7:
                    del data[pos : pos + rng.randint(1, 8)]
                else:
                    data[pos:pos] = bytes(rng.choice(b"dlei0123456789:") for _ in range(3))
            # Either accepted or refused with a message; never any other exception.
            with contextlib.suppress(metainfo.MetainfoError):
                parse(bytes(data))
