"""Shared helpers: where the repository's fixtures are, and listings in the corpus format."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
SOLUTIONS = REPO / "tests" / "solutions"


def raises(exc, call, *args, match=None, **kwargs):
    """Asserts that `call(*args, **kwargs)` raises `exc` (with a message `match` searches, when
    given), as `pytest.raises` does; returns the exception."""
    with pytest.raises(exc, match=match) as e:
        call(*args, **kwargs)
    return e.value


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


def need_tool(name: str) -> str:
    """The path of command-line tool `name`, or skip the test saying it is missing."""
    import shutil

    path = shutil.which(name)
    if path is None:
        pytest.skip(f"SKIP: {name} not installed")
    return path


def build_solution(root: Path, name: str, version: str, images: dict) -> Path:
    """A Solution ISO made here with genisoimage (`-R -J -joliet-long`, as MetalK8s documents
    it): `images` maps "image:tag" to a list of layer contents (bytes); each image gets a
    small JSON config. Layers need not be real tar files: exports and pushes copy bytes.
    Returns the path of the ISO."""
    import json
    import subprocess

    genisoimage = need_tool("genisoimage")
    tree = root / "tree"
    for ref, layers in images.items():
        image, tag = ref.split(":")
        d = tree / "images" / image / tag
        d.mkdir(parents=True)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        descs = []
        for blob in [config] + list(layers):
            digest = hashlib.sha256(blob).hexdigest()
            (d / digest).write_bytes(blob)
            descs.append({"size": len(blob), "digest": f"sha256:{digest}"})
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       **descs[0]},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", **x}
                       for x in descs[1:]],
        }
        (d / "manifest.json").write_text(json.dumps(manifest))
        (d / "version").write_text("Directory Transport Version: 1.1\n")
    # The first image is the operator's, so that the archive passes validation (exports and
    # pushes refuse one that does not, unless check=False).
    operator, operator_tag = next(iter(images)).split(":")
    (tree / "manifest.yaml").write_text(
        "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\n"
        f"metadata:\n  name: {name}\nspec:\n  version: \"{version}\"\n"
        f"  operator:\n    image: {{name: {operator}, tag: \"{operator_tag}\"}}\n"
    )
    (tree / "registry-config.inc.j2").write_text("")
    iso = root / f"{name}-{version}.iso"
    subprocess.run(
        [genisoimage, "-quiet", "-R", "-J", "-joliet-long", "-l", "-iso-level", "3",
         "-V", f"{name} {version}", "-input-charset", "utf-8", "-o", str(iso), str(tree)],
        check=True,
    )
    return iso


def check_progress(calls: list, total: int) -> None:
    """`progress(done, total)` calls: at least two, about one per percent at most, the total
    constant, `done` increasing from 0 to `total`."""
    assert len(calls) >= 2, calls
    assert len(calls) <= 102, len(calls)
    assert {t for _, t in calls} == {total}, calls
    dones = [d for d, _ in calls]
    assert dones[0] == 0
    assert dones[-1] == total
    assert all(a < b for a, b in zip(dones, dones[1:])), dones
