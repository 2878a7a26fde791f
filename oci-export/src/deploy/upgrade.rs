//! What changes in a cluster when a Solution moves from one version to another.
//!
//! [`plan`] compares two archives the way their objects would be applied by [`crate::deploy::render`]:
//! the CRDs (per CRD: versions added and removed, served flags, the storage version moving,
//! schema fields removed, retyped or newly required: the cases MetalK8s issue #2372 worries
//! about), the images (by digest), the operator image, and the RBAC of `role.yaml` (grants
//! widened or narrowed, a ClusterRole appearing: MetalK8s issue #2619). Each change has an
//! [`Impact`]; a plan with a [`Impact::Breaking`] change is not safe to apply as is.
//!
//! Both archives are read from their parsed [`Solution`]s (nothing is read again from the
//! images); an archive that cannot be deployed fails the plan with a [`PlanError`] naming the
//! [`Side`] it is on.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use iso_core::solution::{rpm_vercmp, Solution};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionVersion, JSONSchemaProps,
    JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde::Serialize;

use crate::deploy::render::{self, RbacRole, RenderError};

/// How much a change matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    /// Worth knowing; nothing to do.
    Info,
    /// Applies, but deserves a look (wider permissions, a moved tag, leftovers).
    Warning,
    /// Breaks existing objects or clients, or cannot be applied as is.
    Breaking,
}

impl std::fmt::Display for Impact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Impact::Info => "info",
            Impact::Warning => "warning",
            Impact::Breaking => "breaking",
        })
    }
}

/// What a change is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// The Solution itself (name, version).
    Solution,
    /// A CustomResourceDefinition.
    Crd,
    /// The operator image and Deployment.
    Operator,
    /// Container images.
    Image,
    /// Roles, ClusterRoles and their bindings.
    Rbac,
}

impl std::fmt::Display for Area {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Area::Solution => "solution",
            Area::Crd => "crd",
            Area::Operator => "operator",
            Area::Image => "image",
            Area::Rbac => "rbac",
        })
    }
}

/// One change between the two versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// How much it matters.
    pub impact: Impact,
    /// What it is about.
    pub area: Area,
    /// The object: a CRD name, `name:tag`, `Kind name`.
    pub subject: String,
    /// What changes, and why it matters.
    pub message: String,
}

/// An upgrade plan.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The Solution's name (the new one's, if they differ).
    pub name: String,
    /// The version deployed now.
    pub from: String,
    /// The version to move to.
    pub to: String,
    /// Every change, most important first.
    pub changes: Vec<Change>,
    /// How many changes are breaking.
    pub breaking: usize,
    /// How many are warnings.
    pub warnings: usize,
    /// True when nothing is breaking.
    pub safe: bool,
}

struct Changes(Vec<Change>);

impl Changes {
    fn add(&mut self, impact: Impact, area: Area, subject: impl Into<String>, message: String) {
        // A schema can be large: keep the plan readable and bounded.
        if self.0.len() < 10_000 {
            self.0.push(Change {
                impact,
                area,
                subject: subject.into(),
                message,
            });
        }
    }
}

/// Which of the two archives of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The version deployed now.
    Old,
    /// The version to move to.
    New,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Side::Old => "old",
            Side::New => "new",
        })
    }
}

/// Why no plan could be made: one of the two archives cannot be deployed as MetalK8s deploys
/// it (no name or version, a CRD file or `role.yaml` that [`render`]
/// refuses).
#[derive(Debug, thiserror::Error)]
#[error("the {side} archive: {cause}")]
pub struct PlanError {
    /// The archive the problem is in.
    pub side: Side,
    /// What is wrong with it (a [`RenderError::Invalid`] names the file in the archive).
    pub cause: RenderError,
}

impl Side {
    /// Tags an error of this side's archive.
    fn error(self, cause: RenderError) -> PlanError {
        PlanError { side: self, cause }
    }
}

