//! `isolution push` against Debian's `docker-registry` (distribution) on 127.0.0.1, with a
//! config written here: digests read back with skopeo, a second push sends no blob, chunked
//! uploads, a registry that stops gives a clear error that a re-run heals, and connections cut
//! in the middle of requests (a fault-injecting TCP proxy) are retried to a complete push.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::registry::{free_port, start_registry};
use common::{
    assert_dir_copy_is_the_archive, assert_platform_config, copy_all, iso_file, json,
    multiarch_iso, skopeo, skopeo_output, solution, tool, tools, BIN, LIST_TAGS,
};

fn push(addr: &str, extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("push")
        .arg(solution("example-solution-1.0.2.iso"))
        .args(["--registry", addr, "--insecure", "--json"])
        .args(extra)
        .output()
        .unwrap()
}

fn expected() -> Vec<(String, String, String)> {
    std::fs::read_to_string(solution("expected/example-solution-1.0.2.images.tsv"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

#[test]
fn push_then_pull_back_with_skopeo_and_a_second_push_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(reg) = start_registry(dir.path(), free_port(), None) else {
        return;
    };
    // Small chunks, so that the chunked PATCH path runs too.
    let r = json(&push(&reg.addr, &["--chunk-size", "300"]));
    assert_eq!(r["images"].as_array().unwrap().len(), 3);
    assert_eq!(
        r["uploaded"].as_u64().unwrap() + r["mounted"].as_u64().unwrap(),
        6
    );
    assert!(
        r["mounted"].as_u64().unwrap() >= 1,
        "the shared layer is mounted: {r}"
    );
    if tool("skopeo") {
        for (name, tag, digest) in expected() {
            let out = skopeo(&[
                "inspect",
                "--tls-verify=false",
                &format!("docker://{}/example-solution-1.0.2/{name}:{tag}", reg.addr),
            ]);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["Digest"], digest.as_str(), "{name}:{tag}");
        }
    }
    let again = json(&push(&reg.addr, &[]));
    assert_eq!(again["uploaded"], 0);
    assert_eq!(again["bytes"], 0);
    assert_eq!(again["present"], 6);
    // Another prefix: the repositories MetalK8s would not use, on request.
    let other = json(&push(&reg.addr, &["--prefix", "mirror/solutions"]));
    assert_eq!(
        other["images"][0].as_str().unwrap().split('/').nth(1),
        Some("mirror")
    );
}

#[test]
fn a_registry_that_stops_gives_a_clear_error_and_a_rerun_heals() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let Some(reg) = start_registry(dir.path(), port, None) else {
        return;
    };
    let addr = reg.addr.clone();
    drop(reg); // stopped
    let out = push(&addr, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("isolution: ") && err.contains(&addr),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // Same storage, started again: the push completes.
    let Some(reg) = start_registry(dir.path(), port, None) else {
        return;
    };
    let r = json(&push(&reg.addr, &[]));
    assert_eq!(r["images"].as_array().unwrap().len(), 3);
}

fn import(addr: &str, config: &str, dir: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let p = dir.join("solutions.yaml");
    let abs = solution("").canonicalize().unwrap();
    std::fs::write(&p, config.replace("@FIXTURES@", &abs.to_string_lossy())).unwrap();
    let out = Command::new(BIN)
        .arg("import")
        .arg(&p)
        .args(["--registry", addr, "--insecure", "--json", "--no-digests"])
        .args(extra)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

const HEAD: &str =
    "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: SolutionsConfiguration\n";

#[test]
fn import_pushes_listed_solutions_and_prunes_unlisted_ones_but_never_active_ones() {
    let dir = tempfile::tempdir().unwrap();
    let Some(reg) = start_registry(dir.path(), free_port(), None) else {
        return;
    };
    let both = format!(
        "{HEAD}archives:\n  - \"@FIXTURES@/example-solution-1.0.2.iso\"\n  - \"@FIXTURES@/example-solution-1.0.10.iso\"\nactive:\n  example-solution: latest\n"
    );
    let (code, r) = import(&reg.addr, &both, dir.path(), &[]);
    assert_eq!(code, 0, "{r}");
    assert!(
        r["archives"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == "pushed"),
        "{r}"
    );
    // Only 1.0.10 listed, 1.0.10 active: the 1.0.2 repositories are stale.
    let newer = format!(
        "{HEAD}archives:\n  - \"@FIXTURES@/example-solution-1.0.10.iso\"\nactive:\n  example-solution: \"1.0.10\"\n"
    );
    let (code, r) = import(&reg.addr, &newer, dir.path(), &["--dry-run", "--prune"]);
    assert_eq!(code, 0, "{r}");
    let stale: Vec<&str> = r["stale"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        stale,
        [
            "example-solution-1.0.2/base-server",
            "example-solution-1.0.2/example-solution-operator"
        ]
    );
    assert!(
        r["pruned"].as_array().unwrap().is_empty(),
        "dry run deletes nothing"
    );
    assert_eq!(r["archives"][0]["status"], "planned");
    // With 1.0.2 still active, nothing of it is pruned.
    let active_old = format!(
        "{HEAD}archives:\n  - \"@FIXTURES@/example-solution-1.0.10.iso\"\nactive:\n  example-solution: \"1.0.2\"\n"
    );
    let (_, r) = import(&reg.addr, &active_old, dir.path(), &["--prune"]);
    assert_eq!(r["kept_active"].as_array().unwrap().len(), 2, "{r}");
    assert!(r["pruned"].as_array().unwrap().is_empty(), "{r}");
    // Now prune for real.
    let (code, r) = import(&reg.addr, &newer, dir.path(), &["--prune"]);
    assert_eq!(code, 0, "{r}");
    assert!(!r["pruned"].as_array().unwrap().is_empty(), "{r}");
    if tool("skopeo") {
        let gone = skopeo_output(&[
            "inspect",
            "--tls-verify=false",
            &format!(
                "docker://{}/example-solution-1.0.2/base-server:1.0.2",
                reg.addr
            ),
        ]);
        assert!(!gone.status.success(), "pruned image still there");
        // Same manifest digest in the 1.0.10 repository: deletion is per repository.
        skopeo(&[
            "inspect",
            "--tls-verify=false",
            &format!(
                "docker://{}/example-solution-1.0.10/base-server:1.0.10",
                reg.addr
            ),
        ]);
    }
    // An archive that fails validation is refused; the others are pushed; exit 1 names it.
    let mixed = format!(
        "{HEAD}archives:\n  - \"@FIXTURES@/broken-image-blob-missing.iso\"\n  - \"@FIXTURES@/example-solution-1.0.10.iso\"\nactive: {{}}\n"
    );
    let (code, r) = import(&reg.addr, &mixed, dir.path(), &[]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["archives"][0]["status"], "refused");
    assert!(
        r["archives"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("image.blob-missing"),
        "{r}"
    );
    assert_eq!(r["archives"][1]["status"], "pushed");
    // A configuration with the wrong kind changes nothing.
    let (code, r) = import(
        &reg.addr,
        "apiVersion: x\nkind: Y\narchives: []\n",
        dir.path(),
        &[],
    );
    assert_eq!(code, 1);
    assert!(!r["config_errors"].as_array().unwrap().is_empty());
}

/// A TCP proxy in front of the registry that cuts connections in the middle of a request:
/// once a connection has carried `threshold` bytes to the registry, the rest of that request
/// is dropped and both sides are closed, so the registry never sees the request whole. `cuts`
/// connections are cut (`usize::MAX`: every one). A fault injector on a real registry, not a
/// stand-in for it.
struct Proxy {
    addr: String,
    cut: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn start_proxy(upstream: String, threshold: usize, cuts: usize) -> Proxy {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let budget = Arc::new(AtomicUsize::new(cuts));
    let cut = Arc::new(AtomicUsize::new(0));
    let (b, c) = (budget.clone(), cut.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let Ok(mut server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(Shutdown::Both);
            });
            let (budget, cut) = (b.clone(), c.clone());
            std::thread::spawn(move || {
                let mut sent = 0usize;
                let mut spared = false;
                let mut buf = [0u8; 8192];
                loop {
                    let n = match client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if !spared && sent + n > threshold {
                        let take = budget
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
                                usize::MAX => Some(usize::MAX),
                                0 => None,
                                k => Some(k - 1),
                            })
                            .is_ok();
                        if take {
                            let _ = server.write_all(&buf[..threshold - sent]);
                            cut.fetch_add(1, Ordering::SeqCst);
                            let _ = server.shutdown(Shutdown::Both);
                            let _ = client.shutdown(Shutdown::Both);
                            return;
                        }
                        spared = true;
                    }
                    if server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n;
                }
                let _ = server.shutdown(Shutdown::Write);
            });
        }
    });
    Proxy { addr, cut }
}

