//! `isolution pack` of multi-platform images (issue 17): an OCI index (from an OCI layout, an
//! OCI archive or a skopeo `dir:` copy) or a Docker manifest list is packed with every
//! platform, converted to a Docker manifest list byte for byte as Debian's skopeo 1.9 writes
//! it with `skopeo copy --all --format v2s2` (the list, each `<hex>.manifest.json`, the
//! blobs); blobs shared by platforms and tags are stored once; `isolution export --oci` gives
//! every platform back and `isolution serve` serves them; nested indexes, artifacts, missing
//! or altered instances, entries without a platform and too many platforms are refused by
//! name, leaving nothing behind. Without `--platform`, pack's check (`validate --strict`)
//! still finds `image.not-v2s2` on each list tag (MetalK8s's registry serves no list), which
//! pack prints as a note and exits 0. With `--platform OS/ARCH[/VARIANT]`, each list is
//! reduced to that platform, byte for byte what `skopeo copy --override-os/--override-arch/
//! --override-variant --format v2s2` writes; a platform the list lacks is refused, naming the
//! ones it has.
//!
//! The two-platform image is base-server:1.0.2-oci of the multi-platform fixture
//! (`tests/solutions/example-solution-1.0.2-multiarch.iso`: an OCI index of linux/amd64 and
//! linux/arm64/v8, written by `tests/solutions/build.sh` and normalised by
//! `skopeo copy --all`), copied with `skopeo copy --all --preserve-digests` into an OCI layout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::pack::{
    cmd, extract_example, isoinfo_long, ok, pack, pack_tree, refused, s, sha256_hex, skopeo_copy,
};
use common::{digest, multiarch_iso, show, tools, BIN};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_V2S2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Every regular file under `root`, by relative path.
fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn json_of(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap()
}

/// Writes `bytes` as a blob of `layout`; returns its descriptor (digest, size).
fn put_blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let hex = sha256_hex(bytes);
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    (format!("sha256:{hex}"), bytes.len())
}

/// Adds `bytes` (an index or manifest, of `media_type`) to `layout`'s index.json as `name`.
fn add_ref(layout: &Path, name: &str, media_type: &str, bytes: &[u8]) {
    let (d, n) = put_blob(layout, bytes);
    let p = layout.join("index.json");
    let mut index = json_of(&std::fs::read(&p).unwrap());
    index["manifests"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": media_type, "digest": d, "size": n,
            "annotations": {REF_NAME: name},
        }));
    std::fs::write(&p, serde_json::to_vec(&index).unwrap()).unwrap();
}

