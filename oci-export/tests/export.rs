//! `isolution export --oci` on the Solution fixtures: a valid OCI layout whose blobs are the
//! archive's bytes, that Debian's skopeo reads back with the manifest digests unchanged,
//! that a second run completes without rewriting, and that refuses corrupt blobs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;

use sha2::{Digest, Sha256};

mod common;
use common::{
    assert_dir_copy_is_the_archive, assert_platform_config, copy_all, copy_to_dir, digest, entries,
    export_to, iso_file, json, multiarch_iso, skopeo, solution, tool, tools, LIST_TAGS,
};

/// `isolution export ISO --oci DEST EXTRA...`.
fn export(iso: &Path, dest: &Path, extra: &[&str]) -> std::process::Output {
    export_to(iso, "--oci", dest, extra)
}

fn blob_names(dest: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dest.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

/// `skopeo copy --preserve-digests SOURCE dir:OUT`, and the digest of the manifest it wrote.
fn copy_preserving_digests(source: &str, out: &Path) -> String {
    copy_to_dir(source, out, &["--preserve-digests"]);
    digest(&std::fs::read(out.join("manifest.json")).unwrap())
}

const REFS: [&str; 3] = [
    "base-server:1.0.2",
    "base-server:latest",
    "example-solution-operator:1.0.2",
];

#[test]
fn layout_is_valid_and_digest_preserving() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layout");
    let iso = solution("example-solution-1.0.2.iso");
    let report = json(&export(&iso, &dest, &["--json"]));
    assert_eq!(
        std::fs::read_to_string(dest.join("oci-layout")).unwrap(),
        "{\"imageLayoutVersion\":\"1.0.0\"}"
    );
    // Every blob's content hashes to its name.
    for name in blob_names(&dest) {
        let bytes = std::fs::read(dest.join("blobs/sha256").join(&name)).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), name);
    }
    // index.json: one OCI index per ref, listing the archive's manifest as it is.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
    let refs: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(refs, REFS);
    let images = report["images"].as_array().unwrap();
    for img in images {
        let inner = std::fs::read(
            dest.join("blobs/sha256").join(
                img["index_digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:"),
            ),
        )
        .unwrap();
        let inner: serde_json::Value = serde_json::from_slice(&inner).unwrap();
        assert_eq!(inner["manifests"][0]["digest"], img["manifest_digest"]);
        assert_eq!(
            inner["manifests"][0]["mediaType"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
    }
    // The digests are the archive's (from tests/solutions/expected).
    let expected =
        std::fs::read_to_string(solution("expected/example-solution-1.0.2.images.tsv")).unwrap();
    for line in expected.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let r = format!("{}:{}", f[0], f[1]);
        let got = images.iter().find(|i| i["ref_name"] == r.as_str()).unwrap();
        assert_eq!(got["manifest_digest"], f[2], "{r}");
    }
    // A second run writes nothing.
    let again = json(&export(&iso, &dest, &["--json"]));
    assert_eq!(again["blobs_written"], 0);
    assert_eq!(again["bytes_written"], 0);
}

#[test]
fn skopeo_reads_the_layout_back_with_digests_unchanged() {
    if !tool("skopeo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layout");
    let report = json(&export(
        &solution("example-solution-1.0.2.iso"),
        &dest,
        &["--json"],
    ));
    for img in report["images"].as_array().unwrap() {
        let r = img["ref_name"].as_str().unwrap();
        let out = dir.path().join(format!("dir-{}", r.replace(':', "-")));
        assert_eq!(
            copy_preserving_digests(&format!("oci:{}:{r}", dest.display()), &out),
            img["manifest_digest"].as_str().unwrap(),
            "{r}: skopeo gave back a different manifest"
        );
        // Every blob skopeo copied is byte-identical to ours.
        for e in std::fs::read_dir(&out).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().to_string();
            if name.len() == 64 {
                let a = std::fs::read(out.join(&name)).unwrap();
                let b = std::fs::read(dest.join("blobs/sha256").join(&name)).unwrap();
                assert_eq!(a, b, "{r}: blob {name}");
            }
        }
    }
}

