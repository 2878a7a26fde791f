//! The fixture images of `tests/fixtures/` (built by `tests/fixtures/build.sh` with
//! genisoimage and xorriso from `tests/fixtures/tree/`) read exactly as their reference
//! listings, hard-link groups, El Torito catalogs and multi-extent layout say.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use iso_core::{Image, IsoFile, Namespace};
use isolution_tests::{listing, repo_dir};
use sha2::{Digest, Sha256};

fn fixtures() -> PathBuf {
    repo_dir().join("tests/fixtures")
}

fn images() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_suffix(".iso").map(str::to_string)
        })
        .collect();
    v.sort();
    assert!(v.len() >= 6, "fixture images missing: {v:?}");
    v
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn listings_match_the_source_tree() {
    for name in images() {
        let file = IsoFile::open(fixtures().join(format!("{name}.iso"))).unwrap();
        let image = Image::parse(file.bytes()).unwrap();
        let got = listing(&image, image.default_namespace()).unwrap();
        let want = lines(&fixtures().join(format!("{name}.tsv")));
        assert_eq!(got, want, "{name}.iso in {}", image.default_namespace());
    }
}

#[test]
fn namespaces_are_the_expected_ones() {
    let ns = |n: &str| {
        let file = IsoFile::open(fixtures().join(format!("{n}.iso"))).unwrap();
        Image::parse(file.bytes()).unwrap().namespaces()
    };
    use Namespace::*;
    assert_eq!(ns("plain-l1"), vec![Primary]);
    assert_eq!(ns("plain-l3"), vec![Primary]);
    assert_eq!(ns("rr-only"), vec![RockRidge, Primary]);
    assert_eq!(ns("joliet-only"), vec![Joliet, Primary]);
    assert_eq!(ns("rr-joliet"), vec![RockRidge, Joliet, Primary]);
    assert_eq!(ns("xorriso-rr"), vec![RockRidge, Joliet, Primary]);
}

#[test]
fn every_namespace_reads_the_same_bytes() {
    // The Joliet and primary trees of rr-joliet name the same files differently; every file
    // reachable in them must have the bytes of the Rock Ridge file at the same extent.
    let file = IsoFile::open(fixtures().join("rr-joliet.iso")).unwrap();
    let image = Image::parse(file.bytes()).unwrap();
    let mut by_extent = BTreeMap::new();
    for item in image.walk(Namespace::RockRidge).unwrap() {
        let item = item.unwrap();
        if let Some(id) = item.entry.file_id() {
            by_extent.insert(id, image.contents(&item.entry).unwrap().to_vec());
        }
    }
    for ns in [Namespace::Joliet, Namespace::Primary] {
        let mut n = 0;
        for item in image.walk(ns).unwrap() {
            let item = item.unwrap();
            if let Some(id) = item.entry.file_id() {
                let bytes = image.contents(&item.entry).unwrap().to_vec();
                assert_eq!(Some(&bytes), by_extent.get(&id), "{ns} {}", item.path);
                n += 1;
            }
        }
        assert!(n >= 10, "{ns}: only {n} files");
    }
}

