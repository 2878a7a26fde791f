"""Image.boot_catalog and Image.read_boot: the fixtures' catalogs as build.sh parsed them
(tests/fixtures/*.eltorito), and a three-entry catalog (BIOS, UEFI, floppy emulation)
made by xorriso here and compared with xorriso's own report of it."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

import isolution
from conftest import FIXTURES, fixture_isos, lines, need_tool


def expected(name):
    return dict(line.split("\t", 1) for line in lines(FIXTURES / f"{name}.eltorito"))


@pytest.mark.parametrize("name", fixture_isos())
def test_fixture_catalogs(name):
    with isolution.open(FIXTURES / f"{name}.iso") as image:
        cat = image.boot_catalog
        if not (FIXTURES / f"{name}.eltorito").exists():
            assert cat is None
            assert image.volume["el_torito"] is None
            with pytest.raises(isolution.IsolutionError, match="no El Torito boot catalog"):
                image.read_boot()
            return
        want = expected(name)
        assert isinstance(cat, isolution.BootCatalog) and len(cat) == 1
        assert cat.lba == int(want["catalog_lba"]) and cat.checksum_ok
        assert cat.platform == int(want["platform_id"])
        [e] = cat.entries
        assert isinstance(e, isolution.BootEntry)
        assert (e.index, e.platform, e.bootable, e.media_type, e.load_segment, e.system_type,
                e.sector_count, e.load_rba) == (
            0, int(want["platform_id"]), want["bootable"] == "true", int(want["media_type"]),
            int(want["load_segment"]), int(want["system_type"]), int(want["sector_count"]),
            int(want["image_lba"]))
        assert e.emulation == "no-emulation" and e.section_id is None
        assert e.size == e.sector_count * 512
        # The boot image: the catalog's sectors, which are the start of boot/boot.img.
        boot = image.read_boot(0)
        assert len(boot) == e.size
        img = image.read(want["image_path"])
        assert hashlib.sha256(img).hexdigest() == want["image_sha256"]
        assert boot == img[:e.size]
        assert image.stat(want["image_path"]).extents[0][0] == e.load_rba
        # The catalog itself, as a file of the tree.
        assert hashlib.sha256(image.read(want["catalog_path"])).hexdigest() == want["catalog_sha256"]
        # The same as the volume dict says.
        [v] = image.volume["el_torito"]
        assert (v["load_rba"], v["sector_count"], v["image_len"], v["offset"]) == (
            e.load_rba, e.sector_count, e.size, e.offset)
        with pytest.raises(IndexError, match="no boot entry 1"):
            image.read_boot(1)
        assert "block" in repr(cat) and "no-emulation" in repr(e)


XORRISO_PLATFORMS = {"BIOS": 0x00, "PPC": 0x01, "Mac": 0x02, "UEFI": 0xEF}
XORRISO_EMULATIONS = {"none": "no-emulation", "fd1.2": "floppy-1.2m", "fd1.4": "floppy-1.44m",
                      "fd2.8": "floppy-2.88m", "hd": "hard-disk"}


@pytest.fixture(scope="module")
def three_entries(tmp_path_factory):
    xorriso = need_tool("xorriso")
    root = tmp_path_factory.mktemp("eltorito")
    boot = root / "tree" / "boot"
    boot.mkdir(parents=True)
    files = {
        "boot/bios.img": bytes(i % 251 for i in range(2048)),
        "boot/efi.img": bytes(i * 7 % 253 for i in range(5000)),
        "boot/floppy.img": bytes(i * 3 % 249 for i in range(1474560)),
    }
    for path, data in files.items():
        (root / "tree" / path).write_bytes(data)
    iso = root / "boot.iso"
    subprocess.run(
        [xorriso, "-no_rc", "-report_about", "WARNING", "-outdev", f"stdio:{iso}",
         "-map", str(root / "tree"), "/",
         "-boot_image", "any", "bin_path=/boot/bios.img",
         "-boot_image", "any", "cat_path=/boot/boot.cat",
         "-boot_image", "any", "emul_type=no_emulation",
         "-boot_image", "any", "platform_id=0x00",
         "-boot_image", "any", "load_size=2048",
         "-boot_image", "any", "next",
         "-boot_image", "any", "efi_path=/boot/efi.img",
         "-boot_image", "any", "next",
         "-boot_image", "any", "bin_path=/boot/floppy.img",
         "-boot_image", "any", "emul_type=diskette",
         "-boot_image", "any", "platform_id=0x00"],
        check=True, capture_output=True,
    )
    report = subprocess.run(
        [xorriso, "-no_rc", "-indev", str(iso), "-report_el_torito", "plain"],
        check=True, capture_output=True, text=True,
    ).stdout
    return iso, files, report


def test_three_entries_as_xorriso_reports_them(three_entries):
    iso, files, report = three_entries
    # "El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4          58"
    rows = [line.split(":", 1)[1].split() for line in report.splitlines()
            if line.startswith("El Torito boot img")]
    paths = {int(line.split(":", 1)[1].split()[0]): line.split(":", 1)[1].split()[1]
             for line in report.splitlines() if line.startswith("El Torito img path")}
    catalog_lba = int(next(line for line in report.splitlines()
                           if line.startswith("El Torito catalog")).split(":")[1].split()[0])
    assert len(rows) == 3, report
    with isolution.open(iso) as image:
        cat = image.boot_catalog
        assert cat.lba == catalog_lba and cat.checksum_ok and len(cat.entries) == 3
        for e, (n, pltf, boot, emul, ld_seg, hdpt, ldsiz, lba) in zip(cat.entries, rows):
            assert e.index == int(n) - 1
            assert e.platform == XORRISO_PLATFORMS[pltf]
            assert e.bootable == (boot == "y")
            assert e.emulation == XORRISO_EMULATIONS[emul]
            assert e.load_segment == int(ld_seg, 16)
            assert e.system_type == int(hdpt, 16)
            assert e.sector_count == int(ldsiz)
            assert e.load_rba == int(lba)
            # The bytes: the file xorriso was given, up to the entry's size (the rest of the
            # last block is zero padding).
            data = files[paths[int(n)].lstrip("/")]
            boot_bytes = image.read_boot(e.index)
            assert len(boot_bytes) == e.size
            assert boot_bytes[: len(data)] == data[: e.size]
            assert boot_bytes[len(data):] == bytes(max(0, e.size - len(data)))
        # Section entries (after the initial one) come with their section header's platform.
        assert [e.platform for e in cat.entries] == [0x00, 0xEF, 0x00]
        assert [e.media_type for e in cat.entries] == [0, 0, 2]
        assert cat.entries[2].size == 1474560 == len(image.read_boot(2))
        with pytest.raises(IndexError):
            image.read_boot(3)
        with pytest.raises(OverflowError):
            image.read_boot(-1)


def test_a_boot_image_past_the_end_is_an_error():
    data = bytearray((FIXTURES / "rr-joliet.iso").read_bytes())
    with isolution.Image.from_bytes(bytes(data)) as image:
        [e] = image.boot_catalog.entries
    # Point the initial entry's load RBA (bytes 8-11 of the entry) past the end.
    data[e.offset + 8: e.offset + 12] = (len(data) // 2048).to_bytes(4, "little")
    with isolution.Image.from_bytes(bytes(data)) as image:
        assert image.boot_catalog.entries[0].load_rba == len(data) // 2048
        with pytest.raises(isolution.FormatError, match="boot image .* past the end") as err:
            image.read_boot(0)
        assert err.value.offset == len(data)  # where the boot image would start
    # A malformed catalog (its validation entry's key broken) is a FormatError too; the
    # volume dict reports it as a warning instead.
    data[e.offset - 32 + 30] = 0
    with isolution.Image.from_bytes(bytes(data)) as image:
        with pytest.raises(isolution.FormatError, match="validation entry"):
            image.boot_catalog
        assert image.volume["el_torito"] is None
        assert any("El Torito" in w for w in image.volume["warnings"])
