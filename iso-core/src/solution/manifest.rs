//! `manifest.yaml` and the operator files (`operator/deploy/crds/`, `role.yaml`).
//!
//! The operator files are read and parsed once, when a [`Solution`](super::Solution) is
//! loaded, into [`OperatorFiles`]: every later reader (validation here, `render` and
//! `upgrade-plan` in `oci-export`) works from that model, and the two policies that judge a
//! CRD file differently (see [`OperatorFile::deployable_crd`]) are decided side by side here.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_yaml::Value;

use super::{read_capped, Finding, Rule, MAX_DOCUMENT_BYTES};
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
    /// `spec.operator.image` was present (or `spec.operator` was, but not as a mapping).
    ///
    /// A part that cannot be known is empty: the default when `metadata.name` or
    /// `spec.version` is missing or invalid (already a finding), or a declared part that is
    /// not a string (a `manifest.field-invalid` finding).
    pub operator_image_declared: bool,
    /// `spec.ui.image` (name, tag), with the default MetalK8s merges in,
    /// `<name>-ui:<version>` (parts that cannot be known are empty, as for
    /// [`Manifest::operator_image`]). MetalK8s 2.5.x deployed this image as the Solution's
    /// UI; from 2.6.0 on it deploys no Solution UI and never reads it.
    pub ui_image: (String, String),
    /// `spec.ui` was present.
    pub ui_declared: bool,
    /// The display name MetalK8s shows: the display-name annotation of a *top-level*
    /// `annotations` key (the one its code reads), else `metadata.name`.
    pub metalk8s_display_name: Option<String>,
    /// `spec.operator.metrics.enabled`.
    pub metrics_enabled: Option<bool>,
    /// Keys MetalK8s does not know, as dotted paths (kept, reported).
    pub unknown_keys: Vec<String>,
    /// The whole document, as parsed (kept private: `serde_yaml` is not part of the API;
    /// see [`Manifest::to_json`]).
    #[serde(skip)]
    pub(crate) raw: Value,
}

const MANIFEST: &str = "manifest.yaml";

impl Manifest {
    /// [`Manifest::operator_image`] as `(name, tag)`, when both parts are known.
    pub fn operator_image_ref(&self) -> Option<(&str, &str)> {
        let (n, t) = &self.operator_image;
        (!n.is_empty() && !t.is_empty()).then_some((n.as_str(), t.as_str()))
    }

    /// [`Manifest::ui_image`] as `(name, tag)`, when both parts are known.
    pub fn ui_image_ref(&self) -> Option<(&str, &str)> {
        let (n, t) = &self.ui_image;
        (!n.is_empty() && !t.is_empty()).then_some((n.as_str(), t.as_str()))
    }

    /// The whole `manifest.yaml` document as JSON text, keys in document order; `None` when
    /// it has no JSON form (a mapping key that is not a string, say).
    pub fn to_json(&self) -> Option<String> {
        serde_json::to_string(&self.raw).ok()
    }
}

