"""Listings of the fixture images equal their reference .tsv files, whichever way the bytes
are read (read(), open().read(), view()), and hard links share a file_id."""

from __future__ import annotations

from collections import defaultdict

import pytest

import isolution
from conftest import FIXTURES, fixture_isos, lines, listing, raises


@pytest.mark.parametrize("name", fixture_isos())
def test_listing_via_read(name):
    with isolution.open(FIXTURES / f"{name}.iso") as image:
        assert listing(image) == lines(FIXTURES / f"{name}.tsv")


@pytest.mark.parametrize("name", fixture_isos())
def test_listing_via_open(name):
    with isolution.open(FIXTURES / f"{name}.iso") as image:

        def read(path):
            with image.open(path) as f:
                return f.read()

        assert listing(image, read) == lines(FIXTURES / f"{name}.tsv")


@pytest.mark.parametrize("name", fixture_isos())
def test_listing_via_view(name):
    with isolution.open(FIXTURES / f"{name}.iso") as image:
        assert listing(image, image.view) == lines(FIXTURES / f"{name}.tsv")


@pytest.mark.parametrize("name", fixture_isos())
def test_listing_from_bytes(name):
    data = (FIXTURES / f"{name}.iso").read_bytes()
    image = isolution.Image.from_bytes(data)
    assert listing(image, image.view) == lines(FIXTURES / f"{name}.tsv")
    # bytearray and memoryview are accepted too (copied once).
    assert len(isolution.Image.from_bytes(bytearray(data)).walk()) == len(image.walk())
    assert len(isolution.Image.from_bytes(memoryview(data)).walk()) == len(image.walk())


@pytest.mark.parametrize("name", [n for n in fixture_isos() if (FIXTURES / f"{n}.links").exists()])
def test_hard_link_groups(name):
    with isolution.open(FIXTURES / f"{name}.iso") as image:
        groups = defaultdict(list)
        for e in image.walk():
            if e.file_id is not None:
                groups[e.file_id].append(e.path)
        got = sorted("\t".join(sorted(g)) for g in groups.values() if len(g) > 1)
    assert got == sorted(lines(FIXTURES / f"{name}.links"))


def test_walk_below_a_directory(rr_joliet):
    paths = [e.path for e in rr_joliet.walk("dir")]
    assert sorted(paths) == [
        "dir/file.txt",
        "dir/sub",
        "dir/sub/nested.txt",
        "dir/sub/subsub",
        "dir/sub/subsub/deepest.txt",
        "dir/up",
    ]
    # Parents come before their children.
    assert paths.index("dir/sub") < paths.index("dir/sub/nested.txt")
    assert [e.path for e in rr_joliet.walk("/dir/")] == paths


def test_entry_fields(rr_joliet):
    e = rr_joliet.stat("top.txt")
    assert (e.path, e.name, e.type, e.size) == ("top.txt", "top.txt", "file", 15)
    assert e.mode == 0o100644
    assert e.mtime == 1700000000.0
    assert (e.nlink, e.uid, e.gid) == (1, 0, 0)
    assert e.target is None and e.device is None
    assert e.file_id == (e.extents[0][0], 15)
    assert e.extents[0][1] == 15
    assert e.namespace == "rr"
    assert e.is_file() and not e.is_dir() and not e.is_symlink()
    link = rr_joliet.stat("dir/up")
    assert link.type == "symlink" and link.target == "../top.txt" and link.is_symlink()
    assert link.file_id is None
    d = rr_joliet.stat("dir/sub")
    assert d.is_dir() and d.mode == 0o040755 and d.name == "sub"
    root = rr_joliet.stat("")
    assert root.is_dir() and root.path == ""
    assert rr_joliet.stat("modes/private.txt").mode == 0o100600
    assert "top.txt" in repr(e)


