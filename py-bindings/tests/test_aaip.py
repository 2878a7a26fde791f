"""AAIP (xorriso `-for_backup`, `-acl on -xattr any`): `Entry.xattrs`, `Entry.acl` and
`Entry.default_acl` show what `getfattr` and `getfacl` show on the source tree; entries
without AAIP have none; malformed attribute data raises `FormatError` with its offset when a
property is read (the listing itself works)."""

from __future__ import annotations

import subprocess

import pytest

import isolution
from conftest import need_tool

BIG = bytes(ord("a") + i % 26 for i in range(3000))


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def getfacl(path) -> tuple[str | None, str | None]:
    """Access and default ACL in getfacl text (numeric ids), None when minimal / absent."""
    out = run(need_tool("getfacl"), "-n", "-E", "-c", str(path))
    lines = [line for line in out.splitlines() if line and not line.startswith("#")]
    access = [line for line in lines if not line.startswith("default:")]
    default = [line.removeprefix("default:") for line in lines if line.startswith("default:")]
    return ("\n".join(access) if len(access) > 3 else None, "\n".join(default) or None)


def getfattr(path) -> dict[str, bytes]:
    out = run(need_tool("getfattr"), "-h", "-d", "-m", "-", "-e", "hex", "--absolute-names",
              str(path))
    found = {}
    for line in out.splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("system.posix_acl_"):
            found[name] = bytes.fromhex(value.removeprefix("0x"))
    return found


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    setfacl = need_tool("setfacl")
    setfattr = need_tool("setfattr")
    need_tool("xorriso")
    root = tmp_path_factory.mktemp("aaip")
    src = root / "src"
    (src / "d").mkdir(parents=True)
    for name in ("f", "plain", "d/big", "utf"):
        (src / name).write_bytes(name.encode() + b"\n")
    probe = subprocess.run([setfattr, "-n", "user.probe", "-v", "1", str(src / "plain")],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"SKIP: {root} refuses user extended attributes")
    subprocess.run([setfattr, "-x", "user.probe", str(src / "plain")], check=True)
    run(setfattr, "-n", "user.foo", "-v", "bar", str(src / "f"))
    run(setfattr, "-n", "user.bin", "-v", "0x00ff10", str(src / "f"))
    run(setfacl, "-m", "u:1234:rwx,g:4321:r-x", str(src / "f"))
    run(setfacl, "-m", "u:2345:rw-", str(src / "d"))
    run(setfacl, "-d", "-m", "u:1234:r-x", str(src / "d"))
    run(setfattr, "-n", "user.big", "-v", BIG.decode(), str(src / "d" / "big"))
    run(setfattr, "-n", "user.text", "-v", "h\u00e9llo", str(src / "utf"))
    return src


def master(tree, name: str, *options: str):
    iso = tree.parent / name
    subprocess.run([need_tool("xorriso"), "-no_rc", "-report_about", "WARNING", *options,
                    "-outdev", f"stdio:{iso}", "-map", str(tree), "/"],
                   check=True, capture_output=True)
    return iso


@pytest.mark.parametrize("options", [("-for_backup",), ("-acl", "on", "-xattr", "any")])
def test_attributes_match_getfacl_and_getfattr(tree, options):
    iso = master(tree, f"aaip{len(options)}.iso", *options)
    with isolution.open(iso) as image:
        for path in ("f", "plain", "d", "d/big", "utf"):
            e = image.stat(path)
            assert e.xattrs == getfattr(tree / path), path
            access, default = getfacl(tree / path)
            assert e.acl == access or (access is None and len(e.acl.splitlines()) == 3), path
            assert e.default_acl == default, path
        f = image.stat("f")
        assert f.xattrs == {"user.foo": b"bar", "user.bin": b"\x00\xff\x10"}
        assert f.acl == "user::rw-\nuser:1234:rwx\ngroup::r--\ngroup:4321:r-x\nmask::rwx\nother::r--"
        assert image.stat("d/big").xattrs["user.big"] == BIG
        # The walk gives the same entries.
        by_path = {e.path: e for e in image.walk()}
        assert by_path["f"].xattrs == f.xattrs
        assert by_path["d"].default_acl == "user::rwx\nuser:1234:r-x\ngroup::r-x\nmask::r-x\nother::r-x"
        # Joliet and the primary tree do not read AAIP.
        assert image.stat("F", namespace="primary").xattrs == {}
        assert image.stat("F", namespace="primary").acl is None


def test_images_without_aaip_have_no_attributes(rr_joliet):
    for e in rr_joliet.walk():
        assert e.xattrs == {}
        assert e.acl is None and e.default_acl is None


def test_malformed_attributes_raise_when_read(tree):
    iso = master(tree, "bad.iso", "-for_backup")
    data = bytearray(iso.read_bytes())
    at = data.index(b"\x03foo")
    al = data.rindex(b"AL", 0, at)
    data[al + 4] |= 1  # the list's only entry says it continues
    bad = tree.parent / "patched.iso"
    bad.write_bytes(bytes(data))
    with isolution.open(bad) as image:
        f = image.stat("f")  # listing does not decode
        for prop in ("xattrs", "acl", "default_acl"):
            with pytest.raises(isolution.FormatError, match="never ends") as e:
                getattr(f, prop)
            assert e.value.offset == al
            assert e.value.path == "f"
        assert image.stat("plain").xattrs == {}
