//! `isolution pack` (issue 17), with real tools as oracles: the bundled example Solution
//! rebuilt from OCI layouts of its images and compared with the genisoimage-built fixture
//! (what MetalK8s would see), the packed ISO read by every other reader here (isoinfo -R/-J
//! and MetalK8s's own `isoinfo -x '/MANIFEST.YAML;1'`, bsdtar, 7-Zip, xorriso, pycdlib),
//! minisign signatures, reproducibility, each image source (oci-archive, docker-archive,
//! dir), and the refusals (exit 2, one line, nothing left in the output's directory).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

mod common;
use common::pack::{
    assert_empty_dir, assert_one_line, cmd, example, isoinfo_long, ok, pack, pack_tree_ok, s,
    sha256_hex, skopeo_copy, Example, REFS, SDE,
};
use common::{digest, show, solution, tool, tools, BIN};

/// `isolution ARGS`, asserting success.
#[track_caller]
fn isolution(args: &[&str]) -> Output {
    ok(BIN, args)
}

/// A tree as read from disk: path (relative, `/`-separated) -> `None` for a directory, the
/// bytes for a file. Symbolic links and other types fail the test.
type Tree = BTreeMap<String, Option<Vec<u8>>>;

fn read_tree(root: &Path) -> Tree {
    let mut out = Tree::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let ty = e.file_type().unwrap();
            if ty.is_dir() {
                out.insert(r.clone(), None);
                stack.push((e.path(), r));
            } else if ty.is_file() {
                out.insert(r, Some(std::fs::read(e.path()).unwrap()));
            } else {
                panic!("{}: neither a file nor a directory", e.path().display());
            }
        }
    }
    out
}

/// The first difference between two trees, for assertion messages (whole trees are long).
fn tree_diff(want: &Tree, got: &Tree) -> Option<String> {
    for (p, w) in want {
        match got.get(p) {
            None => return Some(format!("{p}: missing")),
            Some(g) if g != w => {
                return Some(format!(
                    "{p}: differs ({:?} vs {:?} bytes)",
                    w.as_ref().map(Vec::len),
                    g.as_ref().map(Vec::len)
                ))
            }
            _ => {}
        }
    }
    got.keys()
        .find(|p| !want.contains_key(*p))
        .map(|p| format!("{p}: unexpected"))
}

#[track_caller]
fn assert_tree(want: &Tree, got: &Tree, what: &str) {
    if let Some(d) = tree_diff(want, got) {
        panic!("{what}: {d}");
    }
}

fn paths(t: &Tree) -> BTreeSet<String> {
    t.keys().cloned().collect()
}

impl Example {
    /// `isolution pack TREE -o OUT --image ...` (the three images, in `order`), asserting exit
    /// 0; returns the summary printed.
    #[track_caller]
    fn pack_to(&self, tree: &Path, out: &Path, order: &[usize], extra: &[&str]) -> String {
        pack_tree_ok(tree, out, &self.image_args(order), extra)
    }

    fn pack(&self, out: &Path) -> String {
        self.pack_to(&self.tree, out, &[0, 1, 2], &[])
    }

    /// What `skopeo copy --format v2s2 oci:LAYOUT:TAG dir:OUT` writes for each image:
    /// `images/<name>/<tag>/<file>` -> bytes (cached under the example's directory).
    fn skopeo_images(&self) -> Tree {
        let mut t = Tree::new();
        for (n, tag) in REFS {
            let d = self.dir.join("skopeo-v2s2").join(n).join(tag);
            if !d.exists() {
                std::fs::create_dir_all(d.parent().unwrap()).unwrap();
                skopeo_copy(&[
                    "--format",
                    "v2s2",
                    &self.oci(n, tag),
                    &format!("dir:{}", d.display()),
                ]);
            }
            for (f, b) in read_tree(&d) {
                t.insert(format!("images/{n}/{tag}/{f}"), b);
            }
        }
        t
    }
}

fn example_tools() -> bool {
    tools(&["skopeo"])
}

/// `{hex of old} -> {hex of new}` replaced everywhere in `b`.
fn replace_all(b: &[u8], map: &BTreeMap<String, String>) -> Vec<u8> {
    let mut s = String::from_utf8(b.to_vec()).unwrap();
    for (from, to) in map {
        s = s.replace(from.as_str(), to);
    }
    s.into_bytes()
}

/// The digest of `images/<name>/<tag>/manifest.json` in `t`.
fn manifest_of(t: &Tree, n: &str, tag: &str) -> serde_json::Value {
    serde_json::from_slice(
        t[&format!("images/{n}/{tag}/manifest.json")]
            .as_ref()
            .unwrap(),
    )
    .unwrap()
}

fn config_hex(m: &serde_json::Value) -> String {
    m["config"]["digest"].as_str().unwrap()[7..].to_string()
}

/// What MetalK8s's own generator (static-container-registry.py --omit-constants) writes for
/// the fixture's images/ (see tests/static-container-registry/README.md).
fn metalk8s_registry_config() -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/static-container-registry/example-solution-1.0.2.inc.j2"),
    )
    .unwrap()
}

/// Everything the packed example must hold, built without `pack`: the source tree, what
/// skopeo writes for each image, what MetalK8s's registry-config generator writes for the
/// fixture with the manifest digests skopeo's conversion gives, and the SHA256SUMS of all of
/// it (BSD tags, sorted).
fn expected(ex: &Example) -> Tree {
    let mut t = read_tree(&ex.tree);
    let images = ex.skopeo_images();
    t.extend(images.clone());
    for d in ["images".to_string()]
        .into_iter()
        .chain(REFS.iter().map(|(n, _)| format!("images/{n}")))
        .chain(REFS.iter().map(|(n, tag)| format!("images/{n}/{tag}")))
    {
        t.insert(d, None);
    }
    // The fixture's registry config, with each fixture manifest digest replaced by skopeo's.
    let fixture = read_tree(&ex.fixture_images);
    let mut map = BTreeMap::new();
    for (n, tag) in REFS {
        let old = fixture[&format!("{n}/{tag}/manifest.json")]
            .clone()
            .unwrap();
        let new = images[&format!("images/{n}/{tag}/manifest.json")]
            .clone()
            .unwrap();
        map.insert(sha256_hex(&old), sha256_hex(&new));
    }
    let config = replace_all(&metalk8s_registry_config(), &map);
    t.insert("registry-config.inc.j2".into(), Some(config));
    let mut sums = String::new();
    for (p, b) in &t {
        if let Some(b) = b {
            sums.push_str(&format!("SHA256 ({p}) = {}\n", sha256_hex(b)));
        }
    }
    t.insert("SHA256SUMS".into(), Some(sums.into_bytes()));
    t
}