/// The blob of `layout` that `index.json` names `name`.
fn ref_blob(layout: &Path, name: &str) -> Vec<u8> {
    let index = json_of(&std::fs::read(layout.join("index.json")).unwrap());
    let e = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"][REF_NAME] == name)
        .unwrap_or_else(|| panic!("no {name} in {index}"));
    let hex = &e["digest"].as_str().unwrap()[7..];
    std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

/// `skopeo copy --all --format v2s2 SOURCE DEST`.
#[track_caller]
fn copy_v2s2(source: &str, dest: &str) {
    skopeo_copy(&["--all", "--format", "v2s2", source, dest]);
}

struct Fx {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    /// The example Solution's tree (its images included), manifest.yaml fixed for --strict.
    tree: PathBuf,
    /// The multi-platform fixture extracted (its `images/base-server/1.0.2-oci` is an OCI
    /// index in a skopeo `dir:` copy).
    multi: PathBuf,
    /// An OCI layout: `list` (the fixture's two-platform index), `extras` (the same
    /// instances under an index with annotations, `urls`, `os.version`, `os.features`).
    layout: PathBuf,
}

impl Fx {
    /// `isolution pack -q TREE -o OUT ARGS` (see [`pack`]).
    fn pack(&self, out: &Path, args: &[&str]) -> Output {
        pack_tree(&self.tree, out, &[], args)
    }

    fn oci(&self, r: &str) -> String {
        format!("oci:{}:{r}", self.layout.display())
    }

    /// What `skopeo copy --all --format v2s2 SOURCE dir:OUT` writes (cached by `key`).
    fn skopeo_v2s2(&self, source: &str, key: &str) -> BTreeMap<String, Vec<u8>> {
        let d = self.dir.join("skopeo").join(key);
        if !d.exists() {
            std::fs::create_dir_all(d.parent().unwrap()).unwrap();
            copy_v2s2(source, &format!("dir:{}", d.display()));
        }
        read_tree(&d)
    }
}

/// [`fixture`] if every one of `needed` is installed.
fn fixture_with(needed: &[&str]) -> Option<Fx> {
    tools(needed).then(fixture)
}

fn fixture() -> Fx {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let tree = dir.join("tree");
    // As tests/pack.rs: the fixture's manifest.yaml gives two warnings under --strict.
    extract_example(&tree);
    let multi = dir.join("multi");
    ok(BIN, &["extract", "-q", s(&multiarch_iso()), s(&multi)]);
    let layout = dir.join("layout");
    let src = multi.join("images/base-server/1.0.2-oci");
    skopeo_copy(&[
        "--all",
        "--preserve-digests",
        &format!("dir:{}", src.display()),
        &format!("oci:{}:list", layout.display()),
    ]);
    let mut index = json_of(&ref_blob(&layout, "list"));
    assert_eq!(index["mediaType"], OCI_INDEX);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
    let m = &mut index["manifests"];
    m[0]["annotations"] = serde_json::json!({"a": "b"});
    m[0]["platform"]["os.version"] = "10.0.17763.1".into();
    m[0]["platform"]["os.features"] = serde_json::json!(["win32k"]);
    m[1]["urls"] = serde_json::json!(["https://example.com/<x>&y"]);
    m[1]["platform"]["os.features"] = serde_json::json!([]);
    index["annotations"] = serde_json::json!({"top": "x"});
    add_ref(
        &layout,
        "extras",
        OCI_INDEX,
        &serde_json::to_vec(&index).unwrap(),
    );
    Fx {
        _tmp: tmp,
        dir,
        tree,
        multi,
        layout,
    }
}

/// The note pack prints for a tag it wrote as a list (`validate --strict`'s `image.not-v2s2`
/// on it: MetalK8s's registry serves no list, its generator skips them).
fn list_note(tag: &str) -> String {
    format!(
        "images/{tag} is a multi-platform list: MetalK8s's registry serves only \
         single-platform v2s2 manifests (isolution serve, export and push handle lists); pack \
         --platform OS/ARCH packs one platform"
    )
}

/// The one JSON line of a `pack --json` run that wrote the ISO. It exits 0: the check's only
/// findings are the `image.not-v2s2` warnings, one per list tag, which pack prints as notes
/// (on stderr, and in the JSON's `notes`, apart from its empty `problems`).
#[track_caller]
fn packed_lists(o: &Output, list_tags: &[&str]) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "pack: {}", show(o));
    let err = String::from_utf8_lossy(&o.stderr);
    let mut lines: Vec<&str> = err.lines().collect();
    lines.sort_unstable();
    let mut want: Vec<String> = list_tags
        .iter()
        .map(|t| format!("isolution: pack: note: {}", list_note(t)))
        .collect();
    want.sort_unstable();
    assert_eq!(lines, want, "{err}");
    let report = json_of(&o.stdout);
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    let mut notes: Vec<String> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    notes.sort_unstable();
    let mut want: Vec<String> = list_tags.iter().map(|t| list_note(t)).collect();
    want.sort_unstable();
    assert_eq!(notes, want, "{report}");
    report
}

/// The files of `images/<name>/<tag>/` in the ISO (extracted with bsdtar into `dest`).
fn iso_tag(iso: &Path, dest: &Path, tag_dir: &str) -> BTreeMap<String, Vec<u8>> {
    if !dest.exists() {
        std::fs::create_dir_all(dest).unwrap();
        ok("bsdtar", &["-xf", s(iso), "-C", s(dest)]);
    }
    read_tree(&dest.join("images").join(tag_dir))
}

/// `got` is what skopeo wrote (`want`) byte for byte: the same files, the same bytes.
#[track_caller]
fn assert_skopeos(got: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, Vec<u8>>, what: &str) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: the files"
    );
    for (f, b) in want {
        assert!(
            got[f] == *b,
            "{what}: {f}: ours\n{}\nskopeo's\n{}",
            String::from_utf8_lossy(&got[f]),
            String::from_utf8_lossy(b)
        );
    }
}

