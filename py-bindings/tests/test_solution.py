"""Solutions: fields, validate() against the expected findings, export_oci, verify, and
solutions.yaml checks."""

from __future__ import annotations

import base64
import json

import pytest

import isolution
from conftest import REPO, SOLUTIONS, lines, render, solution_isos


def expected_findings(stem):
    return sorted(lines(SOLUTIONS / "expected" / f"{stem}.findings"))


@pytest.mark.parametrize("stem", solution_isos())
def test_validate_gives_the_expected_findings(stem):
    with isolution.open(SOLUTIONS / f"{stem}.iso") as image:
        findings = image.solution.validate()
    assert sorted(render(f) for f in findings) == expected_findings(stem), [
        render(f, True) for f in findings
    ]


def test_example_fields(example):
    s = example.solution
    assert s.name == "example-solution"
    assert s.version == "1.0.2"
    assert s.display_name == "Example Solution"
    assert s.id == "example-solution-1.0.2"
    assert s.volume_id == "Example Solution 1.0.2"
    assert s.namespace == "rr"
    assert s.operator_image == ("example-solution-operator", "1.0.2")
    assert len(s.crds) == 2 and all(c.startswith("operator/deploy/crds/") for c in s.crds)
    assert ("Role", "example-solution-operator") in s.roles
    m = s.manifest
    assert m["kind"] == "Solution" and m["metadata"]["name"] == "example-solution"
    m["kind"] = "changed"
    assert s.manifest["kind"] == "Solution"  # a fresh copy each time
    assert "example-solution-1.0.2" in repr(s)
    rows = [line.split("\t") for line in lines(SOLUTIONS / "expected" / "example-solution-1.0.2.images.tsv")]
    got = {(i.name, i.tag): i for i in s.images}
    assert len(got) == len(rows) == 3
    for name, tag, digest, media_type, size, blobs in rows:
        i = got[(name, tag)]
        assert i.digest == digest
        assert i.media_type == media_type
        assert i.size == int(size)
        assert i.kind == "docker-v2-s2"
        assert [i.config.digest] + [layer.digest for layer in i.layers] == blobs.split(",")
        assert all(layer.size > 0 and layer.media_type for layer in i.layers)
        assert i.path == f"images/{name}/{tag}"
    # The generator omits the constant blocks; what it writes is in the archive's file.
    rc = s.registry_config()
    assert "example-solution-operator" in rc and "location" in rc
    shipped = (SOLUTIONS / "expected" / "example-solution-1.0.2.registry-config.inc.j2").read_text()
    assert all(line in shipped for line in rc.splitlines() if line.strip())


def test_validate_options(example):
    s = example.solution
    no_digests = s.validate(digests=False)
    assert [render(f) for f in no_digests] == [render(f) for f in s.validate()]
    assert s.validate(check=True)  # warnings only: passes
    with pytest.raises(isolution.ValidationError) as e:
        s.validate(check=True, strict=True)
    assert e.value.findings and "manifest.images-entry" in str(e.value)
    f = s.validate()[0]
    assert f == s.validate()[0] and hash(f) == hash(s.validate()[0])
    assert f.severity in ("error", "warning", "info")


def test_validate_raises_on_errors():
    with isolution.open(SOLUTIONS / "broken-image-blob-digest.iso") as image:
        s = image.solution
        with pytest.raises(isolution.ValidationError, match="image.blob-digest"):
            s.validate(check=True)
        # Without digests the corruption is not seen.
        assert not any(f.rule == "image.blob-digest" for f in s.validate(digests=False))


