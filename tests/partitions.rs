//! What an image holds beside its ISO 9660 trees ([`Image::layout`]): MBR, GPT and Apple
//! partition maps and HFS+ volume headers written by xorriso (`-append_partition`,
//! `-appended_part_as_gpt`, `-partition_offset`, `-hfsplus` with `apm_block_size`), compared
//! entry by entry with what `xorriso -report_system_area plain` reads from the same image; UDF
//! volume recognition descriptors written by `genisoimage -udf`; nothing at all in a plain
//! image.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::Command;

use iso_core::iso9660::Layout;
use iso_core::Image;
use isolution_tests::tool;

/// A small tree and a 70,000-byte partition image in `dir`.
fn inputs(dir: &Path) {
    std::fs::create_dir_all(dir.join("tree/sub")).unwrap();
    std::fs::write(dir.join("tree/a.txt"), b"hello\n").unwrap();
    std::fs::write(dir.join("tree/sub/b"), b"x\n").unwrap();
    let part: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("part.img"), part).unwrap();
}

/// Runs `prog ARGS` in `dir`; it must succeed.
fn run(dir: &Path, prog: &str, args: &[&str]) -> String {
    let out = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The layout of `dir/iso` as read by us, and the lines of xorriso's report on it.
fn both(dir: &Path, iso: &str) -> (Layout, Vec<(String, Vec<String>)>) {
    let data = std::fs::read(dir.join(iso)).unwrap();
    let image = Image::parse(&data).unwrap();
    let layout = image.layout();
    let report = run(
        dir,
        "xorriso",
        &["-indev", iso, "-report_system_area", "plain"],
    );
    let lines = report
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((
                k.trim().to_string(),
                v.split_whitespace().map(str::to_string).collect(),
            ))
        })
        .collect();
    (layout, lines)
}

/// The values of the report lines named `key`.
fn field<'a>(lines: &'a [(String, Vec<String>)], key: &str) -> Vec<&'a [String]> {
    lines
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
        .collect()
}

/// xorriso's GUID bytes in hex, in their usual text form.
fn guid_text(hex: &str) -> String {
    let b: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let h = |r: &[u8]| r.iter().map(|x| format!("{x:02X}")).collect::<String>();
    let rev = |r: &[u8]| h(&r.iter().rev().copied().collect::<Vec<_>>());
    format!(
        "{}-{}-{}-{}-{}",
        rev(&b[0..4]),
        rev(&b[4..6]),
        rev(&b[6..8]),
        h(&b[8..10]),
        h(&b[10..16])
    )
}

/// Our MBR entries against xorriso's `MBR partition` lines.
fn check_mbr(layout: &Layout, lines: &[(String, Vec<String>)]) {
    let want = field(lines, "MBR partition");
    let mbr = layout.mbr.as_ref().expect("an MBR");
    assert_eq!(mbr.entries.len(), want.len(), "{mbr:?} {want:?}");
    for (e, w) in mbr.entries.iter().zip(want) {
        assert_eq!(e.number.to_string(), w[0]);
        assert_eq!(e.bootable, w[1] == "0x80", "{e:?} {w:?}");
        assert_eq!(format!("{:#04x}", e.kind), w[2]);
        assert_eq!(e.start.to_string(), w[3]);
        assert_eq!(e.sectors.to_string(), w[4]);
    }
}

