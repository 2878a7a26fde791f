//! `isolution pack --image docker://...` (issue 17): images straight from a registry.
//!
//! The example Solution's images are put in Debian's `docker-registry` (distribution 2.8) with
//! `skopeo copy` from OCI layouts, then packed from the registry: the ISO must be byte for
//! byte the one packed from the layouts (same SOURCE_DATE_EPOCH). Also with htpasswd basic
//! auth (credentials from --user/--password-stdin and from --authfile), wrong credentials
//! (exit 2, one line, no secret, nothing left behind), a tag that is not there, and a hostile
//! registry (a thread here) serving a blob whose bytes are not its digest's. Every run has
//! TMPDIR in a directory of its own, checked empty afterwards: the downloads' temporary
//! directory is removed whatever happens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::pack::{assert_empty_dir, example, ok, pack_isolated, s, sha256_hex, Example, REFS};
use common::registry::{free_port, start_registry};
use common::token::{
    assert_failed_cleanly, b64, basic_registry, granted, token_registry, PASSWORD, USER, WRONG,
};
use common::{show, tools, BIN};

/// `skopeo copy` of the example's three images to `docker://ADDR/example/NAME:TAG`.
fn upload(ex: &Example, addr: &str, creds: Option<&str>) {
    for (n, t) in REFS {
        let dest = format!("docker://{addr}/example/{n}:{t}");
        let mut args = vec![
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
        ];
        if let Some(c) = creds {
            args.extend(["--dest-creds", c]);
        }
        let src = ex.oci(n, t);
        args.extend([src.as_str(), dest.as_str()]);
        ok("skopeo", &args);
    }
}

/// The `--image` arguments of the example's images, from the registry at `addr`.
fn remote_args(addr: &str) -> Vec<String> {
    REFS.iter()
        .flat_map(|(n, t)| {
            [
                "--image".to_string(),
                format!("docker://{addr}/example/{n}:{t}"),
            ]
        })
        .collect()
}

/// Packs the example from its OCI layouts: the reference bytes.
fn reference_iso(ex: &Example) -> Vec<u8> {
    let out = ex.dir.join("reference.iso");
    let mut args = vec![s(&ex.tree).to_string(), "-o".into(), s(&out).to_string()];
    args.extend(ex.image_args(&[0, 1, 2]));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let tmp = ex.fresh("tmp-reference");
    let o = pack_isolated(&a, &tmp, "");
    assert_eq!(o.status.code(), Some(0), "pack from layouts: {}", show(&o));
    std::fs::read(&out).unwrap()
}