/// `bsdtar -xf ISO -C DEST`, read back.
fn bsdtar_tree(iso: &Path, dest: &Path) -> Tree {
    std::fs::create_dir_all(dest).unwrap();
    ok("bsdtar", &["-xf", s(iso), "-C", s(dest)]);
    read_tree(dest)
}

// -----------------------------------------------------------------------------------------
// 1. The example Solution, against the genisoimage pipeline's fixture
// -----------------------------------------------------------------------------------------

#[test]
fn example_solution_matches_the_genisoimage_fixture() {
    if !tools(&["skopeo", "bsdtar"]) {
        return;
    }
    let ex = example(true);
    let iso = ex.dir.join("X.iso");
    let summary = ex.pack(&iso);
    let want = expected(&ex);

    // The summary names each image with the digest skopeo's conversion gives, and the
    // layout's own manifest digest it was converted from.
    for (n, tag) in REFS {
        let v2s2 = want[&format!("images/{n}/{tag}/manifest.json")]
            .clone()
            .unwrap();
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(ex.layouts.join(n).join("index.json")).unwrap())
                .unwrap();
        let from = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let line = format!(
            "{n}:{tag} {} (converted to Docker v2s2 from {from})",
            digest(&v2s2)
        );
        assert!(
            summary.lines().any(|l| l == line),
            "no line {line:?} in\n{summary}"
        );
    }

    let v = cmd(BIN, &["validate", "--strict", s(&iso)]);
    assert_eq!(v.status.code(), Some(0), "validate --strict: {}", show(&v));

    // Every file, byte for byte (read back by bsdtar, an independent reader).
    let packed = bsdtar_tree(&iso, &ex.dir.join("packed"));
    assert_tree(&want, &packed, "the packed ISO against the expected tree");

    // iso-core's generator gives MetalK8s's bytes for the fixture (the expected file's basis),
    // and the registry config it generates from the packed ISO is the one packed.
    assert_eq!(
        isolution(&[
            "registry-config",
            s(&solution("example-solution-1.0.2.iso"))
        ])
        .stdout,
        metalk8s_registry_config(),
        "isolution registry-config of the fixture"
    );
    let rc = isolution(&["registry-config", s(&iso)]).stdout;
    assert_eq!(
        Some(&rc),
        packed["registry-config.inc.j2"].as_ref(),
        "registry-config.inc.j2 is not what `isolution registry-config` generates"
    );

    // What MetalK8s would see, against the genisoimage-built fixture. Legitimately
    // different: (a) each image's config blob, because `skopeo copy dir: oci:` (how the test
    // made the layouts) re-marshals a Docker config as an OCI config, same JSON value, other
    // key order, so another digest, hence (b) manifest.json (only the config digest changes)
    // and (c) the manifest digests in registry-config.inc.j2; (d) manifest.yaml, fixed by
    // the test (see `example`); (e) SHA256SUMS, which pack adds. Everything else is
    // byte-identical.
    let fixture = bsdtar_tree(
        &solution("example-solution-1.0.2.iso"),
        &ex.dir.join("fixture"),
    );
    let mut configs = BTreeMap::new(); // fixture config hex -> packed config hex
    let mut manifests = BTreeMap::new(); // fixture manifest hex -> packed manifest hex
    for (n, tag) in REFS {
        let (fm, pm) = (manifest_of(&fixture, n, tag), manifest_of(&packed, n, tag));
        let (fc, pc) = (config_hex(&fm), config_hex(&pm));
        assert_ne!(
            fc, pc,
            "{n}:{tag}: the config was expected to be re-marshalled"
        );
        let fcfg: serde_json::Value =
            serde_json::from_slice(fixture[&format!("images/{n}/{tag}/{fc}")].as_ref().unwrap())
                .unwrap();
        let pcfg: serde_json::Value =
            serde_json::from_slice(packed[&format!("images/{n}/{tag}/{pc}")].as_ref().unwrap())
                .unwrap();
        assert_eq!(fcfg, pcfg, "{n}:{tag}: the config's JSON value");
        configs.insert(fc, pc);
        let path = format!("images/{n}/{tag}/manifest.json");
        manifests.insert(
            sha256_hex(fixture[&path].as_ref().unwrap()),
            sha256_hex(packed[&path].as_ref().unwrap()),
        );
    }
    let rename = |p: &String| -> String {
        match p.rsplit_once('/') {
            Some((d, f)) if configs.contains_key(f) => format!("{d}/{}", configs[f]),
            _ => p.clone(),
        }
    };
    let fixture_paths: BTreeSet<String> = fixture.keys().map(rename).collect();
    let mut packed_paths = paths(&packed);
    packed_paths.remove("SHA256SUMS");
    assert_eq!(
        fixture_paths, packed_paths,
        "the set of paths, configs renamed"
    );
    for (p, fb) in &fixture {
        let pb = &packed[&rename(p)];
        let (Some(fb), Some(pb)) = (fb, pb) else {
            assert_eq!(fb.is_none(), pb.is_none(), "{p}: file or directory");
            continue;
        };
        let name = p.rsplit('/').next().unwrap();
        if p == "manifest.yaml" {
            assert_eq!(fb, &ex.fixture_manifest, "{p}: the fixture's");
            assert_eq!(
                pb,
                &std::fs::read(ex.tree.join(p)).unwrap(),
                "{p}: the tree's"
            );
        } else if name == "manifest.json" {
            assert_eq!(
                &replace_all(fb, &configs),
                pb,
                "{p}: only the config digest differs"
            );
        } else if p == "registry-config.inc.j2" {
            // The fixture's was written by build.sh's own generator: MetalK8s's blocks, other
            // blank lines. Same lines once the manifest digests are replaced.
            let lines = |b: &[u8]| -> Vec<String> {
                String::from_utf8(b.to_vec())
                    .unwrap()
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string)
                    .collect()
            };
            assert_eq!(
                lines(&replace_all(fb, &manifests)),
                lines(pb),
                "{p}: only manifest digests (and blank lines) differ"
            );
            assert_eq!(
                pb,
                &replace_all(&metalk8s_registry_config(), &manifests),
                "{p}: MetalK8s's generator's bytes, with the new manifest digests"
            );
        } else if configs.contains_key(name) {
            // Compared as JSON above.
        } else {
            assert_eq!(fb, pb, "{p}: bytes");
        }
    }

    // Through skopeo: the packed image directories read as the layouts' images, with the
    // manifests (and digests) skopeo's own conversion gives.
    for (n, tag) in REFS {
        let d = format!("dir:{}/images/{n}/{tag}", ex.dir.join("packed").display());
        let raw = ok("skopeo", &["inspect", "--raw", &d]).stdout;
        assert_eq!(
            Some(&raw),
            want[&format!("images/{n}/{tag}/manifest.json")].as_ref(),
            "{n}:{tag}: skopeo inspect --raw"
        );
        let insp: serde_json::Value =
            serde_json::from_slice(&ok("skopeo", &["inspect", &d]).stdout).unwrap();
        assert_eq!(insp["Digest"].as_str().unwrap(), digest(&raw), "{n}:{tag}");
        let layers_of = |r: &str| -> serde_json::Value {
            serde_json::from_slice::<serde_json::Value>(&ok("skopeo", &["inspect", r]).stdout)
                .unwrap()["Layers"]
                .clone()
        };
        assert_eq!(
            layers_of(&d),
            layers_of(&ex.oci(n, tag)),
            "{n}:{tag}: layers"
        );
        let fixture_dir = format!("dir:{}/images/{n}/{tag}", ex.dir.join("fixture").display());
        let cfg = |r: &str| -> serde_json::Value {
            serde_json::from_slice(&ok("skopeo", &["inspect", "--config", "--raw", r]).stdout)
                .unwrap()
        };
        assert_eq!(
            cfg(&d),
            cfg(&fixture_dir),
            "{n}:{tag}: config, as skopeo reads it"
        );
    }
}

