"""xorriso's MD5 checksums (``-md5 on``): ``Image.md5_tags`` shows what is recorded and
``Image.check_md5()`` verifies it, as ``isolution check --json`` does; a byte changed in a
file or a tag is reported (named, with its offset), never raised; an image without MD5s says
so; xorriso's own ``-check_md5_r`` is the oracle for the file verdicts."""

from __future__ import annotations

import subprocess

import pytest

import isolution
from conftest import need_tool


def build(root, md5=True):
    xorriso = need_tool("xorriso")
    tree = root / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "seq.txt").write_bytes("".join(f"{i}\n" for i in range(1, 2001)).encode())
    (tree / "sub" / "a.txt").write_bytes(b"hello\n")
    iso = root / "m.iso"
    subprocess.run(
        [xorriso, "-no_rc", *(["-md5", "on"] if md5 else []), "-outdev", f"stdio:{iso}",
         "-map", str(tree), "/"],
        check=True, capture_output=True,
    )
    return iso


def xorriso_file_mismatches(iso):
    r = subprocess.run(
        [need_tool("xorriso"), "-no_rc", "-md5", "on", "-indev", str(iso),
         "-check_md5_r", "FAILURE", "/", "--"],
        capture_output=True, text=True,
    )
    out = r.stdout + r.stderr
    return r.returncode, [
        line[len("MD5 MISMATCH: '"):].rstrip("'")
        for line in out.splitlines()
        if line.startswith("MD5 MISMATCH: '")
    ]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return build(tmp_path_factory.mktemp("md5"))


def flip(src, dst, at):
    data = bytearray(src.read_bytes())
    data[at] ^= 1
    dst.write_bytes(bytes(data))
    return dst


def other_hex_digit(src, dst, at):
    """A copy whose hex digit at `at` is another hex digit (a flipped bit of `a` or `f` is
    not hex: the tag would no longer parse)."""
    data = bytearray(src.read_bytes())
    data[at] = ord("1") if data[at] == ord("0") else ord("0")
    dst.write_bytes(bytes(data))
    return dst


def test_clean_image(good):
    with isolution.Image(good) as img:
        tags = img.md5_tags
        assert tags is not None
        assert [t["kind"] for t in tags["tags"]] == ["rlsb32", "superblock", "tree", "session"]
        assert tags["bad_tags"] == []
        assert tags["checksum_array"]["algorithm"] == "MD5"
        report = img.check_md5()
    assert report["ok"] is True and report["md5_recorded"] is True
    assert all(c["status"] == "ok" for c in report["checks"])
    files = sorted(c["path"] for c in report["checks"] if c["item"] == "file")
    assert files == ["seq.txt", "sub/a.txt"]
    assert report["summary"].startswith("MD5 ok")
    assert xorriso_file_mismatches(good) == (0, [])


def test_file_mismatch_agrees_with_xorriso(good, tmp_path):
    data = good.read_bytes()
    bad = flip(good, tmp_path / "bad.iso", data.index(b"1\n2\n3\n4\n") + 33)
    with isolution.Image(bad) as img:
        report = img.check_md5()
    assert report["ok"] is False
    failed = [c for c in report["checks"] if c["status"] != "ok"]
    assert [(c["item"], c["path"]) for c in failed] == [
        ("session", None), ("session-checksum", None), ("file", "seq.txt")]
    f = failed[-1]
    assert f["status"] == "mismatch" and f["recorded"] != f["computed"]
    assert len(f["recorded"]) == 32 and f["range"][1] - f["range"][0] == len(
        "".join(f"{i}\n" for i in range(1, 2001)))
    rc, names = xorriso_file_mismatches(bad)
    assert rc != 0 and names == ["/seq.txt"]


def test_damaged_tag_is_reported_not_raised(good, tmp_path):
    data = good.read_bytes()
    tag = data.index(b"libisofs_tree_checksum_tag_v1")
    bad = other_hex_digit(good, tmp_path / "tag.iso", data.index(b"md5=", tag) + 7)
    with isolution.Image(bad) as img:
        assert img.md5_tags["bad_tags"][0]["kind"] == "tree"
        report = img.check_md5()
    tree = next(c for c in report["checks"] if c["item"] == "tree")
    assert tree["status"] == "unreadable"
    assert tree["offset"] == tag
    assert "bad MD5 tree tag: self= checksum does not match" in tree["error"]
    assert f"offset {tag:#x}" in tree["error"]


def test_no_md5(tmp_path):
    iso = build(tmp_path, md5=False)
    with isolution.Image(iso) as img:
        assert img.md5_tags is None
        report = img.check_md5()
    assert report == {
        "ok": False,
        "md5_recorded": False,
        "summary": "no MD5 checksums recorded (the image was not made with xorriso -md5 on)",
        "bytes": 0,
        "checks": [],
    }


def test_closed_image_raises(good):
    img = isolution.Image(good)
    img.close()
    with pytest.raises(ValueError):
        img.check_md5()