#[test]
fn packed_from_a_registry_is_the_iso_packed_from_the_layouts() {
    if !tools(&["docker-registry", "skopeo"]) {
        return;
    }
    let ex = example(true);
    let want = reference_iso(&ex);
    let root = ex.fresh("registry");
    let Some(reg) = start_registry(&root, free_port(), None) else {
        return;
    };
    upload(&ex, &reg.addr, None);

    // By tag: the name is the repository's last component, the tag the tag.
    let tmp = ex.fresh("tmp-tags");
    let out_dir = ex.fresh("out-tags");
    let iso = out_dir.join("remote.iso");
    let mut args = vec![s(&ex.tree).to_string(), "-o".into(), s(&iso).to_string()];
    args.extend(remote_args(&reg.addr));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = pack_isolated(&a, &tmp, "");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        std::fs::read(&iso).unwrap() == want,
        "the ISO packed from docker:// is not the one packed from the OCI layouts"
    );
    assert_empty_dir(&tmp, "the downloads' temporary directory");

    // By digest (the one skopeo reads), with NAME:TAG=, in another order.
    let raw = ok(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/example/base-server:1.0.2", reg.addr),
        ],
    )
    .stdout;
    let d = format!("sha256:{}", sha256_hex(&raw));
    let tmp = ex.fresh("tmp-digest");
    let iso2 = ex.fresh("out-digest").join("remote.iso");
    let mut args = vec![s(&ex.tree).to_string(), "-o".into(), s(&iso2).to_string()];
    args.extend(remote_args(&reg.addr)[2..].iter().cloned());
    args.extend([
        "--image".into(),
        format!(
            "base-server:1.0.2=docker://{}/example/base-server@{d}",
            reg.addr
        ),
    ]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = pack_isolated(&a, &tmp, "");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        std::fs::read(&iso2).unwrap() == want,
        "by digest: not the ISO packed from the OCI layouts"
    );
    assert_empty_dir(&tmp, "by digest: the temporary directory");

    // A digest the registry does not have for it: refused, named.
    let wrong = format!("sha256:{}", "0".repeat(64));
    let tmp = ex.fresh("tmp-wrong-digest");
    let out_dir = ex.fresh("out-wrong-digest");
    let o = pack_isolated(
        &[
            s(&ex.tree),
            "-o",
            s(&out_dir.join("x.iso")),
            "--image",
            &format!(
                "base-server:1.0.2=docker://{}/example/base-server@{wrong}",
                reg.addr
            ),
        ],
        &tmp,
        "",
    );
    assert_failed_cleanly(&o, &[&reg.addr, "example/base-server", &wrong]);
    assert_empty_dir(&tmp, "wrong digest: temporary directory");
    assert_empty_dir(&out_dir, "wrong digest: output directory");

    // A tag that is not there.
    let tmp = ex.fresh("tmp-no-tag");
    let out_dir = ex.fresh("out-no-tag");
    let o = pack_isolated(
        &[
            s(&ex.tree),
            "-o",
            s(&out_dir.join("x.iso")),
            "--image",
            &format!("docker://{}/example/base-server:9.9.9", reg.addr),
        ],
        &tmp,
        "",
    );
    assert_failed_cleanly(
        &o,
        &["no such tag \"9.9.9\"", "example/base-server", &reg.addr],
    );
    assert_empty_dir(&tmp, "no such tag: temporary directory");
    assert_empty_dir(&out_dir, "no such tag: output directory");
}

#[test]
fn basic_auth_with_password_stdin_and_authfile_and_a_wrong_password() {
    if !tools(&["docker-registry", "htpasswd", "skopeo"]) {
        return;
    }
    let ex = example(true);
    let want = reference_iso(&ex);
    let root = ex.fresh("registry");
    let Some(reg) = basic_registry(&root) else {
        return;
    };
    upload(&ex, &reg.addr, Some(&format!("{USER}:{PASSWORD}")));
    let with = |name: &str, extra: &[&str], stdin: &str| -> (Output, PathBuf, PathBuf) {
        let tmp = ex.fresh(&format!("tmp-{name}"));
        let out_dir = ex.fresh(&format!("out-{name}"));
        let iso = out_dir.join("remote.iso");
        let mut args = vec![s(&ex.tree).to_string(), "-o".into(), s(&iso).to_string()];
        args.extend(remote_args(&reg.addr));
        args.extend(extra.iter().map(|x| x.to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        (pack_isolated(&a, &tmp, stdin), tmp, out_dir)
    };

    // Without credentials: refused, saying what to do.
    let (o, tmp, out_dir) = with("anonymous", &[], "");
    assert_failed_cleanly(&o, &[&reg.addr, "example/", "credentials"]);
    assert_empty_dir(&tmp, "anonymous: temporary directory");
    assert_empty_dir(&out_dir, "anonymous: output directory");

    // --user with the password on standard input.
    let (o, tmp, out_dir) = with("stdin", &["--user", USER, "--password-stdin"], PASSWORD);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(std::fs::read(out_dir.join("remote.iso")).unwrap() == want);
    assert_empty_dir(&tmp, "--password-stdin: temporary directory");

    // An auth file (containers' auth.json format) given with --authfile.
    let auth = ex.dir.join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            reg.addr,
            b64::encode(format!("{USER}:{PASSWORD}").as_bytes())
        ),
    )
    .unwrap();
    let (o, tmp, out_dir) = with("authfile", &["--authfile", s(&auth)], "");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(std::fs::read(out_dir.join("remote.iso")).unwrap() == want);
    assert_empty_dir(&tmp, "--authfile: temporary directory");

    // A wrong password: exit 2, one line naming the registry, the user and the refusal;
    // nothing left behind.
    let (o, tmp, out_dir) = with("wrong", &["--user", USER, "--password-stdin"], WRONG);
    let err = assert_failed_cleanly(&o, &[&reg.addr, "example/", "refused", USER, "401"]);
    assert!(
        !err.contains(&b64::encode(format!("{USER}:{WRONG}").as_bytes())),
        "{err}"
    );
    assert_empty_dir(&tmp, "wrong password: temporary directory");
    assert_empty_dir(&out_dir, "wrong password: output directory");
}

