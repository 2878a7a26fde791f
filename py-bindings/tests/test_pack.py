"""isolution.pack(): the example Solution rebuilt from OCI layouts made by skopeo, read back
and validated; the digests skopeo's own v2s2 conversion gives; reproducibility; a progress
callable that raises stops the build and leaves nothing behind; errors."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import isolution
from conftest import SOLUTIONS, raises

EXAMPLE = SOLUTIONS / "example-solution-1.0.2.iso"
IMAGES = ["base-server/1.0.2", "base-server/latest", "example-solution-operator/1.0.2"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> tuple[Path, Path]:
    """The example's operator files (tree) and an OCI layout of its images (skopeo)."""
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("SKIP: skopeo not installed (it makes the OCI layouts)")
    tmp = tmp_path_factory.mktemp("pack")
    img = isolution.open(EXAMPLE)
    tree = tmp / "tree"
    for e in img.walk():
        if not e.path.startswith("operator"):
            continue
        dest = tree / e.path
        if e.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(img.read(e.path))
    layout = tmp / "layout"
    for i in IMAGES:
        d = tmp / "dir" / i
        d.mkdir(parents=True)
        for name in img.listdir(f"images/{i}"):
            (d / name).write_bytes(img.read(f"images/{i}/{name}"))
        ref = i.replace("/", "-")
        subprocess.run(
            [skopeo, "copy", "--quiet", f"dir:{d}", f"oci:{layout}:{ref}"], check=True
        )
    return tree, layout


def refs(layout: Path) -> list[str]:
    return [f"{i.replace('/', ':')}=oci:{layout}:{i.replace('/', '-')}" for i in IMAGES]


