//! `manifest.yaml` and the operator files (`operator/deploy/crds/`, `role.yaml`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_yaml::Value;

use super::{read_capped, Finding};
use crate::iso9660::{EntryKind, Image, Namespace};

/// The only apiVersion MetalK8s accepts.
pub const API_VERSION: &str = "solutions.metalk8s.scality.com/v1alpha1";
/// The display-name annotation.
pub const DISPLAY_NAME: &str = "solutions.metalk8s.scality.com/display-name";

/// A parsed `manifest.yaml`, with the defaults MetalK8s applies.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Manifest {
    /// `apiVersion`.
    pub api_version: Option<String>,
    /// `kind`.
    pub kind: Option<String>,
    /// `metadata.name`.
    pub name: Option<String>,
    /// `spec.version` (a string; other YAML types are a finding).
    pub version: Option<String>,
    /// Display name: `metadata.annotations[display-name]`, else the top-level
    /// `annotations[display-name]` MetalK8s's code reads, else the name.
    pub display_name: Option<String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `spec.images`, as written (strings; other values rendered as YAML).
    pub images: Vec<String>,
    /// `spec.images` was present (else MetalK8s lists the `images/` tree).
    pub images_declared: bool,
    /// `spec.operator.image` (name, tag), defaulting to `<name>-operator:<version>`.
    pub operator_image: (String, String),
    /// `spec.operator.image` was present.
    pub operator_image_declared: bool,
    /// `spec.operator.metrics.enabled`.
    pub metrics_enabled: Option<bool>,
    /// Keys MetalK8s does not know, as dotted paths (kept, reported).
    pub unknown_keys: Vec<String>,
    /// The whole document, as parsed.
    #[serde(skip)]
    pub raw: Value,
}

const MANIFEST: &str = "manifest.yaml";

fn str_of(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(Value::Mapping(map)) = v {
        for (k, v) in map {
            if let Some(k) = k.as_str() {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                m.insert(k.to_string(), v);
            }
        }
    }
    m
}

fn unknown(v: &Value, prefix: &str, known: &[&str], out: &mut Vec<String>) {
    if let Value::Mapping(map) = v {
        for k in map.keys() {
            let k = k.as_str().map_or_else(|| format!("{k:?}"), str::to_string);
            if !known.contains(&k.as_str()) {
                out.push(if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                });
            }
        }
    }
}