fn str_of(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

/// A scalar as written: strings as they are, anything else as (trimmed) YAML.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(Value::Mapping(map)) = v {
        for (k, v) in map {
            if let Some(k) = k.as_str() {
                m.insert(k.to_string(), as_text(v));
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
///
/// A finding that would only follow from a field already reported as wrong is not added:
/// a missing, non-string or invalid `metadata.name` or `spec.version` leaves the defaults
/// derived from it (`<name>-operator:<version>`, `<name>-ui:<version>`, the id) unknown,
/// so nothing is reported about them.
pub fn parse(bytes: &[u8], findings: &mut Vec<Finding>) -> Option<Manifest> {
    let doc = parse_document(bytes, findings)?;
    let mut m = Manifest {
        api_version: str_of(doc.get("apiVersion")),
        kind: str_of(doc.get("kind")),
        ..Default::default()
    };
    check_kind_and_api_version(&m, findings);
    let meta = section(doc.get("metadata"), "metadata", findings);
    let spec = section(doc.get("spec"), "spec", findings);
    let meta_map = meta.flatten();
    m.name = read_name(meta, findings);
    m.annotations = string_map(meta_map.and_then(|x| x.get("annotations")));
    m.labels = string_map(meta_map.and_then(|x| x.get("labels")));
    m.version = read_version(spec, findings);
    if let Some(n) = &m.name {
        let version = m.version.as_deref().filter(|v| !v.is_empty());
        check_name(n, version, findings);
    }
    read_display_name(&doc, &mut m, findings);
    let spec_map = spec.flatten();
    match spec_map.and_then(|s| s.get("images")) {
        Some(Value::Sequence(list)) => {
            m.images_declared = true;
            m.images = list.iter().map(as_text).collect();
        }
        Some(other) => findings.push(Finding::new(
            Rule::ManifestFieldInvalid,
            MANIFEST,
            format!(
                "spec.images is {}, not a list: MetalK8s's defaults merge \
                 (read_solution_manifest) puts it in place of the image list and copies it \
                 into the operator's configuration",
                describe(other)
            ),
        )),
        None => {}
    }
    // The defaults MetalK8s merges in are derived from a valid name and a non-empty version.
    let base = m.name.clone().filter(|n| is_dns_label(n));
    let tag = m.version.clone().filter(|v| !v.is_empty());
    let (op, op_declared) = read_image(
        spec_map,
        "operator",
        base.as_ref().map(|n| format!("{n}-operator")),
        tag.clone(),
        Some(findings),
    );
    m.operator_image = op;
    m.operator_image_declared = op_declared;
    let (ui, ui_declared) = read_image(
        spec_map,
        "ui",
        base.as_ref().map(|n| format!("{n}-ui")),
        tag,
        None,
    );
    m.ui_image = ui;
    m.ui_declared = ui_declared;
    if ui_declared {
        findings.push(Finding::new(
            Rule::ManifestUiNotDeployed,
            MANIFEST,
            "spec.ui is read (default <name>-ui:<version>) but MetalK8s deploys no Solution UI \
             since 2.6.0 (#2581): the operator has to deploy it",
        ));
    }
    m.metrics_enabled = spec_map
        .and_then(|s| s.get("operator"))
        .and_then(|o| o.get("metrics"))
        .and_then(|x| x.get("enabled"))
        .and_then(Value::as_bool);
    let unk = unknown_keys(&doc);
    for k in &unk {
        findings.push(Finding::new(
            Rule::ManifestUnknownKey,
            MANIFEST,
            format!("unknown key {k} (kept; MetalK8s ignores it)"),
        ));
    }
    m.unknown_keys = unk;
    m.raw = doc;
    Some(m)
}

/// A YAML value for a message: `null`, `123 (a number)`, `a list`, ...
fn describe(v: &Value) -> String {
    let text = || {
        serde_yaml::to_string(v)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(_) => format!("{} (a boolean)", text()),
        Value::Number(_) => format!("{} (a number)", text()),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(_) => "a list".to_string(),
        Value::Mapping(_) => "a mapping".to_string(),
        Value::Tagged(_) => "a tagged value".to_string(),
    }
}

/// A top-level section (`metadata`, `spec`): `None` when absent (MetalK8s reads it as
/// empty), `Some(None)` when present but not a mapping (reported: MetalK8s's
/// `_archive_info_from_manifest` calls `.get` on it and fails), `Some(Some(map))` otherwise.
fn section<'v>(
    v: Option<&'v Value>,
    key: &str,
    findings: &mut Vec<Finding>,
) -> Option<Option<&'v Value>> {
    let v = v?;
    if v.is_mapping() {
        return Some(Some(v));
    }
    findings.push(Finding::new(
        Rule::ManifestFieldInvalid,
        MANIFEST,
        format!(
            "{key} is {}, not a mapping: MetalK8s fails reading it (salt/_modules/\
             metalk8s_solutions.py, _archive_info_from_manifest)",
            describe(v)
        ),
    ));
    Some(None)
}

/// `metadata.name`, when it is a string. Missing (also `null`: MetalK8s tests `is None`) and
/// not-a-string are findings; a `metadata` that is not a mapping was reported already.
fn read_name(meta: Option<Option<&Value>>, findings: &mut Vec<Finding>) -> Option<String> {
    let found = match meta {
        Some(None) => return None,
        Some(Some(m)) => m.get("name"),
        None => None,
    };
    match found {
        None | Some(Value::Null) => findings.push(Finding::new(
            Rule::ManifestNameMissing,
            MANIFEST,
            "metadata.name is missing: MetalK8s refuses the archive",
        )),
        Some(Value::String(n)) => return Some(n.clone()),
        Some(other) => findings.push(Finding::new(
            Rule::ManifestNameNotString,
            MANIFEST,
            format!(
                "metadata.name is {}, not a string: MetalK8s's name check fails on it \
                 (re.match in _archive_info_from_manifest raises a TypeError): quote it",
                describe(other)
            ),
        )),
    }
    None
}

/// The manifest's one YAML document, when it is a mapping.
fn parse_document(bytes: &[u8], findings: &mut Vec<Finding>) -> Option<Value> {
    let doc: Value = match serde_yaml::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            findings.push(Finding::new(
                Rule::ManifestYamlInvalid,
                MANIFEST,
                format!("not valid YAML: {e}"),
            ));
            return None;
        }
    };
    if !doc.is_mapping() {
        findings.push(Finding::new(
            Rule::ManifestYamlInvalid,
            MANIFEST,
            "the document is not a mapping",
        ));
        return None;
    }
    Some(doc)
}

fn check_kind_and_api_version(m: &Manifest, findings: &mut Vec<Finding>) {
    if m.kind.as_deref() != Some("Solution") {
        findings.push(Finding::new(
            Rule::ManifestKind,
            MANIFEST,
            format!(
                "kind is {:?}, must be \"Solution\"",
                m.kind.as_deref().unwrap_or("")
            ),
        ));
    }
    if m.api_version.as_deref() != Some(API_VERSION) {
        findings.push(Finding::new(
            Rule::ManifestApiVersion,
            MANIFEST,
            format!(
                "apiVersion is {:?}, must be {API_VERSION:?}",
                m.api_version.as_deref().unwrap_or("")
            ),
        ));
    }
}

/// `spec.version`, when it is a string (anything else is a finding; so is an empty one,
/// which is returned: MetalK8s accepts it). A `spec` that is not a mapping was reported
/// already.
fn read_version(spec: Option<Option<&Value>>, findings: &mut Vec<Finding>) -> Option<String> {
    let found = match spec {
        Some(None) => return None,
        Some(Some(s)) => s.get("version"),
        None => None,
    };
    match found {
        None | Some(Value::Null) => findings.push(Finding::new(
            Rule::ManifestVersionMissing,
            MANIFEST,
            "spec.version is missing: MetalK8s refuses the archive",
        )),
        Some(Value::String(v)) => {
            if v.is_empty() {
                findings.push(Finding::new(
                    Rule::ManifestVersionEmpty,
                    MANIFEST,
                    "spec.version is empty: MetalK8s accepts it, then mounts the archive at \
                     /srv/scality/<name>- and gives the default operator image an empty tag",
                ));
            }
            return Some(v.clone());
        }
        Some(other) => findings.push(Finding::new(
            Rule::ManifestVersionNotString,
            MANIFEST,
            format!(
                "spec.version is {}, not a string: MetalK8s fails joining it into the id \
                 (a TypeError in _archive_info_from_manifest): quote it",
                describe(other)
            ),
        )),
    }
    None
}