// -----------------------------------------------------------------------------------------
// 2. Every reader reads the packed ISO
// -----------------------------------------------------------------------------------------

/// `isoinfo -f` in namespace `ns` (`-R`, `-J`): the paths, without the leading `/`.
fn isoinfo_find(iso: &Path, ns: &str) -> BTreeSet<String> {
    let out = ok("isoinfo", &["-i", s(iso), ns, "-f"]).stdout;
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| l.trim_start_matches('/').to_string())
        .collect()
}

/// The blobs under images/: hex -> the paths naming it.
fn blob_paths(t: &Tree) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (p, b) in t {
        if let (Some(rest), Some(_)) = (p.strip_prefix("images/"), b) {
            let name = rest.rsplit('/').next().unwrap();
            if name.len() == 64 {
                m.entry(name.to_string()).or_default().push(p.clone());
            }
        }
    }
    m
}

/// Blobs named by several paths are one extent; distinct blobs are distinct extents.
#[track_caller]
fn assert_one_extent_per_blob(want: &Tree, lba: &BTreeMap<String, u64>, reader: &str) {
    let blobs = blob_paths(want);
    assert!(
        blobs.values().any(|v| v.len() == 3),
        "the example should share its base layer between three tags"
    );
    let mut seen = BTreeMap::new();
    for (hex, ps) in &blobs {
        let l: BTreeSet<u64> = ps
            .iter()
            .map(|p| *lba.get(p).unwrap_or_else(|| panic!("{reader}: no {p}")))
            .collect();
        assert_eq!(
            l.len(),
            1,
            "{reader}: blob {hex} at several extents: {ps:?} {l:?}"
        );
        let l = *l.iter().next().unwrap();
        if let Some(other) = seen.insert(l, hex) {
            panic!("{reader}: blobs {hex} and {other} share extent {l}");
        }
    }
}

const PYCDLIB_WALK: &str = r#"
import hashlib, json, sys, pycdlib
iso = pycdlib.PyCdlib()
iso.open(sys.argv[1])
out = {}
for root, dirs, files in iso.walk(rr_path='/'):
    for d in dirs:
        out[(root.rstrip('/') + '/' + d)[1:]] = None
    for f in files:
        p = root.rstrip('/') + '/' + f
        h = hashlib.sha256()
        class W:
            def write(self, b):
                h.update(b)
        iso.get_file_from_iso_fp(W(), rr_path=p)
        out[p[1:]] = h.hexdigest()
iso.close()
print(json.dumps(out))
"#;

