"""Shared helpers: where the repository's fixtures are, and listings in the corpus format."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
SOLUTIONS = REPO / "tests" / "solutions"


def fixture_isos() -> list[str]:
    names = sorted(p.stem for p in FIXTURES.glob("*.iso"))
    assert len(names) >= 6, names
    return names


def solution_isos() -> list[str]:
    names = sorted(p.stem for p in SOLUTIONS.glob("*.iso"))
    assert len(names) >= 30, names
    return names


def lines(path: Path) -> list[str]:
    return [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]


def escape(s: str) -> str:
    """Escapes a path or link target as the corpus listings do."""
    out = []
    for c in s:
        if c == "\\":
            out.append("\\\\")
        elif c == "\t":
            out.append("\\t")
        elif c == "\n":
            out.append("\\n")
        elif ord(c) < 0x20 or c == "\x7f":
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return "".join(out)


LETTER = {"file": "f", "dir": "d", "symlink": "l", "block-device": "b", "char-device": "c",
          "fifo": "p", "socket": "s"}


def listing(image, read=None, namespace=None) -> list[str]:
    """The listing of a namespace in the corpus format, sorted by path bytes. `read(path)`
    gives a file's bytes (default: `image.read`)."""
    read = read or (lambda p: image.read(p, namespace=namespace))
    out = []
    for e in image.walk(namespace=namespace):
        path = escape(e.path)
        if e.type == "file":
            data = bytes(read(e.path))
            assert len(data) == e.size, e.path
            out.append(f"{path}\tf\t{len(data)}\t{hashlib.sha256(data).hexdigest()}")
        elif e.type == "dir":
            out.append(f"{path}\td\t-\t-")
        elif e.type == "symlink":
            out.append(f"{path}\tl\t-\t{escape(e.target or '')}")
        elif e.type in ("block-device", "char-device"):
            ma, mi = e.device or (0, 0)
            out.append(f"{path}\t{LETTER[e.type]}\t-\t{ma},{mi}")
        else:
            out.append(f"{path}\t{LETTER[e.type]}\t-\t-")
    out.sort(key=lambda line: line.split("\t", 1)[0].encode())
    return out


def render(f, with_message: bool = False) -> str:
    """A finding as the expected/*.findings files write it."""
    if with_message or f.severity == "info":
        return f"{f.severity}\t{f.rule}\t{f.path}\t{f.message}"
    return f"{f.severity}\t{f.rule}\t{f.path}"


@pytest.fixture
def rr_joliet():
    import isolution

    with isolution.open(FIXTURES / "rr-joliet.iso") as image:
        yield image


@pytest.fixture
def example():
    import isolution

    with isolution.open(SOLUTIONS / "example-solution-1.0.2.iso") as image:
        yield image
