//! The Solution fixtures of `tests/solutions/` (built by `tests/solutions/build.sh` the way
//! MetalK8s's example is built: skopeo `dir:` copies, `hardlink -c`, genisoimage with the
//! documented flags) give exactly the findings their `expected/*.findings` files list, and
//! the `solutions.yaml` set gives its `.expected` findings.

use std::path::PathBuf;

use iso_core::solution::{self, Finding, Severity, Solution, ValidateOptions};
use iso_core::{Image, IsoFile};
use isolution_tests::{registry_config, repo_dir};

fn dir() -> PathBuf {
    repo_dir().join("tests/solutions")
}

fn lines(p: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn render(f: &Finding, with_message: bool) -> String {
    if with_message || f.severity == Severity::Info {
        format!("{}\t{}\t{}\t{}", f.severity, f.rule, f.path, f.message)
    } else {
        format!("{}\t{}\t{}", f.severity, f.rule, f.path)
    }
}

#[test]
fn every_archive_gives_exactly_its_expected_findings() {
    let mut isos: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "iso"))
        .collect();
    isos.sort();
    assert!(
        isos.len() >= 30,
        "Solution fixtures missing: {}",
        isos.len()
    );
    let mut failures = Vec::new();
    for iso in &isos {
        let stem = iso.file_stem().unwrap().to_string_lossy().to_string();
        let file = IsoFile::open(iso).unwrap();
        let image = Image::parse(file.bytes()).unwrap();
        let report = solution::validate(&image, ValidateOptions::default()).unwrap();
        let mut got: Vec<String> = report.findings.iter().map(|f| render(f, false)).collect();
        got.sort();
        let want = lines(&dir().join("expected").join(format!("{stem}.findings")));
        if got != want {
            let detail: Vec<String> = report.findings.iter().map(|f| render(f, true)).collect();
            failures.push(format!(
                "{stem}:\n  got:  {got:?}\n  want: {want:?}\n  findings:\n    {}",
                detail.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_example_inspects_as_metalk8s_sees_it() {
    let file = IsoFile::open(dir().join("example-solution-1.0.2.iso")).unwrap();
    let image = Image::parse(file.bytes()).unwrap();
    let s = Solution::load(&image).unwrap();
    let m = s.manifest.as_ref().unwrap();
    assert_eq!(m.name.as_deref(), Some("example-solution"));
    assert_eq!(m.version.as_deref(), Some("1.0.2"));
    assert_eq!(m.display_name.as_deref(), Some("Example Solution"));
    assert_eq!(s.id().as_deref(), Some("example-solution-1.0.2"));
    assert_eq!(
        m.operator_image,
        ("example-solution-operator".to_string(), "1.0.2".to_string())
    );
    let tags: Vec<String> = s
        .images
        .iter()
        .map(|i| format!("{}:{}", i.name, i.tag))
        .collect();
    assert_eq!(
        tags,
        [
            "base-server:1.0.2",
            "base-server:latest",
            "example-solution-operator:1.0.2"
        ]
    );
    // Digests, media types and descriptors as the build recorded them (from skopeo's output).
    let got: Vec<String> = s
        .images
        .iter()
        .map(|i| {
            let blobs: Vec<&str> = i
                .config()
                .into_iter()
                .chain(i.layers())
                .map(|b| b.digest.as_ref())
                .collect();
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                i.name,
                i.tag,
                i.manifest_digest_str(),
                i.media_type,
                i.manifest_size,
                blobs.join(",")
            )
        })
        .collect();
    assert_eq!(
        got,
        lines(&dir().join("expected/example-solution-1.0.2.images.tsv"))
    );
    // The two base-server tags are hard links: same manifest digest, blobs hashed once.
    assert_eq!(s.images[0].manifest_digest, s.images[1].manifest_digest);
    let distinct = s.verify_digests(2).hashed_blobs;
    let referenced: std::collections::BTreeSet<&str> = s
        .images
        .iter()
        .flat_map(|i| i.config().into_iter().chain(i.layers()))
        .map(|b| b.digest.as_ref())
        .collect();
    assert_eq!(
        distinct,
        referenced.len(),
        "hard-linked blobs are hashed once"
    );
    assert_eq!(s.operator.crds.len(), 2);
    assert!(s.operator.role_names().all(|(k, _)| k == "Role"));
    // The registry config we regenerate is the one in the archive, block for block.
    let e = image.lookup(s.namespace, "registry-config.inc.j2").unwrap();
    let shipped = String::from_utf8(image.contents(&e).unwrap().to_vec()).unwrap();
    assert_eq!(
        registry_config::lines(&s.registry_config()),
        registry_config::lines(&shipped)
    );
}

#[test]
fn solutions_yaml_set() {
    let cfg_dir = dir().join("config");
    let mut yamls: Vec<PathBuf> = std::fs::read_dir(&cfg_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    yamls.sort();
    assert!(yamls.len() >= 8);
    let abs = dir().canonicalize().unwrap();
    let mut failures = Vec::new();
    for y in &yamls {
        let text = std::fs::read_to_string(y)
            .unwrap()
            .replace("@FIXTURES@", &abs.to_string_lossy());
        let report = solution::check_config(
            text.as_bytes(),
            ValidateOptions {
                digests: false,
                threads: 0,
            },
        );
        let mut got: Vec<String> = report.findings.iter().map(|f| render(f, false)).collect();
        got.sort();
        let want = lines(&y.with_extension("expected"));
        if got != want {
            let detail: Vec<String> = report.findings.iter().map(|f| render(f, true)).collect();
            failures.push(format!(
                "{}:\n  got:  {got:?}\n  want: {want:?}\n  findings:\n    {}",
                y.display(),
                detail.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A list that names the same per-platform manifest more than once is an
/// `image.manifest-invalid` (each manifest is read once, so the repeats cost nothing), and
/// the list is not given platforms it does not have. Built with bsdtar (to unpack the
/// multi-platform fixture) and genisoimage.
#[test]
fn a_list_naming_a_manifest_twice_is_refused() {
    if !isolution_tests::tools(&["bsdtar", "genisoimage"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let st = std::process::Command::new("bsdtar")
        .arg("-xf")
        .arg(dir().join("example-solution-1.0.2-multiarch.iso"))
        .arg("-C")
        .arg(&tree)
        .status()
        .unwrap();
    assert!(st.success());
    let list_path = tree.join("images/base-server/1.0.2-oci/manifest.json");
    let list = std::fs::read_to_string(&list_path).unwrap();
    let (head, rest) = list.split_once("\"manifests\":[").unwrap();
    let (entries, tail) = rest.split_once("],\"mediaType\"").unwrap();
    let repeated = [entries; 1000].join(",");
    let _ = std::fs::remove_file(&list_path); // hard-linked: a new file, not an edit
    std::fs::write(
        &list_path,
        format!("{head}\"manifests\":[{repeated}],\"mediaType\"{tail}"),
    )
    .unwrap();
    let iso = tmp.path().join("dup.iso");
    let st = std::process::Command::new("genisoimage")
        .args(["-quiet", "-R", "-J", "-joliet-long", "-o"])
        .arg(&iso)
        .arg(&tree)
        .status()
        .unwrap();
    assert!(st.success());
    let file = IsoFile::open(&iso).unwrap();
    let image = Image::parse(file.bytes()).unwrap();
    let s = Solution::load(&image).unwrap();
    let dup: Vec<&Finding> = s
        .findings()
        .iter()
        .filter(|f| f.rule == solution::Rule::ImageManifestInvalid)
        .collect();
    assert_eq!(dup.len(), 2, "one finding per repeated digest");
    assert!(dup
        .iter()
        .all(|f| f.path == "images/base-server/1.0.2-oci/manifest.json"
            && f.message.contains("more than once")));
    let img = s.images.iter().find(|i| i.tag == "1.0.2-oci").unwrap();
    assert_eq!(img.children().len(), 2000);
    assert_eq!(img.platforms().len(), 2, "each distinct manifest read once");
}