def test_pack_reads_back_and_validates(sources, tmp_path):
    tree, layout = sources
    out = tmp_path / "x.iso"
    calls = []
    report = isolution.pack(
        out,
        tree,
        images=refs(layout),
        name="example-solution",
        version="1.0.2",
        display_name="Example Solution",
        source_date_epoch=1700000000,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert report["bytes"] == out.stat().st_size
    assert report["volume_id"] == "Example Solution 1.0.2"
    assert calls and calls[-1][0] == calls[-1][1] == out.stat().st_size
    # The digests are what skopeo's own conversion of the same layout gives.
    skopeo = shutil.which("skopeo")
    for i in report["images"]:
        conv = tmp_path / f"conv-{i['name']}-{i['tag']}"
        subprocess.run(
            [skopeo, "copy", "--quiet", "--format", "v2s2",
             f"oci:{layout}:{i['name']}-{i['tag']}", f"dir:{conv}"],
            check=True,
        )
        want = "sha256:" + hashlib.sha256((conv / "manifest.json").read_bytes()).hexdigest()
        assert i["digest"] == want
        assert i["converted_from"] and i["converted_from"] != want
    img = isolution.open(out)
    r = img.solution.validate()
    assert [f.rule for f in r if f.severity != "info"] == [], list(r)
    names = {e.path for e in img.walk()}
    assert {"manifest.yaml", "registry-config.inc.j2", "SHA256SUMS"} <= names
    # The generated file is what the image tree implies (the converted manifests have new
    # digests: the fixture's own registry-config names the old ones).
    assert img.read("registry-config.inc.j2").decode() == img.solution.registry_config()


def test_same_inputs_same_bytes(sources, tmp_path):
    tree, layout = sources
    a, b = tmp_path / "a.iso", tmp_path / "b.iso"
    common = dict(name="example-solution", version="1.0.2", source_date_epoch=1)
    isolution.pack(a, tree, images=refs(layout), **common)
    isolution.pack(b, tree, images=list(reversed(refs(layout))), **common)
    assert a.read_bytes() == b.read_bytes()


def test_raising_progress_stops_and_leaves_nothing(sources, tmp_path):
    tree, layout = sources
    out = tmp_path / "x.iso"

    class Stop(Exception):
        pass

    def progress(done, total):
        if done > 0:
            raise Stop("enough")

    raises(Stop, isolution.pack, out, tree, images=refs(layout), name="n", version="1",
           progress=progress)
    assert os.listdir(tmp_path) == []


def test_errors(sources, tmp_path):
    tree, layout = sources
    out = tmp_path / "x.iso"
    raises(isolution.PackError, isolution.pack, out, tree, images=refs(layout),
           match="manifest.yaml")
    raises(ValueError, isolution.pack, out, tree, images=["nope:x"], name="n", version="1")
    raises(TypeError, isolution.pack, out, tree, images="oci:x", name="n", version="1")
    raises(isolution.PackError, isolution.pack, out, tree,
           images=[f"a:1=oci:{layout}:missing"], name="n", version="1", match="missing")
    assert not out.exists()


def test_signed_with_an_ssh_key(sources, tmp_path):
    """sign= takes an OpenSSH private key too (passphrase-protected here): SHA256SUMS.sig is
    ssh-keygen -Y sign's signature byte for byte, and verify() accepts it."""
    ssh_keygen = shutil.which("ssh-keygen")
    if ssh_keygen is None:
        pytest.skip("SKIP: ssh-keygen not installed")
    tree, layout = sources
    keys = tmp_path / "keys"
    keys.mkdir()
    key = keys / "id_ed25519"
    subprocess.run([ssh_keygen, "-q", "-t", "ed25519", "-N", "correct horse", "-C",
                    "packager@example.com", "-f", str(key)], check=True)
    fp = subprocess.run([ssh_keygen, "-l", "-f", str(key)], capture_output=True, text=True,
                        check=True).stdout.split()[1]
    out = tmp_path / "x.iso"
    report = isolution.pack(out, tree, images=refs(layout), name="example-solution",
                            version="1.0.2", source_date_epoch=1700000000, sign=key,
                            password="correct horse")
    assert report["signed_by"] == fp and fp.startswith("SHA256:")
    assert report["signature_scheme"] == "ssh"
    img = isolution.open(out)
    names = {e.path for e in img.walk()}
    assert "SHA256SUMS.sig" in names and "SHA256SUMS.minisig" not in names
    # ssh-keygen's own signature of the same SHA256SUMS, with the key decrypted.
    plain = keys / "plain"
    shutil.copy(key, plain)
    subprocess.run([ssh_keygen, "-q", "-p", "-f", str(plain), "-P", "correct horse", "-N", ""],
                   check=True)
    sums = keys / "SHA256SUMS"
    sums.write_bytes(img.read("SHA256SUMS"))
    subprocess.run([ssh_keygen, "-Y", "sign", "-f", str(plain), "-n", "metalk8s-solution",
                    str(sums)], check=True, capture_output=True)
    assert img.read("SHA256SUMS.sig") == (keys / "SHA256SUMS.sig").read_bytes()
    allowed = keys / "allowed_signers"
    public = (keys / "id_ed25519.pub").read_text().split()
    allowed.write_text(f"release@example.com {public[0]} {public[1]}\n")
    r = img.solution.verify(allowed_signers=allowed, identity="release@example.com")
    assert r["verified"] is True and r["signature"]["key_id"] == fp
    # A wrong passphrase, and a public key: PackError naming the cause, nothing written.
    bad = tmp_path / "bad.iso"
    raises(isolution.PackError, isolution.pack, bad, tree, images=refs(layout), name="n",
           version="1", sign=key, password=b"correct horse battery", match="wrong passphrase")
    raises(isolution.PackError, isolution.pack, bad, tree, images=refs(layout), name="n",
           version="1", sign=keys / "id_ed25519.pub", match="SSH public key")
    assert not bad.exists()


def test_platform_packs_one_platform(sources, tmp_path):
    """platform= reduces a multi-platform image to one platform, byte for byte what skopeo
    --override-arch writes; a platform the list lacks raises PackError naming the ones it
    has, leaving nothing behind; without it, the list is kept with every platform."""
    skopeo = shutil.which("skopeo")
    multi = isolution.open(SOLUTIONS / "example-solution-1.0.2-multiarch.iso")
    src = tmp_path / "src"
    src.mkdir()
    for name in multi.listdir("images/base-server/1.0.2-oci"):
        (src / name).write_bytes(multi.read(f"images/base-server/1.0.2-oci/{name}"))
    layout = tmp_path / "layout"
    subprocess.run([skopeo, "--insecure-policy", "copy", "--quiet", "--all",
                    "--preserve-digests", f"dir:{src}", f"oci:{layout}:list"], check=True)
    want = tmp_path / "want"
    subprocess.run([skopeo, "--insecure-policy", "--override-os", "linux", "--override-arch",
                    "arm64", "copy", "--quiet", "--format", "v2s2", f"oci:{layout}:list",
                    f"dir:{want}"], check=True)
    image = f"base-server:1.0=oci:{layout}:list"
    common = dict(images=[image], name="n", version="1", source_date_epoch=1)
    out = tmp_path / "out"
    out.mkdir()
    iso = out / "one.iso"
    report = isolution.pack(iso, platform="linux/arm64", **common)
    (img,) = report["images"]
    assert img["platform"] == "linux/arm64/v8"
    assert img["from_list"].startswith("sha256:") and "platforms" not in img
    assert report["notes"] == []
    packed = isolution.open(iso)
    got = {n: packed.read(f"images/base-server/1.0/{n}")
           for n in packed.listdir("images/base-server/1.0")}
    assert got == {p.name: p.read_bytes() for p in want.iterdir()}
    assert img["digest"] == "sha256:" + hashlib.sha256(got["manifest.json"]).hexdigest()
    iso.unlink()
    raises(isolution.PackError, isolution.pack, iso, platform="linux/s390x", **common,
           match=r"no instance for linux/s390x \(the list has: linux/amd64, linux/arm64/v8\)")
    raises(ValueError, isolution.pack, iso, platform="linux", **common, match="OS/ARCH")
    assert os.listdir(out) == []
    report = isolution.pack(iso, **common)
    assert [p["platform"] for p in report["images"][0]["platforms"]] == [
        "linux/amd64", "linux/arm64/v8"]
