"""Errors: Python's built-in ones where they fit, isolution's otherwise, with locations."""

from __future__ import annotations

import pytest

import isolution
from conftest import FIXTURES, raises


def test_hierarchy():
    for cls in (isolution.FormatError, isolution.LimitExceeded, isolution.ValidationError,
                isolution.SignatureError, isolution.ExportError):
        assert issubclass(cls, isolution.IsolutionError)
    assert issubclass(isolution.RegistryError, isolution.ExportError)
    assert issubclass(isolution.IsolutionError, Exception)
    assert isolution.FormatError.__module__ == "isolution"


def test_missing_paths(rr_joliet):
    e = raises(FileNotFoundError, rr_joliet.read, "dir/nope.txt")
    assert "dir/nope.txt" in str(e)
    assert e.path == "dir/nope.txt"
    raises(FileNotFoundError, rr_joliet.stat, "nope")
    raises(FileNotFoundError, rr_joliet.open, "nope")
    raises(FileNotFoundError, rr_joliet.view, "nope")
    raises(FileNotFoundError, rr_joliet.listdir, "nope")
    raises(NotADirectoryError, rr_joliet.listdir, "top.txt")
    raises(NotADirectoryError, rr_joliet.read, "top.txt/x")
    raises(IsADirectoryError, rr_joliet.read, "dir")
    raises(IsADirectoryError, rr_joliet.open, "dir")
    raises(isolution.IsolutionError, rr_joliet.read, "dir/up", match="symlink")


def test_missing_image_file(tmp_path):
    raises(FileNotFoundError, isolution.open, tmp_path / "absent.iso")
    raises(OSError, isolution.open, tmp_path)


def test_not_iso(tmp_path):
    small = tmp_path / "small.txt"
    small.write_bytes(b"not an image\n" * 100)
    raises(isolution.FormatError, isolution.open, small, match="too small")
    text = tmp_path / "text.txt"
    text.write_bytes(b"large enough, but not an image\n" * 2048)
    raises(isolution.FormatError, isolution.open, text, match="no CD001")
    junk = tmp_path / "junk.iso"
    junk.write_bytes(b"\0" * (40 * 1024))
    e = raises(isolution.FormatError, isolution.open, junk)
    assert "offset 0x8000" in str(e)
    assert e.offset == 0x8000
    raises(isolution.FormatError, isolution.Image.from_bytes, b"\0" * (40 * 1024))
    raises(TypeError, isolution.Image.from_bytes, "not bytes")


def test_malformed_directory_reports_offset_and_path():
    data = bytearray((FIXTURES / "rr-joliet.iso").read_bytes())
    image = isolution.Image.from_bytes(bytes(data))
    d = image.stat("dir/sub")
    lba, length = d.extents[0]
    # Break the first record after `.` and `..` of dir/sub: a length shorter than any record.
    start = lba * 2048
    off = start
    for _ in range(2):
        off += data[off]
    data[off] = 20
    broken = isolution.Image.from_bytes(bytes(data))
    with pytest.raises(isolution.FormatError) as e:
        broken.walk()
    assert e.value.path == "dir/sub"
    assert e.value.offset is not None
    assert f"path dir/sub" in str(e.value)
    # Other directories still read.
    assert broken.read("top.txt") == b"top-level file\n"


def test_limits():
    with isolution.open(FIXTURES / "rr-joliet.iso", max_depth=3) as image:
        with pytest.raises(isolution.LimitExceeded, match="max_depth") as e:
            image.walk()
        assert e.value.path
        assert image.read("dir/file.txt")  # shallow paths still work
    with isolution.open(FIXTURES / "rr-joliet.iso", max_entries=10) as image:
        with pytest.raises(isolution.LimitExceeded, match="max_entries"):
            image.walk()
    with pytest.raises(OverflowError):
        isolution.open(FIXTURES / "rr-joliet.iso", max_depth=-1)