fn identity(s: &Solution<'_, '_>, side: Side) -> Result<(String, String), PlanError> {
    let m = s.manifest.as_ref();
    let name = m.and_then(|m| m.name.clone());
    let version = m.and_then(|m| m.version.clone());
    match (name, version) {
        (Some(n), Some(v)) => Ok((n, v)),
        _ => Err(side.error(RenderError::Invalid {
            path: "manifest.yaml".into(),
            message: format!("the {side} archive has no readable metadata.name and spec.version"),
        })),
    }
}

/// Compares `old` (deployed now) with `new` (to deploy). Fails when either archive cannot be
/// deployed, naming which.
pub fn plan(old: &Solution<'_, '_>, new: &Solution<'_, '_>) -> Result<Plan, PlanError> {
    let (old_name, old_version) = identity(old, Side::Old)?;
    let (name, version) = identity(new, Side::New)?;
    // The CRDs and roles as `render` reads them, old then new (the first refusal wins).
    let mut notes = Vec::new();
    let old_crds = render::crds(old, &mut notes).map_err(|e| Side::Old.error(e))?;
    let new_crds = render::crds(new, &mut notes).map_err(|e| Side::New.error(e))?;
    let old_roles = render::roles(old, &mut notes).map_err(|e| Side::Old.error(e))?;
    let new_roles = render::roles(new, &mut notes).map_err(|e| Side::New.error(e))?;
    let mut c = Changes(Vec::new());
    compare_identity(&old_name, &old_version, &name, &version, &mut c);
    compare_crds(&old_crds, &new_crds, &mut c);
    compare_images(old, new, &mut c);
    compare_operator(old, new, &old_version, &version, &mut c);
    compare_roles(&old_roles, &new_roles, &mut c);
    Ok(Plan::new(name, old_version, version, c.0))
}

/// Two Solutions instead of two versions, a downgrade, the same version twice.
fn compare_identity(old_name: &str, old_version: &str, name: &str, version: &str, c: &mut Changes) {
    if old_name != name {
        c.add(
            Impact::Breaking,
            Area::Solution,
            name,
            format!("the archives are two Solutions ({old_name} and {name}), not two versions"),
        );
    }
    match rpm_vercmp(version, old_version) {
        Ordering::Less => c.add(
            Impact::Warning,
            Area::Solution,
            name,
            format!("{old_version} -> {version} is a downgrade (RPM version order)"),
        ),
        Ordering::Equal => c.add(
            Impact::Warning,
            Area::Solution,
            name,
            format!(
                "both archives are version {version}: MetalK8s cannot import both (the id \
                 {name}-{version} conflicts, MetalK8s issue #3108)"
            ),
        ),
        Ordering::Greater => {}
    }
}

impl Plan {
    /// The plan of `changes` (sorted here, most important first) from `from` to `to`.
    fn new(name: String, from: String, to: String, mut changes: Vec<Change>) -> Self {
        changes.sort_by(|a, b| {
            b.impact
                .cmp(&a.impact)
                .then(a.area.cmp(&b.area))
                .then(a.subject.cmp(&b.subject))
        });
        let breaking = changes
            .iter()
            .filter(|c| c.impact == Impact::Breaking)
            .count();
        let warnings = changes
            .iter()
            .filter(|c| c.impact == Impact::Warning)
            .count();
        Plan {
            name,
            from,
            to,
            changes,
            breaking,
            warnings,
            safe: breaking == 0,
        }
    }

    /// The plan as text: a summary line, then one line per change.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{} {} -> {}: {} ({} breaking, {} warnings, {} changes)\n",
            self.name,
            self.from,
            self.to,
            if self.safe { "safe" } else { "BREAKING" },
            self.breaking,
            self.warnings,
            self.changes.len()
        );
        for ch in &self.changes {
            out.push_str(&format!(
                "{:<9} {:<9} {}: {}\n",
                ch.impact, ch.area, ch.subject, ch.message
            ));
        }
        out
    }
}

