"""Image.layout: the partition tables and other structures an image holds beside its
ISO 9660 trees, the same data as ``isolution info --json`` under ``layout``, checked against
what xorriso wrote (an appended EFI partition as GPT, its backup header at the end)."""

from __future__ import annotations

import subprocess

import pytest

import isolution
from conftest import FIXTURES, fixture_isos, need_tool


@pytest.fixture(scope="module")
def gpt_iso(tmp_path_factory):
    xorriso = need_tool("xorriso")
    root = tmp_path_factory.mktemp("gpt")
    (root / "tree").mkdir()
    (root / "tree" / "a.txt").write_bytes(b"hello\n")
    (root / "part.img").write_bytes(b"\x07" * 70_000)
    subprocess.run(
        [xorriso, "-as", "mkisofs", "-R", "-o", "gpt.iso", "-append_partition", "2",
         "0xef", "part.img", "-appended_part_as_gpt", "tree"],
        cwd=root, check=True, capture_output=True,
    )
    return root / "gpt.iso"


def test_gpt_and_protective_mbr(gpt_iso):
    with isolution.open(gpt_iso) as image:
        layout = image.layout
    assert layout["mbr"]["entries"][0]["kind"] == 0xEE
    gpt = layout["gpt"]
    assert gpt["sector_size"] == 512
    assert gpt["header_crc_ok"] and gpt["entries_crc_ok"]
    efi = [e for e in gpt["entries"] if e["type_guid"] == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"]
    assert [e["name"] for e in efi] == ["Appended2"]
    last = gpt_iso.stat().st_size // 512 - 1
    assert gpt["backup"] == {
        "lba": last,
        "header_crc_ok": True,
        "entries_crc_ok": True,
        "entries_lba": gpt["backup"]["entries_lba"],
        "matches_primary": True,
    }
    assert layout["warnings"] == []
    assert layout["apm"] is None and layout["udf"] is None and layout["hfsplus"] == []


def test_damage_is_a_warning_not_an_error(gpt_iso):
    data = bytearray(gpt_iso.read_bytes())
    del data[-512:]  # the backup header gone
    image = isolution.Image.from_bytes(bytes(data))
    layout = image.layout
    assert layout["gpt"]["backup"] is None
    assert any("no GPT backup header" in w["message"] for w in layout["warnings"])
    assert all(isinstance(w["offset"], int) for w in layout["warnings"])


@pytest.mark.parametrize("name", fixture_isos())
def test_plain_fixtures_hold_nothing_else(name):
    import json

    with isolution.open(FIXTURES / f"{name}.iso") as image:
        layout = image.layout
    assert set(layout) == {"mbr", "gpt", "apm", "hfsplus", "udf", "sessions", "warnings"}
    assert layout["gpt"] is None and layout["apm"] is None
    assert json.loads(json.dumps(layout)) == layout


def test_closed_image_raises(gpt_iso):
    image = isolution.open(gpt_iso)
    image.close()
    with pytest.raises(ValueError, match="closed"):
        image.layout