#[test]
fn every_reader_reads_the_packed_iso() {
    if !example_tools() {
        return;
    }
    let ex = example(true);
    let iso = ex.dir.join("X.iso");
    ex.pack(&iso);
    let want = expected(&ex);
    let want_paths = paths(&want);

    if tool("isoinfo") {
        // Rock Ridge names, modes, owners, sizes; shared blobs one extent.
        let long = isoinfo_long(&iso);
        assert_eq!(
            long.keys().cloned().collect::<BTreeSet<_>>(),
            want_paths,
            "isoinfo -R -l"
        );
        for (p, (mode, uid, gid, size, _)) in &long {
            match &want[p] {
                None => assert_eq!(mode, "drwxr-xr-x", "{p}"),
                Some(b) => {
                    assert_eq!(mode, "-rw-r--r--", "{p}");
                    assert_eq!(*size, b.len() as u64, "{p}: size");
                }
            }
            assert_eq!((uid.as_str(), gid.as_str()), ("0", "0"), "{p}: owner");
        }
        let lba: BTreeMap<String, u64> = long.iter().map(|(p, v)| (p.clone(), v.4)).collect();
        assert_one_extent_per_blob(&want, &lba, "isoinfo -R -l");
        assert_eq!(isoinfo_find(&iso, "-R"), want_paths, "isoinfo -R -f");
        // Joliet: the same names (64-hex blob names and the CRD file names are long).
        // (The `;1` iso-core's writer puts after Joliet file names, which genisoimage and
        // xorriso do not, is checked apart: `joliet_names_have_no_version_suffix`.)
        let joliet: BTreeSet<String> = isoinfo_find(&iso, "-J")
            .into_iter()
            .map(|p| p.strip_suffix(";1").map(str::to_string).unwrap_or(p))
            .collect();
        assert_eq!(joliet, want_paths, "isoinfo -J -f");
        // MetalK8s's own read of the manifest (primary names, no Rock Ridge).
        let m = ok("isoinfo", &["-i", s(&iso), "-x", "/MANIFEST.YAML;1"]).stdout;
        assert_eq!(
            m,
            std::fs::read(ex.tree.join("manifest.yaml")).unwrap(),
            "isoinfo -x '/MANIFEST.YAML;1'"
        );
        // Each file through Rock Ridge.
        for (p, b) in &want {
            if let Some(b) = b {
                let got = ok("isoinfo", &["-i", s(&iso), "-R", "-x", &format!("/{p}")]).stdout;
                assert_eq!(&got, b, "isoinfo -R -x /{p}");
            }
        }
    }

    if tool("bsdtar") {
        let listed: BTreeSet<String> = String::from_utf8(ok("bsdtar", &["-tf", s(&iso)]).stdout)
            .unwrap()
            .lines()
            .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
            .filter(|l| !l.is_empty() && l != ".")
            .collect();
        assert_eq!(listed, want_paths, "bsdtar -tf");
        assert_tree(
            &want,
            &bsdtar_tree(&iso, &ex.dir.join("bsdtar")),
            "bsdtar -xf",
        );
    }

    if tool("7zz") {
        let out = String::from_utf8(ok("7zz", &["l", "-slt", s(&iso)]).stdout).unwrap();
        let (_, entries) = out.split_once("\n----------\n").unwrap();
        let listed: BTreeSet<String> = entries
            .lines()
            .filter_map(|l| l.strip_prefix("Path = "))
            .map(str::to_string)
            .collect();
        assert_eq!(listed, want_paths, "7zz l -slt");
        let dest = ex.dir.join("7zz");
        ok(
            "7zz",
            &["x", "-y", &format!("-o{}", dest.display()), s(&iso)],
        );
        assert_tree(&want, &read_tree(&dest), "7zz x");
    }

    if tool("xorriso") {
        let out = ok(
            "xorriso",
            &["-indev", s(&iso), "-find", "/", "-exec", "lsdl"],
        )
        .stdout;
        let mut listed = BTreeSet::new();
        for l in String::from_utf8(out).unwrap().lines() {
            let Some(q) = l.find(" '/").filter(|_| l.starts_with(['-', 'd', 'l'])) else {
                continue;
            };
            let p = l[q + 3..].trim_end_matches('\'').to_string();
            let mode = l.split_whitespace().next().unwrap();
            if !p.is_empty() {
                let want_mode = if want[&p].is_some() {
                    "-rw-r--r--"
                } else {
                    "drwxr-xr-x"
                };
                assert_eq!(mode, want_mode, "xorriso: {p}");
            }
            listed.insert(p);
        }
        assert!(listed.remove(""), "xorriso lists the root");
        assert_eq!(listed, want_paths, "xorriso -find / -exec lsdl");
        let out = ok(
            "xorriso",
            &[
                "-indev",
                s(&iso),
                "-find",
                "/",
                "-type",
                "f",
                "-exec",
                "report_lba",
            ],
        )
        .stdout;
        let mut lba = BTreeMap::new();
        for l in String::from_utf8(out).unwrap().lines() {
            let Some(rest) = l.strip_prefix("File data lba:") else {
                continue;
            };
            let f: Vec<&str> = rest.splitn(5, ',').map(str::trim).collect();
            let p = f[4].trim_matches('\'').trim_start_matches('/').to_string();
            let size: u64 = f[3].parse().unwrap();
            assert_eq!(
                Some(size),
                want[&p].as_ref().map(|b| b.len() as u64),
                "xorriso: {p}"
            );
            lba.insert(p, f[1].parse::<u64>().unwrap());
        }
        assert_eq!(
            lba.keys().cloned().collect::<BTreeSet<_>>(),
            want.iter()
                .filter(|(_, b)| b.is_some())
                .map(|(p, _)| p.clone())
                .collect::<BTreeSet<_>>(),
            "xorriso report_lba: the files"
        );
        assert_one_extent_per_blob(&want, &lba, "xorriso report_lba");
        // xorriso's own check of the image (its -check_media reads every block).
        let out = cmd(
            "xorriso",
            &[
                "-abort_on",
                "FAILURE",
                "-indev",
                s(&iso),
                "-check_media",
                "--",
            ],
        );
        assert!(out.status.success(), "xorriso -check_media: {}", show(&out));
    }

    if tool("python3") {
        let out = cmd("python3", &["-c", PYCDLIB_WALK, s(&iso)]);
        if !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("No module named 'pycdlib'")
        {
            eprintln!("skipping: pycdlib is not installed");
        } else {
            assert!(out.status.success(), "pycdlib: {}", show(&out));
            let got: BTreeMap<String, Option<String>> =
                serde_json::from_slice(&out.stdout).unwrap();
            let want_h: BTreeMap<String, Option<String>> = want
                .iter()
                .map(|(p, b)| (p.clone(), b.as_deref().map(sha256_hex)))
                .collect();
            assert_eq!(
                got, want_h,
                "pycdlib walk(rr_path='/') and get_file_from_iso_fp"
            );
        }
    }

    // SHA256SUMS checks against the files as bsdtar extracts them (BSD-tagged lines).
    if tool("sha256sum") && tool("bsdtar") {
        let dest = ex.dir.join("sums");
        bsdtar_tree(&iso, &dest);
        let out = Command::new("sha256sum")
            .args(["--strict", "-c", "SHA256SUMS"])
            .current_dir(&dest)
            .output()
            .unwrap();
        assert!(out.status.success(), "sha256sum -c: {}", show(&out));
        let checked = String::from_utf8(out.stdout).unwrap().lines().count();
        let files = want.values().filter(|b| b.is_some()).count();
        assert_eq!(
            checked,
            files - 1,
            "sha256sum -c: every file but SHA256SUMS"
        );
    }
}