fn crd_name(crd: &CustomResourceDefinition) -> &str {
    crd.metadata.name.as_deref().unwrap_or("")
}

fn compare_crds(
    old: &[(String, CustomResourceDefinition)],
    new: &[(String, CustomResourceDefinition)],
    c: &mut Changes,
) {
    let old: BTreeMap<&str, &CustomResourceDefinition> =
        old.iter().map(|(_, d)| (crd_name(d), d)).collect();
    let new: BTreeMap<&str, &CustomResourceDefinition> =
        new.iter().map(|(_, d)| (crd_name(d), d)).collect();
    for (name, o) in &old {
        match new.get(name) {
            None => c.add(
                Impact::Breaking,
                Area::Crd,
                *name,
                format!(
                    "removed: activating the new version deletes the CRD, and with it every {} \
                     object in the cluster",
                    o.spec.names.kind
                ),
            ),
            Some(n) => compare_crd(name, o, n, c),
        }
    }
    for (name, n) in &new {
        if !old.contains_key(name) {
            let versions: Vec<&str> = n.spec.versions.iter().map(|v| v.name.as_str()).collect();
            c.add(
                Impact::Info,
                Area::Crd,
                *name,
                format!("added ({} {})", n.spec.names.kind, versions.join(", ")),
            );
        }
    }
}

fn storage_version(crd: &CustomResourceDefinition) -> Option<&str> {
    crd.spec
        .versions
        .iter()
        .find(|v| v.storage)
        .map(|v| v.name.as_str())
}

/// `spec.conversion.strategy`, `None` when unset.
fn conversion_strategy(d: &CustomResourceDefinition) -> String {
    d.spec
        .conversion
        .as_ref()
        .map(|c| c.strategy.clone())
        .unwrap_or_else(|| "None".into())
}

type Versions<'a> = BTreeMap<&'a str, &'a CustomResourceDefinitionVersion>;

fn versions(crd: &CustomResourceDefinition) -> Versions<'_> {
    crd.spec
        .versions
        .iter()
        .map(|v| (v.name.as_str(), v))
        .collect()
}

/// Compares two definitions of the CRD `name`: identity, versions, storage version.
fn compare_crd(
    name: &str,
    old: &CustomResourceDefinition,
    new: &CustomResourceDefinition,
    c: &mut Changes,
) {
    compare_crd_identity(name, old, new, c);
    let (ov, nv) = (versions(old), versions(new));
    for (vname, v) in &ov {
        match nv.get(vname) {
            None => c.add(
                Impact::Breaking,
                Area::Crd,
                name,
                format!(
                    "version {vname} removed: clients and objects using {}/{vname} fail, and \
                     the API server refuses the new CRD while {vname} is in \
                     status.storedVersions{}",
                    old.spec.group,
                    if v.storage {
                        " (it is the storage version now)"
                    } else {
                        ""
                    }
                ),
            ),
            Some(w) => compare_version(name, vname, v, w, c),
        }
    }
    for (vname, w) in &nv {
        if !ov.contains_key(vname) {
            c.add(
                Impact::Info,
                Area::Crd,
                name,
                format!(
                    "version {vname} added ({})",
                    if w.served { "served" } else { "not served" }
                ),
            );
        }
    }
    compare_storage(name, old, new, &ov, &nv, c);
}

