"""export_docker_archive / export_oci_archive read back by skopeo, and the progress callable
of every export: throttled, monotonic, ending at done == total, and an exception it raises
stops the export and reaches the caller."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import tarfile

import pytest

import isolution
from conftest import SOLUTIONS, build_solution, check_progress, lines, need_tool


def expected_images():
    """(name, tag, manifest digest, [config digest, layer digests...]) of the example."""
    rows = lines(SOLUTIONS / "expected" / "example-solution-1.0.2.images.tsv")
    return [(r[0], r[1], r[2], r[5].split(",")) for r in (row.split("\t") for row in rows)]


def skopeo(*args: str) -> bytes:
    r = subprocess.run([need_tool("skopeo"), *args], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def test_docker_archive_is_read_by_skopeo(example, tmp_path):
    s = example.solution
    tar = tmp_path / "images.docker.tar"
    report = s.export_docker_archive(tar)
    assert sorted(report["refs"]) == sorted(f"{n}:{t}" for n, t, _, _ in expected_images())
    distinct = {d for _, _, _, blobs in expected_images() for d in blobs}
    assert report["blobs"] == len(distinct)
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]
    with tarfile.open(tar) as t:
        manifest = json.load(t.extractfile("manifest.json"))
    assert sorted(m["RepoTags"][0] for m in manifest) == sorted(report["refs"])
    for name, tag, _, blobs in expected_images():
        ref = f"docker-archive:{tar}:{name}:{tag}"
        # The config is the archive's, byte for byte; the layers are those its config lists.
        config = skopeo("inspect", "--config", "--raw", ref)
        assert "sha256:" + hashlib.sha256(config).hexdigest() == blobs[0], ref
        info = json.loads(skopeo("inspect", ref))
        assert info["Layers"] == json.loads(config)["rootfs"]["diff_ids"], ref
        assert len(info["Layers"]) == len(blobs) - 1


def test_oci_archive_is_read_by_skopeo_with_digests_unchanged(example, tmp_path):
    s = example.solution
    tar = tmp_path / "images.oci.tar"
    report = s.export_oci_archive(tar)
    assert len(report["refs"]) == 3
    for name, tag, digest, blobs in expected_images():
        ref = f"oci-archive:{tar}:{name}:{tag}"
        info = json.loads(skopeo("inspect", ref))
        assert info["Layers"] == blobs[1:], ref
        # Copied out with digests preserved: the manifest is the archive's, byte for byte.
        out = tmp_path / f"dir-{name}-{tag}"
        skopeo("--insecure-policy", "copy", "--quiet", "--preserve-digests", ref, f"dir:{out}")
        got = (out / "manifest.json").read_bytes()
        assert "sha256:" + hashlib.sha256(got).hexdigest() == digest, ref
        assert got == example.read(f"images/{name}/{tag}/manifest.json")


def test_archive_selection_and_errors(example, tmp_path):
    s = example.solution
    one = s.export_docker_archive(tmp_path / "one.tar", ["base-server:1.0.2"])
    assert one["refs"] == ["base-server:1.0.2"]
    two = s.export_oci_archive(tmp_path / "two.tar", [("example-solution-operator", "1.0.2")])
    assert two["refs"] == ["example-solution-operator:1.0.2"]
    with pytest.raises(isolution.ExportError, match="no image nope:1"):
        s.export_docker_archive(tmp_path / "x.tar", ["nope:1"])
    with pytest.raises(TypeError, match="not a string"):
        s.export_oci_archive(tmp_path / "x.tar", "base-server:1.0.2")
    assert not (tmp_path / "x.tar").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]
    with pytest.raises(isolution.ExportError):
        s.export_docker_archive(tmp_path / "no-such-dir" / "x.tar")


def test_archives_refuse_corrupt_blobs(tmp_path):
    with isolution.open(SOLUTIONS / "broken-image-blob-digest.iso") as image:
        for export in (image.solution.export_docker_archive, image.solution.export_oci_archive):
            with pytest.raises(isolution.ExportError, match="content has sha256:"):
                export(tmp_path / "bad.tar")
            assert list(tmp_path.iterdir()) == []


def test_an_archive_validation_refuses_is_not_exported_or_pushed(tmp_path):
    # MetalK8s refuses this archive (salt/_modules/metalk8s_solutions.py and the operator
    # Deployment of orchestrate/solutions/prepare-environment.sls: its operator image is not
    # there); `isolution export`/`push` refuse it without --force, and so does Python
    # without check=False. Digests are not needed to decide, so nothing is hashed first.
    with isolution.open(SOLUTIONS / "broken-operator-image-missing.iso") as image:
        s = image.solution
        for export in (
            lambda: s.export_oci(tmp_path / "layout"),
            lambda: s.export_oci_archive(tmp_path / "x.tar"),
            lambda: s.export_docker_archive(tmp_path / "x.tar"),
            lambda: s.push("127.0.0.1:1", insecure=True),
        ):
            with pytest.raises(isolution.ValidationError, match="operator.image-missing") as e:
                export()
            assert isinstance(e.value.findings, isolution.ValidationReport)
            assert [f.rule for f in e.value.findings.failures] == ["operator.image-missing"]
            assert list(tmp_path.iterdir()) == []
        report = s.export_oci(tmp_path / "layout", check=False)
        assert len(report["images"]) == 3
        assert s.export_oci_archive(tmp_path / "x.tar", check=False)["refs"]


@pytest.fixture(scope="module")
def many_layers(tmp_path_factory):
    """A Solution whose image has 300 small layers (one progress tick or more each), and one
    shared with a second image."""
    rng = random.Random(6)
    layers = [rng.randbytes(rng.randint(1000, 20000)) for _ in range(300)]
    iso = build_solution(tmp_path_factory.mktemp("many"), "many-layers", "2.0.0", {
        "big:2.0.0": layers,
        "small:2.0.0": layers[:1] + [b"only in small\n"],
    })
    with isolution.open(iso) as image:
        s = image.solution
    sizes = {d.digest: d.size for i in s.images for d in [i.config, *i.layers]}
    assert len(sizes) == 302  # 300 + 1 layers, one config (the same JSON for both)
    return s, sum(sizes.values())


@pytest.mark.parametrize("how", ["oci", "oci-archive", "docker-archive"])
def test_progress_is_throttled_monotonic_and_complete(many_layers, tmp_path, how):
    s, total = many_layers
    calls = []
    export = {
        "oci": lambda p: s.export_oci(tmp_path / "layout", None, p),
        "oci-archive": lambda p: s.export_oci_archive(tmp_path / "x.tar", progress=p),
        "docker-archive": lambda p: s.export_docker_archive(tmp_path / "x.tar", progress=p),
    }[how]
    report = export(lambda done, tot: calls.append((done, tot)))
    if how == "oci-archive":
        # The tar's blobs include the manifests and the per-ref indexes.
        assert report["bytes"] > total
        total = report["bytes"]
    elif how == "docker-archive":
        assert report["bytes"] == total
    check_progress(calls, total)
    # Hundreds of blobs (hundreds of reports from the exporter), about a hundred calls.
    assert len(calls) >= 50, len(calls)
    if how == "oci":
        # Again: every blob is there already, and counts as done.
        again = []
        report = s.export_oci(tmp_path / "layout", progress=lambda d, t: again.append((d, t)))
        assert report["blobs_written"] == 0
        check_progress(again, total)


class Stop(Exception):
    pass


@pytest.mark.parametrize("how", ["oci", "oci-archive", "docker-archive"])
@pytest.mark.parametrize("at", ["first", "later"])
def test_an_exception_in_progress_stops_the_export(many_layers, tmp_path, how, at):
    s, total = many_layers
    calls = []

    def progress(done, tot):
        calls.append(done)
        if at == "first" or done > 0:
            raise Stop(f"stopped at {done}")

    dest = tmp_path / ("layout" if how == "oci" else "x.tar")
    export = {
        "oci": s.export_oci,
        "oci-archive": s.export_oci_archive,
        "docker-archive": s.export_docker_archive,
    }[how]
    with pytest.raises(Stop, match="stopped at"):
        export(dest, progress=progress)
    # Called until it raised, never after.
    assert len(calls) == (1 if at == "first" else 2), calls
    if how == "oci":
        # Not committed: no index.json (the blobs written stay, verified, for a re-run).
        assert not (dest / "index.json").exists()
        if at == "first":
            assert not dest.exists()
        report = s.export_oci(dest)
        assert (dest / "index.json").exists() and len(report["images"]) == 2
        assert not [p for p in (dest / "blobs" / "sha256").iterdir() if "partial" in p.name]
    else:
        assert list(tmp_path.iterdir()) == []


def test_progress_must_be_callable(example, tmp_path):
    with pytest.raises(TypeError):
        example.solution.export_oci_archive(tmp_path / "x.tar", progress=42)
    assert not (tmp_path / "x.tar").exists()


def test_docker_archive_of_a_multi_platform_tag_needs_a_platform(tmp_path):
    with isolution.open(SOLUTIONS / "example-solution-1.0.2-multiarch.iso") as image:
        s = image.solution
        tag = ["base-server:1.0.2-multiarch"]
        with pytest.raises(isolution.ExportError, match=r"linux/amd64, linux/arm64/v8"):
            s.export_docker_archive(tmp_path / "none.tar", tag)
        with pytest.raises(isolution.ExportError, match=r"no platform linux/s390x"):
            s.export_docker_archive(tmp_path / "s390x.tar", tag, platform="linux/s390x")
        assert not (tmp_path / "none.tar").exists() and not (tmp_path / "s390x.tar").exists()
        r = s.export_docker_archive(tmp_path / "arm.tar", tag, platform="linux/arm64")
        assert r["refs"] == ["base-server:1.0.2-multiarch"]
        arm = next(i for i in s.images if i.tag == "1.0.2-multiarch").platforms[1]
        assert arm.platform == "linux/arm64/v8"
    with tarfile.open(tmp_path / "arm.tar") as t:
        manifest = json.load(t.extractfile("manifest.json"))
        config = t.extractfile(manifest[0]["Config"]).read()
    assert "sha256:" + hashlib.sha256(config).hexdigest() == arm.config.digest
    assert json.loads(config)["architecture"] == "arm64"
