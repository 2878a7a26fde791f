"""zisofs (transparent compression, Rock Ridge ZF): files made by xorriso's zisofs filter
read back inflated through read(), open() (with seeks) and view() (a copy: compressed bytes
cannot be a view of the image), in the Rock Ridge and the Joliet trees, zisofs2 (ZF version 2
and Z2) too; the primary tree shows the stored bytes."""

from __future__ import annotations

import io
import random
import subprocess

import pytest

import isolution
from conftest import need_tool

TEXT = "".join(f"line {i} of some compressible text\n" for i in range(20000)).encode()
RANDOM = random.Random(9660).randbytes(100_000)


def build(root, *zisofs_options):
    xorriso = need_tool("xorriso")
    tree = root / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "big.txt").write_bytes(TEXT)
    (tree / "sub" / "random.bin").write_bytes(RANDOM)
    (tree / "small.txt").write_bytes(b"hello\n")
    iso = root / "z.iso"
    subprocess.run(
        [xorriso, "-no_rc", "-report_about", "WARNING", "-outdev", f"stdio:{iso}",
         "-joliet", "on", *zisofs_options, "-map", str(tree), "/",
         "-set_filter_r", "--zisofs", "/", "--"],
        check=True, capture_output=True,
    )
    return iso


@pytest.fixture(scope="module")
def zisofs(tmp_path_factory):
    return build(tmp_path_factory.mktemp("zisofs"), "-zisofs", "level=9:block_size=32k")


def test_files_read_inflated(zisofs):
    with isolution.open(zisofs) as image:
        e = image.stat("big.txt")
        # Stored compressed: the extent is much smaller than the file.
        assert e.size == len(TEXT)
        assert e.extents[0][1] < len(TEXT) // 5
        assert image.read("big.txt") == TEXT
        assert image.read("sub/random.bin") == RANDOM
        assert image.read("small.txt") == b"hello\n"
        with image.open("big.txt") as f:
            assert f.size == len(TEXT)
            assert f.read() == TEXT
            # Seeks land in any 32 KiB block, forward and back, and across block ends.
            for pos in (300_000, 5, 32768 - 3, len(TEXT) - 10, 65536 * 3 + 1):
                assert f.seek(pos) == pos
                assert f.read(20) == TEXT[pos:pos + 20], pos
            f.seek(0)
            buffered = io.BufferedReader(f, buffer_size=7000)
            assert buffered.read() == TEXT
        # A view of a zisofs file holds the inflated bytes: a copy, not the mapping.
        v = image.view("big.txt")
        assert v.tobytes() == TEXT and v.readonly
        assert isinstance(v.obj, bytes)
        # A file the filter left stored (random data does not compress) is zero-copy.
        assert not isinstance(image.view("sub/random.bin").obj, bytes)


def test_joliet_tree_inflates_too(zisofs):
    # Joliet carries no ZF: the file is inflated because the Rock Ridge entry sharing its
    # extent has one. As documented, the Joliet entry's size is the stored size.
    with isolution.open(zisofs) as image:
        rr, joliet = image.stat("big.txt"), image.stat("big.txt", namespace="joliet")
        assert joliet.extents == rr.extents
        assert joliet.size == rr.extents[0][1] < rr.size
        assert image.read("big.txt", namespace="joliet") == TEXT
        with image.open("big.txt", namespace="joliet") as f:
            assert f.size == len(TEXT)
            f.seek(400_000)
            assert f.read(30) == TEXT[400_000:400_030]
        assert image.view("big.txt", namespace="joliet").tobytes() == TEXT


@pytest.mark.parametrize("options", ["version_2=on:block_size_v2=1m",
                                     "version_2=on:susp_z2=on:block_size_v2=64k"])
def test_zisofs2_reads_inflated(tmp_path, options):
    # xorriso's zisofs2 (ZF version 2, or Z2 with susp_z2=on): zlib, read back inflated in the
    # Rock Ridge and Joliet trees; the primary tree (plain ISO 9660) shows the stored bytes.
    iso = build(tmp_path, "-zisofs", options)
    with isolution.open(iso) as image:
        e = image.stat("big.txt")
        assert e.size == len(TEXT)
        assert e.extents[0][1] < len(TEXT) // 5
        assert image.read("big.txt") == TEXT
        assert image.read("big.txt", namespace="joliet") == TEXT
        assert image.view("big.txt").tobytes() == TEXT
        with image.open("big.txt") as f:
            f.seek(len(TEXT) - 100)
            assert f.read() == TEXT[-100:]
        raw = image.read("BIG.TXT", namespace="primary")
        assert len(raw) == e.extents[0][1] == image.stat("BIG.TXT", namespace="primary").size
        assert raw.startswith(bytes.fromhex("EF2255A1BC1B95A0"))
        assert image.read("small.txt") == b"hello\n"