/// A blob changed in its layout: the one-line error says its cause once. Fails at the time of
/// writing: iso-core's `WriteError::Io` puts its `source` in its message and also returns it
/// from `source()`, so `isolution: {e:#}` prints "blob sha256:...: its bytes do not match
/// their sha256 (changed or corrupt)" twice on the line.
#[test]
fn altered_blob_error_says_its_cause_once() {
    if !example_tools() {
        return;
    }
    let ex = example(true);
    let bad = ex.dir.join("bad-layout");
    ok("cp", &["-a", s(&ex.layouts.join("base-server")), s(&bad)]);
    let m = manifest_of(&ex.skopeo_images(), "base-server", "1.0.2");
    let layer = m["layers"][0]["digest"].as_str().unwrap()[7..].to_string();
    let blob = bad.join("blobs/sha256").join(&layer);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[0] ^= 0x80;
    std::fs::write(&blob, &bytes).unwrap();
    let out = ex.dir.join("X.iso");
    let o = pack(&[
        s(&ex.tree),
        "-o",
        s(&out),
        "--image",
        &format!("base-server:1.0.2=oci:{}:1.0.2", bad.display()),
    ]);
    assert_one_line(&o, &[&layer], "altered blob");
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(
        err.matches("do not match").count(),
        1,
        "the cause twice: {err}"
    );
}

/// Joliet file names as genisoimage and xorriso write them, and as `isoinfo -J` lists them:
/// without the `;1` version, which only the primary tree's names carry (`MANIFEST.YAML;1`).
/// Fails with iso-core's writer at the time of writing (`iso-core/src/write/names.rs` gives
/// Joliet file names `;1`: `isoinfo -J -f` lists `/manifest.yaml;1`); 7-Zip and the Linux
/// kernel strip it, isoinfo and any reader that takes Joliet names as they are do not.
#[test]
fn joliet_names_have_no_version_suffix() {
    if !tools(&["skopeo", "isoinfo", "genisoimage", "bsdtar"]) {
        return;
    }
    let ex = example(true);
    let iso = ex.dir.join("X.iso");
    ex.pack(&iso);
    // The reference: genisoimage on the same files (as bsdtar extracts them).
    let files = ex.dir.join("files");
    let want = paths(&bsdtar_tree(&iso, &files));
    let g = ex.dir.join("genisoimage.iso");
    ok(
        "genisoimage",
        &["-quiet", "-R", "-J", "-joliet-long", "-o", s(&g), s(&files)],
    );
    assert_eq!(isoinfo_find(&g, "-J"), want, "genisoimage's Joliet names");
    let versioned: Vec<String> = isoinfo_find(&iso, "-J")
        .into_iter()
        .filter(|p| p.ends_with(";1"))
        .collect();
    assert!(
        versioned.is_empty(),
        "Joliet names with a version (genisoimage writes none): {versioned:?}"
    );
    assert_eq!(isoinfo_find(&iso, "-J"), want, "isoinfo -J -f");
}

// -----------------------------------------------------------------------------------------
// 3. Signing
// -----------------------------------------------------------------------------------------

/// `isoinfo -R -x /PATH` of the ISO into `dest/<name>`.
fn isoinfo_extract(iso: &Path, path: &str, dest: &Path) -> PathBuf {
    let out = ok("isoinfo", &["-i", s(iso), "-R", "-x", &format!("/{path}")]).stdout;
    assert!(!out.is_empty(), "{path}: empty");
    let p = dest.join(path);
    std::fs::write(&p, out).unwrap();
    p
}

/// `minisign -Vm SHA256SUMS -x SHA256SUMS.minisig -p PUB` on the files of the ISO; and
/// `isolution verify --key PUB ISO`.
#[track_caller]
fn assert_signed(iso: &Path, public: &Path, dir: &Path) {
    let x = dir.join("signed-files");
    let _ = std::fs::remove_dir_all(&x);
    std::fs::create_dir(&x).unwrap();
    let sums = isoinfo_extract(iso, "SHA256SUMS", &x);
    let sig = isoinfo_extract(iso, "SHA256SUMS.minisig", &x);
    let v = ok(
        "minisign",
        &["-V", "-m", s(&sums), "-x", s(&sig), "-p", s(public)],
    );
    let said = String::from_utf8_lossy(&v.stdout).to_string() + &String::from_utf8_lossy(&v.stderr);
    assert!(
        said.contains("Signature and comment signature verified"),
        "{said}"
    );
    assert!(
        said.contains(&format!("timestamp:{SDE}")),
        "trusted comment: {said}"
    );
    let v = cmd(BIN, &["verify", "--key", s(public), s(iso)]);
    assert_eq!(v.status.code(), Some(0), "isolution verify: {}", show(&v));
}

