//! Helpers shared by the multi-platform tests of `export.rs`, `push.rs` and `serve.rs`: the
//! multi-platform fixture read with isoinfo (the oracle for its bytes), and the check that a
//! skopeo `dir:` copy of a list is the archive's files.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use sha2::{Digest, Sha256};

/// The `isolution` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_isolution");

/// `tests/solutions/<name>`.
pub fn solution(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/solutions")
        .join(name)
}

/// `isolution serve` on 127.0.0.1 (a free port), stopped when dropped.
pub struct Server {
    /// The server process.
    pub child: Child,
    /// `127.0.0.1:<port>`.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `isolution serve ISOS... --addr 127.0.0.1:0` and reads the address it prints.
pub fn serve(isos: &[PathBuf]) -> Server {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(isos)
        .args(["--addr", "127.0.0.1:0", "--quiet"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    Server { child, addr }
}

/// `skopeo copy --all --preserve-digests SOURCE dir:OUT` (with `extra` options).
pub fn copy_all(source: &str, out: &Path, extra: &[&str]) {
    let dest = format!("dir:{}", out.display());
    let mut args = vec![
        "--insecure-policy",
        "copy",
        "--quiet",
        "--all",
        "--preserve-digests",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[source, &dest]);
    skopeo(&args);
}

/// `tests/solutions/example-solution-1.0.2-multiarch.iso`: base-server:1.0.2-multiarch (a
/// Docker manifest list, `skopeo copy --all --format v2s2`) and base-server:1.0.2-oci (an OCI
/// index, `skopeo copy --all`), both linux/amd64 and linux/arm64/v8.
pub fn multiarch_iso() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/solutions/example-solution-1.0.2-multiarch.iso")
}

/// The two list tags of [`multiarch_iso`].
pub const LIST_TAGS: [&str; 2] = ["1.0.2-multiarch", "1.0.2-oci"];

/// Whether `tool --version` runs; prints a SKIP line when not.
pub fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("--version").output().is_ok();
    if !ok {
        eprintln!("SKIP: {tool} not installed");
    }
    ok
}

/// A file of the ISO, read by isoinfo through Rock Ridge.
pub fn iso_file(iso: &Path, path: &str) -> Vec<u8> {
    let out = Command::new("isoinfo")
        .arg("-i")
        .arg(iso)
        .args(["-R", "-x", path])
        .output()
        .unwrap();
    assert!(out.status.success(), "isoinfo -x {path}");
    assert!(!out.stdout.is_empty(), "isoinfo -x {path}: empty");
    out.stdout
}

/// `sha256:<hex>` of bytes.
pub fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// The list's entries: (digest, platform `os/arch[/variant]`).
pub fn entries(list: &[u8]) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(list).unwrap();
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let mut plat = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(v) = p["variant"].as_str() {
                plat = format!("{plat}/{v}");
            }
            (m["digest"].as_str().unwrap().to_string(), plat)
        })
        .collect()
}

/// skopeo with `args`, asserting success.
pub fn skopeo(args: &[&str]) -> Output {
    let out = Command::new("skopeo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A `skopeo copy --all ... dir:OUT` of base-server:`tag` holds the archive's per-platform
/// manifests and blobs byte for byte, every one the list names, and nothing else. Returns
/// what skopeo wrote as `manifest.json`.
pub fn assert_dir_copy_is_the_archive(out: &Path, tag: &str) -> Vec<u8> {
    let iso = multiarch_iso();
    let base = format!("/images/base-server/{tag}");
    let list = iso_file(&iso, &format!("{base}/manifest.json"));
    let mut want = Vec::new();
    for (d, _) in entries(&list) {
        let hex = d.trim_start_matches("sha256:").to_string();
        let m = iso_file(&iso, &format!("{base}/{hex}.manifest.json"));
        let v: serde_json::Value = serde_json::from_slice(&m).unwrap();
        want.push(format!("{hex}.manifest.json"));
        for b in std::iter::once(&v["config"]).chain(v["layers"].as_array().unwrap()) {
            want.push(
                b["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:")
                    .to_string(),
            );
        }
    }
    want.sort();
    want.dedup();
    let mut got: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != "manifest.json" && n != "version")
        .collect();
    got.sort();
    assert_eq!(got, want, "{tag}: the files skopeo copied");
    for name in &got {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            iso_file(&iso, &format!("{base}/{name}")),
            "{tag}: {name}"
        );
    }
    std::fs::read(out.join("manifest.json")).unwrap()
}

/// `skopeo inspect --override-arch arm64 --override-variant v8 --config --raw REFERENCE`
/// gives the config of the list's arm64/v8 manifest, as the archive has it.
pub fn assert_platform_config(reference: &str, tag: &str, extra: &[&str]) {
    let iso = multiarch_iso();
    let base = format!("/images/base-server/{tag}");
    let list = iso_file(&iso, &format!("{base}/manifest.json"));
    let e = entries(&list);
    assert_eq!(e[1].1, "linux/arm64/v8");
    let hex = e[1].0.trim_start_matches("sha256:");
    let m: serde_json::Value =
        serde_json::from_slice(&iso_file(&iso, &format!("{base}/{hex}.manifest.json"))).unwrap();
    let mut args = vec!["inspect"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "--override-arch",
        "arm64",
        "--override-variant",
        "v8",
        "--config",
        "--raw",
        reference,
    ]);
    let out = skopeo(&args);
    assert_eq!(
        digest(&out.stdout),
        m["config"]["digest"].as_str().unwrap(),
        "{tag}"
    );
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (c["architecture"].as_str(), c["variant"].as_str()),
        (Some("arm64"), Some("v8"))
    );
}