/// Group, scope, names and conversion strategy.
fn compare_crd_identity(
    name: &str,
    old: &CustomResourceDefinition,
    new: &CustomResourceDefinition,
    c: &mut Changes,
) {
    let (o, n) = (&old.spec, &new.spec);
    if o.group != n.group {
        c.add(
            Impact::Breaking,
            Area::Crd,
            name,
            format!("group {} -> {}", o.group, n.group),
        );
    }
    if o.scope != n.scope {
        c.add(
            Impact::Breaking,
            Area::Crd,
            name,
            format!(
                "scope {} -> {}: Kubernetes refuses to change it, existing objects would be lost",
                o.scope, n.scope
            ),
        );
    }
    if o.names.kind != n.names.kind || o.names.plural != n.names.plural {
        c.add(
            Impact::Breaking,
            Area::Crd,
            name,
            format!(
                "names {}/{} -> {}/{}: clients and RBAC rules use them",
                o.names.kind, o.names.plural, n.names.kind, n.names.plural
            ),
        );
    }
    let (os, ns) = (conversion_strategy(old), conversion_strategy(new));
    if os != ns {
        c.add(
            Impact::Warning,
            Area::Crd,
            name,
            format!("conversion strategy {os} -> {ns}"),
        );
    }
}

/// One version present in both definitions: served, deprecated, schema.
fn compare_version(
    name: &str,
    vname: &str,
    v: &CustomResourceDefinitionVersion,
    w: &CustomResourceDefinitionVersion,
    c: &mut Changes,
) {
    if v.served && !w.served {
        c.add(
            Impact::Breaking,
            Area::Crd,
            name,
            format!("version {vname} is no longer served: its clients fail"),
        );
    } else if !v.served && w.served {
        c.add(
            Impact::Info,
            Area::Crd,
            name,
            format!("version {vname} is now served"),
        );
    }
    if !v.deprecated.unwrap_or(false) && w.deprecated.unwrap_or(false) {
        c.add(
            Impact::Info,
            Area::Crd,
            name,
            format!("version {vname} is now deprecated"),
        );
    }
    match (schema_of(v), schema_of(w)) {
        (Some(a), Some(b)) => compare_schema(name, vname, a, b, c),
        (None, Some(_)) => c.add(
            Impact::Warning,
            Area::Crd,
            name,
            format!("version {vname} gains a schema: objects that do not match it fail on update"),
        ),
        (Some(_), None) => c.add(
            Impact::Info,
            Area::Crd,
            name,
            format!("version {vname} loses its schema"),
        ),
        (None, None) => {}
    }
}

/// A version's `openAPIV3Schema`.
fn schema_of(v: &CustomResourceDefinitionVersion) -> Option<&JSONSchemaProps> {
    v.schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
}

/// The storage version moving, and versions with different schemas but no conversion.
fn compare_storage(
    name: &str,
    old: &CustomResourceDefinition,
    new: &CustomResourceDefinition,
    ov: &Versions<'_>,
    nv: &Versions<'_>,
    c: &mut Changes,
) {
    let (os, ns) = (storage_version(old), storage_version(new));
    if os != ns {
        c.add(
            Impact::Breaking,
            Area::Crd,
            name,
            format!(
                "storage version {} -> {}: existing objects stay stored as {0} until rewritten; \
                 migrate them and trim status.storedVersions before {0} can be removed \
                 (MetalK8s issue #2372)",
                os.unwrap_or("none"),
                ns.unwrap_or("none")
            ),
        );
    }
    if new.spec.versions.len() > 1 && conversion_strategy(new) == "None" {
        let schemas: BTreeSet<String> = new
            .spec
            .versions
            .iter()
            .map(|v| serde_json::to_string(&v.schema).unwrap_or_default())
            .collect();
        if schemas.len() > 1 && (ov.len() != nv.len() || os != ns) {
            c.add(
                Impact::Warning,
                Area::Crd,
                name,
                "versions have different schemas but no conversion webhook (strategy None): \
                 objects are served at every version with only apiVersion changed"
                    .into(),
            );
        }
    }
}

const MAX_SCHEMA_DEPTH: usize = 64;

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "the object"
    } else {
        path
    }
}

/// Where in a schema a comparison is: the CRD, its version, the field path and the depth.
struct SchemaAt<'a> {
    crd: &'a str,
    version: &'a str,
    path: String,
    depth: usize,
}