#[test]
fn signed_with_minisign_keys() {
    if !tools(&["skopeo", "minisign", "isoinfo"]) {
        return;
    }
    let ex = example(true);
    let d = &ex.dir;
    let (key, public) = (d.join("k.key"), d.join("k.pub"));
    ok(
        "minisign",
        &["-G", "-W", "-f", "-s", s(&key), "-p", s(&public)],
    );
    let iso = d.join("signed.iso");
    let summary = ex.pack_to(&ex.tree, &iso, &[0, 1, 2], &["--sign", s(&key)]);
    let key_id = String::from_utf8(std::fs::read(&public).unwrap())
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    assert!(
        summary.contains(&format!("signed by minisign key {key_id}")),
        "{summary}"
    );
    assert_signed(&iso, &public, d);
    let v = cmd(BIN, &["validate", "--strict", s(&iso)]);
    assert_eq!(v.status.code(), Some(0), "validate --strict: {}", show(&v));

    // Another key does not verify it (the checks above can fail).
    let (other, other_pub) = (d.join("o.key"), d.join("o.pub"));
    ok(
        "minisign",
        &["-G", "-W", "-f", "-s", s(&other), "-p", s(&other_pub)],
    );
    let v = cmd(BIN, &["verify", "--key", s(&other_pub), s(&iso)]);
    assert_ne!(
        v.status.code(),
        Some(0),
        "verify with another key: {}",
        show(&v)
    );

    // An encrypted key: `minisign -G` reads the password (twice) from stdin when it is not a
    // terminal (minisign 0.11).
    let (enc, enc_pub) = (d.join("e.key"), d.join("e.pub"));
    let mut child = Command::new("minisign")
        .args(["-G", "-f", "-s", s(&enc), "-p", s(&enc_pub)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\ncorrect horse\n")
        .unwrap();
    let g = child.wait_with_output().unwrap();
    let encrypted = g.status.success()
        && std::fs::read_to_string(&enc)
            .unwrap_or_default()
            .contains("encrypted secret key");
    if !encrypted {
        eprintln!(
            "skipping the encrypted key: minisign -G did not take its password from stdin: {}",
            show(&g)
        );
        return;
    }
    let pw = d.join("pw");
    std::fs::write(&pw, "correct horse\n").unwrap();
    let iso = d.join("enc.iso");
    ex.pack_to(
        &ex.tree,
        &iso,
        &[0, 1, 2],
        &["--sign", s(&enc), "--password-file", s(&pw)],
    );
    assert_signed(&iso, &enc_pub, d);

    // A wrong password, and no password: exit 2, one line, nothing written.
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("X.iso");
    let images = ex.image_args(&[0, 1, 2]);
    let mut base = vec![s(&ex.tree), "-o", s(&out)];
    base.extend(images.iter().map(String::as_str));
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    let mut args = base.clone();
    args.extend_from_slice(&["--sign", s(&enc), "--password-file", s(&pw)]);
    assert_one_line(&pack(&args), &["wrong password", "e.key"], "wrong password");
    assert_empty_dir(&out_dir, "wrong password");
    let mut args = base.clone();
    args.extend_from_slice(&["--sign", s(&enc)]);
    assert_one_line(
        &pack(&args),
        &["encrypted", "--password-file"],
        "no password",
    );
    assert_empty_dir(&out_dir, "no password");
}

// -----------------------------------------------------------------------------------------
// 4. Reproducible
// -----------------------------------------------------------------------------------------

/// A copy of `from` created in reverse order (the last path first), each file and directory
/// with its own mtime.
fn copy_reversed(from: &Tree, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for (p, b) in from.iter().rev() {
        let dest = to.join(p);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        match b {
            None => std::fs::create_dir_all(&dest).unwrap(),
            Some(b) => std::fs::write(&dest, b).unwrap(),
        }
    }
    for (i, p) in from.keys().rev().enumerate() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + 7919 * i as u64);
        std::fs::File::open(to.join(p))
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
}

#[test]
fn reproducible_whatever_the_order_and_times() {
    if !example_tools() {
        return;
    }
    let ex = example(true);
    let d = &ex.dir;
    let a = d.join("a.iso");
    ex.pack(&a);
    let a_bytes = std::fs::read(&a).unwrap();

    // Again, into another name.
    let b = d.join("b.iso");
    ex.pack(&b);
    assert!(a_bytes == std::fs::read(&b).unwrap(), "two runs differ");

    // The tree written in the other order, other times; the images in another order.
    let tree2 = d.join("tree-reversed");
    copy_reversed(&read_tree(&ex.tree), &tree2);
    let c = d.join("c.iso");
    ex.pack_to(&tree2, &c, &[0, 1, 2], &[]);
    assert!(
        a_bytes == std::fs::read(&c).unwrap(),
        "the tree's order and times changed the ISO"
    );
    let e = d.join("e.iso");
    ex.pack_to(&ex.tree, &e, &[2, 1, 0], &[]);
    assert!(
        a_bytes == std::fs::read(&e).unwrap(),
        "the order of --image changed the ISO"
    );
    let f = d.join("f.iso");
    ex.pack_to(&tree2, &f, &[1, 2, 0], &[]);
    assert!(
        a_bytes == std::fs::read(&f).unwrap(),
        "reversed tree, images 1 2 0"
    );

    // SOURCE_DATE_EPOCH is used: another one gives other bytes (so the checks above can
    // fail), with the new time in Rock Ridge.
    let g = d.join("g.iso");
    let images = ex.image_args(&[0, 1, 2]);
    let mut args = vec![s(&ex.tree), "-o", s(&g)];
    args.extend(images.iter().map(String::as_str));
    let o = Command::new(BIN)
        .arg("pack")
        .arg("-q")
        .args(&args)
        .env("SOURCE_DATE_EPOCH", "1800000000")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        a_bytes != std::fs::read(&g).unwrap(),
        "SOURCE_DATE_EPOCH ignored"
    );
    if tool("isoinfo") {
        // 1800000000 is 2027-01-15T08:00:00Z.
        let l = isoinfo_long(&g);
        let out = String::from_utf8(ok("isoinfo", &["-i", s(&g), "-R", "-l"]).stdout).unwrap();
        assert!(!l.is_empty());
        assert!(
            out.lines()
                .filter(|l| l.contains("]  ") && !l.ends_with(" . ") && !l.ends_with(" .. "))
                .all(|l| l.contains("Jan 15 2027")),
            "times not from SOURCE_DATE_EPOCH:\n{out}"
        );
    }
}

