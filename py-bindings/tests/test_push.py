"""Solution.push() against Debian's docker-registry (distribution) on 127.0.0.1, read back
with skopeo: digests unchanged, a second push sends nothing, progress, and the errors of a
registry that is down."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import isolution
from conftest import SOLUTIONS, check_progress, lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def registry(tmp_path):
    """A docker-registry of its own (storage in tmp_path, deletion enabled): its address."""
    exe = shutil.which("docker-registry")
    if exe is None:
        pytest.skip("SKIP: docker-registry not installed")
    port = free_port()
    cfg = tmp_path / "config.yml"
    cfg.write_text(
        "version: 0.1\nlog: { level: warn }\nstorage:\n"
        f"  filesystem: {{ rootdirectory: {tmp_path / 'data'} }}\n"
        "  delete: { enabled: true }\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen([exe, "serve", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    addr = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "docker-registry did not start"
                assert proc.poll() is None, "docker-registry exited"
                time.sleep(0.05)
        yield addr
    finally:
        proc.kill()
        proc.wait()


def catalog(addr: str) -> list:
    with urllib.request.urlopen(f"http://{addr}/v2/_catalog") as r:
        return json.load(r)["repositories"]


def expected():
    return [row.split("\t")[:3] for row in
            lines(SOLUTIONS / "expected" / "example-solution-1.0.2.images.tsv")]


def test_push_then_read_back_with_skopeo(example, registry):
    s = example.solution
    calls = []
    report = s.push(registry, insecure=True, progress=lambda d, t: calls.append((d, t)))
    assert len(report["images"]) == 3
    # 5 distinct blobs over 2 repositories: the layer both images share is mounted.
    assert report["uploaded"] + report["mounted"] == 6 and report["mounted"] >= 1
    assert report["present"] == 0
    distinct = {}
    for i in s.images:
        for d in [i.config, *i.layers]:
            distinct[(i.name, d.digest)] = d.size
    check_progress(calls, sum(distinct.values()))
    assert len(calls) > 2, f"progress only at the start and the end: {calls}"
    assert report["bytes"] <= sum(distinct.values())
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("SKIP: skopeo not installed (pushed, not read back)")
    for name, tag, digest in expected():
        ref = f"docker://{registry}/example-solution-1.0.2/{name}:{tag}"
        r = subprocess.run([skopeo, "inspect", "--tls-verify=false", ref], capture_output=True)
        assert r.returncode == 0, r.stderr.decode()
        assert json.loads(r.stdout)["Digest"] == digest, ref
        assert f"{registry}/example-solution-1.0.2/{name}:{tag}@{digest}" in report["images"]
    # Again: every blob is there, nothing is sent.
    again = s.push(registry, insecure=True)
    assert again["uploaded"] == 0 and again["bytes"] == 0 and again["present"] == 6
    # Another prefix, one request at a time.
    other = s.push(f"http://{registry}", prefix="mirror/x", concurrency=1)
    assert all(i.startswith(f"{registry}/mirror/x/") for i in other["images"])
    assert "mirror/x/base-server" in catalog(registry)


def test_an_exception_in_progress_stops_the_push(example, registry):
    def progress(done, total):
        raise KeyError("no thanks")

    with pytest.raises(KeyError, match="no thanks"):
        example.solution.push(registry, insecure=True, progress=progress)
    assert catalog(registry) == []  # nothing was sent


def test_an_exception_after_some_blobs_stops_before_the_manifests(example, registry):
    calls = []

    def progress(done, total):
        calls.append(done)
        if done > 0:
            raise KeyError("enough")

    with pytest.raises(KeyError, match="enough"):
        example.solution.push(registry, insecure=True, progress=progress)
    assert len(calls) == 2 and calls[1] > 0, calls
    # Some blobs went, but no manifest: no tag exists.
    for name in ("base-server", "example-solution-operator"):
        url = f"http://{registry}/v2/example-solution-1.0.2/{name}/tags/list"
        try:
            with urllib.request.urlopen(url) as r:
                assert not json.load(r).get("tags"), name
        except urllib.error.HTTPError as e:
            assert e.code == 404, (name, e.code)
    # A second push completes it.
    again = example.solution.push(registry, insecure=True)
    assert len(again["images"]) == 3 and again["present"] + again["mounted"] >= 1


def test_registry_down_is_a_registry_error(example):
    port = free_port()  # nothing listens there
    with pytest.raises(isolution.RegistryError) as e:
        example.solution.push(f"127.0.0.1:{port}", insecure=True)
    assert isinstance(e.value, isolution.ExportError)
    assert e.value.status is None and e.value.method in ("HEAD", "POST", "GET")
    assert f"127.0.0.1:{port}" in str(e.value) and "insecure=True" in str(e.value)
    with pytest.raises(ValueError, match="concurrency"):
        example.solution.push(f"127.0.0.1:{port}", concurrency=0)


def test_registry_error_answers(example, registry):
    # https against a plain-http registry: no TLS handshake possible.
    with pytest.raises(isolution.RegistryError) as e:
        example.solution.push(registry)
    assert e.value.url.startswith("https://")
    # A repository name the registry has no route for (upper case): its 404, and its body.
    with pytest.raises(isolution.RegistryError) as e:
        example.solution.push(registry, insecure=True, prefix="Upper/Case")
    assert (e.value.status, e.value.method) == (404, "POST")
    assert "/v2/Upper/Case/" in e.value.url and "404" in e.value.body
    assert catalog(registry) == []


def test_credentials_in_the_url_are_never_shown_and_silence_times_out(example):
    port = free_port()  # nothing listens there
    with pytest.raises(isolution.RegistryError) as e:
        example.solution.push(f"http://alice:Pa55-XYZZY@127.0.0.1:{port}")
    text = f"{e.value} {e.value.url}"
    assert "connection refused" in text and "Pa55-XYZZY" not in text and "alice" not in text
    # A server that accepts and never answers: the read time limit, named.
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        addr = "127.0.0.1:%d" % srv.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(isolution.RegistryError) as e:
            example.solution.push(addr, insecure=True, read_timeout=1)
        assert time.monotonic() - start < 15
        assert "timed out after 1 s" in str(e.value), str(e.value)
    with pytest.raises(ValueError, match="read_timeout"):
        example.solution.push(addr, read_timeout=0)


def test_basic_auth_registry(example, tmp_path):
    """htpasswd basic auth: the credentials work, wrong ones are a 401 RegistryError."""
    exe, htpasswd = shutil.which("docker-registry"), shutil.which("htpasswd")
    if exe is None or htpasswd is None:
        pytest.skip("SKIP: docker-registry or htpasswd not installed")
    (tmp_path / "htpasswd").write_bytes(
        subprocess.run([htpasswd, "-Bbn", "alice", "Pa55-XYZZY"], check=True,
                       capture_output=True).stdout)
    port = free_port()
    cfg = tmp_path / "config.yml"
    cfg.write_text(
        "version: 0.1\nlog: { level: warn }\nstorage:\n"
        f"  filesystem: {{ rootdirectory: {tmp_path / 'data'} }}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {tmp_path / 'htpasswd'}\n"
    )
    proc = subprocess.Popen([exe, "serve", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    addr = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "docker-registry did not start"
                time.sleep(0.05)
        with pytest.raises(isolution.RegistryError) as e:
            example.solution.push(addr, insecure=True, credentials=("alice", "wrong-QUUX"))
        assert e.value.status == 401 and "wrong-QUUX" not in str(e.value)
        report = example.solution.push(addr, insecure=True, credentials=("alice", "Pa55-XYZZY"))
        assert len(report["images"]) == 3
        # From an auth file, as `podman login` writes it; a missing one is named.
        import base64, json
        auth = tmp_path / "auth.json"
        token = base64.b64encode(b"alice:Pa55-XYZZY").decode()
        auth.write_text(json.dumps({"auths": {addr: {"auth": token}}}))
        again = example.solution.push(addr, insecure=True, authfile=auth)
        assert len(again["images"]) == 3 and again["uploaded"] == 0
        with pytest.raises(isolution.ExportError, match="nope.json"):
            example.solution.push(addr, insecure=True, authfile=tmp_path / "nope.json")
    finally:
        proc.kill()
        proc.wait()