def test_listdir_and_exists(rr_joliet):
    names = rr_joliet.listdir()
    assert "top.txt" in names and "dir" in names
    assert rr_joliet.listdir("dir/sub") == ["nested.txt", "subsub"]
    assert rr_joliet.exists("dir/sub/nested.txt")
    assert rr_joliet.exists("/dir/./sub/")
    assert not rr_joliet.exists("nope")
    assert not rr_joliet.exists("top.txt/below")


def test_volume(rr_joliet):
    v = rr_joliet.volume
    assert v["volume_id"] == "ISOLUTION_TEST"
    assert v["system_id"] == "LINUX"
    assert v["block_size"] == 2048
    assert v["namespaces"] == ["rr", "joliet", "primary"]
    assert v["default_namespace"] == "rr"
    assert v["rock_ridge"]["version"] == "1.09/1.10"
    assert v["joliet_level"] == 3
    assert v["image_size"] == (FIXTURES / "rr-joliet.iso").stat().st_size
    [boot] = v["el_torito"]
    assert boot["bootable"] and boot["emulation"] == "no-emulation"
    assert boot["sector_count"] == 4
    # The boot image is the file boot/boot.img.
    img = rr_joliet.read("boot/boot.img")
    assert img == bytes(i % 251 for i in range(2048))
    assert rr_joliet.stat("boot/boot.img").extents[0][0] == boot["load_rba"]


def test_lookups_in_a_large_directory(tmp_path):
    """Paths in a directory of 3,000 entries (looked up through an index of the directory,
    built on the first lookup there) give what the walk gives, and the same errors."""
    import hashlib
    import subprocess

    from conftest import need_tool

    genisoimage = need_tool("genisoimage")
    tree = tmp_path / "tree"
    (tree / "many" / "sub").mkdir(parents=True)
    content = {}
    for i in range(3000):
        data = hashlib.sha256(str(i).encode()).digest() * (i % 7)
        (tree / "many" / f"f{i:04d}.bin").write_bytes(data)
        content[f"many/f{i:04d}.bin"] = data
    (tree / "many" / "sub" / "f0001.bin").write_bytes(b"deeper\n")
    iso = tmp_path / "many.iso"
    subprocess.run([genisoimage, "-quiet", "-R", "-J", "-o", str(iso), str(tree)], check=True)
    with isolution.open(iso) as image:
        entries = {e.path: e for e in image.walk()}
        for path, data in content.items():
            assert image.read(path) == data
            assert image.exists(path)
            e = image.stat(path)
            assert (e.path, e.name, e.size, e.extents, e.mode, e.mtime, e.record_offset) == (
                path, path.split("/")[1], len(data), entries[path].extents,
                entries[path].mode, entries[path].mtime, entries[path].record_offset)
            assert image.stat("/" + path.replace("/", "//./")).path == path
        with image.open("many/f2999.bin") as f:
            assert f.read() == content["many/f2999.bin"]
        assert image.read("many/sub/f0001.bin") == b"deeper\n"
        assert image.stat("many/sub").is_dir()
        e = raises(FileNotFoundError, image.read, "many/f3000.bin")
        assert e.path == "many/f3000.bin" and e.filename == "many/f3000.bin"
        assert not image.exists("many/nope") and not image.exists("many/f0001.bin/x")
        raises(NotADirectoryError, image.read, "many/f0001.bin/x")
        raises(FileNotFoundError, image.read, "many/sub/..")
        raises(IsADirectoryError, image.read, "many/sub")
        # The primary tree: recorded identifiers and cleaned names, through its own index.
        assert image.read("MANY/F0007.BIN;1", namespace="primary") == content["many/f0007.bin"]
        p = image.stat("MANY/F0007.BIN;1", namespace="primary")
        assert (p.path, p.name, p.namespace) == ("MANY/F0007.BIN;1", "F0007.BIN", "primary")
        assert image.read("many/f0007.bin", namespace="joliet") == content["many/f0007.bin"]
        with pytest.raises(ValueError, match="ISO 9660:1999"):
            image.read("many/f0007.bin", namespace="iso1999")
    with pytest.raises(ValueError, match="closed"):
        image.read("many/f0001.bin")