#[test]
fn an_interrupted_export_is_completed_and_selection_works() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layout");
    let iso = solution("example-solution-1.0.2.iso");
    let one = json(&export(
        &iso,
        &dest,
        &["--json", "--image", "base-server:1.0.2"],
    ));
    assert_eq!(one["images"].as_array().unwrap().len(), 1);
    // Simulate a kill -9 mid-blob: a temporary file is left, one blob is gone.
    let names = blob_names(&dest);
    std::fs::remove_file(dest.join("blobs/sha256").join(&names[0])).unwrap();
    std::fs::write(
        dest.join("blobs/sha256")
            // (pid 4194399: above Linux's largest pid_max, a process that no longer runs)
            .join(format!(".{}.partial-4194399-0", names[0])),
        b"half",
    )
    .unwrap();
    let all = json(&export(&iso, &dest, &["--json"]));
    assert_eq!(all["images"].as_array().unwrap().len(), 3);
    assert!(all["blobs_written"].as_u64().unwrap() >= 1);
    for name in blob_names(&dest) {
        assert!(!name.contains("partial"), "leftover {name}");
        let bytes = std::fs::read(dest.join("blobs/sha256").join(&name)).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), name);
    }
    // The earlier ref is kept once in index.json.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 3);
    // An unknown image is a clean error.
    let out = export(&iso, &dest, &["--image", "nope:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no image nope:1"));
}

#[test]
fn corrupt_blobs_are_refused_and_never_kept() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layout");
    let out = export(&solution("broken-image-blob-digest.iso"), &dest, &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("content has sha256:"), "{err}");
    // The tampered blob is the operator image's layer a3eb7d9f…: never written under its name.
    assert!(!blob_names(&dest).iter().any(|n| n.starts_with("a3eb7d9f")));
    assert!(!blob_names(&dest).iter().any(|n| n.contains("partial")));
}

#[test]
fn archives_are_read_by_skopeo_and_corrupt_blobs_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let iso = solution("example-solution-1.0.2.iso");
    let oci_tar = dir.path().join("x.oci.tar");
    let docker_tar = dir.path().join("x.docker.tar");
    let o = export_to(&iso, "--oci-archive", &oci_tar, &["--json"]);
    let o = json(&o);
    assert_eq!(o["refs"].as_array().unwrap().len(), 3);
    let d = export_to(&iso, "--docker-archive", &docker_tar, &[]);
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
    if tool("skopeo") {
        let expected =
            std::fs::read_to_string(solution("expected/example-solution-1.0.2.images.tsv"))
                .unwrap();
        for line in expected.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let r = format!("{}:{}", f[0], f[1]);
            // OCI archive: digest-preserving.
            let out = dir.path().join(format!("oci-{}", r.replace(':', "-")));
            assert_eq!(
                copy_preserving_digests(&format!("oci-archive:{}:{r}", oci_tar.display()), &out),
                f[2],
                "{r}"
            );
            // Docker archive: the image is there, with the same config.
            let st = skopeo(&[
                "inspect",
                "--config",
                "--raw",
                &format!("docker-archive:{}:{r}", docker_tar.display()),
            ]);
            let config_digest = f[5].split(',').next().unwrap();
            assert_eq!(
                digest(&st.stdout),
                config_digest,
                "{r}: docker archive config"
            );
        }
    }
    // A corrupt blob: exit 2, no archive and no partial file left.
    let bad = dir.path().join("bad.tar");
    let out = export_to(
        &solution("broken-image-blob-digest.iso"),
        "--oci-archive",
        &bad,
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!bad.exists());
    assert!(!dir.path().join("bad.tar.partial").exists());
}