// -----------------------------------------------------------------------------------------
// 5. Sources: oci-archive, docker-archive, dir
// -----------------------------------------------------------------------------------------

#[test]
fn image_sources() {
    if !tools(&["skopeo", "bsdtar"]) {
        return;
    }
    let ex = example(true);
    let d = &ex.dir;
    let reference = d.join("ref.iso");
    ex.pack(&reference);
    let reference_bytes = std::fs::read(&reference).unwrap();
    let others = ex.image_args(&[1, 2]);
    let pack_with = |image: &str, out: &Path| -> String {
        let mut args = vec![s(&ex.tree), "-o", s(out), "--image", image];
        args.extend(others.iter().map(String::as_str));
        let o = pack(&args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "pack --image {image}: {}",
            show(&o)
        );
        String::from_utf8(o.stdout).unwrap()
    };

    // oci-archive: the same image, so the same ISO, byte for byte.
    let oa = d.join("base.oci.tar");
    skopeo_copy(&[
        &ex.oci("base-server", "1.0.2"),
        &format!("oci-archive:{}:1.0.2", oa.display()),
    ]);
    let iso = d.join("oa.iso");
    pack_with(
        &format!("base-server:1.0.2=oci-archive:{}:1.0.2", oa.display()),
        &iso,
    );
    assert!(
        std::fs::read(&iso).unwrap() == reference_bytes,
        "oci-archive: not the ISO the oci: layout gives"
    );

    // dir: a skopeo v2s2 copy is kept byte for byte (not converted): again the same ISO.
    let v2 = d.join("base-v2s2");
    skopeo_copy(&[
        "--format",
        "v2s2",
        &ex.oci("base-server", "1.0.2"),
        &format!("dir:{}", v2.display()),
    ]);
    let iso = d.join("dir.iso");
    let summary = pack_with(&format!("base-server:1.0.2=dir:{}", v2.display()), &iso);
    let m = std::fs::read(v2.join("manifest.json")).unwrap();
    assert!(
        summary
            .lines()
            .any(|l| l == format!("base-server:1.0.2 {}", digest(&m))),
        "dir: reported as converted, or another digest:\n{summary}"
    );
    assert!(
        std::fs::read(&iso).unwrap() == reference_bytes,
        "dir: not the ISO the oci: layout gives"
    );
    // ... and the fixture's own v2s2 directory (the genisoimage pipeline's) keeps its digest.
    let fixture_dir = ex.fixture_images.join("base-server/1.0.2");
    let iso = d.join("fixture-dir.iso");
    pack_with(
        &format!("base-server:1.0.2=dir:{}", fixture_dir.display()),
        &iso,
    );
    let t = bsdtar_tree(&iso, &d.join("fixture-dir"));
    for (f, b) in read_tree(&fixture_dir) {
        assert_eq!(
            t[&format!("images/base-server/1.0.2/{f}")],
            b,
            "dir: of the fixture: {f}"
        );
    }

    // docker-archive: uncompressed layers, labelled as such; the name and tag from the
    // archive's RepoTags.
    let da = d.join("base.docker.tar");
    skopeo_copy(&[
        &ex.oci("base-server", "1.0.2"),
        &format!("docker-archive:{}:example/base-server:1.0.2", da.display()),
    ]);
    let iso = d.join("da.iso");
    let summary = pack_with(&format!("docker-archive:{}", da.display()), &iso);
    let t = bsdtar_tree(&iso, &d.join("da"));
    let m: serde_json::Value = serde_json::from_slice(
        t["images/base-server/1.0.2/manifest.json"]
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    let raw = t["images/base-server/1.0.2/manifest.json"].clone().unwrap();
    assert!(
        summary
            .lines()
            .any(|l| l == format!("base-server:1.0.2 {}", digest(&raw))),
        "docker-archive: the name, tag and digest:\n{summary}"
    );
    assert_eq!(
        m["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    // The layers are the archive's layer tars, by their own sha256.
    let ax = d.join("da-x");
    std::fs::create_dir(&ax).unwrap();
    ok("bsdtar", &["-xf", s(&da), "-C", s(&ax)]);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ax.join("manifest.json")).unwrap()).unwrap();
    let layer_files = saved[0]["Layers"].as_array().unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), layer_files.len());
    assert_eq!(layers.len(), 2);
    for (l, f) in layers.iter().zip(layer_files) {
        let bytes = std::fs::read(ax.join(f.as_str().unwrap())).unwrap();
        assert_eq!(l["digest"].as_str().unwrap(), digest(&bytes), "layer {f}");
        assert_eq!(l["size"].as_u64(), Some(bytes.len() as u64), "layer {f}");
        assert_eq!(
            l["mediaType"], "application/vnd.docker.image.rootfs.diff.tar",
            "layer {f}"
        );
        assert!(
            bytes.len() > 512 && bytes[257..262] == *b"ustar",
            "{f}: not a tar"
        );
    }
    let config = std::fs::read(ax.join(saved[0]["Config"].as_str().unwrap())).unwrap();
    assert_eq!(m["config"]["digest"].as_str().unwrap(), digest(&config));
    // skopeo accepts what was written: it copies the directory (checking every digest) into
    // an OCI layout, and the layers it stores there are the archive's.
    let packed_dir = d.join("da/images/base-server/1.0.2");
    let l2 = d.join("from-docker-archive");
    skopeo_copy(&[
        &format!("dir:{}", packed_dir.display()),
        &format!("oci:{}:x", l2.display()),
    ]);
    // (skopeo gzips uncompressed layers for an oci: destination: the image's diff_ids are
    // still the archive's layer tars.)
    let cfg: serde_json::Value = serde_json::from_slice(
        &ok(
            "skopeo",
            &[
                "inspect",
                "--config",
                "--raw",
                &format!("oci:{}:x", l2.display()),
            ],
        )
        .stdout,
    )
    .unwrap();
    let want_layers: Vec<serde_json::Value> = layers.iter().map(|l| l["digest"].clone()).collect();
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap(), &want_layers);
    // And a dir: copy (which keeps layers as they are, each digest checked) is what we wrote.
    let y = d.join("da-dir-copy");
    skopeo_copy(&[
        &format!("dir:{}", packed_dir.display()),
        &format!("dir:{}", y.display()),
    ]);
    let mut want_dir = read_tree(&packed_dir);
    let got_dir = read_tree(&y);
    want_dir.insert("version".into(), got_dir.get("version").cloned().flatten());
    assert_tree(
        &want_dir,
        &got_dir,
        "skopeo copy dir: dir: of the docker-archive image",
    );
    let v = cmd(BIN, &["validate", s(&iso)]);
    assert_eq!(v.status.code(), Some(0), "validate: {}", show(&v));
}