/// Parses manifest bytes; every problem becomes a finding.
pub fn parse(bytes: &[u8], findings: &mut Vec<Finding>) -> Option<Manifest> {
    let doc: Value = match serde_yaml::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            findings.push(Finding::new(
                "manifest.yaml-invalid",
                MANIFEST,
                format!("not valid YAML: {e}"),
            ));
            return None;
        }
    };
    if !doc.is_mapping() {
        findings.push(Finding::new(
            "manifest.yaml-invalid",
            MANIFEST,
            "the document is not a mapping",
        ));
        return None;
    }
    let mut m = Manifest {
        api_version: str_of(doc.get("apiVersion")),
        kind: str_of(doc.get("kind")),
        ..Default::default()
    };
    if m.kind.as_deref() != Some("Solution") {
        findings.push(Finding::new(
            "manifest.kind",
            MANIFEST,
            format!(
                "kind is {:?}, must be \"Solution\"",
                m.kind.as_deref().unwrap_or("")
            ),
        ));
    }
    if m.api_version.as_deref() != Some(API_VERSION) {
        findings.push(Finding::new(
            "manifest.api-version",
            MANIFEST,
            format!(
                "apiVersion is {:?}, must be {API_VERSION:?}",
                m.api_version.as_deref().unwrap_or("")
            ),
        ));
    }
    let meta = doc.get("metadata");
    m.name = str_of(meta.and_then(|x| x.get("name")));
    m.annotations = string_map(meta.and_then(|x| x.get("annotations")));
    m.labels = string_map(meta.and_then(|x| x.get("labels")));
    let spec = doc.get("spec");
    match spec.and_then(|s| s.get("version")) {
        None | Some(Value::Null) => findings.push(Finding::new(
            "manifest.version-missing",
            MANIFEST,
            "spec.version is missing: MetalK8s refuses the archive",
        )),
        Some(Value::String(v)) => m.version = Some(v.clone()),
        Some(other) => findings.push(Finding::new(
            "manifest.version-not-string",
            MANIFEST,
            format!(
                "spec.version is {} (a {}), not a string: quote it",
                serde_yaml::to_string(other).unwrap_or_default().trim(),
                match other {
                    Value::Number(_) => "number",
                    Value::Bool(_) => "boolean",
                    _ => "structure",
                }
            ),
        )),
    }
    match &m.name {
        None => findings.push(Finding::new(
            "manifest.name-missing",
            MANIFEST,
            "metadata.name is missing: MetalK8s refuses the archive",
        )),
        Some(n) => check_name(n, m.version.as_deref(), findings),
    }
    let top_display = doc
        .get("annotations")
        .and_then(|a| a.get(DISPLAY_NAME))
        .and_then(Value::as_str)
        .map(str::to_string);
    m.display_name = m
        .annotations
        .get(DISPLAY_NAME)
        .cloned()
        .or_else(|| top_display.clone())
        .or_else(|| m.name.clone());
    if top_display.is_some() && !m.annotations.contains_key(DISPLAY_NAME) {
        findings.push(Finding::new(
            "manifest.display-name-toplevel",
            MANIFEST,
            "the display name is only in a top-level annotations key: put it in metadata.annotations too",
        ));
    }
    if let Some(Value::Sequence(list)) = spec.and_then(|s| s.get("images")) {
        m.images_declared = true;
        m.images = list
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            })
            .collect();
    }
    let op = spec.and_then(|s| s.get("operator"));
    let op_image = op.and_then(|o| o.get("image"));
    let name = m.name.clone().unwrap_or_default();
    let version = m.version.clone().unwrap_or_default();
    m.operator_image_declared = op_image.is_some();
    m.operator_image = (
        str_of(op_image.and_then(|i| i.get("name"))).unwrap_or_else(|| format!("{name}-operator")),
        str_of(op_image.and_then(|i| i.get("tag"))).unwrap_or(version),
    );
    m.metrics_enabled = op
        .and_then(|o| o.get("metrics"))
        .and_then(|x| x.get("enabled"))
        .and_then(Value::as_bool);
    let mut unk = Vec::new();
    unknown(
        &doc,
        "",
        &["apiVersion", "kind", "metadata", "spec", "annotations"],
        &mut unk,
    );
    if let Some(meta) = meta {
        unknown(
            meta,
            "metadata",
            &["name", "annotations", "labels"],
            &mut unk,
        );
    }
    if let Some(spec) = spec {
        unknown(
            spec,
            "spec",
            &["version", "images", "operator", "ui", "customApiGroups"],
            &mut unk,
        );
    }
    if let Some(op) = op {
        unknown(op, "spec.operator", &["image", "metrics"], &mut unk);
    }
    for k in &unk {
        findings.push(Finding::new(
            "manifest.unknown-key",
            MANIFEST,
            format!("unknown key {k} (kept; MetalK8s ignores it)"),
        ));
    }
    m.unknown_keys = unk;
    m.raw = doc;
    Some(m)
}

/// `^(?!-)[0-9a-z-]{1,63}(?<!-)$`, the regex MetalK8s applies to `metadata.name`.
pub fn is_dns_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || c == b'-')
}

fn check_name(name: &str, version: Option<&str>, findings: &mut Vec<Finding>) {
    if !is_dns_label(name) {
        findings.push(Finding::new(
            "manifest.name-invalid",
            MANIFEST,
            format!("metadata.name {name:?} is not a DNS-1123 label (lowercase letters, digits and '-', 1 to 63, no '-' at either end)"),
        ));
        return;
    }
    if name.starts_with("metalk8s-") {
        findings.push(Finding::new(
            "manifest.name-metalk8s-prefix",
            MANIFEST,
            format!("metadata.name {name:?} starts with metalk8s-: MetalK8s takes such mounts for its own ISOs and never lists the Solution"),
        ));
    }
    if name.len() > 54 {
        findings.push(Finding::new(
            "manifest.name-too-long",
            MANIFEST,
            format!(
                "metadata.name is {} characters: the label app={name}-operator exceeds 63",
                name.len()
            ),
        ));
    }
    if let Some(v) = version {
        let id = format!("{name}-{v}");
        if !v
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || c == b'-' || c == b'.')
            || v.is_empty()
            || v.ends_with(['-', '.'])
        {
            findings.push(Finding::new(
                "manifest.id-not-dns-safe",
                MANIFEST,
                format!("the id {id:?} is not DNS-label safe: spec.version should use only [a-z0-9.-] (MetalK8s derives volume names and registry paths from it)"),
            ));
        }
        if id.len() > 53 {
            findings.push(Finding::new(
                "manifest.id-too-long",
                MANIFEST,
                format!(
                    "the id {id:?} is {} characters: the volume name registry-<id> exceeds 63",
                    id.len()
                ),
            ));
        }
    }
}

