//! containerd's `ctr` as the client: pulls from `isolution serve` (every platform, unpacked by
//! the native snapshotter, which checks each layer against the config's diff_ids) and imports
//! of our OCI and `docker load` archives. A private containerd runs on a socket in a temporary
//! directory; the tests skip with a message when containerd is not installed or cannot start
//! (it needs root).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;
use common::{export_to, serve, solution, tools, Daemon, BIN};

/// A containerd of our own (root, state and socket under a temporary directory), stopped
/// when dropped.
struct Containerd {
    child: Daemon,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Containerd {
    fn start() -> Option<Containerd> {
        if !tools(&["containerd", "ctr"]) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("containerd.sock");
        let cfg = dir.path().join("config.toml");
        std::fs::write(
            &cfg,
            "version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n",
        )
        .unwrap();
        let child = Daemon::quiet(
            Command::new("containerd")
                .arg("--config")
                .arg(&cfg)
                .arg("--root")
                .arg(dir.path().join("root"))
                .arg("--state")
                .arg(dir.path().join("state"))
                .arg("--address")
                .arg(&socket),
        );
        let mut c = Containerd {
            child,
            socket,
            _dir: dir,
        };
        let t = Instant::now();
        loop {
            if c.ctr_raw(&["version"]).status.success() {
                return Some(c);
            }
            if t.elapsed() > Duration::from_secs(15) || c.child.try_wait().ok().flatten().is_some()
            {
                eprintln!("SKIP: containerd did not start (it needs root)");
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ctr_raw(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .args(["--namespace", "isolution-test"])
            .args(args)
            .output()
            .unwrap()
    }

    fn ctr(&self, args: &[&str]) -> String {
        let out = self.ctr_raw(args);
        assert!(
            out.status.success(),
            "ctr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ctr images ls`: ref -> (media type, digest, platforms).
    fn images(&self) -> Vec<(String, String, String, String)> {
        self.ctr(&["images", "ls"])
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // REF TYPE DIGEST SIZE(2 fields) PLATFORMS LABELS
                (
                    f[0].to_string(),
                    f[1].to_string(),
                    f[2].to_string(),
                    f[5].to_string(),
                )
            })
            .collect()
    }
}

/// `isolution inspect --json`: (name, tag, manifest digest, media type) of every image.
fn inventory(iso: &Path) -> Vec<(String, String, String, String)> {
    let out = Command::new(BIN)
        .arg("inspect")
        .arg(iso)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["tag"].as_str().unwrap().to_string(),
                i["manifest_digest"].as_str().unwrap().to_string(),
                i["media_type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `isolution export ISO FLAG DEST EXTRA...`, then `ctr images import IMPORT... DEST`
/// (unpacked with the native snapshotter).
fn export_and_import(
    ctd: &Containerd,
    iso: &Path,
    flag: &str,
    dest: &Path,
    import: &[&str],
    extra: &[&str],
) {
    let out = export_to(iso, flag, dest, extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut args = vec!["images", "import", "--snapshotter", "native"];
    args.extend_from_slice(import);
    args.push(dest.to_str().unwrap());
    ctd.ctr(&args);
}

#[test]
fn ctr_pulls_every_image_and_platform_from_isolution_serve() {
    let Some(ctd) = Containerd::start() else {
        return;
    };
    let iso = solution("example-solution-1.0.2-multiarch.iso");
    let s = serve(std::slice::from_ref(&iso));
    let images = inventory(&iso);
    assert_eq!(images.len(), 5);
    for (name, tag, digest, media_type) in &images {
        let r = format!("{}/example-solution-1.0.2/{name}:{tag}", s.addr);
        // Unpacking checks every layer against the config's diff_ids.
        ctd.ctr(&[
            "images",
            "pull",
            "--plain-http",
            "--all-platforms",
            "--snapshotter",
            "native",
            &r,
        ]);
        let got = ctd.images();
        let (_, t, d, platforms) = got.iter().find(|i| i.0 == r).unwrap();
        assert_eq!((t, d), (media_type, digest), "{r}");
        let want = if tag.starts_with("1.0.2-") {
            "linux/amd64,linux/arm64/v8"
        } else {
            "linux/amd64"
        };
        assert_eq!(platforms, want, "{r}");
    }
}

#[test]
fn ctr_imports_our_oci_and_docker_archives() {
    let Some(ctd) = Containerd::start() else {
        return;
    };
    let iso = solution("example-solution-1.0.2-multiarch.iso");
    let dir = tempfile::tempdir().unwrap();
    let oci = dir.path().join("images.oci.tar");
    export_and_import(&ctd, &iso, "--oci-archive", &oci, &["--all-platforms"], &[]);
    let got = ctd.images();
    let images = inventory(&iso);
    for (name, tag, digest, _) in &images {
        let r = format!("{name}:{tag}");
        let (_, t, d, platforms) = got
            .iter()
            .find(|i| i.0 == r)
            .unwrap_or_else(|| panic!("{r} not imported: {got:?}"));
        // What index.json names: the archive's OCI index as it is, or the OCI index that
        // names a Docker manifest or list; either way the archive's manifest is inside.
        assert_eq!(t, "application/vnd.oci.image.index.v1+json", "{r}");
        let index: serde_json::Value =
            serde_json::from_str(&ctd.ctr(&["content", "get", d])).unwrap();
        let names: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["digest"].as_str().unwrap())
            .collect();
        if tag.starts_with("1.0.2-") {
            assert_eq!(platforms, "linux/amd64,linux/arm64/v8", "{r}");
            if tag == "1.0.2-oci" {
                assert_eq!(d, digest, "{r}");
            }
        } else {
            assert_eq!(names, [digest.as_str()], "{r}");
        }
    }
    // docker load format: ctr makes its own manifests; the configs are the archive's.
    let docker = dir.path().join("images.docker.tar");
    let only = [
        "--image",
        "base-server:1.0.2",
        "--image",
        "example-solution-operator:1.0.2",
    ];
    export_and_import(&ctd, &iso, "--docker-archive", &docker, &[], &only);
    let got = ctd.images();
    for (name, tag) in [
        ("base-server", "1.0.2"),
        ("example-solution-operator", "1.0.2"),
    ] {
        let r = format!("docker.io/library/{name}:{tag}");
        let (_, _, d, _) = got.iter().find(|i| i.0 == r).unwrap();
        let m: serde_json::Value = serde_json::from_str(&ctd.ctr(&["content", "get", d])).unwrap();
        let stored = Command::new("isoinfo")
            .arg("-i")
            .arg(&iso)
            .args(["-R", "-x", &format!("/images/{name}/{tag}/manifest.json")])
            .output()
            .unwrap();
        let want: serde_json::Value = serde_json::from_slice(&stored.stdout).unwrap();
        assert_eq!(m["config"]["digest"], want["config"]["digest"], "{r}");
    }
}
