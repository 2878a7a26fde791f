//! Helpers shared by the integration tests: running the `isolution` binary, background
//! processes (`isolution serve`, registries, containerd), skopeo, the multi-platform fixture
//! read with isoinfo (the oracle for its bytes) and the check that a skopeo `dir:` copy of a
//! list is the archive's files; whether a tool is installed ([`tool`], shared with the
//! `isolution-tests` crate); and, in [`fixtures`], the committed reader fixtures of
//! `tests/fixtures/` with the checks of what `isolution` lists and extracts from them.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use sha2::{Digest, Sha256};

pub mod deploy;
pub mod fixtures;
pub mod pack;
pub mod registry;
#[path = "../../../tests/common/registry_config.rs"]
pub mod registry_config;
pub mod token;
#[path = "../../../tests/common/tools.rs"]
mod tools;
#[allow(unused_imports)] // (each test binary uses some)
pub use tools::{tool, tool_path, tools};

/// The `isolution` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_isolution");

/// Runs `isolution ARGS` (stdin from `/dev/null`).
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run isolution")
}

/// A readable dump of a run for assertion messages (the first 4000 bytes of stdout).
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ({} bytes)\n{}\n--- stderr\n{}",
        out.status.code(),
        out.stdout.len(),
        String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(4000)]),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that a run succeeded (showing its stderr otherwise) and returns its stdout as
/// JSON.
#[track_caller]
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `isolution export ISO FLAG DEST EXTRA...`, FLAG one of `--oci`, `--oci-archive`,
/// `--docker-archive`.
pub fn export_to(iso: &Path, flag: &str, dest: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("export")
        .arg(iso)
        .arg(flag)
        .arg(dest)
        .args(extra)
        .output()
        .unwrap()
}

/// A process running in the background (`isolution serve`, a registry, containerd), killed
/// when dropped.
pub struct Daemon(pub Child);

impl Daemon {
    /// Starts `cmd` with its stdout and stderr thrown away.
    pub fn quiet(cmd: &mut Command) -> Daemon {
        Daemon(
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Deref for Daemon {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tests/solutions/<name>`.
pub fn solution(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/solutions")
        .join(name)
}

/// `isolution serve` on 127.0.0.1 (a free port), stopped when dropped.
pub struct Server {
    /// The server process.
    pub child: Daemon,
    /// `127.0.0.1:<port>`.
    pub addr: String,
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
    Server {
        child: Daemon(child),
        addr,
    }
}

/// `skopeo copy OPTIONS SOURCE dir:OUT`, asserting success.
pub fn copy_to_dir(source: &str, out: &Path, options: &[&str]) {
    let dest = format!("dir:{}", out.display());
    let mut args = vec!["--insecure-policy", "copy", "--quiet"];
    args.extend_from_slice(options);
    args.extend_from_slice(&[source, &dest]);
    skopeo(&args);
}

/// `skopeo copy --all --preserve-digests SOURCE dir:OUT` (with `extra` options).
pub fn copy_all(source: &str, out: &Path, extra: &[&str]) {
    let mut options = vec!["--all", "--preserve-digests"];
    options.extend_from_slice(extra);
    copy_to_dir(source, out, &options);
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

/// skopeo with `args`, whatever it does.
pub fn skopeo_output(args: &[&str]) -> Output {
    Command::new("skopeo").args(args).output().unwrap()
}

/// skopeo with `args`, asserting success.
#[track_caller]
pub fn skopeo(args: &[&str]) -> Output {
    let out = skopeo_output(args);
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
