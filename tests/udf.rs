//! The UDF reader (`iso_core::udf`) on images made here by real writers: `genisoimage -udf`
//! (UDF 1.02 bridge), pycdlib's UDF 2.60 writer and `mkudffs` (udftools) for empty file
//! systems of each revision; each compared entry by entry with the source tree, with
//! `7zz l -slt` and with pycdlib's UDF view.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use iso_core::udf::{UdfEntry, UdfVolume};
use iso_core::{EntryKind, Limits};
use isolution_tests::{tool, tools};

/// What a tree holds, by path: kind letter, size, contents or link target.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Node {
    kind: char,
    size: u64,
    data: Vec<u8>,
    mode: u32,
}

fn long_name() -> String {
    format!("{}.txt", "long-name-".repeat(20))
}

/// The source tree: files of 0, 1, 2049 and ~3 MiB bytes, nested directories, a long name,
/// UTF-8 names, symlinks (relative, upward) and a hard link.
fn make_tree(root: &Path) {
    let sub = root.join("sub/deeper/deepest");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::create_dir_all(root.join("empty-dir")).unwrap();
    std::fs::write(root.join("zero"), b"").unwrap();
    std::fs::write(root.join("one"), b"x").unwrap();
    let blob: Vec<u8> = (0..3 * 1024 * 1024 + 7u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(root.join("sub/two049"), &blob[..2049]).unwrap();
    std::fs::write(root.join("sub/big.bin"), &blob).unwrap();
    std::fs::write(sub.join(long_name()), b"deep\n").unwrap();
    std::fs::write(root.join("héllo wörld ☃.txt"), "ü\n").unwrap();
    std::fs::write(root.join("sub/日本語.md"), "名前\n").unwrap();
    std::os::unix::fs::symlink("sub/two049", root.join("link")).unwrap();
    std::os::unix::fs::symlink("../../one", root.join("sub/deeper/uplink")).unwrap();
    std::fs::hard_link(root.join("one"), root.join("sub/hard")).unwrap();
    std::fs::set_permissions(root.join("one"), std::fs::Permissions::from_mode(0o640)).unwrap();
}

fn source_nodes(root: &Path) -> BTreeMap<String, Node> {
    fn go(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let node = if md.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                let t = t.to_str().unwrap().as_bytes().to_vec();
                Node {
                    kind: 'l',
                    size: t.len() as u64,
                    data: t,
                    mode: md.mode() & 0o7777,
                }
            } else if md.is_dir() {
                go(root, &p, out);
                Node {
                    kind: 'd',
                    size: 0,
                    data: vec![],
                    mode: md.mode() & 0o7777,
                }
            } else {
                Node {
                    kind: 'f',
                    size: md.len(),
                    data: std::fs::read(&p).unwrap(),
                    mode: md.mode() & 0o7777,
                }
            };
            out.insert(rel, node);
        }
    }
    let mut out = BTreeMap::new();
    go(root, root, &mut out);
    out
}

/// Everything the reader sees, by path, after a full walk reading every file.
fn udf_nodes(vol: &UdfVolume<'_>) -> BTreeMap<String, (Node, UdfEntry)> {
    let mut out = BTreeMap::new();
    for item in vol.walk().unwrap() {
        let item = item.unwrap();
        let e = &item.entry;
        let node = match e.kind {
            Some(EntryKind::Directory) => Node {
                kind: 'd',
                size: 0,
                data: vec![],
                mode: e.mode & 0o7777,
            },
            Some(EntryKind::Symlink) => {
                let t = vol.symlink_target(e).unwrap();
                Node {
                    kind: 'l',
                    size: t.len() as u64,
                    data: t.into_bytes(),
                    mode: e.mode & 0o7777,
                }
            }
            Some(EntryKind::File) => {
                let c = vol.contents(e).unwrap();
                assert_eq!(c.len(), e.size, "{}", item.path);
                assert_eq!(
                    c.parts().iter().map(|p| p.len()).sum::<u64>(),
                    e.size,
                    "{}",
                    item.path
                );
                let mut w = Vec::new();
                assert_eq!(c.write_to(&mut w).unwrap(), e.size);
                assert_eq!(w, c.to_vec());
                Node {
                    kind: 'f',
                    size: e.size,
                    data: w,
                    mode: e.mode & 0o7777,
                }
            }
            other => panic!("{}: unexpected kind {other:?}", item.path),
        };
        // The lookup finds the same entry.
        let found = vol.lookup(&item.path).unwrap();
        assert_eq!(found.icb, e.icb, "{}", item.path);
        out.insert(item.path.clone(), (node, e.clone()));
    }
    out
}