#[test]
fn oci_media_types_rewrite_manifests_and_keep_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layout");
    let r = json(&export(
        &solution("example-solution-1.0.2.iso"),
        &dest,
        &["--json", "--oci-media-types"],
    ));
    let expected =
        std::fs::read_to_string(solution("expected/example-solution-1.0.2.images.tsv")).unwrap();
    for line in expected.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let label = format!("{}:{}", f[0], f[1]);
        let img = r["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["ref_name"] == label.as_str())
            .unwrap();
        assert_eq!(
            img["media_type"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_ne!(
            img["manifest_digest"], f[2],
            "{label}: a new manifest, a new digest"
        );
        let hex = img["manifest_digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dest.join("blobs/sha256").join(hex)).unwrap())
                .unwrap();
        assert_eq!(
            m["config"]["mediaType"],
            "application/vnd.oci.image.config.v1+json"
        );
        assert_eq!(
            m["config"]["digest"],
            f[5].split(',').next().unwrap(),
            "config unchanged"
        );
        for l in m["layers"].as_array().unwrap() {
            assert_eq!(
                l["mediaType"],
                "application/vnd.oci.image.layer.v1.tar+gzip"
            );
        }
        if tool("skopeo") {
            let out = skopeo(&[
                "inspect",
                "--raw",
                &format!("oci:{}:{label}", dest.display()),
            ]);
            assert_eq!(
                digest(&out.stdout),
                img["manifest_digest"].as_str().unwrap()
            );
        }
    }
}

/// A progress callback that returns `Break` stops the layout export: `ExportError::Stopped`,
/// no `index.json`, no temporary file left; a second export completes the layout.
#[test]
fn a_progress_callback_can_stop_the_export() {
    use std::ops::ControlFlow;

    use iso_core::solution::Solution;
    use iso_core::IsoFile;
    use oci_export::export::layout::{export_oci, ExportError};

    let file = IsoFile::open(solution("example-solution-1.0.2.iso")).unwrap();
    let image = file.image().unwrap();
    let s = Solution::load(&image).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layout");
    let mut calls = 0;
    let r = export_oci(&s, &dest, &[], &mut |p| {
        calls += 1;
        assert!(p.done <= p.total);
        if p.done > 0 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    assert!(matches!(r, Err(ExportError::Stopped)), "{r:?}");
    assert!(calls >= 1);
    assert!(!dest.join("index.json").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dest.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let mut last = None;
    let report = export_oci(&s, &dest, &[], &mut |p| {
        last = Some(p);
        ControlFlow::Continue(())
    })
    .unwrap();
    let last = last.unwrap();
    assert_eq!(last.done, last.total);
    assert!(dest.join("index.json").exists());
    assert_eq!(report.images.len(), s.images.len());
}

// ---- multi-platform images (manifest lists and OCI indexes) ---------------------------------

#[test]
fn lists_and_indexes_export_to_a_layout_that_skopeo_copies_whole_and_per_platform() {
    if !tools(&["skopeo", "isoinfo"]) {
        return;
    }
    let iso = multiarch_iso();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layout");
    let report = json(&export(&iso, &dest, &["--json"]));
    let layout = format!("oci:{}", dest.display());
    for tag in LIST_TAGS {
        let list = iso_file(&iso, &format!("/images/base-server/{tag}/manifest.json"));
        let img = report["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["ref_name"] == format!("base-server:{tag}").as_str())
            .unwrap();
        assert_eq!(img["manifest_digest"], digest(&list).as_str(), "{tag}");
        // The list's own bytes are in the layout, whatever index.json names.
        assert_eq!(
            std::fs::read(
                dest.join("blobs/sha256")
                    .join(digest(&list).trim_start_matches("sha256:"))
            )
            .unwrap(),
            list,
            "{tag}"
        );
        let out = dir.path().join(format!("dir-{tag}"));
        copy_all(&format!("{layout}:base-server:{tag}"), &out, &[]);
        let copied = assert_dir_copy_is_the_archive(&out, tag);
        if tag == "1.0.2-oci" {
            assert_eq!(copied, list, "the OCI index comes back byte for byte");
        } else {
            // The Docker list is named through an OCI index of the very same entries.
            let v: serde_json::Value = serde_json::from_slice(&copied).unwrap();
            let l: serde_json::Value = serde_json::from_slice(&list).unwrap();
            assert_eq!(v["mediaType"], "application/vnd.oci.image.index.v1+json");
            assert_eq!(v["manifests"], l["manifests"]);
        }
        // One platform at a time: skopeo picks the arm64/v8 manifest the list names.
        assert_platform_config(&format!("{layout}:base-server:{tag}"), tag, &[]);
    }
}

#[test]
fn oci_media_types_turn_the_docker_list_back_into_the_oci_index_it_was_made_from() {
    if !tool("isoinfo") {
        return;
    }
    // The fixture's source layout is canonical JSON (sorted keys, no spaces), so skopeo's
    // conversion to Docker types and our rewrite to OCI types are exact inverses: the list
    // rewritten must be, byte for byte, the index that skopeo copied unconverted.
    let iso = multiarch_iso();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layout");
    let report = json(&export(
        &iso,
        &dest,
        &[
            "--json",
            "--oci-media-types",
            "--image",
            "base-server:1.0.2-multiarch",
        ],
    ));
    let index = iso_file(&iso, "/images/base-server/1.0.2-oci/manifest.json");
    let img = &report["images"][0];
    assert_eq!(img["manifest_digest"], digest(&index).as_str());
    assert_eq!(img["media_type"], "application/vnd.oci.image.index.v1+json");
    let ix: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
    assert_eq!(ix["manifests"][0]["digest"], digest(&index).as_str());
    // Every manifest the index names is in the layout.
    for (d, _) in entries(&index) {
        assert!(dest
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
            .exists());
    }
}

#[test]
fn lists_go_into_oci_archives_and_are_refused_by_docker_archives() {
    let iso = multiarch_iso();
    let dir = tempfile::tempdir().unwrap();
    let oci_tar = dir.path().join("x.oci.tar");
    let o = json(&export_to(&iso, "--oci-archive", &oci_tar, &["--json"]));
    assert_eq!(o["refs"].as_array().unwrap().len(), 5);
    if tools(&["skopeo", "isoinfo"]) {
        for tag in LIST_TAGS {
            let out = dir.path().join(format!("dir-{tag}"));
            copy_all(
                &format!("oci-archive:{}:base-server:{tag}", oci_tar.display()),
                &out,
                &[],
            );
            assert_dir_copy_is_the_archive(&out, tag);
        }
    }
    // `docker load` takes one image per tag: a list is refused by name, no file is left.
    let docker_tar = dir.path().join("x.docker.tar");
    let d = export_to(&iso, "--docker-archive", &docker_tar, &[]);
    assert_eq!(d.status.code(), Some(2));
    let err = String::from_utf8_lossy(&d.stderr);
    assert!(
        err.contains("base-server:1.0.2-multiarch")
            && err.contains("linux/amd64, linux/arm64/v8")
            && err.contains("--oci-archive"),
        "{err}"
    );
    assert!(!docker_tar.exists());
    // The single-platform tags of the same archive still go.
    let d = export_to(
        &iso,
        "--docker-archive",
        &docker_tar,
        &["--image", "base-server:1.0.2"],
    );
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
}

#[test]
fn a_docker_archive_takes_the_platform_asked_for() {
    let iso = multiarch_iso();
    let dir = tempfile::tempdir().unwrap();
    let run = |platform: &str, dest: &Path, flag: &str| {
        export_to(&iso, flag, dest, &["--platform", platform, "--json"])
    };
    // `linux/arm64` names the list's only arm64 platform, `linux/arm64/v8`.
    let tar = dir.path().join("arm64.tar");
    let r = json(&run("linux/arm64", &tar, "--docker-archive"));
    assert_eq!(r["refs"].as_array().unwrap().len(), 5);
    if tools(&["skopeo", "isoinfo"]) {
        for tag in LIST_TAGS {
            let list = iso_file(&iso, &format!("/images/base-server/{tag}/manifest.json"));
            let arm = &entries(&list)[1].0;
            let m: serde_json::Value = serde_json::from_slice(&iso_file(
                &iso,
                &format!(
                    "/images/base-server/{tag}/{}.manifest.json",
                    arm.trim_start_matches("sha256:")
                ),
            ))
            .unwrap();
            let out = skopeo(&[
                "inspect",
                "--config",
                "--raw",
                &format!("docker-archive:{}:base-server:{tag}", tar.display()),
            ]);
            assert_eq!(
                digest(&out.stdout),
                m["config"]["digest"].as_str().unwrap(),
                "{tag}"
            );
        }
    }
    // A platform the list does not have is refused by name, nothing is written.
    let none = dir.path().join("s390x.tar");
    let out = run("linux/s390x", &none, "--docker-archive");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no platform linux/s390x") && err.contains("linux/amd64, linux/arm64/v8"),
        "{err}"
    );
    assert!(!none.exists());
    // OCI outputs keep every platform: --platform there is a usage error.
    let out = run("linux/arm64", &dir.path().join("layout"), "--oci");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--platform"));
}

// ---------------------------------------------------------------------------------------------
// Exporting into a directory someone else can write to: planted links, symlinked
// directories, wrong blobs; the summary is the record of what was done.

/// A file outside every destination, with content that must never change.
fn victim(dir: &Path, name: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, b"do not overwrite").unwrap();
    p
}

/// The names in `dir`, sorted.
fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

fn assert_untouched(p: &Path) {
    assert_eq!(
        std::fs::read(p).unwrap(),
        b"do not overwrite",
        "{}",
        p.display()
    );
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

#[test]
fn links_planted_at_temporary_and_final_names_are_never_followed() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let iso = solution("example-solution-1.0.2.iso");
    // Archives: a link at the old fixed temporary name `FILE.partial`, a dangling one at a
    // private temporary name of a process that no longer runs, and a link at FILE itself.
    for flag in ["--oci-archive", "--docker-archive"] {
        let v = victim(dir.path(), "victim-archive");
        let out = dir.path().join("x.tar");
        let partial = dir.path().join("x.tar.partial");
        let stale = dir.path().join(".x.tar.partial-4194399-0");
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(&partial);
        symlink(&v, &partial).unwrap();
        symlink(dir.path().join("nowhere"), &stale).unwrap();
        symlink(&v, &out).unwrap();
        json(&export_to(&iso, flag, &out, &["--json"]));
        assert_untouched(&v);
        assert!(!dir.path().join("nowhere").exists());
        assert!(is_link(&partial), "{flag}: the planted link was touched");
        assert!(!is_link(&out), "{flag}: FILE is still the link");
        assert!(std::fs::metadata(&out).unwrap().len() > 1000);
        // The stale temporary name (its process is gone) was removed, itself.
        assert!(std::fs::symlink_metadata(&stale).is_err(), "{flag}");
        assert!(!dir_names(dir.path())
            .iter()
            .any(|n| n.contains(".partial-")));
    }
    // Layouts: links at the old `.index.json.partial`, at `index.json` and `oci-layout`
    // (dangling, pointing outside), and at a blob's name.
    let dest = dir.path().join("layout");
    std::fs::create_dir(&dest).unwrap();
    let v = victim(dir.path(), "victim-layout");
    let partial = dest.join(".index.json.partial");
    symlink(&v, &partial).unwrap();
    symlink(&v, dest.join("index.json")).unwrap();
    symlink(dir.path().join("outside-layout"), dest.join("oci-layout")).unwrap();
    let report = json(&export(&iso, &dest, &["--json"]));
    assert_untouched(&v);
    assert!(is_link(&partial));
    assert!(!dir.path().join("outside-layout").exists());
    for name in ["index.json", "oci-layout"] {
        assert!(!is_link(&dest.join(name)), "{name} is still a link");
    }
    assert_eq!(report["images"].as_array().unwrap().len(), 3);
    // A link at a blob's name, to a file with the right bytes: replaced by the blob itself.
    let name = blob_names(&dest)[0].clone();
    let blob = dest.join("blobs/sha256").join(&name);
    let copy = dir.path().join("copy-of-blob");
    std::fs::copy(&blob, &copy).unwrap();
    std::fs::remove_file(&blob).unwrap();
    symlink(&copy, &blob).unwrap();
    let again = json(&export(&iso, &dest, &["--json"]));
    assert_eq!(again["blobs_replaced"], 1, "{again}");
    assert!(!is_link(&blob));
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(&blob).unwrap())),
        name
    );
    assert!(!dir_names(&dest).iter().any(|n| n.contains(".partial-")));
}

#[test]
fn symlinked_layout_directories_are_refused_and_nothing_is_written_outside() {
    use std::os::unix::fs::symlink;
    let iso = solution("example-solution-1.0.2.iso");
    for (case, link) in [
        ("DIR", ""),
        ("DIR/blobs", "blobs"),
        ("DIR/blobs/sha256", "blobs/sha256"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let dest = dir.path().join("layout");
        if link.is_empty() {
            symlink(&outside, &dest).unwrap();
        } else {
            std::fs::create_dir_all(dest.join(link).parent().unwrap()).unwrap();
            symlink(&outside, dest.join(link)).unwrap();
        }
        let out = export(&iso, &dest, &["--json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{case}: {err}");
        assert!(
            err.contains("a symbolic link, not a directory") && err.lines().count() == 1,
            "{case}: {err}"
        );
        assert!(out.stdout.is_empty(), "{case}");
        assert!(
            dir_names(&outside).is_empty(),
            "{case}: {:?}",
            dir_names(&outside)
        );
    }
    // A file where the blob directory goes: refused by name too.
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layout");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("blobs"), b"").unwrap();
    let out = export(&iso, &dest, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("blobs: a file, not a directory"));
}

#[test]
fn blobs_already_in_the_layout_are_rehashed_and_a_wrong_one_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layout");
    let iso = solution("example-solution-1.0.2.iso");
    json(&export(&iso, &dest, &["--json"]));
    // The largest blob (a layer), one byte changed: same size, wrong content.
    let mut names = blob_names(&dest);
    names.sort_by_key(|n| {
        std::fs::metadata(dest.join("blobs/sha256").join(n))
            .unwrap()
            .len()
    });
    let name = names.last().unwrap().clone();
    let path = dest.join("blobs/sha256").join(&name);
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();

    // Trusted: kept as it is (the size is right), and not reported.
    let out = export(&iso, &dest, &["--json", "--trust-existing"]);
    let trusted = json(&out);
    assert_eq!(trusted["blobs_replaced"], 0);
    assert_eq!(trusted["blobs_written"], 0);
    assert_eq!(std::fs::read(&path).unwrap(), bad);

    // By default: re-hashed, replaced, reported (exit 0).
    let out = export(&iso, &dest, &["--json"]);
    let fixed = json(&out);
    assert_eq!(fixed["blobs_replaced"], 1, "{fixed}");
    assert_eq!(
        fixed["replaced"],
        serde_json::json!([format!("sha256:{name}")])
    );
    assert_eq!(fixed["blobs_written"], 1);
    assert_eq!(fixed["bytes_written"], good.len() as u64);
    assert_eq!(std::fs::read(&path).unwrap(), good);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("replaced blob sha256:{name}")),
        "{err}"
    );

    // The text summary says so too; a clean layout's summary is unchanged.
    std::fs::write(&path, &bad).unwrap();
    let out = export(&iso, &dest, &[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(", 1 replaced (wrong content)"), "{text}");
    let out = export(&iso, &dest, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim_end().ends_with("already present"), "{text}");
    assert!(out.stderr.is_empty());
    // Truncated: wrong even when trusted (its size says so).
    std::fs::write(&path, &good[..10]).unwrap();
    let trusted = json(&export(&iso, &dest, &["--json", "--trust-existing"]));
    assert_eq!(trusted["blobs_replaced"], 1);
    assert_eq!(std::fs::read(&path).unwrap(), good);
    // --trust-existing is for layouts.
    let out = export_to(
        &iso,
        "--oci-archive",
        &dir.path().join("x.tar"),
        &["--trust-existing"],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// `sh -c 'exec isolution ARGS... >&-'`: run with file descriptor 1 closed.
fn run_with_stdout_closed(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" >&-")
        .arg(common::BIN)
        .args(args)
        .output()
        .unwrap()
}

/// Runs `cmd` with stdout a pipe whose reader is already closed (deterministically: closed
/// before the child starts), stderr captured.
fn run_with_reader_gone(cmd: &mut std::process::Command) -> std::process::Output {
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    drop(reader);
    cmd.stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_summary_that_cannot_be_written_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let iso = solution("example-solution-1.0.2.iso");
    // Stdout closed: refused before anything is done, for every form of export.
    for (flag, dest) in [
        ("--oci", dir.path().join("layout")),
        ("--oci-archive", dir.path().join("x.tar")),
    ] {
        for extra in [&["--json"][..], &[]] {
            let mut args: Vec<&std::ffi::OsStr> = vec![
                "export".as_ref(),
                iso.as_os_str(),
                flag.as_ref(),
                dest.as_os_str(),
            ];
            args.extend(extra.iter().map(std::ffi::OsStr::new));
            let out = run_with_stdout_closed(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{flag} {extra:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains("standard output is closed"), "{err}");
            assert!(
                !dest.exists(),
                "{flag}: written although the summary is lost"
            );
        }
    }
    // `>/dev/null` is a choice: exit 0.
    let layout = dir.path().join("layout");
    let out = std::process::Command::new(common::BIN)
        .arg("export")
        .arg(&iso)
        .arg("--oci")
        .arg(&layout)
        .arg("--json")
        .stdout(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A pipe whose reader is gone: the export is done, its record lost: exit 2, one line.
    for extra in [&["--json"][..], &[]] {
        let out = run_with_reader_gone(
            std::process::Command::new(common::BIN)
                .arg("export")
                .arg(&iso)
                .arg("--oci")
                .arg(dir.path().join("piped"))
                .args(extra),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("cannot write the summary to standard output")
                && err.contains("Broken pipe"),
            "{err}"
        );
    }
    // A listing cut short by its reader is not a failure (`isolution ls | head`).
    let out = run_with_reader_gone(std::process::Command::new(common::BIN).arg("ls").arg(&iso));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