#[test]
fn oci_index_packed_as_skopeo_copies_it() {
    let Some(fx) = fixture_with(&["skopeo", "bsdtar", "isoinfo"]) else {
        return;
    };
    let iso = fx.dir.join("out.iso");
    let o = fx.pack(
        &iso,
        &[
            "--json",
            "--image",
            &format!("base-server:1.0.2-list={}", fx.oci("list")),
            "--image",
            &format!("base-server:1.0.2-extras={}", fx.oci("extras")),
        ],
    );
    let report = packed_lists(&o, &["base-server/1.0.2-list", "base-server/1.0.2-extras"]);
    let x = fx.dir.join("x");
    let mut all_blobs = BTreeSet::new();
    for (tag, r) in [("1.0.2-extras", "extras"), ("1.0.2-list", "list")] {
        // Byte for byte what skopeo writes: the list, each instance, the blobs, version.
        let want = fx.skopeo_v2s2(&fx.oci(r), r);
        let got = iso_tag(&iso, &x, &format!("base-server/{tag}"));
        assert_skopeos(&got, &want, tag);
        let list = json_of(&want["manifest.json"]);
        assert_eq!(list["mediaType"], DOCKER_LIST, "{tag}");
        // The summary: the list's digest, the index it was converted from, each platform.
        let img = report["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["tag"] == tag)
            .unwrap();
        assert_eq!(img["digest"], digest(&want["manifest.json"]), "{tag}");
        assert_eq!(
            img["converted_from"],
            digest(&ref_blob(&fx.layout, r)),
            "{tag}"
        );
        let plats: Vec<(String, String)> = img["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["platform"].as_str().unwrap().to_string(),
                    p["digest"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want_plats: Vec<(String, String)> = common::entries(&want["manifest.json"])
            .into_iter()
            .map(|(d, p)| (p, d))
            .collect();
        assert_eq!(plats, want_plats, "{tag}");
        assert_eq!(plats[0].0, "linux/amd64");
        assert_eq!(plats[1].0, "linux/arm64/v8");
        for p in img["platforms"].as_array().unwrap() {
            assert!(
                p["converted_from"].as_str().unwrap().starts_with("sha256:"),
                "{p}"
            );
            assert_ne!(p["converted_from"], p["digest"]);
        }
        for (f, _) in want {
            if f.len() == 64 || f.ends_with(".manifest.json") {
                all_blobs.insert(f);
            }
        }
    }
    // The extras kept: urls (Go-escaped), os.version, os.features; annotations dropped.
    let extras =
        String::from_utf8(fx.skopeo_v2s2(&fx.oci("extras"), "extras")["manifest.json"].clone())
            .unwrap();
    assert!(
        extras.contains(r#""os.version":"10.0.17763.1","os.features":["win32k"]"#),
        "{extras}"
    );
    assert!(
        extras.contains(r#""urls":["https://example.com/\u003cx\u003e\u0026y"]"#),
        "{extras}"
    );
    assert!(
        !extras.contains("annotations") && !extras.contains(r#""os.features":[]"#),
        "{extras}"
    );

    // Each blob (and each platform's manifest) once: both tags' copies share one extent;
    // the report counts the blobs once. The two indexes differ, their instances do not.
    let manifests = all_blobs
        .iter()
        .filter(|f| f.ends_with(".manifest.json"))
        .count();
    assert_eq!(manifests, 2);
    assert_eq!(report["distinct_blobs"], all_blobs.len() - manifests);
    let ext = isoinfo_long(&iso);
    for hex in &all_blobs {
        let a = ext[&format!("images/base-server/1.0.2-list/{hex}")].4;
        let b = ext[&format!("images/base-server/1.0.2-extras/{hex}")].4;
        assert_eq!(a, b, "{hex}: two extents");
    }
    // The registry config serves no list (as MetalK8s's generator, which skips them).
    let rc = std::fs::read_to_string(x.join("registry-config.inc.j2")).unwrap();
    assert!(
        !rc.contains("1.0.2-list") && !rc.contains("1.0.2-extras"),
        "{rc}"
    );
    assert!(rc.contains("base-server/manifests/1.0.2\""), "{rc}");

    // validate (not --strict): clean; --strict: only the image.not-v2s2 warnings.
    let v = cmd(BIN, &["validate", "--json", s(&iso)]);
    assert_eq!(v.status.code(), Some(0), "validate: {}", show(&v));
    let findings = json_of(&v.stdout)["findings"].clone();
    let rules = warnings(&findings);
    assert_eq!(
        rules,
        BTreeSet::from([
            "image.not-v2s2 images/base-server/1.0.2-extras/manifest.json".to_string(),
            "image.not-v2s2 images/base-server/1.0.2-list/manifest.json".to_string(),
        ]),
        "{findings}"
    );

    // isolution serve serves each list and its platforms: skopeo copies them (checking every
    // digest) into the very files it wrote from the layout.
    let srv = common::serve(std::slice::from_ref(&iso));
    for (tag, r) in [("1.0.2-extras", "extras"), ("1.0.2-list", "list")] {
        let remote = format!(
            "docker://{}/example-solution-1.0.2/base-server:{tag}",
            srv.addr
        );
        let raw = ok(
            "skopeo",
            &["inspect", "--raw", "--tls-verify=false", &remote],
        )
        .stdout;
        let want = fx.skopeo_v2s2(&fx.oci(r), r);
        assert_eq!(raw, want["manifest.json"], "{tag}: served");
        let d = fx.dir.join(format!("served-{tag}"));
        skopeo_copy(&[
            "--all",
            "--src-tls-verify=false",
            &remote,
            &format!("dir:{}", d.display()),
        ]);
        assert!(
            read_tree(&d) == want,
            "{tag}: skopeo's copy of the served list"
        );
    }
    drop(srv);

    // export --oci gives each list back as an OCI index with every platform (the very
    // v2s2 instances, or converted to OCI with --oci-media-types), and skopeo reads them.
    for flag in [None, Some("--oci-media-types")] {
        let out = fx.dir.join(format!("export-{}", flag.is_some()));
        let mut args = vec!["export", "-q", s(&iso), "--oci", s(&out)];
        args.extend(flag);
        ok(BIN, &args);
        for tag in ["1.0.2-list", "1.0.2-extras"] {
            let r = format!("oci:{}:base-server:{tag}", out.display());
            let raw = ok("skopeo", &["inspect", "--raw", &r]).stdout;
            let v = json_of(&raw);
            assert_eq!(v["mediaType"], OCI_INDEX, "{tag} {flag:?}");
            let plats: Vec<String> = common::entries(&raw).into_iter().map(|e| e.1).collect();
            assert_eq!(plats, ["linux/amd64", "linux/arm64/v8"], "{tag} {flag:?}");
            let ours =
                common::entries(&iso_tag(&iso, &x, &format!("base-server/{tag}"))["manifest.json"]);
            let same = common::entries(&raw) == ours;
            assert_eq!(same, flag.is_none(), "{tag} {flag:?}: {ours:?}");
            for m in v["manifests"].as_array().unwrap() {
                let want = if flag.is_none() {
                    DOCKER_V2S2
                } else {
                    OCI_MANIFEST
                };
                assert_eq!(m["mediaType"], want, "{tag} {flag:?}");
            }
            let d = fx.dir.join(format!("back-{}-{tag}", flag.is_some()));
            skopeo_copy(&["--all", &r, &format!("dir:{}", d.display())]);
            assert_eq!(std::fs::read(d.join("manifest.json")).unwrap(), raw);
        }
    }
}

#[test]
fn every_source_gives_the_same_iso() {
    let Some(fx) = fixture_with(&["skopeo", "minisign"]) else {
        return;
    };
    let d = &fx.dir;
    let one = |image: String, name: &str| -> (Vec<u8>, serde_json::Value) {
        let iso = d.join(name);
        let o = fx.pack(
            &iso,
            &[
                "--json",
                "--image",
                &format!("base-server:1.0.2-list={image}"),
            ],
        );
        let report = packed_lists(&o, &["base-server/1.0.2-list"]);
        (std::fs::read(&iso).unwrap(), report)
    };
    let (want, report) = one(fx.oci("list"), "oci.iso");
    let converted = report["images"][0]["converted_from"].clone();
    assert!(converted.is_string(), "{report}");

    // oci-archive: the same layout as a tar.
    let tar = d.join("layout.tar");
    ok("tar", &["-cf", s(&tar), "-C", s(&fx.layout), "."]);
    let (got, r) = one(format!("oci-archive:{}:list", tar.display()), "a.iso");
    assert!(got == want, "oci-archive: another ISO");
    assert_eq!(r["images"][0]["converted_from"], converted);

    // dir: skopeo's --all copy of the index (an OCI index, `<hex>.manifest.json`).
    let src = fx.multi.join("images/base-server/1.0.2-oci");
    let (got, r) = one(format!("dir:{}", src.display()), "dir-oci.iso");
    assert!(got == want, "dir: of an OCI index: another ISO");
    assert_eq!(r["images"][0]["converted_from"], converted);

    // dir: skopeo's --all --format v2s2 copy (a Docker list): kept byte for byte.
    let v2 = d.join("v2s2-dir");
    copy_v2s2(&fx.oci("list"), &format!("dir:{}", v2.display()));
    let (got, r) = one(format!("dir:{}", v2.display()), "dir-v2s2.iso");
    assert!(got == want, "dir: of a Docker list: another ISO");
    assert!(r["images"][0]["converted_from"].is_null(), "{r}");
    assert!(
        r["images"][0]["platforms"][1]["converted_from"].is_null(),
        "{r}"
    );
    assert_eq!(r["images"][0]["digest"], report["images"][0]["digest"]);

    // oci: a layout holding that Docker list (skopeo --all --format v2s2 into a layout).
    let v2l = d.join("v2s2-layout");
    copy_v2s2(&fx.oci("list"), &format!("oci:{}:v2", v2l.display()));
    let (got, r) = one(format!("oci:{}:v2", v2l.display()), "oci-v2s2.iso");
    assert!(got == want, "oci: of a Docker list: another ISO");
    assert!(r["images"][0]["converted_from"].is_null(), "{r}");

    // Signed: verify checks every file, instances included, against SHA256SUMS.
    let (key, public) = (d.join("k.key"), d.join("k.pub"));
    ok(
        "minisign",
        &["-G", "-W", "-f", "-s", s(&key), "-p", s(&public)],
    );
    let iso = d.join("signed.iso");
    let o = fx.pack(
        &iso,
        &[
            "--json",
            "--sign",
            s(&key),
            "--image",
            &format!("base-server:1.0.2-list={}", fx.oci("list")),
        ],
    );
    packed_lists(&o, &["base-server/1.0.2-list"]);
    let v = cmd(BIN, &["verify", "--key", s(&public), s(&iso)]);
    assert_eq!(v.status.code(), Some(0), "verify: {}", show(&v));
    let sums = String::from_utf8(
        Command::new("bsdtar")
            .args(["-xOf", s(&iso), "SHA256SUMS"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for (_, p) in report["images"][0]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| ((), p["digest"].as_str().unwrap()))
    {
        let line = format!(
            "SHA256 (images/base-server/1.0.2-list/{}.manifest.json) = {}",
            &p[7..],
            &p[7..]
        );
        assert!(sums.contains(&line), "{line} not in\n{sums}");
    }
}

#[test]
fn refusals_name_the_entry_and_leave_nothing_behind() {
    let Some(fx) = fixture_with(&["skopeo"]) else {
        return;
    };
    let d = &fx.dir;
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("X.iso");
    let try_pack = |image: &str| fx.pack(&out, &["--image", &format!("base-server:9={image}")]);
    let list = ref_blob(&fx.layout, "list");
    let index = json_of(&list);
    let (list_digest, list_size) = (digest(&list), list.len());
    let amd64 = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let arm64 = index["manifests"][1]["digest"]
        .as_str()
        .unwrap()
        .to_string();

    let bad = d.join("bad");
    ok("cp", &["-a", s(&fx.layout), s(&bad)]);
    let with = |name: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = index.clone();
        f(&mut v);
        add_ref(&bad, name, OCI_INDEX, &serde_json::to_vec(&v).unwrap());
    };
    // An index of indexes.
    with("nested", &|v| {
        v["manifests"][1] = serde_json::json!({"mediaType": OCI_INDEX, "digest": list_digest,
            "size": list_size, "platform": {"os": "linux", "architecture": "s390x"}});
    });
    // An entry with no platform (skopeo would write the machine's).
    with("noplatform", &|v| {
        v["manifests"][1]
            .as_object_mut()
            .unwrap()
            .remove("platform");
    });
    // 65 platforms.
    with("many", &|v| {
        let e = v["manifests"][0].clone();
        v["manifests"] = serde_json::Value::Array(vec![e; 65]);
    });
    // An artifact: an entry whose type is no image manifest; an OCI manifest whose config is
    // not an image configuration.
    with("artifact-type", &|v| {
        v["manifests"][1]["mediaType"] = "application/vnd.example.sbom+json".into();
    });
    let mut art = json_of(&std::fs::read(bad.join("blobs/sha256").join(&arm64[7..])).unwrap());
    art["config"]["mediaType"] = "application/vnd.example.config+json".into();
    let (art_d, art_n) = put_blob(&bad, &serde_json::to_vec(&art).unwrap());
    with("artifact", &|v| {
        v["manifests"][1]["digest"] = art_d.clone().into();
        v["manifests"][1]["size"] = art_n.into();
    });
    // A digest that is not sha256.
    with("sha512", &|v| {
        v["manifests"][1]["digest"] = format!("sha512:{}", "ab".repeat(64)).into();
    });
    // A zstd layer in one platform.
    let mut z = art.clone();
    z["config"]["mediaType"] = OCI_MANIFEST.replace("manifest", "config").into();
    z["layers"][1]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd".into();
    let (z_d, z_n) = put_blob(&bad, &serde_json::to_vec(&z).unwrap());
    with("zstd", &|v| {
        v["manifests"][1]["digest"] = z_d.clone().into();
        v["manifests"][1]["size"] = z_n.into();
    });
    let cases: [(&str, &[&str]); 7] = [
        ("nested", &["entry 1", &list_digest, "nested"]),
        ("noplatform", &["entry 1", &arm64, "no platform"]),
        ("many", &["65", "64"]),
        (
            "artifact-type",
            &["entry 1", "application/vnd.example.sbom+json"],
        ),
        ("artifact", &["entry 1", &art_d, "artifact"]),
        ("sha512", &["entry 1", "sha512:", "not a sha256"]),
        ("zstd", &["entry 1", &z_d, "zstd", "gzip"]),
    ];
    for (r, needles) in cases {
        let o = try_pack(&format!("oci:{}:{r}", bad.display()));
        refused(&o, &out_dir, needles, r);
    }

    // An instance manifest missing; one altered (same size, another digest).
    let missing = d.join("missing");
    ok("cp", &["-a", s(&fx.layout), s(&missing)]);
    std::fs::remove_file(missing.join("blobs/sha256").join(&arm64[7..])).unwrap();
    let o = try_pack(&format!("oci:{}:list", missing.display()));
    refused(
        &o,
        &out_dir,
        &[&arm64[7..], "No such file"],
        "missing instance",
    );
    let altered = d.join("altered");
    ok("cp", &["-a", s(&fx.layout), s(&altered)]);
    let p = altered.join("blobs/sha256").join(&amd64[7..]);
    let b = String::from_utf8(std::fs::read(&p).unwrap()).unwrap();
    let changed = b.replacen("\"schemaVersion\":2", "\"schemaVersion\":3", 1);
    assert!(changed != b && changed.len() == b.len());
    std::fs::write(&p, changed).unwrap();
    let o = try_pack(&format!("oci:{}:list", altered.display()));
    refused(
        &o,
        &out_dir,
        &["entry 0", &amd64, "does not match"],
        "altered instance",
    );
    // A missing layer of one platform.
    let nolayer = d.join("nolayer");
    ok("cp", &["-a", s(&fx.layout), s(&nolayer)]);
    let arm = json_of(&std::fs::read(fx.layout.join("blobs/sha256").join(&arm64[7..])).unwrap());
    let cfg = &arm["config"]["digest"].as_str().unwrap()[7..];
    std::fs::remove_file(nolayer.join("blobs/sha256").join(cfg)).unwrap();
    let o = try_pack(&format!("oci:{}:list", nolayer.display()));
    refused(&o, &out_dir, &[cfg, "No such file"], "missing config");

    // The same directory still takes a good run (a list: exit 0, with its note).
    let o = try_pack(&fx.oci("list"));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&list_note("base-server/9")),
        "{}",
        show(&o)
    );
    assert!(out.is_file());
}

/// What `skopeo copy --override-os OS --override-arch ARCH [--override-variant V] --format
/// v2s2 SOURCE dir:OUT` writes.
fn skopeo_one(fx: &Fx, source: &str, platform: &str, key: &str) -> BTreeMap<String, Vec<u8>> {
    let d = fx.dir.join("skopeo-one").join(key);
    std::fs::create_dir_all(d.parent().unwrap()).unwrap();
    let parts: Vec<&str> = platform.split('/').collect();
    let mut args = vec![
        "--override-os",
        parts[0],
        "--override-arch",
        parts[1],
        "--format",
        "v2s2",
    ];
    if let Some(v) = parts.get(2) {
        args.extend(["--override-variant", v]);
    }
    let dest = format!("dir:{}", d.display());
    args.extend([source, dest.as_str()]);
    skopeo_copy(&args);
    read_tree(&d)
}

/// The findings of a `validate --json` report of severity warning or worse, as `rule path`.
fn warnings(findings: &serde_json::Value) -> BTreeSet<String> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| {
            format!(
                "{} {}",
                f["rule"].as_str().unwrap(),
                f["path"].as_str().unwrap()
            )
        })
        .collect()
}

/// `validate --strict --json`: the findings of severity warning or worse, as `rule path`.
fn strict_findings(iso: &Path) -> BTreeSet<String> {
    let v = cmd(BIN, &["validate", "--strict", "--json", s(iso)]);
    warnings(&json_of(&v.stdout)["findings"])
}

#[test]
fn platform_packs_one_platform_as_skopeo_chooses_it() {
    let Some(fx) = fixture_with(&["skopeo", "bsdtar"]) else {
        return;
    };
    let d = &fx.dir;
    let list = ref_blob(&fx.layout, "list");
    let entries: Vec<(String, String)> = common::entries(&list);
    let instance = |plat: &str| {
        entries
            .iter()
            .find(|(_, p)| p == plat)
            .unwrap_or_else(|| panic!("{plat} not in {entries:?}"))
            .0
            .clone()
    };
    let multi_dir = format!(
        "dir:{}",
        fx.multi.join("images/base-server/1.0.2-oci").display()
    );
    // `arm64` takes the `arm64/v8` entry, as containers/image chooses it.
    for (platform, entry) in [
        ("linux/amd64", "linux/amd64"),
        ("linux/arm64", "linux/arm64/v8"),
        ("linux/arm64/v8", "linux/arm64/v8"),
    ] {
        let key = platform.replace('/', "-");
        let want = skopeo_one(&fx, &fx.oci("list"), platform, &key);
        let mut isos = Vec::new();
        for (i, source) in [fx.oci("list"), fx.oci("extras"), multi_dir.clone()]
            .iter()
            .enumerate()
        {
            let iso = d.join(format!("{key}-{i}.iso"));
            let o = fx.pack(
                &iso,
                &[
                    "--json",
                    "--platform",
                    platform,
                    "--image",
                    &format!("base-server:1.0.2-one={source}"),
                ],
            );
            // A single v2s2 image: nothing to note, nothing wrong.
            assert_eq!(
                o.status.code(),
                Some(0),
                "{platform} {source}: {}",
                show(&o)
            );
            assert!(o.stderr.is_empty(), "{platform} {source}: {}", show(&o));
            let report = json_of(&o.stdout);
            assert_eq!(report["problems"], serde_json::json!([]), "{report}");
            assert_eq!(report["notes"], serde_json::json!([]), "{report}");
            let img = &report["images"][0];
            assert_eq!(img["platform"], entry, "{report}");
            assert!(img.get("platforms").is_none(), "{report}");
            assert_eq!(img["converted_from"], instance(entry), "{report}");
            assert!(img.get("platform_mismatch").is_none(), "{report}");
            let src_list = if source.ends_with(":extras") {
                digest(&ref_blob(&fx.layout, "extras"))
            } else {
                digest(&list)
            };
            assert_eq!(img["from_list"], src_list, "{report}");
            // Byte for byte what skopeo writes for that platform.
            let x = d.join(format!("x-{key}-{i}"));
            let got = iso_tag(&iso, &x, "base-server/1.0.2-one");
            assert_skopeos(&got, &want, &format!("{platform} {source}"));
            assert_eq!(json_of(&got["manifest.json"])["mediaType"], DOCKER_V2S2);
            assert_eq!(img["digest"], digest(&want["manifest.json"]));
            // MetalK8s serves it: in the registry config, and validate --strict is clean.
            let rc = std::fs::read_to_string(x.join("registry-config.inc.j2")).unwrap();
            assert!(rc.contains("base-server/manifests/1.0.2-one\""), "{rc}");
            assert_eq!(
                strict_findings(&iso),
                BTreeSet::new(),
                "{platform} {source}"
            );
            isos.push(std::fs::read(&iso).unwrap());
        }
        // The layout and the dir: copy of the same index give the same ISO.
        assert!(isos[0] == isos[2], "{platform}: oci: and dir: differ");
    }
    // arm64 and arm64/v8 choose the same entry: the same ISO.
    assert!(
        std::fs::read(d.join("linux-arm64-0.iso")).unwrap()
            == std::fs::read(d.join("linux-arm64-v8-0.iso")).unwrap()
    );

    // Only the chosen platform is read: amd64's config missing does not matter for arm64.
    let partial = d.join("partial");
    ok("cp", &["-a", s(&fx.layout), s(&partial)]);
    let amd64 = json_of(
        &std::fs::read(
            fx.layout
                .join("blobs/sha256")
                .join(&instance("linux/amd64")[7..]),
        )
        .unwrap(),
    );
    let cfg = amd64["config"]["digest"].as_str().unwrap()[7..].to_string();
    std::fs::remove_file(partial.join("blobs/sha256").join(&cfg)).unwrap();
    let iso = d.join("partial.iso");
    let o = fx.pack(
        &iso,
        &[
            "--platform",
            "linux/arm64",
            "--image",
            &format!("base-server:1.0.2-one=oci:{}:list", partial.display()),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(std::fs::read(&iso).unwrap() == std::fs::read(d.join("linux-arm64-0.iso")).unwrap());

    // A platform no entry has: refused (exit 2), naming the list's platforms; nothing left.
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("X.iso");
    for (platform, source) in [
        ("linux/s390x", fx.oci("list")),
        ("linux/arm64/v7", fx.oci("list")),
        ("windows/amd64", multi_dir.clone()),
        ("linux/arm/v7", fx.oci("extras")),
    ] {
        let o = fx.pack(
            &out,
            &[
                "--platform",
                platform,
                "--image",
                &format!("base-server:9={source}"),
            ],
        );
        refused(
            &o,
            &out_dir,
            &[
                &format!("no instance for {platform}"),
                "(the list has: linux/amd64, linux/arm64/v8)",
            ],
            platform,
        );
    }
    // A --platform that does not parse.
    for bad in [
        "linux",
        "linux/",
        "/amd64",
        "linux/arm64/v8/x",
        "linux/am d64",
    ] {
        let o = fx.pack(
            &out,
            &[
                "--platform",
                bad,
                "--image",
                &format!("base-server:9={}", fx.oci("list")),
            ],
        );
        refused(&o, &out_dir, &["--platform", "OS/ARCH"], bad);
    }
}

#[test]
fn platform_leaves_single_images_as_they_are() {
    let Some(fx) = fixture_with(&["skopeo"]) else {
        return;
    };
    let d = &fx.dir;
    // A single-platform arm64 image (skopeo's copy of one instance into a layout).
    let single = d.join("single");
    skopeo_copy(&[
        "--override-arch",
        "arm64",
        &fx.oci("list"),
        &format!("oci:{}:arm", single.display()),
    ]);
    let source = format!("base-server:1.0.2-arm=oci:{}:arm", single.display());
    let run = |platform: Option<&str>, name: &str| {
        let iso = d.join(name);
        let mut args = vec![s(&fx.tree), "-o", s(&iso), "--json", "--image", &source];
        args.extend(platform.map(|p| ["--platform", p]).into_iter().flatten());
        let o = pack(&args);
        assert_eq!(o.status.code(), Some(0), "{platform:?}: {}", show(&o));
        (std::fs::read(&iso).unwrap(), json_of(&o.stdout), o)
    };
    let (plain, r, _) = run(None, "plain.iso");
    assert_eq!(r["notes"], serde_json::json!([]), "{r}");
    // The platform it is: packed the same, nothing noted.
    for p in ["linux/arm64", "linux/arm64/v8"] {
        let (iso, r, o) = run(Some(p), "arm64.iso");
        assert!(iso == plain, "{p}: another ISO");
        assert!(o.stderr.is_empty(), "{p}: {}", show(&o));
        assert_eq!(r["notes"], serde_json::json!([]), "{r}");
        assert!(r["images"][0].get("platform").is_none(), "{r}");
    }
    // Another platform: packed the same, noted (not refused).
    let (iso, r, o) = run(Some("linux/amd64"), "amd64.iso");
    assert!(iso == plain, "linux/amd64: another ISO");
    let img = &r["images"][0];
    assert_eq!(img["platform_mismatch"], true, "{r}");
    let config_platform = img["platform"].as_str().unwrap().to_string();
    assert!(config_platform.starts_with("linux/arm64"), "{r}");
    let note = format!(
        "images/base-server/1.0.2-arm: a single-platform image whose configuration says \
         {config_platform}, not linux/amd64 (--platform): packed as it is"
    );
    assert_eq!(r["notes"], serde_json::json!([note]), "{r}");
    assert_eq!(r["problems"], serde_json::json!([]), "{r}");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("isolution: pack: note: {note}\n")
    );
}