impl SchemaAt<'_> {
    /// Runs `f` with `suffix` appended to the path, one level deeper.
    fn nested(&mut self, suffix: &str, f: impl FnOnce(&mut Self)) {
        let len = self.path.len();
        self.path.push_str(suffix);
        self.depth += 1;
        f(self);
        self.depth -= 1;
        self.path.truncate(len);
    }
}

/// Compares the schemas of version `version` of the CRD `crd`.
fn compare_schema(
    crd: &str,
    version: &str,
    o: &JSONSchemaProps,
    n: &JSONSchemaProps,
    c: &mut Changes,
) {
    let mut at = SchemaAt {
        crd,
        version,
        path: String::new(),
        depth: 0,
    };
    compare_schema_at(&mut at, o, n, c);
}

/// Compares two schemas of one field: its type, then (same type) its properties, required
/// fields, enum, items and additional properties.
fn compare_schema_at(
    at: &mut SchemaAt<'_>,
    o: &JSONSchemaProps,
    n: &JSONSchemaProps,
    c: &mut Changes,
) {
    if at.depth > MAX_SCHEMA_DEPTH {
        return;
    }
    if o.type_ != n.type_ {
        c.add(
            Impact::Breaking,
            Area::Crd,
            at.crd,
            format!(
                "{}: {} changes type {} -> {}",
                at.version,
                shown(&at.path),
                o.type_.as_deref().unwrap_or("(any)"),
                n.type_.as_deref().unwrap_or("(any)")
            ),
        );
        return;
    }
    compare_properties(at, o, n, c);
    compare_required(at, o, n, c);
    compare_enum(at, o, n, c);
    if let (Some(JSONSchemaPropsOrArray::Schema(oi)), Some(JSONSchemaPropsOrArray::Schema(ni))) =
        (&o.items, &n.items)
    {
        at.nested("[]", |at| compare_schema_at(at, oi, ni, c));
    }
    if let (Some(JSONSchemaPropsOrBool::Schema(oa)), Some(JSONSchemaPropsOrBool::Schema(na))) =
        (&o.additional_properties, &n.additional_properties)
    {
        let suffix = if at.path.is_empty() { "*" } else { ".*" };
        at.nested(suffix, |at| compare_schema_at(at, oa, na, c));
    }
}

/// Properties removed (softened by `x-kubernetes-preserve-unknown-fields`), compared, added.
fn compare_properties(
    at: &mut SchemaAt<'_>,
    o: &JSONSchemaProps,
    n: &JSONSchemaProps,
    c: &mut Changes,
) {
    let (crd, version) = (at.crd, at.version);
    let keeps_unknown = n.x_kubernetes_preserve_unknown_fields.unwrap_or(false);
    let empty = BTreeMap::new();
    let op = o.properties.as_ref().unwrap_or(&empty);
    let np = n.properties.as_ref().unwrap_or(&empty);
    for (k, ov) in op {
        let sub = join(&at.path, k);
        match np.get(k) {
            None if keeps_unknown => c.add(
                Impact::Warning,
                Area::Crd,
                crd,
                format!(
                    "{version}: field {sub} removed from the schema (kept, unvalidated: \
                     x-kubernetes-preserve-unknown-fields)"
                ),
            ),
            None => c.add(
                Impact::Breaking,
                Area::Crd,
                crd,
                format!(
                    "{version}: field {sub} removed: the API server prunes it from objects, \
                     and clients setting it fail or lose it"
                ),
            ),
            Some(nv) => {
                let suffix = &sub[at.path.len()..];
                at.nested(suffix, |at| compare_schema_at(at, ov, nv, c));
            }
        }
    }
    for k in np.keys() {
        if !op.contains_key(k) {
            c.add(
                Impact::Info,
                Area::Crd,
                crd,
                format!("{version}: field {} added", join(&at.path, k)),
            );
        }
    }
}