/// `7zz l -slt`: path -> (is folder, size).
fn sevenzip(iso: &Path) -> BTreeMap<String, (bool, u64)> {
    let out = Command::new("7zz")
        .args(["l", "-slt", "-tudf"])
        .arg(iso)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut res = BTreeMap::new();
    let body = text.split("----------").nth(1).unwrap_or("");
    for block in body.split("\n\n") {
        let mut path = None;
        let (mut folder, mut size) = (false, 0);
        for line in block.lines() {
            if let Some(p) = line.strip_prefix("Path = ") {
                path = Some(p.to_string());
            } else if let Some(s) = line.strip_prefix("Size = ") {
                size = s.parse().unwrap_or(0);
            } else if let Some(f) = line.strip_prefix("Folder = ") {
                folder = f == "+";
            }
        }
        if let Some(p) = path {
            res.insert(p, (folder, size));
        }
    }
    res
}

/// pycdlib's UDF view: path -> (kind letter, size, permissions in octal).
fn pycdlib_view(iso: &Path) -> BTreeMap<String, (char, u64, String)> {
    let script = r#"
import sys, pycdlib
iso = pycdlib.PyCdlib()
iso.open(sys.argv[1])
def walk(path):
    for child in iso.list_children(udf_path=path):
        if child is None: continue
        name = child.file_identifier().decode(child.file_ident.encoding or 'latin-1')
        p = child.perms
        perm = ((p >> 10) & 7) << 6 | ((p >> 5) & 7) << 3 | (p & 7)
        if name in ('.', '..'): continue
        full = (path.rstrip('/') + '/' + name)
        if child.is_dir():
            print('d\t%d\t%o\t%s' % (0, perm, full.lstrip('/')))
            walk(full)
        elif child.is_symlink():
            print('l\t%d\t%o\t%s' % (0, perm, full.lstrip('/')))
        else:
            print('f\t%d\t%o\t%s' % (child.get_data_length(), perm, full.lstrip('/')))
walk('/')
iso.close()
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(iso)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            (
                f[3].to_string(),
                (
                    f[0].chars().next().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].to_string(),
                ),
            )
        })
        .collect()
}

fn has_pycdlib() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pycdlib"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("skipping: pycdlib is not installed");
    }
    ok
}