/// What [`hostile_registry`] does with the layer.
#[derive(Clone, Copy, PartialEq)]
enum Layer {
    /// Its bytes, one changed.
    Corrupt,
    /// More bytes than its size.
    Longer,
    /// Its right bytes, 100 at a time, 20 ms apart.
    Slow,
    /// Its right bytes; every blob request redirected (307) to `/storage/<hex>`.
    Redirected,
}

/// A registry (a thread here) serving one image, `hostile:1`, its layer as `mode` says.
/// Answers every connection, forever (the test process ends it).
fn hostile_registry(mode: Layer) -> String {
    let longer = mode == Layer::Longer;
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let layer = vec![7u8; 70_000];
    let mut served = layer.clone();
    if matches!(mode, Layer::Corrupt) {
        served[12_345] ^= 1;
    }
    if longer {
        served = vec![7u8; 80_000];
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"sha256:{}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{},"digest":"sha256:{}"}}]}}"#,
        config.len(),
        sha256_hex(&config),
        layer.len(),
        sha256_hex(&layer)
    )
    .into_bytes();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (cd, ld) = (sha256_hex(&config), sha256_hex(&layer));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let (manifest, config, served) = (manifest.clone(), config.clone(), served.clone());
            let (cd, ld) = (cd.clone(), ld.clone());
            let mut r = BufReader::new(c.try_clone().unwrap());
            std::thread::spawn(move || loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split(' ').nth(1).unwrap_or("").to_string();
                let mut extra = String::new();
                let blob = path
                    .strip_prefix("/v2/hostile/blobs/sha256:")
                    .filter(|_| mode == Layer::Redirected);
                let (status, ctype, body): (&str, &str, Vec<u8>) = if let Some(hex) = blob {
                    extra = format!("Location: /storage/{hex}\r\n");
                    ("307 Temporary Redirect", "text/plain", Vec::new())
                } else if path == format!("/storage/{cd}") {
                    ("200 OK", "application/octet-stream", config.clone())
                } else if path == format!("/storage/{ld}") {
                    ("200 OK", "application/octet-stream", served.clone())
                } else if path == "/v2/hostile/manifests/1" {
                    (
                        "200 OK",
                        "application/vnd.docker.distribution.manifest.v2+json",
                        manifest.clone(),
                    )
                } else if path == format!("/v2/hostile/blobs/sha256:{cd}") {
                    ("200 OK", "application/octet-stream", config.clone())
                } else if path == format!("/v2/hostile/blobs/sha256:{ld}") {
                    ("200 OK", "application/octet-stream", served.clone())
                } else {
                    (
                        "404 Not Found",
                        "application/json",
                        b"{\"errors\":[]}".to_vec(),
                    )
                };
                let digest = if path.contains("/manifests/") {
                    format!("Docker-Content-Digest: sha256:{}\r\n", sha256_hex(&body))
                } else {
                    String::new()
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{digest}{extra}\r\n",
                    body.len()
                );
                if c.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let slow = mode == Layer::Slow && body.len() == served.len();
                let piece = if slow { 100 } else { body.len().max(1) };
                for part in body.chunks(piece) {
                    if c.write_all(part).is_err() {
                        return;
                    }
                    if slow {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_blob_whose_bytes_are_not_its_digest_is_refused_and_nothing_is_left() {
    let d = tempfile::tempdir().unwrap();
    for longer in [false, true] {
        let addr = hostile_registry(if longer {
            Layer::Longer
        } else {
            Layer::Corrupt
        });
        let tmp = d.path().join(format!("tmp-{longer}"));
        let out_dir = d.path().join(format!("out-{longer}"));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::create_dir_all(&out_dir).unwrap();
        let o = pack_isolated(
            &[
                "--name",
                "hostile",
                "--version",
                "1.0.0",
                "-o",
                s(&out_dir.join("x.iso")),
                "--image",
                &format!("docker://{addr}/hostile:1"),
            ],
            &tmp,
            "",
        );
        let layer = sha256_hex(&vec![7u8; 70_000]);
        let got = if longer {
            "80000 bytes (Content-Length)".to_string()
        } else {
            let mut served = vec![7u8; 70_000];
            served[12_345] ^= 1;
            format!("70000 bytes with digest sha256:{}", sha256_hex(&served))
        };
        assert_failed_cleanly(
            &o,
            &[
                &format!("docker://{addr}/hostile:1"),
                &format!("blob sha256:{layer}"),
                &format!("expected 70000 bytes with digest sha256:{layer}"),
                &got,
            ],
        );
        assert_empty_dir(&tmp, "corrupt blob: temporary directory");
        assert_empty_dir(&out_dir, "corrupt blob: output directory");
    }
}

#[test]
fn registry_flags_are_in_the_help() {
    let o = ok(BIN, &["pack", "--help"]);
    let h = String::from_utf8_lossy(&o.stdout);
    for f in [
        "docker://HOST",
        "--tls-verify",
        "--user",
        "--password-stdin",
        "--authfile",
        "--read-timeout",
    ] {
        assert!(h.contains(f), "{f} not in pack --help:\n{h}");
    }
}

#[test]
fn token_auth_with_credentials_from_an_authfile_asks_only_to_pull() {
    if !tools(&["docker-registry", "skopeo", "openssl"]) {
        return;
    }
    let ex = example(true);
    let want = reference_iso(&ex);
    let root = ex.fresh("registry");
    let Some((reg, issuer)) = token_registry(&root) else {
        return;
    };
    upload(&ex, &reg.addr, Some(&format!("{USER}:{PASSWORD}")));
    issuer.requests.lock().unwrap().clear();
    let auth_file = |name: &str, password: &str| -> PathBuf {
        let p = ex.dir.join(name);
        std::fs::write(
            &p,
            format!(
                r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
                reg.addr,
                b64::encode(format!("{USER}:{password}").as_bytes())
            ),
        )
        .unwrap();
        p
    };
    let run = |name: &str, auth: &Path| -> (Output, PathBuf, PathBuf) {
        let tmp = ex.fresh(&format!("tmp-{name}"));
        let out_dir = ex.fresh(&format!("out-{name}"));
        let iso = out_dir.join("remote.iso");
        let mut args = vec![s(&ex.tree).to_string(), "-o".into(), s(&iso).to_string()];
        args.extend(remote_args(&reg.addr));
        args.extend(["--authfile".to_string(), s(auth).to_string()]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        (pack_isolated(&a, &tmp, ""), tmp, out_dir)
    };

    let good = auth_file("auth.json", PASSWORD);
    let (o, tmp, out_dir) = run("token", &good);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        std::fs::read(out_dir.join("remote.iso")).unwrap() == want,
        "token auth: not the ISO packed from the OCI layouts"
    );
    assert_empty_dir(&tmp, "token auth: temporary directory");
    let asked: BTreeSet<String> = granted(&issuer).into_iter().flatten().collect();
    let want_scopes: BTreeSet<String> = REFS
        .iter()
        .map(|(n, _)| format!("repository:example/{n}:pull"))
        .collect();
    assert_eq!(asked, want_scopes, "the scopes pack asked tokens for");

    let bad = auth_file("wrong.json", WRONG);
    let (o, tmp, out_dir) = run("token-wrong", &bad);
    assert_failed_cleanly(
        &o,
        &[
            &reg.addr,
            "example/",
            "refused",
            USER,
            &format!("http://{}/token", issuer.addr),
        ],
    );
    assert_empty_dir(&tmp, "token auth, wrong password: temporary directory");
    assert_empty_dir(&out_dir, "token auth, wrong password: output directory");
}

#[test]
fn lists_and_indexes_come_with_every_platform() {
    if !tools(&["docker-registry", "skopeo"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("registry");
    std::fs::create_dir_all(&root).unwrap();
    let Some(reg) = start_registry(&root, free_port(), None) else {
        return;
    };
    ok(
        BIN,
        &[
            "push",
            "-q",
            s(&common::multiarch_iso()),
            "--registry",
            &reg.addr,
            "--insecure",
            "--prefix",
            "mp",
        ],
    );
    let tmp = d.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let pack_with = |image: String, out: &Path, extra: &[&str]| -> Output {
        // (no check: `validate --strict` warns of lists, which MetalK8s does not serve, and
        // of the missing operator image)
        let mut args = vec![
            "--no-check",
            "--name",
            "mp",
            "--version",
            "1.0.0",
            "-o",
            s(out),
            "--image",
            &image,
        ];
        args.extend_from_slice(extra);
        let o = pack_isolated(&args, &tmp, "");
        assert_empty_dir(&tmp, "list: temporary directory");
        o
    };
    let pack_one = |image: String, out: &Path| {
        let o = pack_with(image.clone(), out, &[]);
        assert_eq!(o.status.code(), Some(0), "{image}: {}", show(&o));
    };
    for tag in common::LIST_TAGS {
        let remote = format!("docker://{}/mp/base-server:{tag}", reg.addr);
        let iso = d.path().join(format!("remote-{tag}.iso"));
        pack_one(remote.clone(), &iso);
        // The list as the registry serves it, and (a Docker list) every platform's manifest,
        // as written.
        let raw = ok(
            "skopeo",
            &["inspect", "--raw", "--tls-verify=false", &remote],
        )
        .stdout;
        let list: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        let platforms = list["manifests"].as_array().unwrap();
        assert_eq!(platforms.len(), 2, "{tag}: {list}");
        let ls = String::from_utf8(ok(BIN, &["ls", s(&iso)]).stdout).unwrap();
        let dir = format!("images/base-server/{tag}/");
        // (an OCI index is converted to a Docker list, its manifests with it: new digests)
        for p in platforms.iter().filter(|_| !tag.ends_with("-oci")) {
            let hex = p["digest"].as_str().unwrap().trim_start_matches("sha256:");
            assert!(
                ls.lines().any(|l| l.contains(&format!("{dir}{hex}"))),
                "{tag}: platform manifest {hex} not in the ISO:\n{ls}"
            );
        }
        if tag.ends_with("-oci") {
            // An OCI index: skopeo copies it, every platform, into an OCI layout: packing
            // that layout gives the same ISO, byte for byte.
            let layout = d.path().join(format!("layout-{tag}"));
            ok(
                "skopeo",
                &[
                    "--insecure-policy",
                    "copy",
                    "--quiet",
                    "--all",
                    "--preserve-digests",
                    "--src-tls-verify=false",
                    &remote,
                    &format!("oci:{}:{tag}", layout.display()),
                ],
            );
            let a = d.path().join(format!("layout-{tag}.iso"));
            pack_one(
                format!("base-server:{tag}=oci:{}:{tag}", layout.display()),
                &a,
            );
            assert!(
                std::fs::read(&a).unwrap() == std::fs::read(&iso).unwrap(),
                "{tag}: the ISO packed from docker:// is not the one packed from skopeo's layout"
            );
            // --platform: one platform (downloaded alone), the same ISO as from the layout.
            let (a, b) = (
                d.path().join(format!("layout-{tag}-arm64.iso")),
                d.path().join(format!("remote-{tag}-arm64.iso")),
            );
            let arm = ["--platform", "linux/arm64"];
            let o = pack_with(
                format!("base-server:{tag}=oci:{}:{tag}", layout.display()),
                &a,
                &arm,
            );
            assert_eq!(o.status.code(), Some(0), "{}", show(&o));
            let o = pack_with(remote.clone(), &b, &arm);
            assert_eq!(o.status.code(), Some(0), "{}", show(&o));
            assert!(
                std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
                "{tag} --platform linux/arm64: not the ISO packed from skopeo's layout"
            );
            // A platform the list does not have: refused by the loader, naming those it has.
            let o = pack_with(remote.clone(), &b, &["--platform", "linux/s390x"]);
            let err = assert_failed_cleanly(&o, &[&remote, "linux/s390x", "linux/amd64"]);
            assert!(
                !err.contains("isolution-pack-"),
                "names the temporary directory: {err}"
            );
        } else {
            // A Docker list is kept as it is: the ISO's manifest.json is the registry's.
            let m = ok(BIN, &["cat", s(&iso), &format!("{dir}manifest.json")]).stdout;
            assert!(m == raw, "{tag}: manifest.json is not the registry's list");
        }
    }
}

#[test]
fn sigint_during_the_download_stops_and_removes_the_temporary_directory() {
    if !tools(&["kill"]) {
        return;
    }
    let addr = hostile_registry(Layer::Slow);
    let d = tempfile::tempdir().unwrap();
    let (tmp, out_dir) = (d.path().join("tmp"), d.path().join("out"));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&out_dir).unwrap();
    let child = Command::new(BIN)
        .args(["pack", "-q", "--name", "slow", "--version", "1.0.0", "-o"])
        .arg(out_dir.join("x.iso"))
        .args(["--image", &format!("docker://{addr}/hostile:1")])
        .env("TMPDIR", &tmp)
        .env("HOME", d.path())
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the layer is coming (its file exists in the temporary directory), SIGINT.
    let t = std::time::Instant::now();
    let layer = sha256_hex(&vec![7u8; 70_000]);
    let coming = || {
        std::fs::read_dir(&tmp)
            .unwrap()
            .any(|e| e.unwrap().path().join("blobs/sha256").join(&layer).exists())
    };
    while !coming() {
        assert!(t.elapsed().as_secs() < 10, "the download did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ok("kill", &["-INT", &child.id().to_string()]);
    let o = child.wait_with_output().unwrap();
    assert!(
        t.elapsed().as_secs() < 10,
        "SIGINT did not stop the download promptly"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(err.contains("stop"), "{err}");
    assert_empty_dir(&tmp, "SIGINT: temporary directory");
    assert_empty_dir(&out_dir, "SIGINT: output directory");
}

#[test]
fn blobs_redirected_elsewhere_are_followed() {
    let addr = hostile_registry(Layer::Redirected);
    let d = tempfile::tempdir().unwrap();
    let (tmp, out_dir) = (d.path().join("tmp"), d.path().join("out"));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&out_dir).unwrap();
    let iso = out_dir.join("x.iso");
    let o = pack_isolated(
        &[
            "--no-check",
            "--name",
            "hostile",
            "--version",
            "1.0.0",
            "-o",
            s(&iso),
            "--image",
            &format!("docker://{addr}/hostile:1"),
        ],
        &tmp,
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_empty_dir(&tmp, "redirected: temporary directory");
    let layer = sha256_hex(&vec![7u8; 70_000]);
    let got = ok(BIN, &["cat", s(&iso), &format!("images/hostile/1/{layer}")]).stdout;
    assert!(got == vec![7u8; 70_000], "the layer as packed");
}

#[test]
fn a_registry_that_never_answers_times_out_by_name() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming() {
            held.push(c); // accepted, read from by no one, never answered
        }
    });
    let d = tempfile::tempdir().unwrap();
    let (tmp, out_dir) = (d.path().join("tmp"), d.path().join("out"));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&out_dir).unwrap();
    let t = std::time::Instant::now();
    let o = pack_isolated(
        &[
            "--name",
            "stuck",
            "--version",
            "1.0.0",
            "--read-timeout",
            "0.5",
            "-o",
            s(&out_dir.join("x.iso")),
            "--image",
            &format!("docker://{addr}/stuck:1"),
        ],
        &tmp,
        "",
    );
    assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
    assert_failed_cleanly(
        &o,
        &[
            &format!("docker://{addr}/stuck:1"),
            "timed out after 0.5 s waiting for the registry (--read-timeout)",
        ],
    );
    assert_empty_dir(&tmp, "time-out: temporary directory");
    assert_empty_dir(&out_dir, "time-out: output directory");
}