def test_export_oci(example, tmp_path):
    dest = tmp_path / "layout"
    report = example.solution.export_oci(dest)
    assert json.loads((dest / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((dest / "index.json").read_text())
    refs = sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"])
    assert len(refs) == 3, refs
    assert report["blobs_written"] > 0 and len(report["images"]) == 3
    for m in index["manifests"]:
        assert (dest / "blobs" / "sha256" / m["digest"].split(":")[1]).is_file()
    # Again: everything is already there.
    again = example.solution.export_oci(dest, ["base-server:1.0.2"])
    assert again["blobs_written"] == 0 and len(again["images"]) == 1
    one = example.solution.export_oci(tmp_path / "one", [("example-solution-operator", "1.0.2")])
    assert len(one["images"]) == 1
    with pytest.raises(isolution.ExportError, match="no image nope:1"):
        example.solution.export_oci(tmp_path / "x", ["nope:1"])
    with pytest.raises(ValueError):
        example.solution.export_oci(tmp_path / "x", ["no-tag"])


def test_export_oci_rehashes_blobs_already_there(example, tmp_path):
    dest = tmp_path / "layout"
    example.solution.export_oci(dest)
    blobs = sorted((dest / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    victim = blobs[-1]
    good = victim.read_bytes()
    bad = bytes([good[0] ^ 1]) + good[1:]
    victim.write_bytes(bad)
    # Trusted: a regular file of the right size counts as present, unread.
    kept = example.solution.export_oci(dest, trust_existing=True)
    assert kept["blobs_replaced"] == 0 and victim.read_bytes() == bad
    # By default it is re-hashed, replaced and reported.
    fixed = example.solution.export_oci(dest)
    assert fixed["blobs_replaced"] == 1
    assert fixed["replaced"] == ["sha256:" + victim.name]
    assert victim.read_bytes() == good


def test_export_oci_refuses_a_symlinked_blob_directory(example, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "layout"
    (dest / "blobs").mkdir(parents=True)
    (dest / "blobs" / "sha256").symlink_to(outside)
    with pytest.raises(isolution.ExportError, match="symbolic link"):
        example.solution.export_oci(dest)
    assert list(outside.iterdir()) == []


def test_export_refuses_corrupt_blobs(tmp_path):
    with isolution.open(SOLUTIONS / "broken-image-blob-digest.iso") as image:
        with pytest.raises(isolution.ExportError, match="sha256"):
            image.solution.export_oci(tmp_path / "layout")


def test_verify_unsigned(example, tmp_path):
    s = example.solution
    with pytest.raises(TypeError):
        s.verify()
    with pytest.raises(isolution.SignatureError, match="key"):
        s.verify(key=b"not a key")
    # A well-formed minisign public key that did not sign anything here.
    key = tmp_path / "minisign.pub"
    raw = b"Ed" + bytes(range(8)) + bytes.fromhex("58" + "66" * 31)  # the Ed25519 base point
    key.write_text("untrusted comment: minisign public key\n" + base64.b64encode(raw).decode() + "\n")
    with pytest.raises(isolution.SignatureError) as e:
        s.verify(key)
    assert e.value.report["verified"] is False
    assert any(f["kind"] == "no-sums" for f in e.value.report["failures"])
    with pytest.raises(FileNotFoundError):
        s.verify(tmp_path / "absent.pub")


def config_cases():
    return sorted(p.stem for p in (SOLUTIONS / "config").glob("*.yaml"))


@pytest.mark.parametrize("case", config_cases())
def test_solutions_config(case, tmp_path):
    text = (SOLUTIONS / "config" / f"{case}.yaml").read_text()
    path = tmp_path / f"{case}.yaml"
    path.write_text(text.replace("@FIXTURES@", str(SOLUTIONS.resolve())))
    cfg = isolution.load_solutions_config(path)
    assert cfg.path == path
    got = sorted(render(f) for f in cfg.check(digests=False))
    assert got == sorted(lines(SOLUTIONS / "config" / f"{case}.expected"))


def test_solutions_config_fields(tmp_path):
    text = (SOLUTIONS / "config" / "ok.yaml").read_text()
    path = tmp_path / "ok.yaml"
    path.write_text(text.replace("@FIXTURES@", str(SOLUTIONS.resolve())))
    cfg = isolution.load_solutions_config(path)
    assert cfg.kind == "SolutionsConfiguration"
    assert cfg.api_version == "solutions.metalk8s.scality.com/v1alpha1"
    assert len(cfg.archives) >= 1
    assert isinstance(cfg.active, dict)
    assert cfg.check(check=True, strict=True) == cfg.check()
    with pytest.raises(FileNotFoundError):
        isolution.load_solutions_config(tmp_path / "absent.yaml")


def test_validate_returns_a_report_whose_verdict_depends_on_strict(example):
    s = example.solution
    lenient, strict = s.validate(), s.validate(strict=True)
    assert isinstance(lenient, isolution.ValidationReport) and isinstance(lenient, list)
    # The same findings either way; strict only decides which fail.
    assert list(lenient) == list(strict)
    assert (lenient.strict, strict.strict) == (False, True)
    # The bogus ":1.0.2" entry, and the display name where MetalK8s does not read it.
    assert lenient.errors == [] and len(lenient.warnings) == 2
    assert lenient.passed and lenient.failures == []
    assert not strict.passed and strict.failures == strict.warnings
    assert lenient.hashed_blobs == 5 and lenient.hashed_bytes == 2333
    assert s.validate(digests=False).hashed_blobs == 0
    assert "passed" in repr(lenient) and "failed" in repr(strict)
    with pytest.raises(isolution.ValidationError) as e:
        s.validate(strict=True, check=True)
    assert isinstance(e.value.findings, isolution.ValidationReport)
    assert e.value.findings.failures == strict.failures
    with isolution.open(SOLUTIONS / "broken-image-blob-digest.iso") as image:
        broken = image.solution.validate()
        assert not broken.passed
        assert [f.rule for f in broken.failures] == ["image.blob-digest"]
        assert [f.rule for f in image.solution.validate(strict=True).failures] == [
            "image.blob-digest", "manifest.display-name-not-shown", "manifest.images-entry"]


def cli():
    """The isolution command-line tool built in this checkout, if any."""
    import os

    for p in (os.environ.get("ISOLUTION_BIN"), REPO / "target" / "release" / "isolution",
              REPO / "target" / "debug" / "isolution"):
        if p and os.access(p, os.X_OK):
            return str(p)
    pytest.skip("SKIP: no isolution binary (cargo build -p oci-export, or set ISOLUTION_BIN)")


@pytest.mark.parametrize("stem", solution_isos())
def test_passed_is_the_cli_verdict(stem):
    """`report.passed` is True exactly when `isolution validate [--strict]` exits with 0."""
    import subprocess

    exe = cli()
    iso = SOLUTIONS / f"{stem}.iso"
    with isolution.open(iso) as image:
        s = image.solution
        for strict in (False, True):
            r = subprocess.run([exe, "validate", str(iso)] + (["--strict"] if strict else []),
                               capture_output=True)
            assert r.returncode in (0, 1), r.stderr.decode()
            assert s.validate(strict=strict).passed == (r.returncode == 0), (stem, strict)


def test_lists_and_indexes_have_their_platforms():
    """The multi-platform fixture: each list's per-platform manifests, read from their
    ``<hex>.manifest.json`` files, with the platform the list gives and their own blobs."""
    with isolution.open(SOLUTIONS / "example-solution-1.0.2-multiarch.iso") as image:
        s = image.solution
        got = {(i.name, i.tag): i for i in s.images}
        single = got[("base-server", "1.0.2")]
        assert single.platforms == [] and single.kind == "docker-v2-s2"
        for tag, kind, child_kind in [
            ("1.0.2-multiarch", "docker-list", "docker-v2-s2"),
            ("1.0.2-oci", "oci-index", "oci-manifest"),
        ]:
            i = got[("base-server", tag)]
            assert i.kind == kind
            raw = json.loads(image.read(f"images/base-server/{tag}/manifest.json"))
            assert [p.manifest.digest for p in i.platforms] == [m["digest"] for m in raw["manifests"]]
            assert [p.platform for p in i.platforms] == ["linux/amd64", "linux/arm64/v8"]
            for p in i.platforms:
                assert p.kind == child_kind
                hex_ = p.manifest.digest.removeprefix("sha256:")
                m = json.loads(image.read(f"images/base-server/{tag}/{hex_}.manifest.json"))
                assert p.config.digest == m["config"]["digest"]
                assert [layer.digest for layer in p.layers] == [x["digest"] for x in m["layers"]]
                assert "linux/" in repr(p)
        # The amd64 manifest of the Docker list is base-server:1.0.2's own.
        assert got[("base-server", "1.0.2-multiarch")].platforms[0].manifest.digest == single.digest


def test_a_list_missing_a_platform_blob_is_an_error():
    with isolution.open(SOLUTIONS / "broken-image-list-blob-missing.iso") as image:
        report = image.solution.validate()
    assert not report.passed
    assert [f.rule for f in report.errors] == ["image.blob-missing"]