#[test]
fn genisoimage_udf_bridge_matches_source_7zip_and_pycdlib() {
    if !tools(&["genisoimage"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    make_tree(&tree);
    let iso = dir.path().join("g.iso");
    let st = Command::new("genisoimage")
        .args([
            "-quiet",
            "-input-charset",
            "utf-8",
            "-udf",
            "-R",
            "-J",
            "-o",
        ])
        .arg(&iso)
        .arg(&tree)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&iso).unwrap();
    let vol = UdfVolume::parse(&bytes, &Limits::DEFAULT).unwrap().unwrap();
    let info = vol.info();
    assert_eq!(info.revision, Some(0x0102));
    assert_eq!(info.nsr, 2);
    assert_eq!(info.block_size, 2048);
    assert_eq!(info.anchor_sector, 256);
    assert!(!info.reserve_sequence);
    let src = source_nodes(&tree);
    let got = udf_nodes(&vol);
    // Entry by entry: names, kinds, sizes, bytes. genisoimage's UDF writer records symbolic
    // links as empty regular files and cuts names to 64 characters (pycdlib and 7-Zip read
    // the same, below).
    let want: BTreeMap<String, (char, u64, Vec<u8>)> = src
        .iter()
        .map(|(k, n)| {
            let k = k
                .split('/')
                .map(|c| c.chars().take(64).collect::<String>())
                .collect::<Vec<_>>()
                .join("/");
            match n.kind {
                'l' => (k, ('f', 0, vec![])),
                _ => (k, (n.kind, n.size, n.data.clone())),
            }
        })
        .collect();
    let have: BTreeMap<String, (char, u64, Vec<u8>)> = got
        .iter()
        .map(|(k, (n, _))| (k.clone(), (n.kind, n.size, n.data.clone())))
        .collect();
    assert_eq!(
        have.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, v) in &want {
        assert!(
            have[k] == *v,
            "{k}: {:?} != {:?}",
            (have[k].0, have[k].1),
            (v.0, v.1)
        );
    }
    assert_eq!(got["sub"].1.mode & 0o170000, 0o040000);
    assert_eq!(got["one"].1.mode & 0o170000, 0o100000);
    // genisoimage records the hard link as a second name of one file entry.
    let (one, hard) = (&got["one"].1, &got["sub/hard"].1);
    assert_eq!(one.extents(), hard.extents());
    if one.icb == hard.icb {
        assert_eq!(one.nlink, 2);
    }
    // 7-Zip's listing: the same paths, folders and sizes (7-Zip shows symlinks as files of
    // their component bytes).
    if tool("7zz") {
        let z = sevenzip(&iso);
        assert_eq!(z.len(), got.len(), "{z:?}");
        for (path, (node, e)) in &got {
            let (folder, size) = z.get(path).unwrap_or_else(|| panic!("7zz lacks {path}"));
            assert_eq!(*folder, node.kind == 'd', "{path}");
            if node.kind == 'f' {
                assert_eq!(*size, e.size, "{path}");
            }
        }
    }
    if has_pycdlib() {
        let p = pycdlib_view(&iso);
        assert_eq!(p.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
        for (path, (kind, size, perm)) in &p {
            let (node, _) = &got[path];
            assert_eq!(*kind, node.kind, "{path}");
            assert_eq!(*perm, format!("{:o}", node.mode & 0o777), "{path}");
            if *kind == 'f' {
                assert_eq!(*size, node.size, "{path}");
            }
        }
    }
    // Lookups that must fail.
    assert!(matches!(
        vol.lookup("no/such").unwrap_err().kind(),
        iso_core::ErrorKind::NotFound
    ));
    assert!(matches!(
        vol.lookup("one/x").unwrap_err().kind(),
        iso_core::ErrorKind::NotADirectory
    ));
    assert!(vol.read_dir(&got["one"].1).is_err());
    assert!(vol.contents(&got["sub"].1).is_err());
}

/// pycdlib's UDF 2.60 writer: files, directories, a symlink; compared with what was added and
/// with pycdlib's and 7-Zip's view.
#[test]
fn pycdlib_udf_260_matches_what_was_added() {
    if !has_pycdlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let iso = dir.path().join("p.iso");
    let script = r#"
import sys, io, pycdlib
iso = pycdlib.PyCdlib()
iso.new(udf='2.60')
def add(path, data):
    iso.add_fp(io.BytesIO(data), len(data), '/' + ''.join(c for c in path.split('/')[-1].upper() if c.isalnum())[:8] + ';1', udf_path=path) if False else None
files = {
  '/zero': b'',
  '/one': b'x',
  '/dir/two049': bytes((i * 7) & 255 for i in range(2049)),
  '/dir/sub/big': bytes((i * 13 + 5) & 255 for i in range(3 * 1024 * 1024 + 3)),
  '/dir/sub/' + 'n' * 120: b'long\n',
  '/h\u00e9llo \u2603': b'utf\n',
}
iso.add_directory(udf_path='/dir')
iso.add_directory(udf_path='/dir/sub')
iso.add_directory(udf_path='/empty')
n = 0
for path, data in files.items():
    n += 1
    iso.add_fp(io.BytesIO(data), len(data), '/F%d.;1' % n, udf_path=path)
iso.add_hard_link(udf_old_path='/one', udf_new_path='/dir/hard')
iso.add_symlink(udf_symlink_path='/link', udf_target='dir/two049')
iso.add_symlink(udf_symlink_path='/dir/sub/up', udf_target='../../one')
iso.write(sys.argv[1])
iso.close()
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&iso)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&iso).unwrap();
    let vol = UdfVolume::parse(&bytes, &Limits::DEFAULT).unwrap().unwrap();
    // pycdlib's "2.60" writes the structures of UDF 1.02 (NSR02, revision 0x0102 in the
    // domain identifiers and the integrity descriptor).
    assert_eq!(vol.info().revision, Some(0x0102));
    assert_eq!(
        vol.info().integrity_revisions,
        Some((0x0102, 0x0102, 0x0102))
    );
    assert_eq!(vol.info().nsr, 2);
    let got = udf_nodes(&vol);
    let mut want: BTreeMap<String, (char, Vec<u8>)> = BTreeMap::new();
    want.insert("zero".into(), ('f', vec![]));
    want.insert("one".into(), ('f', b"x".to_vec()));
    want.insert("dir/hard".into(), ('f', b"x".to_vec()));
    want.insert(
        "dir/two049".into(),
        ('f', (0..2049u32).map(|i| (i * 7) as u8).collect()),
    );
    want.insert(
        "dir/sub/big".into(),
        (
            'f',
            (0..3 * 1024 * 1024 + 3u32)
                .map(|i| (i * 13 + 5) as u8)
                .collect(),
        ),
    );
    want.insert(
        format!("dir/sub/{}", "n".repeat(120)),
        ('f', b"long\n".to_vec()),
    );
    want.insert("héllo ☃".into(), ('f', b"utf\n".to_vec()));
    want.insert("dir".into(), ('d', vec![]));
    want.insert("dir/sub".into(), ('d', vec![]));
    want.insert("empty".into(), ('d', vec![]));
    want.insert("link".into(), ('l', b"dir/two049".to_vec()));
    want.insert("dir/sub/up".into(), ('l', b"../../one".to_vec()));
    let have: BTreeMap<String, (char, Vec<u8>)> = got
        .iter()
        .map(|(k, (n, _))| (k.clone(), (n.kind, n.data.clone())))
        .collect();
    assert_eq!(
        have.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, v) in &want {
        assert!(have[k] == *v, "{k}: {:?}", have[k].0);
    }
    // pycdlib's hard link is a second identifier of the same file entry.
    assert_eq!(got["one"].1.icb, got["dir/hard"].1.icb);
    assert_ne!(got["one"].1.icb, got["zero"].1.icb);
    let p = pycdlib_view(&iso);
    assert_eq!(p.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
    for (path, (kind, size, perm)) in &p {
        assert_eq!(*kind, got[path].0.kind, "{path}");
        assert_eq!(*perm, format!("{:o}", got[path].0.mode & 0o777), "{path}");
        if *kind == 'f' {
            assert_eq!(*size, got[path].0.size, "{path}");
        }
    }
    // 7-Zip 25 refuses this image ("Unsupported feature": pycdlib's symbolic links); when a
    // 7-Zip reads it, its listing must agree.
    let z = tool("7zz").then(|| {
        Command::new("7zz")
            .args(["l", "-tudf"])
            .arg(&iso)
            .output()
            .unwrap()
    });
    if z.is_some_and(|o| o.status.success()) {
        let z = sevenzip(&iso);
        for (path, (node, _)) in &got {
            let (folder, size) = z
                .get(path)
                .unwrap_or_else(|| panic!("7zz lacks {path}: {z:?}"));
            assert_eq!(*folder, node.kind == 'd', "{path}");
            if node.kind == 'f' {
                assert_eq!(*size, node.size, "{path}");
            }
        }
        assert_eq!(z.len(), got.len());
    }
}

/// `mkudffs` (udftools): an empty file system of each revision, on a file, hard-disk media
/// with 512- and 2048-byte blocks, ICB strategies 4 and 4096 (an entry, then a terminal
/// entry).
#[test]
fn mkudffs_empty_file_systems_of_each_revision() {
    if !tool("mkudffs") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 2.50 and 2.60 only for BD-R, as a virtual (VAT) partition: a named unsupported error.
    for rev in ["0x0250", "0x0260"] {
        let img = dir.path().join(format!("m-{rev}.img"));
        std::fs::File::create(&img)
            .unwrap()
            .set_len(4 * 1024 * 1024)
            .unwrap();
        let out = Command::new("mkudffs")
            .args(["--media-type=bdr", &format!("--udfrev={rev}")])
            .arg(&img)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&img).unwrap();
        let err = UdfVolume::parse(&bytes, &Limits::DEFAULT).unwrap_err();
        assert!(
            matches!(err.kind(), iso_core::ErrorKind::Unsupported(m) if m.contains("virtual")),
            "{rev}: {err}"
        );
    }
    for rev in ["0x0102", "0x0150", "0x0201"] {
        for (bs, strategy) in [("512", "4"), ("2048", "4"), ("512", "4096")] {
            let img = dir.path().join(format!("m-{rev}-{bs}-{strategy}.img"));
            let f = std::fs::File::create(&img).unwrap();
            f.set_len(4 * 1024 * 1024).unwrap();
            drop(f);
            let out = Command::new("mkudffs")
                .args([
                    "--media-type=hd",
                    &format!("--udfrev={rev}"),
                    &format!("--blocksize={bs}"),
                    &format!("--strategy={strategy}"),
                    "--label=EMPTYVOL",
                    "--lvid=LVOL",
                ])
                .arg(&img)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let bytes = std::fs::read(&img).unwrap();
            let vol = UdfVolume::parse(&bytes, &Limits::DEFAULT)
                .unwrap_or_else(|e| panic!("{rev} {bs}: {e}"))
                .unwrap_or_else(|| panic!("{rev} {bs}: no UDF"));
            let info = vol.info();
            let want_rev = u16::from_str_radix(&rev[2..], 16).unwrap();
            assert_eq!(info.revision, Some(want_rev), "{rev} {bs}");
            assert_eq!(info.block_size, bs.parse::<u32>().unwrap());
            assert_eq!(info.logical_volume_id, "LVOL");
            assert_eq!(info.nsr, if want_rev >= 0x0200 { 3 } else { 2 });
            let meta = info
                .partitions
                .iter()
                .any(|p| matches!(p.kind, iso_core::udf::UdfPartitionKind::Metadata { .. }));
            assert!(!meta, "{rev} {bs}: {:?}", info.partitions);
            assert_eq!(info.integrity_revisions.map(|r| r.2), Some(want_rev));
            // An empty root (mkudffs may add a lost+found directory).
            let names: Vec<String> = vol
                .walk()
                .unwrap()
                .map(|e| e.unwrap().path)
                .filter(|p| p != "lost+found")
                .collect();
            assert!(names.is_empty(), "{rev} {bs}: {names:?}");
            assert!(vol.root().is_dir());
            // 7-Zip 25 refuses strategy 4096 ("Unsupported feature").
            if strategy == "4" && tool("7zz") {
                let z = sevenzip(&img);
                assert!(z.keys().all(|k| k == "lost+found"), "{z:?}");
            }
        }
    }
}