#[test]
fn gpt_from_appended_partition() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    inputs(d);
    run(
        d,
        "xorriso",
        &[
            "-as",
            "mkisofs",
            "-R",
            "-o",
            "gpt.iso",
            "-append_partition",
            "2",
            "0xef",
            "part.img",
            "-appended_part_as_gpt",
            "tree",
        ],
    );
    let (layout, lines) = both(d, "gpt.iso");
    check_mbr(&layout, &lines);
    assert_eq!(layout.mbr.as_ref().unwrap().entries[0].kind, 0xEE);
    let gpt = layout.gpt.as_ref().expect("a GPT");
    assert!(gpt.header_crc_ok && gpt.entries_crc_ok, "{gpt:?}");
    assert_eq!(
        gpt.disk_guid,
        guid_text(&field(&lines, "GPT disk GUID")[0][0])
    );
    let array = field(&lines, "GPT entry array")[0];
    assert_eq!(gpt.entries_lba.to_string(), array[0]);
    assert_eq!(gpt.entry_count.to_string(), array[1]);
    let ranges = field(&lines, "GPT start and size");
    let names = field(&lines, "GPT partname local");
    let types = field(&lines, "GPT type GUID");
    let guids = field(&lines, "GPT partition GUID");
    let flags = field(&lines, "GPT partition flags");
    assert_eq!(gpt.entries.len(), ranges.len());
    assert!(gpt
        .entries
        .iter()
        .any(|e| e.type_guid == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"));
    for (i, e) in gpt.entries.iter().enumerate() {
        assert_eq!(e.number.to_string(), ranges[i][0]);
        let (start, size): (u64, u64) =
            (ranges[i][1].parse().unwrap(), ranges[i][2].parse().unwrap());
        assert_eq!(
            (e.first_lba, e.last_lba),
            (start, start + size - 1),
            "{e:?}"
        );
        assert_eq!(e.name, names[i][1]);
        assert_eq!(e.type_guid, guid_text(&types[i][1]));
        assert_eq!(e.guid, guid_text(&guids[i][1]));
        assert_eq!(format!("{:#018x}", e.attributes), flags[i][1]);
    }
    assert!(layout.apm.is_none() && layout.udf.is_none() && layout.hfsplus.is_empty());
    assert!(layout.warnings.is_empty(), "{:?}", layout.warnings);
    // xorriso writes the backup header in the image's last 512-byte sector, its entry array
    // just before: found there, and the same table.
    let len = std::fs::metadata(d.join("gpt.iso")).unwrap().len();
    assert_eq!(gpt.sector_size, 512);
    assert_eq!(gpt.backup_lba, len / 512 - 1);
    let backup = gpt.backup.as_ref().expect("the backup header");
    assert_eq!(backup.lba, len / 512 - 1);
    assert!(
        backup.header_crc_ok && backup.entries_crc_ok && backup.matches_primary,
        "{backup:?}"
    );
    // The image cut by its last sector (a short copy): the backup is missing, a warning.
    let whole = std::fs::read(d.join("gpt.iso")).unwrap();
    let cut = Image::parse(&whole[..whole.len() - 512]).unwrap().layout();
    assert!(cut.gpt.as_ref().unwrap().backup.is_none());
    assert!(
        cut.warnings
            .iter()
            .any(|w| w.message.contains("no GPT backup header")),
        "{:?}",
        cut.warnings
    );

    // A byte of an entry changed: the CRC says so, as a warning; the entries are still read.
    let mut data = std::fs::read(d.join("gpt.iso")).unwrap();
    let at = usize::try_from(gpt.entries_lba).unwrap() * 512 + 56;
    data[at] ^= 0x20;
    let bad = Image::parse(&data).unwrap().layout();
    let g = bad.gpt.as_ref().unwrap();
    assert!(g.header_crc_ok && !g.entries_crc_ok);
    assert_eq!(g.entries.len(), gpt.entries.len());
    assert!(bad.warnings.iter().any(|w| w.message.contains("CRC32")));
}

#[test]
fn mbr_with_partition_offset() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    inputs(d);
    run(
        d,
        "xorriso",
        &[
            "-as",
            "mkisofs",
            "-R",
            "-o",
            "mbr.iso",
            "-append_partition",
            "2",
            "0xef",
            "part.img",
            "-partition_offset",
            "16",
            "tree",
        ],
    );
    let (layout, lines) = both(d, "mbr.iso");
    check_mbr(&layout, &lines);
    let mbr = layout.mbr.as_ref().unwrap();
    assert_eq!(mbr.entries.len(), 2);
    assert_eq!(
        mbr.entries[0].start, 64,
        "partition offset 16 blocks of 2048"
    );
    assert_eq!(mbr.entries[1].kind, 0xEF);
    assert!(layout.gpt.is_none() && layout.apm.is_none());
    assert!(layout.warnings.is_empty(), "{:?}", layout.warnings);
}

