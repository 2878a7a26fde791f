"""The namespace= keyword: Rock Ridge, Joliet, ISO 9660:1999 and primary trees."""

from __future__ import annotations

import pytest

import isolution
from conftest import FIXTURES

EXPECTED = {
    "rr-joliet": ["rr", "joliet", "primary"],
    "rr-only": ["rr", "primary"],
    "joliet-only": ["joliet", "primary"],
    "plain-l1": ["primary"],
    "plain-l3": ["primary"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_namespaces(name):
    with isolution.open(FIXTURES / f"{name}.iso") as image:
        assert image.namespaces == EXPECTED[name]
        assert image.namespace == EXPECTED[name][0]
        assert image.volume["namespaces"] == EXPECTED[name]


def test_every_namespace_reads_the_same_bytes(rr_joliet):
    by_id = {e.file_id: rr_joliet.read(e.path) for e in rr_joliet.walk() if e.file_id}
    for ns in ("joliet", "primary"):
        n = 0
        for e in rr_joliet.walk(namespace=ns):
            assert e.namespace == ns
            if e.file_id:
                assert rr_joliet.read(e.path, namespace=ns) == by_id[e.file_id], (ns, e.path)
                with rr_joliet.open(e.path, namespace=ns) as f:
                    assert f.read() == by_id[e.file_id]
                assert rr_joliet.view(e.path, namespace=ns).tobytes() == by_id[e.file_id]
                n += 1
        assert n >= 10, (ns, n)


def test_names_per_namespace(rr_joliet):
    assert rr_joliet.read("top.txt", namespace="joliet") == b"top-level file\n"
    assert rr_joliet.read("TOP.TXT", namespace="primary") == b"top-level file\n"
    assert rr_joliet.read("TOP.TXT;1", namespace="primary") == b"top-level file\n"
    assert not rr_joliet.exists("top.txt", namespace="primary")
    assert "TOP.TXT" in rr_joliet.listdir(namespace="primary")
    # Joliet has no symlinks or modes.
    assert rr_joliet.stat("top.txt", namespace="joliet").mode == 0o100444
    assert rr_joliet.stat("top.txt", namespace="joliet").nlink is None
    # Aliases of the namespace names are accepted.
    assert len(rr_joliet.walk(namespace="rock-ridge")) == len(rr_joliet.walk())


def test_bad_namespaces(rr_joliet):
    with pytest.raises(ValueError, match="unknown namespace"):
        rr_joliet.walk(namespace="ntfs")
    with pytest.raises(ValueError, match="ISO 9660:1999"):
        rr_joliet.walk(namespace="iso1999")