/// Fields that become required.
fn compare_required(at: &SchemaAt<'_>, o: &JSONSchemaProps, n: &JSONSchemaProps, c: &mut Changes) {
    let oreq: BTreeSet<&String> = o.required.iter().flatten().collect();
    for r in n.required.iter().flatten() {
        if !oreq.contains(r) {
            c.add(
                Impact::Breaking,
                Area::Crd,
                at.crd,
                format!(
                    "{}: field {} is now required: existing objects without it fail \
                     validation on their next update",
                    at.version,
                    join(&at.path, r)
                ),
            );
        }
    }
}

/// Enum values no longer accepted, or an enum appearing.
fn compare_enum(at: &SchemaAt<'_>, o: &JSONSchemaProps, n: &JSONSchemaProps, c: &mut Changes) {
    if let (Some(oe), Some(ne)) = (&o.enum_, &n.enum_) {
        let gone: Vec<String> = oe
            .iter()
            .filter(|v| !ne.contains(v))
            .map(|v| serde_json::to_string(&v.0).unwrap_or_default())
            .collect();
        if !gone.is_empty() {
            c.add(
                Impact::Breaking,
                Area::Crd,
                at.crd,
                format!(
                    "{}: {} no longer accepts {}",
                    at.version,
                    shown(&at.path),
                    gone.join(", ")
                ),
            );
        }
    } else if o.enum_.is_none() && n.enum_.is_some() {
        c.add(
            Impact::Breaking,
            Area::Crd,
            at.crd,
            format!(
                "{}: {} is now restricted to an enum: existing values may fail",
                at.version,
                shown(&at.path)
            ),
        );
    }
}

fn compare_images(old: &Solution<'_, '_>, new: &Solution<'_, '_>, c: &mut Changes) {
    // name -> tag -> manifest digest
    type Tags = BTreeMap<String, BTreeMap<String, String>>;
    let tags = |s: &Solution<'_, '_>| -> Tags {
        let mut m: Tags = BTreeMap::new();
        for i in &s.images {
            m.entry(i.name.clone())
                .or_default()
                .insert(i.tag.clone(), i.manifest_digest_str().to_string());
        }
        m
    };
    let (o, n) = (tags(old), tags(new));
    let empty = BTreeMap::new();
    let names: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    for name in names {
        let (ot, nt) = (o.get(name).unwrap_or(&empty), n.get(name).unwrap_or(&empty));
        let gone: Vec<(&String, &String)> =
            ot.iter().filter(|(t, _)| !nt.contains_key(*t)).collect();
        let came: Vec<(&String, &String)> =
            nt.iter().filter(|(t, _)| !ot.contains_key(*t)).collect();
        for (t, d) in ot {
            if let Some(e) = nt.get(t) {
                if e != d {
                    c.add(
                        Impact::Warning,
                        Area::Image,
                        format!("{name}:{t}"),
                        format!("same tag, new content: {d} -> {e}"),
                    );
                }
            }
        }
        if let ([(ot, od)], [(nt, nd)]) = (gone.as_slice(), came.as_slice()) {
            let what = if od == nd {
                format!("same content ({nd})")
            } else {
                format!("{od} -> {nd}")
            };
            c.add(
                Impact::Info,
                Area::Image,
                name.as_str(),
                format!("tag {ot} -> {nt}, {what}"),
            );
            continue;
        }
        for (t, d) in gone {
            c.add(
                Impact::Info,
                Area::Image,
                format!("{name}:{t}"),
                format!("removed (was {d})"),
            );
        }
        for (t, d) in came {
            c.add(
                Impact::Info,
                Area::Image,
                format!("{name}:{t}"),
                format!("added ({d})"),
            );
        }
    }
}