// -----------------------------------------------------------------------------------------
// 6. Refusals
// -----------------------------------------------------------------------------------------

#[test]
fn refusals_leave_nothing_behind() {
    if !example_tools() {
        return;
    }
    let ex = example(true);
    let d = &ex.dir;
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("X.iso");
    let good = ex.image_args(&[0, 1, 2]);
    let refuse =
        |tree: Option<&Path>, images: &[String], extra: &[&str], needles: &[&str], what: &str| {
            let mut args: Vec<&str> = tree.map(s).into_iter().collect();
            args.extend_from_slice(&["-o", s(&out)]);
            args.extend(images.iter().map(String::as_str));
            args.extend_from_slice(extra);
            assert_one_line(&pack(&args), needles, what);
            assert_empty_dir(&out_dir, what);
        };

    // No manifest.yaml and no --name; a manifest.yaml and --name.
    let bare = d.join("bare");
    copy_reversed(&read_tree(&ex.tree), &bare);
    std::fs::remove_file(bare.join("manifest.yaml")).unwrap();
    refuse(
        Some(&bare),
        &good,
        &[],
        &["no manifest.yaml", "--name"],
        "no manifest",
    );
    refuse(
        Some(&ex.tree),
        &good,
        &["--name", "example-solution", "--version", "1.0.2"],
        &["has a manifest.yaml", "--name"],
        "manifest.yaml and --name",
    );

    // A blob changed in place (same size, one byte): found while it is copied; the error
    // names the blob, and the partial output is removed.
    let bad = d.join("bad-layout");
    ok("cp", &["-a", s(&ex.layouts.join("base-server")), s(&bad)]);
    let m = manifest_of(&ex.skopeo_images(), "base-server", "1.0.2");
    let layer = m["layers"][1]["digest"].as_str().unwrap()[7..].to_string();
    let blob = bad.join("blobs/sha256").join(&layer);
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&blob, &bytes).unwrap();
    // Both base-server tags from the altered layout (the blob is stored once, from the first).
    let mut images = ex.image_args(&[2]);
    for tag in ["1.0.2", "latest"] {
        images.extend([
            "--image".to_string(),
            format!("base-server:{tag}=oci:{}:{tag}", bad.display()),
        ]);
    }
    refuse(
        Some(&ex.tree),
        &images,
        &[],
        &[&layer, "do not match"],
        "altered blob",
    );

    // A zstd layer (skopeo 1.9 writes one with --dest-compress-format zstd).
    let z = d.join("zstd");
    skopeo_copy(&[
        "--dest-compress",
        "--dest-compress-format",
        "zstd",
        &ex.oci("base-server", "1.0.2"),
        &format!("oci:{}:1.0.2", z.display()),
    ]);
    let mut images = ex.image_args(&[1, 2]);
    images.extend([
        "--image".to_string(),
        format!("base-server:1.0.2=oci:{}:1.0.2", z.display()),
    ]);
    refuse(
        Some(&ex.tree),
        &images,
        &[],
        &["zstd", "gzip"],
        "zstd layer",
    );

    // A symbolic link in the source tree.
    let linked = d.join("linked");
    copy_reversed(&read_tree(&ex.tree), &linked);
    std::os::unix::fs::symlink("role.yaml", linked.join("operator/deploy/link.yaml")).unwrap();
    refuse(Some(&linked), &good, &[], &["link.yaml"], "symlink");

    // A layout that is not there: the path and the cause, said once.
    let mut images = ex.image_args(&[1, 2]);
    let missing = d.join("no-such-layout");
    images.extend([
        "--image".to_string(),
        format!("base-server:1.0.2=oci:{}:1.0.2", missing.display()),
    ]);
    refuse(
        Some(&ex.tree),
        &images,
        &[],
        &["no-such-layout", "No such file"],
        "missing layout",
    );
    let mut args = vec![s(&ex.tree), "-o", s(&out)];
    args.extend(images.iter().map(String::as_str));
    let err = String::from_utf8(pack(&args).stderr).unwrap();
    assert_eq!(
        err.matches("No such file").count(),
        1,
        "the cause twice: {err}"
    );

    // The same NAME:TAG twice.
    let mut images = good.clone();
    images.extend([
        "--image".to_string(),
        format!("base-server:1.0.2={}", ex.oci("base-server", "latest")),
    ]);
    refuse(
        Some(&ex.tree),
        &images,
        &[],
        &["base-server/1.0.2", "twice"],
        "twice",
    );

    // An unknown transport; a docker:// registry that is not there (the error names the
    // reference and the cause; `tests/pack_remote.rs` packs from a real registry).
    let mut images = good.clone();
    images.extend(["--image".to_string(), "extra:1=ftp:somewhere".to_string()]);
    refuse(
        Some(&ex.tree),
        &images,
        &[],
        &["unknown transport", "ftp"],
        "transport",
    );
    let mut images = good.clone();
    images.extend([
        "--image".to_string(),
        "docker://127.0.0.1:1/extra:1".to_string(),
    ]);
    refuse(
        Some(&ex.tree),
        &images,
        &[],
        &["docker://127.0.0.1:1/extra:1", "connection refused"],
        "docker://",
    );

    // And the output's directory still takes a good run.
    ex.pack_to(&ex.tree, &out, &[0, 1, 2], &[]);
    assert!(out.is_file());
}