/// Reads the manifest as MetalK8s does: `MANIFEST.YAML;1` from the primary root, and checks
/// the Rock Ridge `manifest.yaml` read after mounting.
pub fn load(
    image: &Image<'_>,
    ns: Namespace,
    findings: &mut Vec<Finding>,
) -> crate::Result<Option<Manifest>> {
    let primary = image
        .lookup(Namespace::Primary, "MANIFEST.YAML;1")
        .ok()
        .filter(|e| e.is_file() && e.identifier() == b"MANIFEST.YAML;1");
    let tree = image.lookup(ns, MANIFEST).ok().filter(|e| e.is_file());
    if primary.is_none() {
        findings.push(Finding::new(
            "manifest.missing-primary",
            MANIFEST,
            "no MANIFEST.YAML;1 in the primary ISO 9660 root: MetalK8s reads it with isoinfo -x /MANIFEST.YAML;1 (master with -l and -iso-level 3)",
        ));
    }
    if tree.is_none() && ns != Namespace::Primary {
        findings.push(Finding::new(
            "manifest.missing-rr",
            MANIFEST,
            format!("no manifest.yaml in the {ns} root, which MetalK8s reads after mounting"),
        ));
    }
    let Some(entry) = primary.or(tree) else {
        if image.lookup(Namespace::Primary, "PRODUCT.TXT;1").is_ok() {
            findings.push(Finding::new(
                "manifest.legacy-format",
                "product.txt",
                "a legacy product.txt archive (MetalK8s 2.4 to 2.5.0): current MetalK8s needs manifest.yaml",
            ));
        }
        return Ok(None);
    };
    let Some(bytes) = read_capped(image, &entry, MANIFEST, findings)? else {
        return Ok(None);
    };
    Ok(parse(&bytes, findings))
}

