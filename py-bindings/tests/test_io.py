"""File objects from Image.open(), zero-copy views, and the image's life cycle."""

from __future__ import annotations

import io
import mmap

import pytest

import isolution
from conftest import FIXTURES

SEVENTY_K = "data/seventy-k.bin"


def test_file_object_basics(rr_joliet):
    whole = rr_joliet.read(SEVENTY_K)
    assert len(whole) == 70001
    with rr_joliet.open(SEVENTY_K) as f:
        assert isinstance(f, io.RawIOBase)
        assert isinstance(f, isolution.ImageFile)
        assert f.readable() and f.seekable() and not f.writable()
        assert f.name == SEVENTY_K and f.mode == "rb" and f.size == 70001
        assert f.tell() == 0
        assert f.read(10) == whole[:10]
        assert f.tell() == 10
        assert f.seek(-5, io.SEEK_END) == 70001 - 5
        assert f.read() == whole[-5:]
        assert f.read() == b""
        assert f.read(7) == b""
        assert f.seek(100) == 100
        assert f.seek(50, io.SEEK_CUR) == 150
        assert f.read(3) == whole[150:153]
        assert f.seek(1 << 40) == 1 << 40
        assert f.read(1) == b""
        with pytest.raises(ValueError):
            f.seek(-1)
        with pytest.raises(ValueError):
            f.seek(0, 3)
        f.seek(0)
        buf = bytearray(4096)
        assert f.readinto(buf) == 4096 and bytes(buf) == whole[:4096]
        f.seek(70000)
        assert f.readinto(buf) == 1 and buf[0] == whole[70000]
        f.seek(0)
        assert f.readall() == whole
    assert f.closed
    with pytest.raises(ValueError):
        f.read()
    with pytest.raises(ValueError):
        f.seek(0)


def test_buffered_and_text_wrappers(rr_joliet):
    raw = rr_joliet.read("data/lines.txt")
    with io.BufferedReader(rr_joliet.open("data/lines.txt"), buffer_size=100) as b:
        assert b.read() == raw
    with io.TextIOWrapper(rr_joliet.open("data/lines.txt"), encoding="ascii") as t:
        text_lines = t.readlines()
    assert "".join(text_lines).encode() == raw
    with rr_joliet.open("data/lines.txt") as f:
        assert list(f) == raw.splitlines(keepends=True)


def test_empty_file(rr_joliet):
    assert rr_joliet.read("empty.txt") == b""
    assert bytes(rr_joliet.view("empty.txt")) == b""
    with rr_joliet.open("empty.txt") as f:
        assert f.read() == b"" and f.size == 0


def test_view_is_zero_copy_over_a_mapping(rr_joliet):
    v = rr_joliet.view(SEVENTY_K)
    assert isinstance(v, memoryview)
    assert v.readonly and v.nbytes == 70001
    assert isinstance(v.obj, mmap.mmap)
    assert v.tobytes() == rr_joliet.read(SEVENTY_K)
    with pytest.raises(TypeError):
        v[0] = 0


def test_view_of_from_bytes_shares_the_bytes():
    data = (FIXTURES / "rr-joliet.iso").read_bytes()
    image = isolution.Image.from_bytes(data)
    v = image.view("top.txt")
    assert v.obj is data
    assert v.tobytes() == b"top-level file\n"


def test_close(rr_joliet):
    image = isolution.open(FIXTURES / "rr-joliet.iso")
    f = image.open(SEVENTY_K)
    v = image.view(SEVENTY_K)
    s = image.solution
    expected = image.read(SEVENTY_K)
    assert not image.closed and "open" in repr(image)
    image.close()
    assert image.closed and "closed" in repr(image)
    for call in (
        lambda: image.read("top.txt"),
        lambda: image.walk(),
        lambda: image.view("top.txt"),
        lambda: image.open("top.txt"),
        lambda: image.volume,
        lambda: image.solution,
    ):
        with pytest.raises(ValueError):
            call()
    image.close()  # twice is fine
    # What was handed out before close() stays usable.
    assert f.read() == expected
    assert v.tobytes() == expected
    assert s.name is None  # not a Solution archive, but the object still answers
    assert s.validate(digests=False)


def test_context_manager():
    with isolution.open(FIXTURES / "rr-joliet.iso") as image:
        assert image.read("hello.txt")
    assert image.closed
    with pytest.raises(RuntimeError):
        with isolution.Image(FIXTURES / "rr-joliet.iso") as image2:
            raise RuntimeError("propagates")
    assert image2.closed


def test_in_memory_open():
    image = isolution.open(str(FIXTURES / "rr-joliet.iso"), in_memory=True)
    v = image.view("top.txt")
    assert v.tobytes() == b"top-level file\n"
    assert image.path == FIXTURES / "rr-joliet.iso"


def test_open_mode(rr_joliet):
    with pytest.raises(ValueError):
        rr_joliet.open("top.txt", "wb")
