//! `isolution serve` answered by real clients on 127.0.0.1: skopeo inspect, list-tags and copy
//! (digests equal), raw HTTP for the API details (HEAD, Range, errors, pagination, a garbage
//! first request), 32 concurrent pullers checking every byte, and a clean stop on SIGTERM.
//! Hostile clients (stalled, idle, thousands of connections, corrupt blobs) are in
//! `serve_hostile.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

mod common;
#[path = "common/http.rs"]
mod raw;
use common::{
    assert_dir_copy_is_the_archive, assert_platform_config, copy_all, iso_file, multiarch_iso,
    serve, skopeo, solution, tool, tools, Server, LIST_TAGS,
};
use raw::{get, http};

fn start() -> Server {
    serve(&[
        solution("example-solution-1.0.2.iso"),
        solution("example-solution-1.0.10.iso"),
    ])
}

/// (repo, tag, manifest digest, blob digests) from the build's record.
fn images() -> Vec<(String, String, String, Vec<String>)> {
    let t =
        std::fs::read_to_string(solution("expected/example-solution-1.0.2.images.tsv")).unwrap();
    t.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                format!("example-solution-1.0.2/{}", f[0]),
                f[1].to_string(),
                f[2].to_string(),
                f[5].split(',').map(str::to_string).collect(),
            )
        })
        .collect()
}

#[test]
fn api_details() {
    let s = start();
    let (st, h, _) = http(&s.addr, "GET", "/v2/", "");
    assert_eq!(st, 200);
    assert_eq!(
        get(&h, "docker-distribution-api-version"),
        Some("registry/2.0")
    );
    // Catalog with pagination.
    let (_, h, b) = http(&s.addr, "GET", "/v2/_catalog?n=1", "");
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["repositories"].as_array().unwrap().len(), 1);
    assert!(get(&h, "link").unwrap().contains("last="));
    let (_, _, b) = http(&s.addr, "GET", "/v2/_catalog", "");
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["repositories"].as_array().unwrap().len(), 4);
    // Tags with n and last.
    let (_, _, b) = http(
        &s.addr,
        "GET",
        "/v2/example-solution-1.0.2/base-server/tags/list?last=1.0.2",
        "",
    );
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["tags"], serde_json::json!(["latest"]));
    for (repo, tag, digest, blobs) in images() {
        // Manifests by tag and by digest, GET and HEAD.
        for r in [&tag, &digest] {
            let (st, h, b) = http(&s.addr, "GET", &format!("/v2/{repo}/manifests/{r}"), "");
            assert_eq!(st, 200);
            assert_eq!(get(&h, "docker-content-digest"), Some(digest.as_str()));
            assert_eq!(
                get(&h, "content-type"),
                Some("application/vnd.docker.distribution.manifest.v2+json")
            );
            assert_eq!(common::digest(&b), digest);
            let (st, h, b) = http(&s.addr, "HEAD", &format!("/v2/{repo}/manifests/{r}"), "");
            assert_eq!((st, b.len()), (200, 0));
            let want = http(&s.addr, "GET", &format!("/v2/{repo}/manifests/{r}"), "")
                .2
                .len();
            assert_eq!(get(&h, "content-length"), Some(want.to_string().as_str()));
        }
        // Blobs: whole, and a Range.
        for d in &blobs {
            let (st, h, b) = http(&s.addr, "GET", &format!("/v2/{repo}/blobs/{d}"), "");
            assert_eq!(st, 200);
            assert_eq!(&common::digest(&b), d);
            assert_eq!(
                get(&h, "content-length"),
                Some(b.len().to_string().as_str())
            );
            let (st, h, part) = http(
                &s.addr,
                "GET",
                &format!("/v2/{repo}/blobs/{d}"),
                "Range: bytes=1-4\r\n",
            );
            assert_eq!(st, 206);
            assert_eq!(part, b[1..5]);
            assert_eq!(
                get(&h, "content-range"),
                Some(format!("bytes 1-4/{}", b.len()).as_str())
            );
            let (st, _, _) = http(
                &s.addr,
                "GET",
                &format!("/v2/{repo}/blobs/{d}"),
                "Range: bytes=99999-\r\n",
            );
            assert_eq!(st, 416);
        }
    }
    // Errors: JSON bodies with the right codes.
    for (path, method, status, code) in [
        ("/v2/nope/x/manifests/1", "GET", 404, "NAME_UNKNOWN"),
        (
            "/v2/example-solution-1.0.2/base-server/manifests/9.9",
            "GET",
            404,
            "MANIFEST_UNKNOWN",
        ),
        (
            "/v2/example-solution-1.0.2/base-server/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "GET",
            404,
            "BLOB_UNKNOWN",
        ),
        (
            "/v2/example-solution-1.0.2/base-server/blobs/sha256:00",
            "GET",
            400,
            "DIGEST_INVALID",
        ),
        (
            "/v2/example-solution-1.0.2/base-server/manifests/sha256:00",
            "GET",
            400,
            "DIGEST_INVALID",
        ),
        (
            "/v2/example-solution-1.0.2/base-server/blobs/md5",
            "GET",
            400,
            "DIGEST_INVALID",
        ),
        ("/v2/Not_Valid/x/tags/list", "GET", 400, "NAME_INVALID"),
        (
            "/v2/example-solution-1.0.2/base-server/manifests/1.0.2",
            "PUT",
            405,
            "UNSUPPORTED",
        ),
        (
            "/v2/example-solution-1.0.2/base-server/blobs/uploads/",
            "POST",
            405,
            "UNSUPPORTED",
        ),
    ] {
        let (st, h, b) = http(&s.addr, method, path, "");
        assert_eq!(st, status, "{method} {path}");
        if st == 405 {
            assert_eq!(get(&h, "allow"), Some("GET, HEAD"), "{method} {path}");
        }
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["errors"][0]["code"], code, "{method} {path}");
    }
    // A client probing for TLS sends garbage first: answered or dropped, and the server lives.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    let _ = c.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n");
    let mut sink = Vec::new();
    let _ = c.read_to_end(&mut sink);
    assert_eq!(http(&s.addr, "GET", "/v2/", "").0, 200);
}