/// Parses a multi-document YAML stream into its documents (stopping at the first error).
pub(crate) fn documents(bytes: &[u8]) -> Result<Vec<Value>, serde_yaml::Error> {
    let mut docs = Vec::new();
    for d in serde_yaml::Deserializer::from_slice(bytes) {
        let v = serde::Deserialize::deserialize(d)?;
        if v != Value::Null {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// CRD paths, and (kind, name) of each `role.yaml` document.
pub(crate) type OperatorFiles = (Vec<String>, Vec<(String, String)>);

/// Reads `operator/deploy/crds/**` and `operator/deploy/role.yaml`.
pub fn operator_files(
    image: &Image<'_>,
    ns: Namespace,
    findings: &mut Vec<Finding>,
) -> crate::Result<OperatorFiles> {
    let mut crds = Vec::new();
    if let Ok(dir) = image.lookup(ns, "operator/deploy/crds") {
        if dir.is_dir() {
            let base = "operator/deploy/crds";
            for item in image.walk_from(&dir, base)? {
                let item = item?;
                if item.entry.kind() != EntryKind::File {
                    continue;
                }
                let path = item.path.clone();
                if !path.ends_with("_crd.yaml") {
                    findings.push(Finding::new(
                        "operator.crd-name",
                        &path,
                        "not named *_crd.yaml: MetalK8s does not apply it",
                    ));
                    continue;
                }
                crds.push(path.clone());
                let Some(bytes) = read_capped(image, &item.entry, &path, findings)? else {
                    continue;
                };
                match documents(&bytes) {
                    Err(e) => findings.push(Finding::new(
                        "operator.crd-kind",
                        &path,
                        format!("not valid YAML: {e}"),
                    )),
                    Ok(docs) => {
                        if docs.len() > 1 {
                            findings.push(Finding::new(
                                "operator.crd-multi-doc",
                                &path,
                                format!("{} YAML documents: keep one CRD per file", docs.len()),
                            ));
                        }
                        for d in &docs {
                            let kind = d.get("kind").and_then(Value::as_str).unwrap_or("");
                            if kind != "CustomResourceDefinition" {
                                findings.push(Finding::new(
                                    "operator.crd-kind",
                                    &path,
                                    format!("holds a {kind:?}, not a CustomResourceDefinition"),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    let mut roles = Vec::new();
    let role_path = "operator/deploy/role.yaml";
    if let Ok(e) = image.lookup(ns, role_path) {
        if e.is_file() {
            if let Some(bytes) = read_capped(image, &e, role_path, findings)? {
                match documents(&bytes) {
                    Err(err) => findings.push(Finding::new(
                        "operator.role-invalid",
                        role_path,
                        format!("not valid YAML: {err}"),
                    )),
                    Ok(docs) => {
                        for d in docs {
                            let kind = d
                                .get("kind")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string();
                            let name = d
                                .get("metadata")
                                .and_then(|m| m.get("name"))
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string();
                            match kind.as_str() {
                                "Role" => {}
                                "ClusterRole" => findings.push(Finding::new(
                                    "operator.cluster-role",
                                    role_path,
                                    format!("ClusterRole {name:?} grants the operator cluster-wide permissions (MetalK8s #2619)"),
                                )),
                                _ => findings.push(Finding::new(
                                    "operator.role-kind",
                                    role_path,
                                    format!("forbidden object kind {kind:?} ({name:?}): only Role and ClusterRole"),
                                )),
                            }
                            roles.push((kind, name));
                        }
                    }
                }
            }
        }
    }
    Ok((crds, roles))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(bytes: &str) -> Vec<&'static str> {
        let mut f = Vec::new();
        parse(bytes.as_bytes(), &mut f);
        f.iter().map(|f| f.rule).collect()
    }

    const GOOD: &str = "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: example\n  annotations:\n    solutions.metalk8s.scality.com/display-name: Example\nspec:\n  version: '1.0.2'\n";

    #[test]
    fn good_and_defaults() {
        let mut f = Vec::new();
        let m = parse(GOOD.as_bytes(), &mut f).unwrap();
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(
            m.operator_image,
            ("example-operator".into(), "1.0.2".into())
        );
        assert_eq!(m.display_name.as_deref(), Some("Example"));
        assert!(!m.images_declared);
    }

    #[test]
    fn bad_fields() {
        assert_eq!(
            rules(&GOOD.replace("'1.0.2'", "1.0")),
            ["manifest.version-not-string"]
        );
        assert_eq!(
            rules(&GOOD.replace("kind: Solution", "kind: Solutions")),
            ["manifest.kind"]
        );
        assert_eq!(
            rules(&GOOD.replace("name: example", "name: Example_S")),
            ["manifest.name-invalid"]
        );
        assert_eq!(
            rules(&GOOD.replace("name: example", "name: metalk8s-x")),
            ["manifest.name-metalk8s-prefix"]
        );
        assert_eq!(
            rules(&GOOD.replace("'1.0.2'", "'1.0.2_RC+1'")),
            ["manifest.id-not-dns-safe"]
        );
        assert_eq!(rules("a: [b"), ["manifest.yaml-invalid"]);
        assert_eq!(rules("- 1"), ["manifest.yaml-invalid"]);
        assert_eq!(
            rules(&format!("{GOOD}  extra: 1\n")),
            ["manifest.unknown-key"]
        );
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("a{}", i - 1)
            };
            bomb.push_str(&format!("a{i}: &a{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        }
        // serde_yaml stops expanding aliases at its repetition limit ("repetition limit
        // exceeded"; 24 ms in a release build here) and nesting at its recursion limit.
        assert_eq!(rules(&bomb), ["manifest.yaml-invalid"]);
        let deep = "[".repeat(100_000);
        assert_eq!(rules(&deep), ["manifest.yaml-invalid"]);
    }

    #[test]
    fn dns_label() {
        assert!(is_dns_label("example-solution"));
        assert!(!is_dns_label("-a"));
        assert!(!is_dns_label("a-"));
        assert!(!is_dns_label("A"));
        assert!(!is_dns_label(""));
        assert!(!is_dns_label(&"a".repeat(64)));
    }
}