fn compare_operator(
    old: &Solution<'_, '_>,
    new: &Solution<'_, '_>,
    old_version: &str,
    new_version: &str,
    c: &mut Changes,
) {
    let image = |s: &Solution<'_, '_>| {
        s.manifest
            .as_ref()
            .map(|m| m.operator_image.clone())
            .unwrap_or_default()
    };
    let digest = |s: &Solution<'_, '_>, (n, t): &(String, String)| {
        s.images
            .iter()
            .find(|i| &i.name == n && &i.tag == t)
            .map(|i| i.manifest_digest_str().to_string())
    };
    let (oi, ni) = (image(old), image(new));
    let (od, nd) = (digest(old, &oi), digest(new, &ni));
    let subject = format!("{}:{}", ni.0, ni.1);
    match nd {
        None => c.add(
            Impact::Breaking,
            Area::Operator,
            &subject,
            "the new operator image is not in the new archive: the Deployment cannot pull it"
                .into(),
        ),
        Some(nd) => {
            let repo = |s: &Solution<'_, '_>, (n, t): &(String, String)| {
                format!("{}/{n}:{t}", s.id().unwrap_or_default())
            };
            if oi != ni || od.as_deref() != Some(nd.as_str()) || old_version != new_version {
                c.add(
                    Impact::Info,
                    Area::Operator,
                    &subject,
                    if od.as_deref() == Some(nd.as_str()) {
                        format!(
                            "the Deployment rolls from {} to {} (same image, {nd})",
                            repo(old, &oi),
                            repo(new, &ni),
                        )
                    } else {
                        format!(
                            "the Deployment rolls from {} ({}) to {} ({nd})",
                            repo(old, &oi),
                            od.as_deref().unwrap_or("not in the old archive"),
                            repo(new, &ni),
                        )
                    },
                );
            }
        }
    }
}

/// Every grant of a role, one string each: `group/resource[/name]: verb` or `url: verb`.
fn grants(role: &RbacRole) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let star = vec!["*".to_string()];
    let empty: Vec<String> = Vec::new();
    for rule in role.rules() {
        let verbs = &rule.verbs;
        for url in rule.non_resource_urls.as_ref().unwrap_or(&empty) {
            for v in verbs {
                out.insert(format!("{url}: {v}"));
            }
        }
        let groups = rule.api_groups.as_ref().unwrap_or(&empty);
        let resources = rule.resources.as_ref().unwrap_or(&empty);
        let names = match &rule.resource_names {
            Some(n) if !n.is_empty() => n,
            _ => &star,
        };
        for g in groups {
            let g = if g.is_empty() { "core" } else { g.as_str() };
            for r in resources {
                for n in names {
                    for v in verbs {
                        if n == "*" {
                            out.insert(format!("{g}/{r}: {v}"));
                        } else {
                            out.insert(format!("{g}/{r}/{n}: {v}"));
                        }
                    }
                }
            }
        }
        if out.len() > 100_000 {
            break;
        }
    }
    out
}

fn compare_roles(old: &[RbacRole], new: &[RbacRole], c: &mut Changes) {
    let key = |r: &RbacRole| format!("{} {}", r.kind(), r.name());
    let o: BTreeMap<String, &RbacRole> = old.iter().map(|r| (key(r), r)).collect();
    let n: BTreeMap<String, &RbacRole> = new.iter().map(|r| (key(r), r)).collect();
    for (k, r) in &o {
        if !n.contains_key(k) {
            c.add(
                Impact::Warning,
                Area::Rbac,
                k,
                format!(
                    "removed from role.yaml, but MetalK8s never deletes it nor its RoleBinding: \
                     the operator keeps these {} grants until they are deleted by hand",
                    grants(r).len()
                ),
            );
        }
    }
    for (k, r) in &n {
        let new_grants = grants(r);
        match o.get(k) {
            None => {
                let (impact, why) = if r.kind() == "ClusterRole" {
                    (
                        Impact::Warning,
                        "a ClusterRole: cluster-wide access for the operator (MetalK8s issue \
                         #2619)",
                    )
                } else {
                    (Impact::Info, "a Role in the environment namespace")
                };
                c.add(
                    impact,
                    Area::Rbac,
                    k,
                    format!("added, {why}: {}", summary(&new_grants)),
                );
            }
            Some(old_role) => {
                let old_grants = grants(old_role);
                let wider: BTreeSet<&String> = new_grants.difference(&old_grants).collect();
                let narrower: BTreeSet<&String> = old_grants.difference(&new_grants).collect();
                if !wider.is_empty() {
                    c.add(
                        Impact::Warning,
                        Area::Rbac,
                        k,
                        format!("widened: {}", summary(&wider)),
                    );
                }
                if !narrower.is_empty() {
                    c.add(
                        Impact::Info,
                        Area::Rbac,
                        k,
                        format!("narrowed: {}", summary(&narrower)),
                    );
                }
            }
        }
    }
}

