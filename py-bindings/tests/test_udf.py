"""The UDF tree from Python (namespace="udf"): a genisoimage -udf bridge image read in both
trees with the same result, and a stub image (pycdlib: the ISO 9660 side holds one README, UDF
the tree) where UDF is the default."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest

import isolution
from conftest import raises

FILES = {
    "empty": b"",
    "one": b"x",
    "dir/two.bin": bytes(range(256)) * 8 + b"!",
    "dir/sub/big.bin": bytes(i % 251 for i in range(300_000)),
    "dir/sub/café.txt": "naïve\n".encode(),
}


@pytest.fixture(scope="module")
def bridge(tmp_path_factory) -> Path:
    gen = shutil.which("genisoimage")
    if gen is None:
        pytest.skip("SKIP: genisoimage not installed")
    tmp = tmp_path_factory.mktemp("udf")
    src = tmp / "src"
    for p, b in FILES.items():
        (src / p).parent.mkdir(parents=True, exist_ok=True)
        (src / p).write_bytes(b)
    iso = tmp / "bridge.iso"
    subprocess.run([gen, "-quiet", "-udf", "-R", "-J", "-o", str(iso), str(src)], check=True)
    return iso


def test_bridge_reads_the_same_tree_in_udf(bridge):
    img = isolution.open(bridge)
    assert img.namespace == "rr"
    assert "udf" in img.namespaces
    rr = {e.path: e for e in img.walk()}
    udf = {e.path: e for e in img.walk(namespace="udf")}
    assert sorted(rr) == sorted(udf)
    for p, e in udf.items():
        assert e.type == rr[p].type, p
        assert e.size == rr[p].size or e.is_dir(), p
    for p, b in FILES.items():
        assert img.read(p, namespace="udf") == b
        assert bytes(img.view(p, namespace="udf")) == b
        assert img.stat(p, namespace="udf").size == len(b)
    assert sorted(img.listdir("dir", namespace="udf")) == ["sub", "two.bin"]
    below = sorted(e.path for e in img.walk("dir/sub", namespace="udf"))
    assert below == ["dir/sub/big.bin", "dir/sub/café.txt"]
    digests = img.sha256_all(namespace="udf")
    assert digests == {p: hashlib.sha256(b).hexdigest() for p, b in FILES.items()}
    assert img.sha256_all(namespace="udf", paths=["one"]) == {"one": digests["one"]}
    assert {p: bytes(m) for p, m in img.views(namespace="udf")} == FILES
    assert [p for p, _ in img.views(namespace="udf", paths=["one"])] == ["one"]
    for p, b in FILES.items():
        with img.open(p, namespace="udf") as f:
            assert f.read() == b
            f.seek(len(b) // 2)
            assert f.read(7) == b[len(b) // 2 : len(b) // 2 + 7]
    raises(IsADirectoryError, img.open, "dir", namespace="udf")
    assert img.exists("dir/sub", namespace="udf")
    assert not img.exists("nope", namespace="udf")
    raises(FileNotFoundError, img.read, "nope", namespace="udf")
    raises(IsADirectoryError, img.read, "dir", namespace="udf")
    raises(NotADirectoryError, img.listdir, "one", namespace="udf")


def test_no_udf_tree_is_a_value_error(tmp_path):
    gen = shutil.which("genisoimage")
    if gen is None:
        pytest.skip("SKIP: genisoimage not installed")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a").write_bytes(b"a")
    iso = tmp_path / "plain.iso"
    subprocess.run([gen, "-quiet", "-R", "-o", str(iso), str(tmp_path / "src")], check=True)
    img = isolution.open(iso)
    assert "udf" not in img.namespaces
    raises(ValueError, img.walk, namespace="udf")


def test_stub_iso_side_makes_udf_the_default(tmp_path):
    pycdlib = pytest.importorskip("pycdlib", reason="SKIP: pycdlib not installed")
    iso = pycdlib.PyCdlib()
    iso.new(udf="2.60")
    readme = b"This disc is UDF.\n"
    iso.add_fp(io.BytesIO(readme), len(readme), "/README.TXT;1")
    iso.add_directory(udf_path="/tree")
    for name, b in [("a.txt", b"alpha\n"), ("b.bin", bytes(5000))]:
        iso.add_fp(io.BytesIO(b), len(b), udf_path=f"/tree/{name}")
    out = tmp_path / "stub.iso"
    iso.write(str(out))
    iso.close()
    img = isolution.open(out)
    assert img.namespace == "udf"
    assert sorted(e.path for e in img.walk()) == ["tree", "tree/a.txt", "tree/b.bin"]
    assert img.read("tree/a.txt") == b"alpha\n"
    assert img.read("tree/b.bin") == bytes(5000)
    assert img.read("README.TXT", namespace="primary") == readme


@pytest.mark.parametrize("seed", range(20))
def test_random_trees_written_by_pycdlib_round_trip(seed, tmp_path):
    """Property test: random trees (depths, names with non-ASCII letters, sizes from 0 to past
    a block, empty directories) written by pycdlib's UDF writer read back entry for entry,
    byte for byte, with the digests hashlib gives."""
    import random

    pycdlib = pytest.importorskip("pycdlib", reason="SKIP: pycdlib not installed")
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_.éßλ"
    iso = pycdlib.PyCdlib()
    iso.new(udf="2.60")
    dirs = [""]
    want_files: dict[str, bytes] = {}
    want_dirs: set[str] = set()
    for _ in range(rng.randint(1, 30)):
        parent = rng.choice(dirs)
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))).strip(".") or "x"
        path = f"{parent}/{name}" if parent else name
        if path in want_files or path in want_dirs:
            continue
        if rng.random() < 0.3 and parent.count("/") < 6:
            iso.add_directory(udf_path="/" + path)
            dirs.append(path)
            want_dirs.add(path)
        else:
            size = rng.choice([0, 1, 2047, 2048, 2049, rng.randint(0, 70_000)])
            data = bytes(rng.getrandbits(8) for _ in range(size))
            iso.add_fp(io.BytesIO(data), len(data), udf_path="/" + path)
            want_files[path] = data
    out = tmp_path / "r.iso"
    iso.write(str(out))
    iso.close()
    img = isolution.open(out)
    got = {e.path: e for e in img.walk(namespace="udf")}
    assert set(got) == set(want_files) | want_dirs
    for p in want_dirs:
        assert got[p].is_dir(), p
    for p, data in want_files.items():
        assert got[p].size == len(data), p
        assert img.read(p, namespace="udf") == data, p
    digests = img.sha256_all(namespace="udf")
    assert digests == {p: hashlib.sha256(d).hexdigest() for p, d in want_files.items()}
