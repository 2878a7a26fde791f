"""Image.sha256_all() and Image.views(): every file hashed in Rust (checked against hashlib on
Image.read, sha256sum and openssl on bsdtar's extraction, the corpus's reference listings),
zisofs files hashed inflated, the paths= filter and its errors, the GIL released meanwhile."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import threading
import time
from pathlib import Path

import pytest

import isolution
from conftest import FIXTURES, escape, fixture_isos, need_tool, raises

TEXT = "".join(f"line {i} of some compressible text\n" for i in range(20000)).encode()
RANDOM = random.Random(16).randbytes(300_000)


def by_read(image, namespace=None) -> dict[str, str]:
    """What sha256_all must give: hashlib over Image.read of every regular file, walk order."""
    return {
        e.path: hashlib.sha256(image.read(e.path, namespace=namespace)).hexdigest()
        for e in image.walk(namespace=namespace)
        if e.is_file()
    }


@pytest.mark.parametrize("name", fixture_isos())
def test_fixtures_every_namespace(name):
    with isolution.open(FIXTURES / f"{name}.iso") as image:
        for ns in image.namespaces:
            want = by_read(image, ns)
            assert want, (name, ns)
            got = image.sha256_all(ns)
            assert got == want, (name, ns)
            assert list(got) == list(want), "keys in walk order"
            assert image.sha256_all(namespace=ns, threads=1) == want
            assert image.sha256_all(ns, threads=7) == want
            # views(): the same bytes, as memoryviews.
            views = image.views(ns)
            assert len(views) == len(want)
            seen = {p: hashlib.sha256(v).hexdigest() for p, v in views}
            assert seen == want
            assert len(views) == 0


def test_in_memory_and_from_bytes_agree():
    path = FIXTURES / "rr-joliet.iso"
    with isolution.open(path) as image:
        want = image.sha256_all()
    with isolution.open(path, in_memory=True) as image:
        assert image.sha256_all() == want
    image = isolution.Image.from_bytes(path.read_bytes())
    assert image.sha256_all() == want


def extracted_sums(iso: Path, dest: Path) -> tuple[dict[str, str], dict[str, str]]:
    """bsdtar -xf ISO into dest; then the digests of every regular file extracted, by
    sha256sum and by openssl dgst -sha256 (each a path -> hex dict)."""
    bsdtar = need_tool("bsdtar")
    sha256sum = need_tool("sha256sum")
    openssl = need_tool("openssl")
    dest.mkdir()
    subprocess.run([bsdtar, "-xf", str(iso), "-C", str(dest)], check=True)
    files = sorted(
        str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file() and not p.is_symlink()
    )
    assert files
    out = []
    for cmd in ([sha256sum, "--", *files], [openssl, "dgst", "-sha256", "-r", *files]):
        r = subprocess.run(cmd, cwd=dest, check=True, capture_output=True, text=True)
        sums = {}
        for line in r.stdout.splitlines():
            digest, path = line.split(" ", 1)
            sums[path.lstrip("*").lstrip(" ")] = digest
        assert len(sums) == len(files), (cmd[0], r.stdout)
        out.append(sums)
    return out[0], out[1]


def test_against_bsdtar_sha256sum_and_openssl(tmp_path):
    iso = FIXTURES / "rr-joliet.iso"
    by_sha256sum, by_openssl = extracted_sums(iso, tmp_path / "x")
    assert by_sha256sum == by_openssl
    with isolution.open(iso) as image:
        assert image.sha256_all() == by_sha256sum


def build_zisofs(root: Path) -> Path:
    xorriso = need_tool("xorriso")
    tree = root / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "big.txt").write_bytes(TEXT)
    (tree / "sub" / "random.bin").write_bytes(RANDOM)
    (tree / "small.txt").write_bytes(b"hello\n")
    (tree / "empty").write_bytes(b"")
    iso = root / "z.iso"
    subprocess.run(
        [xorriso, "-no_rc", "-report_about", "WARNING", "-outdev", f"stdio:{iso}",
         "-joliet", "on", "-zisofs", "level=9:block_size=32k", "-map", str(tree), "/",
         "-set_filter_r", "--zisofs", "/", "--"],
        check=True, capture_output=True,
    )
    return iso


@pytest.fixture(scope="module")
def zisofs(tmp_path_factory):
    return build_zisofs(tmp_path_factory.mktemp("zisofs"))


def test_zisofs_hashed_inflated(zisofs, tmp_path):
    want = {
        "big.txt": hashlib.sha256(TEXT).hexdigest(),
        "sub/random.bin": hashlib.sha256(RANDOM).hexdigest(),
        "small.txt": hashlib.sha256(b"hello\n").hexdigest(),
        "empty": hashlib.sha256(b"").hexdigest(),
    }
    with isolution.open(zisofs) as image:
        # Really compressed: big.txt's extent is a fraction of its size.
        assert image.stat("big.txt").extents[0][1] < len(TEXT) // 5
        got = image.sha256_all()
        assert got == want
        assert got == by_read(image)
        # The Joliet tree carries no ZF, but its files share the Rock Ridge extents: the
        # inflated bytes too (as read() gives them).
        assert image.sha256_all("joliet") == by_read(image, "joliet") == want
        # The primary tree is plain ISO 9660: the stored (compressed) bytes.
        primary = image.sha256_all("primary")
        assert primary == by_read(image, "primary")
        assert hashlib.sha256(TEXT).hexdigest() not in primary.values()
        # views(): a zisofs file's view is a copy holding the inflated bytes.
        views = dict(image.views())
        assert views["big.txt"].tobytes() == TEXT
        assert isinstance(views["big.txt"].obj, bytes)
        assert {p: hashlib.sha256(v).hexdigest() for p, v in views.items()} == want
    # bsdtar inflates zisofs too: its extraction, hashed by sha256sum and openssl.
    by_sha256sum, by_openssl = extracted_sums(zisofs, tmp_path / "x")
    assert by_sha256sum == by_openssl == want


def test_views_are_zero_copy_and_outlive_close():
    image = isolution.open(FIXTURES / "rr-joliet.iso")
    want = image.sha256_all()
    views = image.views()
    first_path, first = next(views)
    # A slice of the mmap of the image, not a copy.
    assert type(first.obj).__name__ == "mmap", type(first.obj)
    assert first.readonly
    image.close()
    rest = dict(views)
    rest[first_path] = first
    assert {p: hashlib.sha256(v).hexdigest() for p, v in rest.items()} == want
    raises(ValueError, image.sha256_all)
    raises(ValueError, image.views)
    # From an in-memory image (no mapping): views of copies, the same bytes.
    with isolution.open(FIXTURES / "rr-joliet.iso", in_memory=True) as image:
        assert {p: hashlib.sha256(v).hexdigest() for p, v in image.views()} == want


def test_paths_filter_and_errors(rr_joliet):
    everything = rr_joliet.sha256_all()
    files = list(everything)
    assert len(files) > 20
    few = [files[5], files[0], files[5]]
    assert rr_joliet.sha256_all(paths=few) == {p: everything[p] for p in few}
    assert list(rr_joliet.sha256_all(paths=few)) == [files[5], files[0]], "order given"
    # Keys are the strings given; leading slashes and "." components are ignored in lookups.
    odd = "/" + files[3].replace("/", "/./")
    assert rr_joliet.sha256_all(paths=[odd]) == {odd: everything[files[3]]}
    # Many paths (found in one walk rather than by lookups), any iterable.
    many = files[::-1]
    got = rr_joliet.sha256_all(paths=iter(many))
    assert got == everything and list(got) == many
    three = list(rr_joliet.views(paths=many[:3]))
    assert [p for p, _ in three] == many[:3]
    assert all(v == rr_joliet.read(p) for p, v in three)
    assert rr_joliet.sha256_all(paths=[]) == {}
    # A missing path raises, naming it, whether few or many paths are asked for.
    for asked in ([files[0], "dir/nope.txt"], [*files, "dir/nope.txt"]):
        e = raises(FileNotFoundError, rr_joliet.sha256_all, paths=asked)
        assert "dir/nope.txt" in str(e), str(e)
        assert e.path == "dir/nope.txt"
        raises(FileNotFoundError, rr_joliet.views, paths=asked)
    directory = next(e.path for e in rr_joliet.walk() if e.is_dir())
    raises(IsADirectoryError, rr_joliet.sha256_all, paths=[directory])
    raises(IsADirectoryError, rr_joliet.sha256_all, paths=[*files, directory])
    link = next(e.path for e in rr_joliet.walk() if e.is_symlink())
    e = raises(isolution.IsolutionError, rr_joliet.sha256_all, paths=[link])
    assert link in str(e)
    raises(TypeError, rr_joliet.sha256_all, paths=files[0])
    raises(TypeError, rr_joliet.sha256_all, paths=[1])
    raises(ValueError, rr_joliet.sha256_all, "nonsense")


def test_corpus_reference_listings():
    corpus = FIXTURES.parents[2] / "shared" / "corpus"
    if not corpus.is_dir():
        pytest.skip(f"SKIP: {corpus} is absent; the corpus test needs it")
    rows = (corpus / "expected" / "index.tsv").read_text().splitlines()
    header = rows[0].split("\t")
    col = {h: i for i, h in enumerate(header)}
    checked = 0
    for row in rows[1:]:
        f = row.split("\t")
        name, expected, listing = f[col["image"]], f[col["expected"]], f[col["listing"]]
        try:
            image = isolution.open(corpus / name)
        except (isolution.IsolutionError, OSError):
            assert expected != "ok", name
            continue
        started = time.monotonic()
        try:
            got = image.sha256_all()
        except (isolution.IsolutionError, OSError) as e:
            assert expected != "ok", (name, e)
            continue
        finally:
            assert time.monotonic() - started < 5, name
        if listing == "-":
            continue
        want = {}
        for line in (corpus / listing).read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 4 and parts[1] == "f":
                want[parts[0]] = parts[3]
        assert {escape(p): d for p, d in got.items()} == want, name
        checked += 1
    assert checked >= 15, checked


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """A 256 MiB file, 300 small ones in a directory, and a hard link, by genisoimage."""
    genisoimage = need_tool("genisoimage")
    root = tmp_path_factory.mktemp("large")
    tree = root / "tree"
    (tree / "small").mkdir(parents=True)
    rnd = random.Random(256)
    for i in range(300):
        (tree / "small" / f"f{i:03}.bin").write_bytes(rnd.randbytes(rnd.randint(0, 5000)))
    with open(tree / "big.bin", "wb") as f:
        block = rnd.randbytes(1 << 20)
        for i in range(256):
            f.write(block[i:] + block[:i])
    os.link(tree / "small" / "f007.bin", tree / "hardlink.bin")
    iso = root / "large.iso"
    subprocess.run([genisoimage, "-quiet", "-R", "-J", "-joliet-long", "-o", str(iso),
                    str(tree)], check=True)
    return iso


def test_large_image_many_paths_and_hard_links(large):
    with isolution.open(large) as image:
        got = image.sha256_all()
        assert len(got) == 302
        assert got == by_read(image)
        assert got["hardlink.bin"] == got["small/f007.bin"]
        small = [p for p in got if p.startswith("small/")]
        assert image.sha256_all(paths=small[::-1]) == {p: got[p] for p in small}


def test_gil_released(large):
    """Another Python thread runs while sha256_all hashes: a thread that sleeps 0.5 ms at a
    time must take the GIL again after each sleep, which it cannot while the GIL is held, so
    it counts hundreds of ticks per call only if the call released it."""
    with isolution.open(large) as image:
        image.sha256_all(threads=1)  # page cache warm, directories read
        ticks = 0
        stop = threading.Event()
        started = threading.Event()

        def ticker():
            nonlocal ticks
            started.set()
            while not stop.is_set():
                time.sleep(0.0005)
                ticks += 1

        t = threading.Thread(target=ticker)
        t.start()
        started.wait()
        calls, busy = 0, 0.0
        before = ticks
        while busy < 0.5:
            t0 = time.perf_counter()
            image.sha256_all(threads=1)
            busy += time.perf_counter() - t0
            calls += 1
        advanced = ticks - before
        stop.set()
        t.join()
    # Held throughout, the ticker would get at most a tick or two between calls.
    assert advanced > 20 * calls, (advanced, calls, busy)