#[test]
fn apple_partition_map_and_hfsplus() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    inputs(d);
    run(
        d,
        "xorriso",
        &[
            "-outdev",
            "apm.iso",
            "-hfsplus",
            "on",
            "-boot_image",
            "any",
            "apm_block_size=2048",
            "-map",
            "tree",
            "/",
        ],
    );
    let (layout, lines) = both(d, "apm.iso");
    let apm = layout.apm.as_ref().expect("an Apple partition map");
    assert_eq!(
        apm.block_size.to_string(),
        field(&lines, "APM block size")[0][0]
    );
    assert_eq!(apm.entries[0].kind, "Apple_partition_map");
    // xorriso's report leaves out the map's own entry.
    let ours: Vec<_> = apm.entries[1..].iter().collect();
    let names = field(&lines, "APM partition name");
    let types = field(&lines, "APM partition type");
    let ranges = field(&lines, "APM start and size");
    assert_eq!(ours.len(), ranges.len(), "{apm:?}");
    for (i, e) in ours.iter().enumerate() {
        assert_eq!(e.name, names[i][1]);
        assert_eq!(e.kind, types[i][1]);
        assert_eq!(e.start.to_string(), ranges[i][1]);
        assert_eq!(e.blocks.to_string(), ranges[i][2]);
    }
    let hfs = apm.entries.iter().find(|e| e.kind == "Apple_HFS").unwrap();
    assert_eq!(layout.hfsplus.len(), 1, "{layout:?}");
    assert_eq!(layout.hfsplus[0].signature, "H+");
    assert_eq!(layout.hfsplus[0].offset, u64::from(hfs.start) * 2048);
    assert!(layout.mbr.is_none() && layout.gpt.is_none());
}

#[test]
fn udf_from_genisoimage() {
    if !tool("genisoimage") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    inputs(d);
    run(
        d,
        "genisoimage",
        &["-quiet", "-udf", "-R", "-o", "udf.iso", "tree"],
    );
    let data = std::fs::read(d.join("udf.iso")).unwrap();
    let layout = Image::parse(&data).unwrap().layout();
    let udf = layout.udf.as_ref().expect("UDF descriptors");
    assert_eq!(udf.nsr.as_deref(), Some("NSR02"));
    let ids: Vec<&str> = udf.descriptors.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["BEA01", "NSR02", "TEA01"]);
    assert!(layout.mbr.is_none() && layout.gpt.is_none() && layout.apm.is_none());

    // Without -udf: nothing beside ISO 9660.
    run(
        d,
        "genisoimage",
        &["-quiet", "-R", "-o", "plain.iso", "tree"],
    );
    let data = std::fs::read(d.join("plain.iso")).unwrap();
    let layout = Image::parse(&data).unwrap().layout();
    assert!(
        layout.is_empty() && layout.warnings.is_empty(),
        "{layout:?}"
    );
}

#[test]
fn committed_fixtures_hold_nothing_else() {
    let dir = isolution_tests::repo_dir().join("tests/fixtures");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "iso") {
            let data = std::fs::read(&p).unwrap();
            let layout = Image::parse(&data).unwrap().layout();
            assert!(layout.is_empty(), "{}: {layout:?}", p.display());
        }
    }
}

#[test]
fn sessions_of_a_multi_session_image() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    inputs(d);
    for (i, name) in ["one", "two", "three"].iter().enumerate() {
        std::fs::write(d.join("tree").join(name), name.repeat(5000 * (i + 1))).unwrap();
        let drive = if i == 0 { "-outdev" } else { "-dev" };
        run(
            d,
            "xorriso",
            &[drive, "ms.iso", "-map", "tree", "/", "-commit"],
        );
        let data = std::fs::read(d.join("ms.iso")).unwrap();
        let layout = Image::parse(&data).unwrap().layout();
        let toc = run(d, "xorriso", &["-indev", "ms.iso", "-toc"]);
        // `ISO session  :   1 ,        32 ,        26s , ISOIMAGE`
        let want: Vec<(u32, u64, u64, String)> = toc
            .lines()
            .filter_map(|l| l.strip_prefix("ISO session  :"))
            .map(|l| {
                let f: Vec<&str> = l.split(',').map(str::trim).collect();
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].trim_end_matches('s').parse().unwrap(),
                    f[3].to_string(),
                )
            })
            .collect();
        assert_eq!(want.len(), i + 1, "{toc}");
        if i == 0 {
            assert!(layout.sessions.is_empty(), "{layout:?}");
            continue;
        }
        let got: Vec<(u32, u64, u64, String)> = layout
            .sessions
            .iter()
            .map(|s| (s.number, s.start, s.sectors, s.volume_id.clone()))
            .collect();
        assert_eq!(got, want);
        let read: Vec<bool> = layout.sessions.iter().map(|s| s.current).collect();
        assert_eq!(read.iter().filter(|&&c| c).count(), 1, "{layout:?}");
        assert_eq!(
            read.last(),
            Some(&true),
            "the newest session is the one read"
        );
    }
}