#[test]
fn connections_cut_mid_request_are_retried_and_the_push_completes() {
    // Cut points from inside the first HEAD to deep into the uploads (a HEAD and a POST are
    // about 300 bytes); small chunks, so that PATCH requests are cut too. Each a fresh
    // registry, three cuts each.
    for threshold in [100, 350, 500, 650, 800, 1000, 1400] {
        let dir = tempfile::tempdir().unwrap();
        let Some(reg) = start_registry(dir.path(), free_port(), None) else {
            return;
        };
        let proxy = start_proxy(reg.addr.clone(), threshold, 3);
        let r = json(&push(&proxy.addr, &["--chunk-size", "256"]));
        assert_eq!(
            proxy.cut.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "threshold {threshold}: the proxy cut 3 requests"
        );
        let mut got: Vec<String> = r["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().replace(&proxy.addr, "HOST"))
            .collect();
        got.sort();
        let mut want: Vec<String> = expected()
            .into_iter()
            .map(|(n, t, d)| format!("HOST/example-solution-1.0.2/{n}:{t}@{d}"))
            .collect();
        want.sort();
        assert_eq!(got, want, "threshold {threshold}");
        // Straight to the registry: every blob arrived whole (the registry checked each
        // digest), nothing left to send.
        let again = json(&push(&reg.addr, &[]));
        assert_eq!(again["uploaded"], 0, "threshold {threshold}: {again}");
    }
}

#[test]
fn a_registry_unreachable_mid_request_fails_cleanly_and_a_rerun_heals() {
    let dir = tempfile::tempdir().unwrap();
    let Some(reg) = start_registry(dir.path(), free_port(), None) else {
        return;
    };
    let proxy = start_proxy(reg.addr.clone(), 600, usize::MAX);
    let t = Instant::now();
    let out = push(&proxy.addr, &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("isolution: ") && err.contains(&proxy.addr),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty(), "no image reported as pushed");
    assert!(t.elapsed() < Duration::from_secs(30), "retries are bounded");
    let r = json(&push(&reg.addr, &[]));
    assert_eq!(r["images"].as_array().unwrap().len(), 3);
}

/// Lists and indexes as registries hold them: the per-platform manifests by digest, the list
/// by tag; pulled back by skopeo whole (`--all`) and one platform at a time.
#[test]
fn lists_and_indexes_push_and_pull_back_whole_and_per_platform() {
    if !tools(&["skopeo", "isoinfo"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(reg) = start_registry(dir.path(), free_port(), None) else {
        return;
    };
    let iso = multiarch_iso();
    let run = || {
        Command::new(BIN)
            .arg("push")
            .arg(&iso)
            .args(["--registry", &reg.addr, "--insecure", "--json"])
            .output()
            .unwrap()
    };
    let r = json(&run());
    assert_eq!(r["images"].as_array().unwrap().len(), 5, "{r}");
    for tag in LIST_TAGS {
        let list = iso_file(&iso, &format!("/images/base-server/{tag}/manifest.json"));
        let reference = format!(
            "docker://{}/example-solution-1.0.2/base-server:{tag}",
            reg.addr
        );
        let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &reference]);
        assert_eq!(
            raw.stdout, list,
            "{tag}: the registry holds the list as stored"
        );
        let out = dir.path().join(format!("dir-{tag}"));
        copy_all(&reference, &out, &["--src-tls-verify=false"]);
        assert_eq!(assert_dir_copy_is_the_archive(&out, tag), list, "{tag}");
        assert_platform_config(&reference, tag, &["--tls-verify=false"]);
    }
    let again = json(&run());
    assert_eq!(again["uploaded"], 0, "{again}");
}

#[test]
fn a_corrupt_blob_is_never_sent_under_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let Some(reg) = start_registry(dir.path(), free_port(), None) else {
        return;
    };
    let out = Command::new(BIN)
        .arg("push")
        .arg(solution("broken-image-blob-digest.iso"))
        .args(["--registry", &reg.addr, "--insecure", "--concurrency", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("is corrupt in the archive"), "{err}");
    // The digest it is named by: no blob of that name reached the registry's storage.
    let named = err
        .split("blob sha256:")
        .nth(1)
        .and_then(|r| r.get(..64))
        .expect("the error names the blob");
    let stored = dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&named[..2])
        .join(named);
    assert!(!stored.exists(), "{} was stored", stored.display());
}