/// Not a UDF image: `None`, not an error.
#[test]
fn plain_iso9660_and_garbage_are_not_udf() {
    assert!(UdfVolume::parse(&[], &Limits::DEFAULT).unwrap().is_none());
    assert!(UdfVolume::parse(&vec![0u8; 1 << 20], &Limits::DEFAULT)
        .unwrap()
        .is_none());
    let fixture = isolution_tests::repo_dir().join("tests/solutions/example-solution-1.0.2.iso");
    if let Ok(bytes) = std::fs::read(fixture) {
        assert!(UdfVolume::parse(&bytes, &Limits::DEFAULT)
            .unwrap()
            .is_none());
    }
}

/// libcdio's test-udf1.iso from the shared corpus, when present.
#[test]
fn libcdio_udf_corpus_image() {
    let Some(shared) = isolution_tests::shared_dir() else {
        println!("skipping: ../shared is not present");
        return;
    };
    let p = shared.join("corpus/libcdio/test-udf1.iso");
    let Ok(bytes) = std::fs::read(&p) else {
        println!("skipping: {} is not present", p.display());
        return;
    };
    let vol = UdfVolume::parse(&bytes, &Limits::DEFAULT).unwrap().unwrap();
    let got = udf_nodes(&vol);
    assert!(!got.is_empty());
    if tool("7zz") {
        let z = sevenzip(&p);
        assert_eq!(z.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
    }
}

/// Prints what the reader sees of the image `UDF_DUMP` names (a debugging aid).
#[test]
#[ignore]
fn dump() {
    let Some(p) = std::env::var_os("UDF_DUMP") else {
        return;
    };
    let bytes = std::fs::read(p).unwrap();
    let vol = UdfVolume::parse(&bytes, &Limits::DEFAULT).unwrap().unwrap();
    println!("{:#?}", vol.info());
    for item in vol.walk().unwrap() {
        let item = item.unwrap();
        let e = &item.entry;
        println!(
            "{} {:?} {:o} {} {:?} {:?}",
            item.path,
            e.kind,
            e.mode,
            e.size,
            e.icb,
            e.extents()
        );
    }
}

/// The fuzz seeds: empty `mkudffs` file systems of 100 KiB (512-byte blocks, the anchor only
/// at the last sector), two of them with entries added by hand: a file embedded in its file
/// entry, a directory with a symbolic link to `../hello.txt`, and a file of one recorded and
/// one unrecorded (sparse) extent.
#[test]
fn fuzz_seeds_read_as_made() {
    let dir = isolution_tests::repo_dir().join("fuzz/seeds/udf");
    let mut with_files = 0;
    for f in std::fs::read_dir(dir).unwrap() {
        let p = f.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        assert!(bytes.len() < 300 * 1024, "{}", p.display());
        let vol = UdfVolume::parse(&bytes, &Limits::DEFAULT).unwrap().unwrap();
        assert_eq!(vol.info().block_size, 512);
        assert_eq!(vol.info().anchor_sector as usize, bytes.len() / 512 - 1);
        let got = udf_nodes(&vol);
        if got.is_empty() {
            continue;
        }
        with_files += 1;
        assert_eq!(got["hello.txt"].0.data, b"hello, udf\n");
        assert_eq!(got["dir/link"].0.data, b"../hello.txt");
        let big = &got["big.bin"].1;
        let c = vol.contents(big).unwrap();
        assert!(matches!(
            c.parts(),
            [iso_core::udf::UdfPart::Data(d), iso_core::udf::UdfPart::Zeros(1024)] if d.len() == 1500
        ));
        let data = c.to_vec();
        assert!(data[1500..].iter().all(|&b| b == 0));
        assert_eq!(data[1], 31);
    }
    assert_eq!(with_files, 2);
}