/// RFC 9110 ranges: an unknown unit, several ranges or an invalid range are ignored (200 and
/// the whole blob); HEAD ignores Range; a range past the end is 416 with the size; `If-Range`
/// naming another version gets the whole blob.
#[test]
fn ranges_follow_rfc_9110() {
    let s = start();
    let (repo, _, _, blobs) = images().into_iter().next().unwrap();
    let d = &blobs[0];
    let path = format!("/v2/{repo}/blobs/{d}");
    let (_, _, whole) = http(&s.addr, "GET", &path, "");
    assert_eq!(&common::digest(&whole), d);
    let n = whole.len();
    for range in [
        "items=0-3",
        "bytes=0-1,3-4",
        "bytes=0-1, 5-",
        "bytes=5-1",
        "bytes=abc",
        "bytes",
    ] {
        let (st, h, b) = http(&s.addr, "GET", &path, &format!("Range: {range}\r\n"));
        assert_eq!((st, get(&h, "content-range")), (200, None), "{range}");
        assert_eq!(b, whole, "{range}");
    }
    for (range, part) in [
        ("bytes=0-0", 0..1),
        ("bytes=-3", n - 3..n),
        ("BYTES=2-", 2..n),
        ("bytes=1-99999", 1..n),
    ] {
        let (st, h, b) = http(&s.addr, "GET", &path, &format!("Range: {range}\r\n"));
        assert_eq!(st, 206, "{range}");
        assert_eq!(b, whole[part.clone()], "{range}");
        assert_eq!(
            get(&h, "content-range"),
            Some(format!("bytes {}-{}/{n}", part.start, part.end - 1).as_str())
        );
    }
    for range in [format!("bytes={n}-"), "bytes=-0".to_string()] {
        let (st, h, _) = http(&s.addr, "GET", &path, &format!("Range: {range}\r\n"));
        assert_eq!(st, 416, "{range}");
        assert_eq!(
            get(&h, "content-range"),
            Some(format!("bytes */{n}").as_str())
        );
    }
    let (st, h, b) = http(&s.addr, "HEAD", &path, "Range: bytes=0-1\r\n");
    assert_eq!((st, b.len()), (200, 0));
    assert_eq!(get(&h, "content-length"), Some(n.to_string().as_str()));
    let (st, _, b) = http(
        &s.addr,
        "GET",
        &path,
        "Range: bytes=0-1\r\nIf-Range: \"sha256:other\"\r\n",
    );
    assert_eq!((st, b), (200, whole.clone()));
    let (st, _, b) = http(
        &s.addr,
        "GET",
        &path,
        &format!("Range: bytes=0-1\r\nIf-Range: \"{d}\"\r\n"),
    );
    assert_eq!((st, b), (206, whole[..2].to_vec()));
}