/// The display names: ours (`metadata.annotations`, as documented, else the top-level
/// `annotations`, else the name) and the one MetalK8s shows (the top-level `annotations`
/// only, else the name), with a finding when they differ because of where the annotation is.
fn read_display_name(doc: &Value, m: &mut Manifest, findings: &mut Vec<Finding>) {
    let top = doc.get("annotations");
    let top_display = match top {
        None => None,
        Some(Value::Mapping(_)) => top
            .and_then(|a| a.get(DISPLAY_NAME))
            .filter(|v| !v.is_null())
            .map(as_text),
        Some(other) => {
            findings.push(Finding::new(
                Rule::ManifestFieldInvalid,
                MANIFEST,
                format!(
                    "the top-level annotations key is {}, not a mapping: MetalK8s reads the \
                     display name from it and fails (_archive_info_from_manifest)",
                    describe(other)
                ),
            ));
            None
        }
    };
    check_state_ids(top_display.as_deref(), m, findings);
    let meta_display = m.annotations.get(DISPLAY_NAME).cloned();
    m.display_name = meta_display
        .clone()
        .or_else(|| top_display.clone())
        .or_else(|| m.name.clone());
    m.metalk8s_display_name = top_display.clone().or_else(|| m.name.clone());
    match (&meta_display, &top_display) {
        (None, Some(_)) => findings.push(Finding::new(
            Rule::ManifestDisplayNameToplevel,
            MANIFEST,
            "the display name is only in a top-level annotations key: put it in metadata.annotations too",
        )),
        (Some(d), None) => findings.push(Finding::new(
            Rule::ManifestDisplayNameNotShown,
            MANIFEST,
            format!(
                "the display name {d:?} is only in metadata.annotations, where the docs put it: \
                 MetalK8s reads a top-level annotations key (salt/_modules/metalk8s_solutions.py, \
                 _archive_info_from_manifest) and shows {}; add the annotation there too",
                m.name
                    .as_deref()
                    .map_or_else(|| "the name".to_string(), |n| format!("{n:?}"))
            ),
        )),
        _ => {}
    }
}

/// MetalK8s writes `<display name> <version>` unquoted into the ids of the states that
/// mount an archive and expose its images (`salt/metalk8s/solutions/available.sls`:
/// "Mountpoint for Solution {{ display_name }} exists:", ...), with the display name of
/// `_archive_info_from_manifest` (the top-level annotation, else the name). A `: ` or ` #`
/// there, or a line break, and the state file is no longer the YAML it was: the import fails.
fn check_state_ids(top_display: Option<&str>, m: &Manifest, findings: &mut Vec<Finding>) {
    let (Some(version), Some(name)) = (m.version.as_deref(), m.name.as_deref()) else {
        return;
    };
    // A name that is not a DNS label was reported already; the default display name is it.
    let Some(display) = top_display.or(is_dns_label(name).then_some(name)) else {
        return;
    };
    let label = format!("{display} {version}");
    if label.contains(": ")
        || label.contains(" #")
        || label.ends_with(':')
        || label.contains(['\n', '\r'])
    {
        findings.push(Finding::new(
            Rule::ManifestStateIdUnsafe,
            MANIFEST,
            format!(
                "MetalK8s writes {label:?} (display name and version) unquoted into YAML state ids \
                 (salt/metalk8s/solutions/available.sls: \"Mountpoint for Solution ... exists\"): \
                 with \": \", \" #\" or a line break there the state file does not render and the \
                 import fails"
            ),
        ));
    }
}

/// `spec.<key>.image` (`operator` or `ui`): `(name, tag)` with MetalK8s's defaults for the
/// parts not given, and whether `spec.<key>` is present. MetalK8s merges the manifest over
/// its defaults key by key (`salt.utils.dictupdate.merge`, strategy `recurse`), so a part
/// given as anything but a mapping or a string replaces the default: with `findings`, that
/// is reported and the part left empty (unknown).
fn read_image(
    spec: Option<&Value>,
    key: &str,
    default_name: Option<String>,
    default_tag: Option<String>,
    mut findings: Option<&mut Vec<Finding>>,
) -> ((String, String), bool) {
    let mut bad = |what: String, v: &Value, want: &str| {
        if let Some(f) = findings.as_deref_mut() {
            f.push(Finding::new(
                Rule::ManifestFieldInvalid,
                MANIFEST,
                format!(
                    "{what} is {}, not {want}: MetalK8s's defaults merge puts it in place of its \
                     default and the operator Deployment gets no usable image",
                    describe(v)
                ),
            ));
        }
    };
    let section = spec.and_then(|s| s.get(key));
    let declared = section.is_some();
    let image = match section {
        None => None,
        Some(v) if v.is_mapping() => v.get("image"),
        Some(v) => {
            bad(format!("spec.{key}"), v, "a mapping");
            return ((String::new(), String::new()), true);
        }
    };
    let image = match image {
        None => None,
        Some(v) if v.is_mapping() => Some(v),
        Some(v) => {
            bad(format!("spec.{key}.image"), v, "a mapping");
            return ((String::new(), String::new()), true);
        }
    };
    let mut part = |field: &str, default: Option<String>| match image.and_then(|i| i.get(field)) {
        None => default.unwrap_or_default(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            bad(format!("spec.{key}.image.{field}"), v, "a string");
            String::new()
        }
    };
    let name = part("name", default_name);
    let tag = part("tag", default_tag);
    ((name, tag), declared)
}