fn summary<S: AsRef<str>>(grants: impl IntoIterator<Item = S>) -> String {
    let all: Vec<String> = grants.into_iter().map(|g| g.as_ref().to_string()).collect();
    let shown: Vec<&str> = all.iter().take(8).map(String::as_str).collect();
    let mut s = shown.join(", ");
    if all.len() > shown.len() {
        s.push_str(&format!(" and {} more", all.len() - shown.len()));
    }
    if s.is_empty() {
        s.push_str("no grants");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(json: serde_json::Value) -> JSONSchemaProps {
        serde_json::from_value(json).unwrap()
    }

    fn diff(a: serde_json::Value, b: serde_json::Value) -> Vec<(Impact, String)> {
        let mut c = Changes(Vec::new());
        compare_schema("x", "v1", &schema(a), &schema(b), &mut c);
        c.0.into_iter().map(|c| (c.impact, c.message)).collect()
    }

    #[test]
    fn schema_changes_are_classified() {
        let old = serde_json::json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "a": {"type": "string"}, "b": {"type": "integer"},
                "l": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}}}},
                "e": {"type": "string", "enum": ["A", "B"]}}}}});
        let new = serde_json::json!({"type": "object", "properties": {
            "spec": {"type": "object", "required": ["c"], "properties": {
                "b": {"type": "string"}, "c": {"type": "string"},
                "l": {"type": "array", "items": {"type": "object", "properties": {}}},
                "e": {"type": "string", "enum": ["A"]}}}}});
        let got = diff(old, new);
        let has = |i: Impact, s: &str| got.iter().any(|(gi, m)| *gi == i && m.contains(s));
        assert!(has(Impact::Breaking, "field spec.a removed"), "{got:?}");
        assert!(
            has(Impact::Breaking, "spec.b changes type integer -> string"),
            "{got:?}"
        );
        assert!(has(Impact::Info, "field spec.c added"), "{got:?}");
        assert!(
            has(Impact::Breaking, "field spec.c is now required"),
            "{got:?}"
        );
        assert!(has(Impact::Breaking, "field spec.l[].x removed"), "{got:?}");
        assert!(
            has(Impact::Breaking, "spec.e no longer accepts \"B\""),
            "{got:?}"
        );
        assert_eq!(got.len(), 6, "{got:?}");
    }

    #[test]
    fn identical_schemas_have_no_changes() {
        let s = serde_json::json!({"type": "object", "properties": {"spec": {"type": "object"}}});
        assert!(diff(s.clone(), s).is_empty());
    }

    #[test]
    fn preserved_unknown_fields_soften_removal() {
        let old = serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let new =
            serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        let got = diff(old, new);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, Impact::Warning);
    }

    #[test]
    fn grants_expand_rules() {
        let role: k8s_openapi::api::rbac::v1::ClusterRole = serde_json::from_value(serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "r"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                      {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
                      {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["d"], "verbs": ["patch"]}]
        }))
        .unwrap();
        let g: Vec<String> = grants(&RbacRole::ClusterRole(role)).into_iter().collect();
        assert_eq!(
            g,
            [
                "/metrics: get",
                "apps/deployments/d: patch",
                "core/pods: get",
                "core/pods: list"
            ]
        );
    }
}