#[test]
fn hard_link_groups_match() {
    for name in images() {
        let links = fixtures().join(format!("{name}.links"));
        let want = if links.exists() {
            lines(&links)
        } else {
            Vec::new()
        };
        let file = IsoFile::open(fixtures().join(format!("{name}.iso"))).unwrap();
        let image = Image::parse(file.bytes()).unwrap();
        let mut groups: BTreeMap<_, Vec<String>> = BTreeMap::new();
        for item in image.walk(image.default_namespace()).unwrap() {
            let item = item.unwrap();
            if let Some(id) = item.entry.file_id() {
                groups.entry(id).or_default().push(item.path);
            }
        }
        let mut got: Vec<String> = groups
            .into_values()
            .filter(|g| g.len() > 1)
            .map(|mut g| {
                g.sort();
                g.join("\t")
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{name}.iso hard-link groups");
    }
}

#[test]
fn el_torito_catalogs_match() {
    let mut seen = 0;
    for name in images() {
        let file = IsoFile::open(fixtures().join(format!("{name}.iso"))).unwrap();
        let image = Image::parse(file.bytes()).unwrap();
        let path = fixtures().join(format!("{name}.eltorito"));
        if !path.exists() {
            assert!(
                image.boot_catalog().unwrap().is_none(),
                "{name}: unexpected catalog"
            );
            continue;
        }
        seen += 1;
        let kv: BTreeMap<String, String> = lines(&path)
            .into_iter()
            .map(|l| {
                let (k, v) = l.split_once('\t').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let cat = image.boot_catalog().unwrap().expect("a boot catalog");
        assert_eq!(cat.lba.to_string(), kv["catalog_lba"], "{name}");
        assert!(cat.checksum_ok, "{name}");
        let e = &cat.entries[0];
        assert_eq!(e.platform.to_string(), kv["platform_id"], "{name}");
        assert_eq!(e.bootable.to_string(), kv["bootable"], "{name}");
        assert_eq!(e.emulation, iso_core::Emulation::NoEmulation, "{name}");
        assert_eq!(e.load_segment.to_string(), kv["load_segment"], "{name}");
        assert_eq!(e.sector_count.to_string(), kv["sector_count"], "{name}");
        assert_eq!(e.load_rba.to_string(), kv["image_lba"], "{name}");
        // The boot image is readable as a file, both through the catalog and the tree.
        let img = image
            .lookup(image.default_namespace(), &kv["image_path"])
            .unwrap();
        assert_eq!(img.extents()[0].lba, e.load_rba, "{name}");
        let bytes = image.contents(&img).unwrap().to_vec();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            kv["image_sha256"],
            "{name}"
        );
        let boot = image.boot_image(e).unwrap();
        assert_eq!(
            &bytes[..boot.len().min(bytes.len())],
            &boot[..boot.len().min(bytes.len())]
        );
    }
    assert_eq!(seen, 2, "two bootable fixtures");
}

/// Decodes `multi-extent.sparse.gz` into a sparse temporary file (a few KB on disk).
fn decode_sparse(dir: &Path) -> PathBuf {
    let gz = std::fs::File::open(fixtures().join("multi-extent.sparse.gz")).unwrap();
    let mut r = flate2::read::GzDecoder::new(gz);
    let mut magic = [0u8; 11];
    r.read_exact(&mut magic).unwrap();
    assert_eq!(&magic, b"ISOSPARSE1\n");
    let mut b8 = [0u8; 8];
    let mut b4 = [0u8; 4];
    r.read_exact(&mut b8).unwrap();
    let total = u64::from_le_bytes(b8);
    r.read_exact(&mut b4).unwrap();
    let bs = u32::from_le_bytes(b4) as u64;
    let out = dir.join("multi-extent.iso");
    let mut f = std::fs::File::create(&out).unwrap();
    f.set_len(total).unwrap();
    let mut block = vec![0u8; bs as usize];
    loop {
        match r.read_exact(&mut b8) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("{e}"),
        }
        r.read_exact(&mut block).unwrap();
        f.seek(SeekFrom::Start(u64::from_le_bytes(b8) * bs))
            .unwrap();
        f.write_all(&block).unwrap();
    }
    out
}

#[test]
fn multi_extent_file_over_4_gib() {
    let exp: Vec<Vec<String>> = lines(&fixtures().join("multi-extent.expected"))
        .into_iter()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    let get = |k: &str| exp.iter().find(|f| f[0] == k).unwrap()[1].clone();
    let tmp = tempfile::tempdir().unwrap();
    let iso = decode_sparse(tmp.path());
    let file = IsoFile::open(&iso).unwrap();
    assert_eq!(file.bytes().len().to_string(), get("image_length"));
    let image = Image::parse(file.bytes()).unwrap();
    for ns in [Namespace::RockRidge, Namespace::Joliet] {
        let e = image.lookup(ns, &get("path")).unwrap();
        assert_eq!(e.size().to_string(), get("size"), "{ns}");
        let extents: Vec<(String, String)> = e
            .extents()
            .iter()
            .map(|x| (x.lba.to_string(), x.len.to_string()))
            .collect();
        let want: Vec<(String, String)> = exp
            .iter()
            .filter(|f| f[0] == "extent")
            .map(|f| (f[2].clone(), f[3].clone()))
            .collect();
        assert_eq!(extents, want, "{ns}");
        let c = image.contents(&e).unwrap();
        assert_eq!(c.parts().len(), 2);
        assert_eq!(c.len().to_string(), get("size"));
        // Markers, read through the stream (crossing the extent boundary) and the parts.
        let mut r = c.reader();
        for m in exp.iter().filter(|f| f[0] == "marker") {
            let off: u64 = m[1].parse().unwrap();
            let val = u8::from_str_radix(m[2].trim_start_matches("0x"), 16).unwrap();
            r.seek(SeekFrom::Start(off)).unwrap();
            let mut b = [0u8; 1];
            r.read_exact(&mut b).unwrap();
            assert_eq!(b[0], val, "{ns}: marker at {off}");
        }
        // A read spanning the two extents returns both sides.
        let boundary = u64::from(e.extents()[0].len);
        r.seek(SeekFrom::Start(boundary - 2)).unwrap();
        let mut four = [0u8; 4];
        r.read_exact(&mut four).unwrap();
        // 0x02 is the last byte of extent 0, 0x03 the first of extent 1.
        assert_eq!(
            four,
            [0, 0x02, 0x03, 0],
            "{ns}: read across the extent boundary"
        );
        r.seek(SeekFrom::End(0)).unwrap();
        assert_eq!(r.read(&mut four).unwrap(), 0, "{ns}: EOF");
    }
    let got = listing_without_digest(&image);
    let want: Vec<String> = lines(&fixtures().join("multi-extent.tsv"))
        .into_iter()
        .map(|l| l.splitn(4, '\t').take(3).collect::<Vec<_>>().join("\t"))
        .collect();
    assert_eq!(got, want);
}

/// Path, type and size (hashing 4 GiB in a debug test would take minutes).
fn listing_without_digest(image: &Image<'_>) -> Vec<String> {
    let mut v: Vec<String> = image
        .walk(image.default_namespace())
        .unwrap()
        .map(|i| {
            let i = i.unwrap();
            let size = if i.entry.is_file() {
                i.entry.size().to_string()
            } else {
                "-".into()
            };
            format!("{}\t{}\t{}", i.path, i.entry.kind().letter(), size)
        })
        .collect();
    v.sort();
    v
}