/// The keys of the manifest MetalK8s does not know, as dotted paths.
fn unknown_keys(doc: &Value) -> Vec<String> {
    let mut unk = Vec::new();
    unknown(
        doc,
        "",
        &["apiVersion", "kind", "metadata", "spec", "annotations"],
        &mut unk,
    );
    if let Some(meta) = doc.get("metadata") {
        unknown(
            meta,
            "metadata",
            &["name", "annotations", "labels"],
            &mut unk,
        );
    }
    let spec = doc.get("spec");
    if let Some(spec) = spec {
        unknown(
            spec,
            "spec",
            &["version", "images", "operator", "ui", "customApiGroups"],
            &mut unk,
        );
    }
    if let Some(op) = spec.and_then(|s| s.get("operator")) {
        unknown(op, "spec.operator", &["image", "metrics"], &mut unk);
    }
    unk
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
            Rule::ManifestNameInvalid,
            MANIFEST,
            format!("metadata.name {name:?} is not a DNS-1123 label (lowercase letters, digits and '-', 1 to 63, no '-' at either end)"),
        ));
        return;
    }
    // list_available skips every mount point starting with /srv/scality/metalk8s-, and
    // the mount point is /srv/scality/<name>-<version>: `metalk8s` itself is caught too.
    if name == "metalk8s" || name.starts_with("metalk8s-") {
        findings.push(Finding::new(
            Rule::ManifestNameMetalk8sPrefix,
            MANIFEST,
            if name == "metalk8s" {
                format!("metadata.name {name:?} gives the mount point /srv/scality/metalk8s-<version>: MetalK8s takes such mounts for its own ISOs and never lists the Solution")
            } else {
                format!("metadata.name {name:?} starts with metalk8s-: MetalK8s takes such mounts for its own ISOs and never lists the Solution")
            },
        ));
    }
    if name.len() > 54 {
        findings.push(Finding::new(
            Rule::ManifestNameTooLong,
            MANIFEST,
            format!(
                "metadata.name is {} characters: the label app={name}-operator exceeds 63",
                name.len()
            ),
        ));
    }
    if let Some(v) = version {
        let id = super::solution_id(name, v);
        if !v
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || c == b'-' || c == b'.')
            || v.is_empty()
            || v.ends_with(['-', '.'])
        {
            findings.push(Finding::new(
                Rule::ManifestIdNotDnsSafe,
                MANIFEST,
                format!("the id {id:?} is not DNS-label safe: spec.version should use only [a-z0-9.-] (MetalK8s derives volume names and registry paths from it)"),
            ));
        }
        if id.len() > 53 {
            findings.push(Finding::new(
                Rule::ManifestIdTooLong,
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
            Rule::ManifestMissingPrimary,
            MANIFEST,
            "no MANIFEST.YAML;1 in the primary ISO 9660 root: MetalK8s reads it with isoinfo -x /MANIFEST.YAML;1 (master with -l and -iso-level 3)",
        ));
    }
    if tree.is_none() && ns != Namespace::Primary {
        findings.push(Finding::new(
            Rule::ManifestMissingRr,
            MANIFEST,
            format!("no manifest.yaml in the {ns} root, which MetalK8s reads after mounting"),
        ));
    }
    let Some(entry) = primary.or(tree) else {
        if image.lookup(Namespace::Primary, "PRODUCT.TXT;1").is_ok() {
            findings.push(Finding::new(
                Rule::ManifestLegacyFormat,
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

// ---------------------------------------------------------------------------------------------
// The operator files

/// Where the CRDs are: every `*_crd.yaml` file below it, at any depth.
pub const CRDS_DIR: &str = "operator/deploy/crds";
/// The file of the operator's Roles and ClusterRoles.
pub const ROLES_FILE: &str = "operator/deploy/role.yaml";
/// The `kind` of a CRD.
const CRD_KIND: &str = "CustomResourceDefinition";

/// One YAML document of an operator file, parsed once when the Solution is loaded.
///
/// `kind`, `api_version` and `name` are read from the YAML (a tag on the document is looked
/// through); `json` is the same document as JSON, what `kubectl` would send.
#[derive(Clone, Debug, PartialEq)]
pub struct YamlDocument {
    /// The top-level `kind`, when it is a string; else empty.
    pub kind: String,
    /// The top-level `apiVersion`, when it is a string; else empty.
    pub api_version: String,
    /// `metadata.name`, when it is a string; else empty.
    pub name: String,
    /// The document as JSON, or why it has no JSON form (a mapping key that is not a
    /// string, ...).
    pub json: Result<serde_json::Value, String>,
    /// The document is a null with a tag (`--- !tag` and nothing else). Untagged empty
    /// documents are dropped when the stream is split; a tagged one is kept: validation counts
    /// it as a document, deploying skips it as empty (see
    /// [`OperatorFile::deployable_documents`]).
    pub tagged_null: bool,
}

impl YamlDocument {
    fn from_yaml(v: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        YamlDocument {
            kind: text(v.get("kind")),
            api_version: text(v.get("apiVersion")),
            name: text(v.get("metadata").and_then(|m| m.get("name"))),
            json: serde_json::to_value(v).map_err(|e| e.to_string()),
            tagged_null: v.is_null(),
        }
    }
}

/// What reading an operator file gave.
#[derive(Clone, Debug, PartialEq)]
pub enum FileContents {
    /// Its YAML documents, in order (empty documents skipped).
    Documents(Vec<YamlDocument>),
    /// Not read: the file is larger than [`MAX_DOCUMENT_BYTES`] (its size in bytes; a
    /// `layout.file-too-large` finding).
    TooLarge(u64),
    /// Not a YAML stream: the parser's message (nothing of the stream is kept).
    InvalidYaml(String),
    /// Not a regular file (a directory, a symbolic link, ...).
    NotAFile,
}

/// An operator file (a CRD file or `role.yaml`), read and parsed once.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorFile {
    /// The path in the archive.
    pub path: String,
    /// What reading it gave.
    pub contents: FileContents,
    /// The file holds Jinja or Salt slot syntax (`{{`, `{%`, `__slot__:`), which MetalK8s
    /// renders before applying it (false when the file was not read).
    pub templated: bool,
}

/// Why an operator file cannot be deployed the way MetalK8s deploys it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Refusal {
    /// The file in the archive.
    pub path: String,
    /// What is wrong with it, for a person.
    pub message: String,
}

/// Splits a YAML stream into its documents, dropping empty (untagged null) ones and stopping
/// at the first error: the one YAML stream splitter of the Solution model.
fn split_yaml_stream(bytes: &[u8]) -> Result<Vec<YamlDocument>, serde_yaml::Error> {
    let mut docs = Vec::new();
    for d in serde_yaml::Deserializer::from_slice(bytes) {
        let v: Value = serde::Deserialize::deserialize(d)?;
        if v != Value::Null {
            docs.push(YamlDocument::from_yaml(&v));
        }
    }
    Ok(docs)
}

impl OperatorFile {
    /// Reads the regular file `entry` at `path` (at most [`MAX_DOCUMENT_BYTES`], through
    /// `read_capped`, which reports a larger file as a finding) and splits it into YAML
    /// documents.
    fn read(
        image: &Image<'_>,
        entry: &crate::DirEntry<'_>,
        path: &str,
        findings: &mut Vec<Finding>,
    ) -> crate::Result<Self> {
        match read_capped(image, entry, path, findings)? {
            Some(bytes) => Ok(Self::parse(path, &bytes)),
            None => Ok(OperatorFile {
                path: path.to_string(),
                contents: FileContents::TooLarge(entry.size()),
                templated: false,
            }),
        }
    }

    /// The file at `path` holding `bytes`.
    fn parse(path: &str, bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        OperatorFile {
            path: path.to_string(),
            contents: match split_yaml_stream(bytes) {
                Ok(docs) => FileContents::Documents(docs),
                Err(e) => FileContents::InvalidYaml(e.to_string()),
            },
            templated: text.contains("{{") || text.contains("{%") || text.contains("__slot__:"),
        }
    }

    /// The file's documents, when it was read and parsed (else none).
    pub fn documents(&self) -> &[YamlDocument] {
        match &self.contents {
            FileContents::Documents(docs) => docs,
            _ => &[],
        }
    }

    fn refusal(&self, message: impl Into<String>) -> Refusal {
        Refusal {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// The documents to deploy (every document but tagged nulls), or why the file cannot be
    /// deployed at all: not a regular file, too large to read, not YAML.
    pub fn deployable_documents(&self) -> Result<Vec<&YamlDocument>, Refusal> {
        match &self.contents {
            FileContents::Documents(docs) => Ok(docs.iter().filter(|d| !d.tagged_null).collect()),
            FileContents::TooLarge(size) => Err(self.refusal(format!(
                "{size} bytes, more than the {MAX_DOCUMENT_BYTES} read for a document"
            ))),
            FileContents::InvalidYaml(e) => Err(self.refusal(format!("not valid YAML: {e}"))),
            FileContents::NotAFile => Err(self.refusal("not a regular file")),
        }
    }

    // The two policies for a CRD file, side by side: `crd_findings` (validation) and
    // `deployable_crd` (render, upgrade-plan). See `deployable_crd` for why they differ.

    /// Validation policy for a CRD file: every problem is a finding, and checking goes on.
    /// Several documents in one file are a warning (`operator.crd-multi-doc`); a document
    /// that is not a CRD, or a file that is not YAML, is `operator.crd-kind`. A file too
    /// large to read was reported when it was read.
    fn crd_findings(&self, findings: &mut Vec<Finding>) {
        let docs = match &self.contents {
            FileContents::Documents(docs) => docs,
            FileContents::InvalidYaml(e) => {
                findings.push(Finding::new(
                    Rule::OperatorCrdKind,
                    &self.path,
                    format!("not valid YAML: {e}"),
                ));
                return;
            }
            FileContents::TooLarge(_) | FileContents::NotAFile => return,
        };
        if docs.len() > 1 {
            findings.push(Finding::new(
                Rule::OperatorCrdMultiDoc,
                &self.path,
                format!("{} YAML documents: keep one CRD per file", docs.len()),
            ));
        }
        for d in docs.iter().filter(|d| d.kind != CRD_KIND) {
            findings.push(Finding::new(
                Rule::OperatorCrdKind,
                &self.path,
                format!("holds a {:?}, not a CustomResourceDefinition", d.kind),
            ));
        }
    }

    /// Deploy policy for a CRD file: the one CustomResourceDefinition document that is
    /// applied for it, or why the file is refused (it cannot be read or parsed, it holds
    /// no document or several, its document is not a CRD).
    ///
    /// Validation judges the same file more leniently, on purpose. It is a report: it names
    /// every problem of an archive and goes on, and a CRD file holding several documents does
    /// not stop MetalK8s from importing the archive (CRD files are only read when a version
    /// is activated, by MetalK8s's `salt/metalk8s/orchestrate/solutions/deploy-components.sls`),
    /// so there the file is a warning (`operator.crd-multi-doc`). Deploying (`isolution
    /// render`, `isolution upgrade-plan`) turns each file into exactly the one CRD MetalK8s
    /// loads from it; a file without exactly one CRD has no such object, and rendering
    /// something else than what MetalK8s applies would mislead, so the file is refused.
    pub fn deployable_crd(&self) -> Result<&YamlDocument, Refusal> {
        let docs = self.deployable_documents()?;
        let [doc] = docs.as_slice() else {
            return Err(self.refusal(format!(
                "{} YAML documents: MetalK8s loads exactly one CRD per file",
                docs.len()
            )));
        };
        if doc.kind != CRD_KIND {
            return Err(self.refusal(format!(
                "holds a {:?}, not a CustomResourceDefinition",
                doc.kind
            )));
        }
        Ok(doc)
    }

    /// Validation policy for `role.yaml`: a ClusterRole is a warning (cluster-wide
    /// permissions), any kind but Role and ClusterRole an error (MetalK8s refuses it).
    fn role_findings(&self, findings: &mut Vec<Finding>) {
        if let FileContents::InvalidYaml(err) = &self.contents {
            findings.push(Finding::new(
                Rule::OperatorRoleInvalid,
                &self.path,
                format!("not valid YAML: {err}"),
            ));
        }
        for d in self.documents() {
            let (kind, name) = (&d.kind, &d.name);
            match kind.as_str() {
                "Role" => {}
                "ClusterRole" => findings.push(Finding::new(
                    Rule::OperatorClusterRole,
                    &self.path,
                    format!("ClusterRole {name:?} grants the operator cluster-wide permissions (MetalK8s #2619)"),
                )),
                _ => findings.push(Finding::new(
                    Rule::OperatorRoleKind,
                    &self.path,
                    format!("forbidden object kind {kind:?} ({name:?}): only Role and ClusterRole"),
                )),
            }
        }
    }
}

/// The operator files of a Solution, read and parsed once by
/// [`Solution::load`](super::Solution::load): the CRD files and `role.yaml`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OperatorFiles {
    /// Every `*_crd.yaml` regular file under [`CRDS_DIR`], in the order the tree is walked
    /// (other files there are reported and not kept).
    pub crds: Vec<OperatorFile>,
    /// [`ROLES_FILE`], when the archive has an entry of that name.
    pub roles: Option<OperatorFile>,
}

impl OperatorFiles {
    /// Reads `operator/deploy/crds/**` and `operator/deploy/role.yaml` from the `ns` tree,
    /// reporting what validation finds in them.
    pub(crate) fn load(
        image: &Image<'_>,
        ns: Namespace,
        findings: &mut Vec<Finding>,
    ) -> crate::Result<Self> {
        let crds = Self::load_crds(image, ns, findings)?;
        let roles = match image.lookup(ns, ROLES_FILE) {
            Ok(e) if e.is_file() => {
                let f = OperatorFile::read(image, &e, ROLES_FILE, findings)?;
                f.role_findings(findings);
                Some(f)
            }
            Ok(_) => Some(OperatorFile {
                path: ROLES_FILE.to_string(),
                contents: FileContents::NotAFile,
                templated: false,
            }),
            Err(_) => None,
        };
        Ok(OperatorFiles { crds, roles })
    }

    fn load_crds(
        image: &Image<'_>,
        ns: Namespace,
        findings: &mut Vec<Finding>,
    ) -> crate::Result<Vec<OperatorFile>> {
        let mut crds = Vec::new();
        let Ok(dir) = image.lookup(ns, CRDS_DIR) else {
            return Ok(crds);
        };
        if !dir.is_dir() {
            return Ok(crds);
        }
        for item in image.walk_from(&dir, CRDS_DIR)? {
            let item = item?;
            if item.entry.kind() != EntryKind::File {
                continue;
            }
            if !item.path.ends_with("_crd.yaml") {
                findings.push(Finding::new(
                    Rule::OperatorCrdName,
                    &item.path,
                    "not named *_crd.yaml: MetalK8s does not apply it",
                ));
                continue;
            }
            let f = OperatorFile::read(image, &item.entry, &item.path, findings)?;
            f.crd_findings(findings);
            crds.push(f);
        }
        Ok(crds)
    }

    /// The paths of the CRD files.
    pub fn crd_paths(&self) -> impl Iterator<Item = &str> {
        self.crds.iter().map(|f| f.path.as_str())
    }

    /// `(kind, metadata.name)` of each document of `role.yaml` (empty strings where the
    /// document has none), in file order; none when the file is absent or unreadable.
    pub fn role_names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.roles
            .iter()
            .flat_map(OperatorFile::documents)
            .map(|d| (d.kind.as_str(), d.name.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(bytes: &str) -> Vec<&'static str> {
        let mut f = Vec::new();
        parse(bytes.as_bytes(), &mut f);
        f.iter().map(|f| f.rule.id()).collect()
    }

    const GOOD: &str = "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: example\n  annotations:\n    solutions.metalk8s.scality.com/display-name: Example\nspec:\n  version: '1.0.2'\n";

    #[test]
    fn good_and_defaults() {
        let mut f = Vec::new();
        let m = parse(GOOD.as_bytes(), &mut f).unwrap();
        let rules: Vec<_> = f.iter().map(|f| f.rule.id()).collect();
        assert_eq!(rules, ["manifest.display-name-not-shown"]);
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
            rules(&SHOWN.replace("'1.0.2'", "1.0")),
            ["manifest.version-not-string"]
        );
        assert_eq!(
            rules(&SHOWN.replace("kind: Solution", "kind: Solutions")),
            ["manifest.kind"]
        );
        assert_eq!(
            rules(&SHOWN.replace("name: example", "name: Example_S")),
            ["manifest.name-invalid"]
        );
        assert_eq!(
            rules(&SHOWN.replace("name: example", "name: metalk8s-x")),
            ["manifest.name-metalk8s-prefix"]
        );
        assert_eq!(
            rules(&SHOWN.replace("'1.0.2'", "'1.0.2_RC+1'")),
            ["manifest.id-not-dns-safe"]
        );
        assert_eq!(rules("a: [b"), ["manifest.yaml-invalid"]);
        assert_eq!(rules("- 1"), ["manifest.yaml-invalid"]);
        assert_eq!(
            rules(&format!("{SHOWN}  extra: 1\n")),
            ["manifest.unknown-key"]
        );
    }

    fn parsed(text: &str) -> (Manifest, Vec<&'static str>) {
        let mut f = Vec::new();
        let m = parse(text.as_bytes(), &mut f).unwrap();
        (m, f.iter().map(|f| f.rule.id()).collect())
    }

    // Issue 14, case 4. MetalK8s reads the display name from a top-level `annotations` key
    // only: salt/_modules/metalk8s_solutions.py, _archive_info_from_manifest
    // (`manifest.get("annotations", {}).get(".../display-name", name)`). Its docs and its
    // example put it in metadata.annotations, where MetalK8s does not look.
    #[test]
    fn a_display_name_metalk8s_does_not_read_is_reported() {
        let (m, rules) = parsed(GOOD);
        assert_eq!(rules, ["manifest.display-name-not-shown"]);
        assert_eq!(m.display_name.as_deref(), Some("Example"));
        assert_eq!(m.metalk8s_display_name.as_deref(), Some("example"));
        let both = format!("{GOOD}annotations:\n  {DISPLAY_NAME}: Example\n");
        let (m, rules) = parsed(&both);
        assert!(rules.is_empty(), "{rules:?}");
        assert_eq!(m.metalk8s_display_name.as_deref(), Some("Example"));
        let top_only = GOOD.replace(
            "  annotations:\n    solutions",
            "  x-annotations:\n    solutions",
        ) + &format!("annotations:\n  {DISPLAY_NAME}: Top\n");
        let (m, rules) = parsed(&top_only);
        assert_eq!(
            rules,
            ["manifest.display-name-toplevel", "manifest.unknown-key"]
        );
        assert_eq!(m.display_name.as_deref(), Some("Top"));
        // `annotations: null` at the top: MetalK8s calls .get on None and fails.
        let (_, rules) = parsed(&format!("{SHOWN}annotations: null\n"));
        assert_eq!(rules, ["manifest.field-invalid"]);
    }

    /// GOOD with the display name where MetalK8s reads it too: no finding.
    const SHOWN: &str = "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: example\nspec:\n  version: '1.0.2'\n";

    // Issue 14, case 5. _archive_info_from_manifest tests `is None`, then
    // re.match(DNS_LABEL_NAME_RFC1123_RE, name) (a TypeError on a number) and
    // "-".join([name, version]) (a TypeError on a number).
    #[test]
    fn a_name_or_version_of_another_type_is_named_as_such() {
        let (m, rules) = parsed(&SHOWN.replace("name: example", "name: 123"));
        assert_eq!(rules, ["manifest.name-not-string"]);
        assert_eq!(m.operator_image_ref(), None);
        let (_, rules) = parsed(&SHOWN.replace("name: example", "name: [a]"));
        assert_eq!(rules, ["manifest.name-not-string"]);
        let (_, rules) = parsed(&SHOWN.replace("name: example", "name: null"));
        assert_eq!(rules, ["manifest.name-missing"]);
        let (_, rules) = parsed(&SHOWN.replace("'1.0.2'", "true"));
        assert_eq!(rules, ["manifest.version-not-string"]);
        let (_, rules) = parsed(&SHOWN.replace("'1.0.2'", "~"));
        assert_eq!(rules, ["manifest.version-missing"]);
        let mut f = Vec::new();
        parse(
            SHOWN.replace("name: example", "name: 123").as_bytes(),
            &mut f,
        );
        assert!(
            f[0].message.contains("123 (a number), not a string"),
            "{}",
            f[0].message
        );
    }

    // Issue 14, case 8. The defaults <name>-operator:<version> and <name>-ui:<version>
    // (_default_solution_manifest) cannot be known from a missing or invalid name or
    // version: nothing is derived from them, and an empty version is named.
    #[test]
    fn nothing_is_derived_from_a_field_already_reported() {
        for (text, want) in [
            (
                SHOWN.replace("  name: example\n", "  labels: {}\n"),
                "manifest.name-missing",
            ),
            // `metadata:` alone is null: MetalK8s calls .get on None.
            (
                SHOWN.replace("  name: example\n", ""),
                "manifest.field-invalid",
            ),
            (
                SHOWN.replace("name: example", "name: Ex_A"),
                "manifest.name-invalid",
            ),
            (
                SHOWN.replace("  version: '1.0.2'\n", "  images: []\n"),
                "manifest.version-missing",
            ),
            (
                SHOWN.replace("'1.0.2'", "1.0"),
                "manifest.version-not-string",
            ),
            (SHOWN.replace("'1.0.2'", "''"), "manifest.version-empty"),
        ] {
            let (m, rules) = parsed(&text);
            assert_eq!(rules, [want], "{text}");
            assert_eq!(m.operator_image_ref(), None, "{text}");
            assert_eq!(m.ui_image_ref(), None, "{text}");
        }
        // A declared image does not depend on them.
        let declared = SHOWN.replace(
            "  version: '1.0.2'\n",
            "  operator: {image: {name: op, tag: '1'}}\n",
        );
        let (m, rules) = parsed(&declared);
        assert_eq!(rules, ["manifest.version-missing"]);
        assert_eq!(m.operator_image_ref(), Some(("op", "1")));
    }

    // The defaults merge of read_solution_manifest (salt.utils.dictupdate.merge, strategy
    // "recurse") replaces a default with whatever is not a mapping: `operator: null` leaves
    // the Deployment of prepare-environment.sls without an image.
    #[test]
    fn operator_image_parts_of_the_wrong_type_are_reported() {
        for text in [
            format!("{SHOWN}  operator: null\n"),
            format!("{SHOWN}  operator: {{image: null}}\n"),
            format!("{SHOWN}  operator: {{image: {{tag: 1.0}}}}\n"),
            SHOWN.replace("spec:\n  version: '1.0.2'\n", "spec: [1]\n"),
        ] {
            let (m, rules) = parsed(&text);
            assert!(
                rules.contains(&"manifest.field-invalid"),
                "{text}: {rules:?}"
            );
            assert_eq!(m.operator_image_ref(), None, "{text}");
        }
        let (m, got) = parsed(&format!("{SHOWN}  images: null\n"));
        assert_eq!(got, ["manifest.field-invalid"]);
        assert!(!m.images_declared);
        // PyYAML keeps the last of duplicate keys; serde_yaml refuses them.
        assert_eq!(
            rules(&format!("{SHOWN}  version: '1.0.3'\n")),
            ["manifest.yaml-invalid"]
        );
        let (m, _) = parsed(&format!("{SHOWN}  operator: {{image: {{name: op}}}}\n"));
        assert_eq!(m.operator_image_ref(), Some(("op", "1.0.2")));
    }

    // Issue 14, case 10. _default_solution_manifest sets spec.ui.image to
    // <name>-ui:<version>; MetalK8s 2.5.x deployed it (orchestrate/solutions/
    // prepare-environment.sls, deploy_admin_ui), 2.6.0 and later deploy no UI.
    #[test]
    fn the_ui_image_is_read_with_metalk8s_defaults() {
        let (m, rules) = parsed(SHOWN);
        assert!(rules.is_empty());
        assert!(!m.ui_declared);
        assert_eq!(m.ui_image_ref(), Some(("example-ui", "1.0.2")));
        let (m, rules) = parsed(&format!("{SHOWN}  ui: {{image: {{name: web}}}}\n"));
        assert_eq!(rules, ["manifest.ui-not-deployed"]);
        assert!(m.ui_declared);
        assert_eq!(m.ui_image_ref(), Some(("web", "1.0.2")));
    }

    // salt/metalk8s/solutions/available.sls puts "<display name> <version>" unquoted in YAML
    // state ids ("Mountpoint for Solution {{ display_name }} exists:").
    #[test]
    fn a_display_name_or_version_that_breaks_state_ids_is_an_error() {
        // (Only at the top level: also manifest.display-name-toplevel.)
        let top = |d: &str| format!("{SHOWN}annotations:\n  {DISPLAY_NAME}: '{d}'\n");
        let unsafe_ = |t: &str| parsed(t).1.contains(&"manifest.state-id-unsafe");
        assert!(!unsafe_(&top("Example Solution")));
        assert!(!unsafe_(&top("Example:Solution#1")));
        assert!(unsafe_(&top("Example: Solution")));
        assert!(unsafe_(&top("Example #1")));
        assert_eq!(
            parsed(&SHOWN.replace("'1.0.2'", "'1.0 #2'")).1,
            ["manifest.id-not-dns-safe", "manifest.state-id-unsafe"]
        );
    }

    // list_available skips mount points starting with /srv/scality/metalk8s-; the mount
    // point is /srv/scality/<name>-<version>, so the name `metalk8s` is caught too.
    #[test]
    fn the_name_metalk8s_is_never_listed() {
        let (_, rules) = parsed(&SHOWN.replace("name: example", "name: metalk8s"));
        assert_eq!(rules, ["manifest.name-metalk8s-prefix"]);
        let (_, rules) = parsed(&SHOWN.replace("name: example", "name: metalk8sx"));
        assert!(rules.is_empty());
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

    const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: a.example.com\n";

    fn crd_rules(f: &OperatorFile) -> Vec<&'static str> {
        let mut findings = Vec::new();
        f.crd_findings(&mut findings);
        findings.iter().map(|f| f.rule.id()).collect()
    }

    #[test]
    fn documents_are_parsed_once_into_json() {
        let f = OperatorFile::parse("x_crd.yaml", format!("---\n{CRD}---\n").as_bytes());
        let [d] = f.documents() else { panic!("{f:?}") };
        assert_eq!(
            (d.kind.as_str(), d.api_version.as_str(), d.name.as_str()),
            (CRD_KIND, "apiextensions.k8s.io/v1", "a.example.com")
        );
        assert_eq!(
            d.json.as_ref().unwrap()["metadata"]["name"],
            "a.example.com"
        );
        assert!(!f.templated);
        // A key JSON cannot hold: the document stays, without a JSON form.
        let f = OperatorFile::parse("x_crd.yaml", b"kind: Role\n[a, b]: c\n");
        assert!(f.documents()[0].json.is_err(), "{f:?}");
        assert_eq!(f.documents()[0].kind, "Role");
        assert!(OperatorFile::parse("r.yaml", b"a: '{{ x }}'").templated);
    }

    #[test]
    fn crd_policies_differ_on_purpose() {
        // One CRD: both policies accept it.
        let one = OperatorFile::parse("x_crd.yaml", CRD.as_bytes());
        assert!(crd_rules(&one).is_empty());
        assert_eq!(one.deployable_crd().unwrap().name, "a.example.com");
        // Two CRDs: a warning for validation, a refusal for deploying.
        let two = OperatorFile::parse("x_crd.yaml", format!("{CRD}---\n{CRD}").as_bytes());
        assert_eq!(crd_rules(&two), ["operator.crd-multi-doc"]);
        assert_eq!(
            two.deployable_crd().unwrap_err().to_string(),
            "x_crd.yaml: 2 YAML documents: MetalK8s loads exactly one CRD per file"
        );
        // Not a CRD.
        let cm = OperatorFile::parse("x_crd.yaml", b"kind: ConfigMap\n");
        assert_eq!(crd_rules(&cm), ["operator.crd-kind"]);
        assert_eq!(
            cm.deployable_crd().unwrap_err().message,
            "holds a \"ConfigMap\", not a CustomResourceDefinition"
        );
        // Not YAML.
        let bad = OperatorFile::parse("x_crd.yaml", b"a: [b");
        assert_eq!(crd_rules(&bad), ["operator.crd-kind"]);
        assert!(bad
            .deployable_crd()
            .unwrap_err()
            .message
            .starts_with("not valid YAML: "));
        // A tagged empty document counts for validation, not for deploying.
        let tagged = OperatorFile::parse("x_crd.yaml", format!("{CRD}--- !x\n").as_bytes());
        assert_eq!(
            crd_rules(&tagged),
            ["operator.crd-multi-doc", "operator.crd-kind"]
        );
        assert!(tagged.deployable_crd().is_ok());
    }

    #[test]
    fn role_findings_and_names() {
        let f = OperatorFile::parse(
            ROLES_FILE,
            b"kind: Role\nmetadata: {name: r}\n---\nkind: ClusterRole\nmetadata: {name: c}\n---\nkind: RoleBinding\n",
        );
        let mut findings = Vec::new();
        f.role_findings(&mut findings);
        let got: Vec<&str> = findings.iter().map(|f| f.rule.id()).collect();
        assert_eq!(got, ["operator.cluster-role", "operator.role-kind"]);
        let files = OperatorFiles {
            crds: vec![],
            roles: Some(f),
        };
        let names: Vec<_> = files.role_names().collect();
        assert_eq!(
            names,
            [("Role", "r"), ("ClusterRole", "c"), ("RoleBinding", "")]
        );
    }
}
