"""The 4 GiB + 300 KB file stored in two extents (tests/fixtures/multi-extent.sparse.gz,
decoded to a sparse file of a few KB on disk): size, extents, marker bytes and reads across
the extent boundary through open() and seek, and a zero-copy view; compared with pycdlib,
which truncates the file (to its last extent through Rock Ridge, to its first through Joliet
and ISO 9660). Nothing reads more than a few KB."""

from __future__ import annotations

import gzip
import hashlib
import io
import mmap
import struct

import pytest

import isolution
from conftest import FIXTURES, lines

PATH = "big/huge.bin"


def expected():
    out = {"extent": [], "marker": []}
    for line in lines(FIXTURES / "multi-extent.expected"):
        k, *v = line.split("\t")
        if k in out:
            out[k].append(v)
        else:
            out[k] = v[0]
    return out


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    """The decoded image, sparse (the format is in tests/fixtures/README.md)."""
    out = tmp_path_factory.mktemp("multi-extent") / "multi-extent.iso"
    with gzip.open(FIXTURES / "multi-extent.sparse.gz", "rb") as src, open(out, "wb") as dst:
        assert src.read(11) == b"ISOSPARSE1\n"
        total, block = struct.unpack("<QI", src.read(12))
        dst.truncate(total)
        while header := src.read(8):
            (index,) = struct.unpack("<Q", header)
            dst.seek(index * block)
            dst.write(src.read(block))
    return out


def test_size_extents_and_markers(image_path):
    want = expected()
    size = int(want["size"])
    extents = [(int(lba), int(n)) for _, lba, n in want["extent"]]
    markers = {int(off): int(v, 16) for off, v in want["marker"]}
    boundary = extents[0][1]
    with isolution.open(image_path) as image:
        assert image.size == int(want["image_length"])
        for ns in ("rr", "joliet"):
            e = image.stat(PATH, namespace=ns)
            assert e.size == size and e.extents == extents, ns
            with image.open(PATH, namespace=ns) as f:
                assert f.size == size
                for off, value in markers.items():
                    assert f.seek(off) == off
                    assert f.read(1) == bytes([value]), (ns, off)
                # One read across the boundary: last byte of extent 0, first of extent 1.
                f.seek(boundary - 2)
                assert f.read(4) == b"\x00\x02\x03\x00"
                f.seek(boundary - 3000)
                chunk = f.read(6000)
                assert len(chunk) == 6000
                want_chunk = bytearray(6000)
                for off, value in markers.items():
                    if boundary - 3000 <= off < boundary + 3000:
                        want_chunk[off - boundary + 3000] = value
                assert chunk == want_chunk and chunk[2999:3001] == b"\x02\x03"
                # readinto across it too, and the end of the file.
                f.seek(boundary - 1)
                buf = bytearray(2)
                assert f.readinto(buf) == 2 and buf == b"\x02\x03"
                assert f.seek(-1, io.SEEK_END) == size - 1
                assert f.read() == b"\x05"
                assert f.read(10) == b""
        # The two extents are adjacent: the view is a zero-copy slice of the mapping
        # (4 GiB, of which this touches a few pages).
        v = image.view(PATH)
        assert isinstance(v.obj, mmap.mmap) and v.nbytes == size
        for off, value in markers.items():
            assert v[off] == value
        assert v[boundary - 1: boundary + 1].tobytes() == b"\x02\x03"
        # The listing (the digest of the 4 GiB file, mostly zeros, is not recomputed here).
        listing = {e.path: e for e in image.walk()}
        assert len(listing) == len(lines(FIXTURES / "multi-extent.tsv"))
        for line in lines(FIXTURES / "multi-extent.tsv"):
            path, kind, sz, digest = line.split("\t")
            assert listing[path].type == {"f": "file", "d": "dir"}[kind]
            if kind == "f":
                assert listing[path].size == int(sz)
            if kind == "f" and path != PATH:
                assert hashlib.sha256(image.read(path)).hexdigest() == digest


def test_pycdlib_truncates_it(image_path):
    """pycdlib 1.x reads one directory record per file: through Rock Ridge it keeps the last
    extent (302,048 bytes), through Joliet and ISO 9660 the first (4 GiB - 2 KiB)."""
    pycdlib = pytest.importorskip("pycdlib")
    want = expected()
    size = int(want["size"])
    first, last = (int(n) for _, _, n in want["extent"])
    iso = pycdlib.PyCdlib()
    iso.open(str(image_path))
    try:
        got = {}
        for kw, path in (("rr_path", "/big/huge.bin"), ("joliet_path", "/big/huge.bin"),
                         ("iso_path", "/BIG/HUGE.BIN;1")):
            with iso.open_file_from_iso(**{kw: path}) as f:
                got[kw] = f.seek(0, io.SEEK_END)
        assert got == {"rr_path": last, "joliet_path": first, "iso_path": first}
        assert max(got.values()) < size
    finally:
        iso.close()
    with isolution.open(image_path) as image:
        assert image.stat(PATH).size == size == first + last
