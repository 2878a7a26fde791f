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
