//! The archives of `isolution export`, written in place on every core (blobs two at a time
//! per core, in chunks, at offsets computed before anything is written), read by the reference
//! tar readers: a Solution of layers of awkward sizes (around a 512-byte block, around the
//! one-write threshold, several chunks long, two of nearly the same size so that they are
//! written as a pair) exported as an OCI archive and a docker archive; bsdtar and GNU tar list
//! and extract them, every member hashes to its name, and the OCI archive holds byte for byte
//! the blobs of the layout export of the same Solution.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

mod common;
use common::{run, tool, tools};

/// Deterministic bytes (xorshift), different for each `seed`.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn hex_sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

const GENISOIMAGE: &[&str] = &[
    "-quiet",
    "-R",
    "-J",
    "-joliet-long",
    "-l",
    "-iso-level",
    "3",
    "-V",
    "Tar 1.0.0",
    "-gid",
    "0",
    "-uid",
    "0",
    "-input-charset",
    "utf-8",
    "-output-charset",
    "utf-8",
];

fn master(root: &Path, iso: &Path) {
    let st = Command::new("genisoimage")
        .args(GENISOIMAGE)
        .arg("-o")
        .arg(iso)
        .arg(root)
        .status()
        .unwrap();
    assert!(st.success());
}

/// A Solution `tar` 1.0.0 of two images whose layers have the sizes of `layers`; the ISO
/// (with its registry-config, as MetalK8s's build makes it) is `dir/solution.iso`.
fn build(dir: &Path, layers: &[&[usize]]) -> PathBuf {
    let root = dir.join("root");
    let mut seed = 1;
    for (n, sizes) in layers.iter().enumerate() {
        let d = root.join(format!("images/img{n}/1.0.0"));
        std::fs::create_dir_all(&d).unwrap();
        let mut descs = Vec::new();
        for &len in sizes.iter() {
            seed += 1;
            let b = bytes(len, seed);
            let h = hex_sha256(&b);
            std::fs::write(d.join(&h), &b).unwrap();
            descs.push(serde_json::json!({
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len,
                "digest": format!("sha256:{h}"),
            }));
        }
        let cfg = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux", "n": n
        }))
        .unwrap();
        let ch = hex_sha256(&cfg);
        std::fs::write(d.join(&ch), &cfg).unwrap();
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": cfg.len(),
                "digest": format!("sha256:{ch}"),
            },
            "layers": descs,
        });
        std::fs::write(d.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
        std::fs::write(d.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    }
    std::fs::write(
        root.join("manifest.yaml"),
        "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  \
         name: tar\nspec:\n  version: '1.0.0'\n  operator:\n    image: {name: img0, tag: '1.0.0'}\n",
    )
    .unwrap();
    let iso = dir.join("solution.iso");
    master(&root, &iso);
    let cfg = run(&["registry-config", iso.to_str().unwrap()]);
    assert!(cfg.status.success());
    std::fs::write(root.join("registry-config.inc.j2"), &cfg.stdout).unwrap();
    master(&root, &iso);
    iso
}

/// The files under `dir` (relative paths), sorted.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn export(iso: &Path, form: &str, out: &Path) {
    let o = run(&[
        "export",
        "-q",
        iso.to_str().unwrap(),
        form,
        out.to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "{form}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// What `TOOL -tf TAR` lists, checked to be what `TOOL -xf TAR -C DEST` extracts.
fn list_and_extract(tool: &str, tar: &Path, dest: &Path) -> BTreeSet<String> {
    let l = Command::new(tool).arg("-tf").arg(tar).output().unwrap();
    assert!(l.status.success(), "{tool} -tf: {:?}", l);
    let listed: BTreeSet<String> = String::from_utf8(l.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    std::fs::create_dir_all(dest).unwrap();
    let x = Command::new(tool)
        .arg("-xf")
        .arg(tar)
        .arg("-C")
        .arg(dest)
        .output()
        .unwrap();
    assert!(x.status.success(), "{tool} -xf: {:?}", x);
    assert_eq!(listed, files(dest), "{tool}: listed and extracted differ");
    listed
}

#[test]
fn archives_written_on_every_core_are_read_by_bsdtar_and_gnu_tar() {
    if !tools(&["genisoimage", "bsdtar", "tar"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Two of nearly the same size (a pair, whose tails differ), several chunks long; around
    // the 64 KiB one-write threshold; around a 512-byte block; empty.
    let a: &[usize] = &[1_300_000, 1_299_937, 65_536, 513, 0];
    let b: &[usize] = &[700_001, 65_537, 512, 511, 1];
    let iso = build(dir.path(), &[a, b]);
    let layout = dir.path().join("layout");
    export(&iso, "--oci", &layout);
    let layout_blobs = files(&layout.join("blobs/sha256"));
    assert_eq!(
        layout_blobs.len(),
        a.len() + b.len() + 2 * 3,
        "{layout_blobs:?}"
    );

    let oci_tar = dir.path().join("o.tar");
    let docker_tar = dir.path().join("d.tar");
    export(&iso, "--oci-archive", &oci_tar);
    export(&iso, "--docker-archive", &docker_tar);
    for t in ["bsdtar", "tar"] {
        if !tool(t) {
            continue;
        }
        // OCI archive: the layout's blobs, byte for byte, and its refs.
        let x = dir.path().join(format!("{t}-oci"));
        let listed = list_and_extract(t, &oci_tar, &x);
        let blobs: BTreeSet<String> = listed
            .iter()
            .filter_map(|p| p.strip_prefix("blobs/sha256/"))
            .map(str::to_string)
            .collect();
        assert_eq!(
            blobs, layout_blobs,
            "{t}: the archive's blobs are the layout's"
        );
        for name in &blobs {
            let got = std::fs::read(x.join("blobs/sha256").join(name)).unwrap();
            assert_eq!(&hex_sha256(&got), name, "{t}: {name}");
            let want = std::fs::read(layout.join("blobs/sha256").join(name)).unwrap();
            assert!(got == want, "{t}: {name} differs from the layout's");
        }
        let refs = |p: &Path| -> BTreeSet<String> {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            v["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.to_string())
                .collect()
        };
        assert_eq!(
            refs(&x.join("index.json")),
            refs(&layout.join("index.json")),
            "{t}: index.json"
        );
        // Docker archive: each image's config and layers, each hashing to its name.
        let x = dir.path().join(format!("{t}-docker"));
        list_and_extract(t, &docker_tar, &x);
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(x.join("manifest.json")).unwrap()).unwrap();
        let m = m.as_array().unwrap();
        assert_eq!(m.len(), 2);
        let mut seen = 0;
        for image in m {
            let names =
                std::iter::once(&image["Config"]).chain(image["Layers"].as_array().unwrap());
            for n in names {
                let n = n.as_str().unwrap();
                let got = std::fs::read(x.join(n)).unwrap();
                let hex = n.split('.').next().unwrap();
                assert_eq!(hex_sha256(&got), hex, "{t}: {n}");
                assert!(got == std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap());
                seen += 1;
            }
        }
        assert_eq!(seen, a.len() + b.len() + 2);
    }
}