#[test]
fn skopeo_pulls_with_digests_unchanged() {
    if !tool("skopeo") {
        return;
    }
    let s = start();
    let dir = tempfile::tempdir().unwrap();
    let out = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/example-solution-1.0.2/base-server", s.addr),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Tags"], serde_json::json!(["1.0.2", "latest"]));
    for (repo, tag, digest, _) in images() {
        let r = format!("docker://{}/{repo}:{tag}", s.addr);
        let out = skopeo(&["inspect", "--tls-verify=false", &r]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["Digest"], digest.as_str());
        let dest = dir.path().join(format!("{}-{tag}", repo.replace('/', "_")));
        skopeo(&[
            "--insecure-policy",
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--preserve-digests",
            &r,
            &format!("oci:{}:x", dest.display()),
        ]);
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
        assert_eq!(index["manifests"][0]["digest"], digest.as_str(), "{r}");
    }
}

#[test]
fn thirty_two_concurrent_pulls_get_every_byte() {
    let s = start();
    let imgs = images();
    let addr = s.addr.clone();
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let (addr, imgs) = (addr.clone(), imgs.clone());
            std::thread::spawn(move || {
                for (repo, tag, digest, blobs) in &imgs {
                    let (st, _, b) = http(&addr, "GET", &format!("/v2/{repo}/manifests/{tag}"), "");
                    assert_eq!(st, 200);
                    assert_eq!(&common::digest(&b), digest);
                    for d in blobs {
                        let (st, _, b) = http(&addr, "GET", &format!("/v2/{repo}/blobs/{d}"), "");
                        assert_eq!(st, 200);
                        assert_eq!(&common::digest(&b), d);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a puller failed");
    }
}

#[test]
fn sigterm_stops_it_cleanly() {
    let mut s = start();
    assert_eq!(http(&s.addr, "GET", "/v2/", "").0, 200);
    let pid = s.child.id() as i32;
    // The `kill` command sends the signal (no unsafe code in the test).
    let st = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let code = s.child.wait().unwrap();
    assert!(code.success(), "exit {code:?}");
}

#[test]
fn podman_pulls_with_vfs_storage() {
    if !tool("podman") {
        return;
    }
    let s = start();
    let dir = tempfile::tempdir().unwrap();
    let podman = |args: &[&str]| {
        Command::new("podman")
            .arg("--root")
            .arg(dir.path().join("root"))
            .arg("--runroot")
            .arg(dir.path().join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .output()
            .unwrap()
    };
    let (repo, tag, digest, _) = images().into_iter().next().unwrap();
    let r = format!("{}/{repo}:{tag}", s.addr);
    let out = podman(&["pull", "--tls-verify=false", "--quiet", &r]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = podman(&["images", "--digests", "--format", "{{.Digest}}"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), digest);
}

/// Lists and indexes served: the list by tag with its media type, the per-platform
/// manifests by digest; skopeo copies them whole and one platform at a time.
#[test]
fn lists_and_indexes_are_served_whole_and_per_platform() {
    if !tools(&["skopeo", "isoinfo"]) {
        return;
    }
    let iso = multiarch_iso();
    let s = serve(std::slice::from_ref(&iso));
    let dir = tempfile::tempdir().unwrap();
    for tag in LIST_TAGS {
        let list = iso_file(&iso, &format!("/images/base-server/{tag}/manifest.json"));
        let v: serde_json::Value = serde_json::from_slice(&list).unwrap();
        let path = format!("/v2/example-solution-1.0.2/base-server/manifests/{tag}");
        let (status, h, body) = http(&s.addr, "GET", &path, "");
        assert_eq!(status, 200, "{tag}");
        assert_eq!(body, list, "{tag}");
        assert_eq!(get(&h, "content-type"), v["mediaType"].as_str(), "{tag}");
        for m in v["manifests"].as_array().unwrap() {
            let d = m["digest"].as_str().unwrap();
            let path = format!("/v2/example-solution-1.0.2/base-server/manifests/{d}");
            let (status, h, body) = http(&s.addr, "GET", &path, "");
            assert_eq!(status, 200, "{tag} {d}");
            assert_eq!(
                get(&h, "content-type"),
                m["mediaType"].as_str(),
                "{tag} {d}"
            );
            assert_eq!(get(&h, "docker-content-digest"), Some(d), "{tag} {d}");
            assert_eq!(common::digest(&body), d, "{tag} {d}");
        }
        let reference = format!(
            "docker://{}/example-solution-1.0.2/base-server:{tag}",
            s.addr
        );
        let out = dir.path().join(format!("dir-{tag}"));
        copy_all(&reference, &out, &["--src-tls-verify=false"]);
        assert_eq!(assert_dir_copy_is_the_archive(&out, tag), list, "{tag}");
        assert_platform_config(&reference, tag, &["--tls-verify=false"]);
    }
}
