//! The Kubernetes objects that deploy a Solution's CRDs and Operator, as MetalK8s does.
//!
//! MetalK8s applies them with Salt states that read the mounted ISO (in MetalK8s's source,
//! `salt/metalk8s/orchestrate/solutions/deploy-components.sls` for the CRDs and
//! `prepare-environment.sls` beside it for the rest); [`render`] builds the same objects from
//! the file, as typed [`k8s_openapi`] values, for `kubectl apply -f -` or a GitOps tool:
//!
//! 1. *activation*: every `operator/deploy/crds/**/*_crd.yaml` (one CRD each, sorted by name);
//! 2. the *environment* of one namespace: the ServiceAccount `<name>-operator`, each Role and
//!    ClusterRole of `operator/deploy/role.yaml` (sorted by kind and name; a Role's namespace is
//!    forced) followed by its RoleBinding (`<name>-operator-<kind>-<role>`, cut at 63
//!    characters), the `<name>-operator-config` ConfigMap holding the `OperatorConfig`, and
//!    the operator Deployment.
//!
//! Every object carries the labels MetalK8s gives it: its template's labels, plus the three
//! its `metalk8s_kubernetes` module adds on create (`metalk8s.scality.com/version`,
//! `app.kubernetes.io/managed-by: salt`, `heritage: salt`), so that objects rendered here and
//! objects MetalK8s applied are the same objects. The output is deterministic: the same
//! archive and options give the same bytes, so a diff between two renders means something.
//!
//! Nothing here reads the archive: the CRD files and `role.yaml` come parsed from
//! [`Solution::operator`], and whether a file can be deployed is decided there
//! ([`OperatorFile::deployable_crd`], beside the validation policy for the same file).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use iso_core::solution::{rpm_vercmp, solution_id, OperatorFile, Refusal, Solution, YamlDocument};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EnvVar, EnvVarSource, ObjectFieldSelector,
    PodSpec, PodTemplateSpec, SecretVolumeSource, ServiceAccount, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;
use serde_json::Value as Json;

/// The registry host MetalK8s puts in image references (`repo.registry_endpoint`); each
/// node's container runtime maps it to the cluster's registry.
pub const DEFAULT_REGISTRY: &str = "metalk8s-registry-from-config.invalid";
/// The ConfigMap key holding the `OperatorConfig`, mounted at `/etc/config`.
pub const OPERATOR_CONFIG_KEY: &str = "operator.yaml";
/// Where the CRDs are, and how their files are named.
pub const CRDS_DIR: &str = iso_core::solution::CRDS_DIR;
/// The file of Roles and ClusterRoles.
pub const ROLES_FILE: &str = iso_core::solution::ROLES_FILE;
/// The Kubernetes limit on the names MetalK8s cuts (RoleBinding names).
pub const NAME_LIMIT: usize = 63;

/// Which objects to render.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Components {
    /// CRDs, then the operator's environment.
    #[default]
    All,
    /// Only the CRDs (what MetalK8s applies when a version is *activated*).
    CrdsOnly,
    /// Everything but the CRDs (what MetalK8s applies in each *environment* namespace).
    NoCrds,
}

/// How to render.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// The environment namespace (ServiceAccount, Roles, RoleBindings, ConfigMap, Deployment).
    pub namespace: String,
    /// The registry host in image references and the `OperatorConfig` endpoints.
    pub registry: String,
    /// Mount the `<name>-cert` Secret (which MetalK8s does not create) at `/cert`, for an
    /// operator serving webhooks.
    pub webhook: bool,
    /// Which objects.
    pub components: Components,
    /// The value of the `metalk8s.scality.com/version` label. MetalK8s writes its own version,
    /// or `unknown` when it cannot tell; that is the default here.
    pub metalk8s_version: String,
}

impl RenderOptions {
    /// Defaults for `namespace`: MetalK8s's registry host, no webhook, every component.
    pub fn new(namespace: impl Into<String>) -> Self {
        RenderOptions {
            namespace: namespace.into(),
            registry: DEFAULT_REGISTRY.into(),
            webhook: false,
            components: Components::All,
            metalk8s_version: "unknown".into(),
        }
    }
}

/// Why an archive cannot be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The ISO could not be read.
    #[error(transparent)]
    Image(#[from] iso_core::Error),
    /// A file of the archive would make MetalK8s fail (or apply something else than what it
    /// says): `path` names it.
    #[error("{path}: {message}")]
    Invalid {
        /// The file in the archive (or `manifest.yaml`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The options are unusable.
    #[error("{0}")]
    Options(String),
}

fn invalid(path: &str, message: impl Into<String>) -> RenderError {
    RenderError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

impl From<Refusal> for RenderError {
    fn from(r: Refusal) -> Self {
        RenderError::Invalid {
            path: r.path,
            message: r.message,
        }
    }
}

/// One rendered Kubernetes object.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Object {
    /// A CRD of `operator/deploy/crds/`.
    CustomResourceDefinition(Box<CustomResourceDefinition>),
    /// `<name>-operator`.
    ServiceAccount(ServiceAccount),
    /// A Role of `role.yaml`, in the environment namespace.
    Role(Role),
    /// A ClusterRole of `role.yaml`.
    ClusterRole(ClusterRole),
    /// The binding of a Role or ClusterRole to the ServiceAccount.
    RoleBinding(RoleBinding),
    /// `<name>-operator-config`.
    ConfigMap(ConfigMap),
    /// `<name>-operator`.
    Deployment(Box<Deployment>),
}

impl Object {
    /// The object's `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Object::CustomResourceDefinition(_) => "CustomResourceDefinition",
            Object::ServiceAccount(_) => "ServiceAccount",
            Object::Role(_) => "Role",
            Object::ClusterRole(_) => "ClusterRole",
            Object::RoleBinding(_) => "RoleBinding",
            Object::ConfigMap(_) => "ConfigMap",
            Object::Deployment(_) => "Deployment",
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::CustomResourceDefinition(o) => &o.metadata,
            Object::ServiceAccount(o) => &o.metadata,
            Object::Role(o) => &o.metadata,
            Object::ClusterRole(o) => &o.metadata,
            Object::RoleBinding(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Deployment(o) => &o.metadata,
        }
    }

    /// `metadata.name` (empty if unset).
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or("")
    }

    /// The object as JSON (what `kubectl` sends).
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }
}

/// A rendered object and the archive file it came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Document {
    /// The file of the archive the object was read from (CRDs, roles); `None` for the objects
    /// built from the manifest.
    pub source: Option<String>,
    /// The object.
    pub object: Object,
}

/// What [`render`] built.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Rendered {
    /// The objects, in the order to apply them.
    pub documents: Vec<Document>,
    /// Things that render but deserve a look (fields the typed objects do not know, names
    /// that collide once cut at 63 characters, ...).
    pub warnings: Vec<String>,
}

impl Rendered {
    /// One YAML stream: each document starts with `---` and a `# Source:` comment.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for d in &self.documents {
            out.push_str("---\n");
            if let Some(s) = &d.source {
                out.push_str("# Source: ");
                out.push_str(s);
                out.push('\n');
            }
            // Serialising typed k8s-openapi values cannot fail (string keys, finite floats).
            match serde_yaml::to_string(&d.object) {
                Ok(y) => out.push_str(&y),
                Err(e) => out.push_str(&format!("# not serialisable: {e}\n")),
            }
        }
        out
    }
}

fn check_name(what: &str, name: &str) -> Result<(), RenderError> {
    if iso_core::solution::is_dns_label(name) {
        Ok(())
    } else {
        Err(RenderError::Options(format!(
            "{what} {name:?} is not a DNS label (lowercase letters, digits and '-', at most 63)"
        )))
    }
}

/// `doc` read into the typed object `T`, with a warning for every field `T` does not hold
/// (which `kubectl apply` would send, and a typed round trip would drop).
fn typed<T: serde::de::DeserializeOwned + Serialize>(
    path: &str,
    what: &str,
    doc: &YamlDocument,
    warnings: &mut Vec<String>,
) -> Result<T, RenderError> {
    let original: &Json = doc
        .json
        .as_ref()
        .map_err(|e| invalid(path, format!("{what}: not representable as JSON: {e}")))?;
    let t: T = serde_json::from_value(original.clone())
        .map_err(|e| invalid(path, format!("{what}: {e}")))?;
    let back = serde_json::to_value(&t).unwrap_or(Json::Null);
    let mut lost = Vec::new();
    lost_fields(original, &back, &mut String::new(), &mut lost);
    for l in lost {
        warnings.push(format!(
            "{path}: {what}: {l} is not part of the Kubernetes type: it is not rendered"
        ));
    }
    Ok(t)
}

/// Paths present (non-null) in `a` but absent or different in `b`; numbers compare by value.
fn lost_fields(a: &Json, b: &Json, at: &mut String, out: &mut Vec<String>) {
    if out.len() >= 20 {
        return;
    }
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            for (k, v) in x {
                if v.is_null() {
                    continue;
                }
                let len = at.len();
                if !at.is_empty() {
                    at.push('.');
                }
                at.push_str(k);
                match y.get(k) {
                    Some(w) => lost_fields(v, w, at, out),
                    None => out.push(format!("field {at}")),
                }
                at.truncate(len);
            }
        }
        (Json::Array(x), Json::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                let len = at.len();
                at.push_str(&format!("[{i}]"));
                lost_fields(v, w, at, out);
                at.truncate(len);
            }
        }
        (Json::Number(x), Json::Number(y)) if x.as_f64() == y.as_f64() => {}
        _ if a == b => {}
        _ => out.push(format!("the value of {at}")),
    }
}

/// The labels MetalK8s's `metalk8s_kubernetes` module adds to every object it creates.
fn salt_labels(labels: &mut BTreeMap<String, String>, opts: &RenderOptions) {
    labels.insert(
        "metalk8s.scality.com/version".into(),
        opts.metalk8s_version.clone(),
    );
    labels.insert("app.kubernetes.io/managed-by".into(), "salt".into());
    labels.insert("heritage".into(), "salt".into());
}

/// The labels of MetalK8s's operator templates.
fn operator_labels(name: &str, version: &str) -> BTreeMap<String, String> {
    let op = format!("{name}-operator");
    BTreeMap::from([
        ("app".to_string(), op.clone()),
        ("app.kubernetes.io/name".into(), op.clone()),
        ("app.kubernetes.io/instance".into(), op),
        ("app.kubernetes.io/version".into(), version.into()),
        ("app.kubernetes.io/component".into(), "operator".into()),
        ("app.kubernetes.io/part-of".into(), name.into()),
    ])
}

fn meta(name: &str, namespace: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        labels: Some(labels),
        ..Default::default()
    }
}

/// `(name, version, images)` of a Solution, for the `OperatorConfig`.
fn identity(s: &Solution<'_, '_>) -> Result<(String, String), RenderError> {
    let m = s
        .manifest
        .as_ref()
        .ok_or_else(|| invalid("manifest.yaml", "missing or unreadable"))?;
    let name = m
        .name
        .clone()
        .ok_or_else(|| invalid("manifest.yaml", "metadata.name is missing"))?;
    let version = m
        .version
        .clone()
        .ok_or_else(|| invalid("manifest.yaml", "spec.version is missing"))?;
    Ok((name, version))
}

/// `spec.images` as MetalK8s lists them in the `OperatorConfig` (the `images/` tree when the
/// manifest declares none).
fn config_images(s: &Solution<'_, '_>) -> Vec<String> {
    match &s.manifest {
        Some(m) if m.images_declared => m.images.clone(),
        _ => {
            let mut v: Vec<String> = s
                .images
                .iter()
                .map(|i| format!("{}:{}", i.name, i.tag))
                .collect();
            v.sort();
            v
        }
    }
}

/// The `OperatorConfig` document, with one repository per available version (sorted by
/// RPM version order, as `latest` is resolved).
fn operator_config(
    versions: &[(String, String, Vec<String>)],
    registry: &str,
) -> Result<String, RenderError> {
    #[derive(Serialize)]
    struct Repository<'a> {
        endpoint: String,
        images: &'a [String],
    }
    struct Repos<'a>(&'a [(String, String, Vec<String>)], &'a str);
    impl Serialize for Repos<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(Some(self.0.len()))?;
            for (version, id, images) in self.0 {
                m.serialize_entry(
                    version,
                    &[Repository {
                        endpoint: format!("{}/{id}", self.1),
                        images,
                    }],
                )?;
            }
            m.end()
        }
    }
    #[derive(Serialize)]
    struct OperatorConfig<'a> {
        #[serde(rename = "apiVersion")]
        api_version: &'a str,
        kind: &'a str,
        repositories: Repos<'a>,
    }
    serde_yaml::to_string(&OperatorConfig {
        api_version: iso_core::solution::API_VERSION,
        kind: "OperatorConfig",
        repositories: Repos(versions, registry),
    })
    .map_err(|e| RenderError::Options(format!("OperatorConfig: {e}")))
}

/// Cuts `s` to `n` characters, as Python's `s[:n]` does.
fn cut(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The CRDs of `solution`, typed, sorted by name. A CRD file is refused unless it holds
/// exactly one `apiextensions.k8s.io/v1` CustomResourceDefinition (the deploy policy of
/// [`OperatorFile::deployable_crd`]), and two files defining the same CRD are refused.
pub fn crds(
    solution: &Solution<'_, '_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, CustomResourceDefinition)>, RenderError> {
    let mut out = Vec::new();
    for file in &solution.operator.crds {
        out.push((file.path.clone(), crd(file, warnings)?));
    }
    out.sort_by(|a, b| a.1.metadata.name.cmp(&b.1.metadata.name));
    for w in out.windows(2) {
        if w[0].1.metadata.name == w[1].1.metadata.name {
            return Err(invalid(
                &w[1].0,
                format!(
                    "defines the CRD {:?} again (also in {})",
                    w[1].1.metadata.name.as_deref().unwrap_or(""),
                    w[0].0
                ),
            ));
        }
    }
    Ok(out)
}

/// The one CRD of a CRD file, typed.
fn crd(
    file: &OperatorFile,
    warnings: &mut Vec<String>,
) -> Result<CustomResourceDefinition, RenderError> {
    let path = &file.path;
    if file.templated {
        warnings.push(format!(
            "{path}: holds Jinja or Salt slot syntax, which MetalK8s renders before \
             applying; it is rendered here as written"
        ));
    }
    let doc = file.deployable_crd()?;
    if doc.api_version != "apiextensions.k8s.io/v1" {
        return Err(invalid(
            path,
            format!(
                "apiVersion {:?}: only apiextensions.k8s.io/v1 CRDs are rendered \
                 (v1beta1 is not served since Kubernetes 1.22)",
                doc.api_version
            ),
        ));
    }
    let crd: CustomResourceDefinition = typed(path, "CustomResourceDefinition", doc, warnings)?;
    if crd.metadata.name.as_deref().unwrap_or("").is_empty() {
        return Err(invalid(path, "the CRD has no metadata.name"));
    }
    Ok(crd)
}

/// A Role or ClusterRole of `role.yaml`.
#[derive(Clone, Debug, PartialEq)]
pub enum RbacRole {
    /// A namespaced Role.
    Role(Role),
    /// A ClusterRole.
    ClusterRole(ClusterRole),
}

impl RbacRole {
    /// `Role` or `ClusterRole`.
    pub fn kind(&self) -> &'static str {
        match self {
            RbacRole::Role(_) => "Role",
            RbacRole::ClusterRole(_) => "ClusterRole",
        }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        match self {
            RbacRole::Role(r) => r.metadata.name.as_deref().unwrap_or(""),
            RbacRole::ClusterRole(r) => r.metadata.name.as_deref().unwrap_or(""),
        }
    }

    /// The policy rules.
    pub fn rules(&self) -> &[k8s_openapi::api::rbac::v1::PolicyRule] {
        match self {
            RbacRole::Role(r) => r.rules.as_deref().unwrap_or(&[]),
            RbacRole::ClusterRole(r) => r.rules.as_deref().unwrap_or(&[]),
        }
    }
}

/// The documents of `operator/deploy/role.yaml` (none when the file is absent), typed, sorted
/// by kind and name. Any other kind is refused, as MetalK8s refuses it.
pub fn roles(
    solution: &Solution<'_, '_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<RbacRole>, RenderError> {
    let Some(file) = &solution.operator.roles else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for doc in file.deployable_documents()? {
        let role = match doc.kind.as_str() {
            "Role" => RbacRole::Role(typed(ROLES_FILE, "Role", doc, warnings)?),
            "ClusterRole" => {
                RbacRole::ClusterRole(typed(ROLES_FILE, "ClusterRole", doc, warnings)?)
            }
            other => {
                return Err(invalid(
                    ROLES_FILE,
                    format!(
                        "Forbidden object kind '{other}': only Role and ClusterRole are allowed"
                    ),
                ))
            }
        };
        if role.name().is_empty() {
            return Err(invalid(
                ROLES_FILE,
                format!("a {} has no metadata.name", role.kind()),
            ));
        }
        out.push(role);
    }
    out.sort_by(|a, b| (a.kind(), a.name()).cmp(&(b.kind(), b.name())));
    for w in out.windows(2) {
        if w[0].kind() == w[1].kind() && w[0].name() == w[1].name() {
            warnings.push(format!(
                "{ROLES_FILE}: {} {:?} is defined twice: the last one applied wins",
                w[0].kind(),
                w[0].name()
            ));
        }
    }
    Ok(out)
}

/// Renders the objects that deploy `solution` in `opts.namespace`. `available` are the other
/// imported versions of the same Solution: MetalK8s lists every imported version in the
/// `OperatorConfig` (others, and duplicates of a version, are ignored with a warning).
pub fn render(
    solution: &Solution<'_, '_>,
    available: &[&Solution<'_, '_>],
    opts: &RenderOptions,
) -> Result<Rendered, RenderError> {
    let mut out = Rendered::default();
    let (name, version) = identity(solution)?;
    if opts.registry.is_empty() || opts.registry.contains(char::is_whitespace) {
        return Err(RenderError::Options(format!(
            "registry {:?} is not a host name",
            opts.registry
        )));
    }
    if opts.components != Components::NoCrds {
        for (path, mut crd) in crds(solution, &mut out.warnings)? {
            salt_labels(crd.metadata.labels.get_or_insert_with(BTreeMap::new), opts);
            out.documents.push(Document {
                source: Some(path),
                object: Object::CustomResourceDefinition(Box::new(crd)),
            });
        }
    }
    if opts.components == Components::CrdsOnly {
        return Ok(out);
    }
    check_name("namespace", &opts.namespace)?;
    let env = Environment::new(&name, &version, opts);
    // 1. The ServiceAccount.
    out.documents.push(env.service_account());
    // 2. Roles and their bindings.
    env.render_roles(solution, &mut out)?;
    // 3. The OperatorConfig, listing every available version.
    let versions = listed_versions(solution, available, &name, &version, &mut out.warnings);
    out.documents.push(env.config_map(&versions)?);
    // 4. The operator Deployment.
    let image = operator_image(solution, &mut out.warnings)?;
    out.documents.push(env.deployment(&image));
    Ok(out)
}

/// `(version, id, images)` of every version the `OperatorConfig` lists: `solution`'s and
/// those of `available` that are other versions of the same Solution, in RPM version order.
fn listed_versions(
    solution: &Solution<'_, '_>,
    available: &[&Solution<'_, '_>],
    name: &str,
    version: &str,
    warnings: &mut Vec<String>,
) -> Vec<(String, String, Vec<String>)> {
    let mut versions = vec![(
        version.to_string(),
        solution_id(name, version),
        config_images(solution),
    )];
    for other in available {
        let Ok((n, v)) = identity(other) else {
            warnings.push(format!(
                "an available archive ({}) has no readable name and version: not listed",
                other.volume_id
            ));
            continue;
        };
        if n != name {
            warnings.push(format!(
                "{n} {v} is another Solution than {name}: not listed in the OperatorConfig"
            ));
            continue;
        }
        if versions.iter().any(|(have, _, _)| *have == v) {
            warnings.push(format!(
                "{name} {v} is given twice: listed once in the OperatorConfig"
            ));
            continue;
        }
        versions.push((v.clone(), format!("{n}-{v}"), config_images(other)));
    }
    versions.sort_by(|a, b| match rpm_vercmp(&a.0, &b.0) {
        Ordering::Equal => a.0.cmp(&b.0),
        o => o,
    });
    versions
}

/// The operator image `(name, tag)` of the manifest, with a warning when the archive does not
/// hold it, and one when the manifest asks for metrics objects that are not rendered.
fn operator_image(
    solution: &Solution<'_, '_>,
    warnings: &mut Vec<String>,
) -> Result<(String, String), RenderError> {
    let (image_name, image_tag) = solution
        .manifest
        .as_ref()
        .map(|m| m.operator_image.clone())
        .unwrap_or_default();
    if image_name.is_empty() || image_tag.is_empty() {
        return Err(invalid(
            "manifest.yaml",
            "spec.operator.image has no name or tag",
        ));
    }
    if !solution
        .images
        .iter()
        .any(|i| i.name == image_name && i.tag == image_tag)
    {
        warnings.push(format!(
            "images/{image_name}/{image_tag}: the operator image is not in the archive; the \
             Deployment cannot pull it"
        ));
    }
    if solution.manifest.as_ref().and_then(|m| m.metrics_enabled) == Some(true) {
        warnings.push(
            "manifest.yaml: spec.operator.metrics.enabled is true: MetalK8s releases with PR \
             #4813 also deploy a Service and a ServiceMonitor for the operator, which are not \
             rendered (their exact shape is not part of the archive contract known here)"
                .into(),
        );
    }
    Ok((image_name, image_tag))
}

/// What the objects of one environment namespace share: the Solution's name and version, the
/// operator's name, the namespace and the options.
struct Environment<'a> {
    name: &'a str,
    version: &'a str,
    /// `<name>-operator`: the ServiceAccount, the Deployment, its container.
    operator: String,
    opts: &'a RenderOptions,
}

impl<'a> Environment<'a> {
    fn new(name: &'a str, version: &'a str, opts: &'a RenderOptions) -> Self {
        Environment {
            name,
            version,
            operator: format!("{name}-operator"),
            opts,
        }
    }

    /// The namespace's metadata for an object named `name`, with the operator's labels.
    fn meta(&self, name: &str) -> ObjectMeta {
        let mut labels = operator_labels(self.name, self.version);
        salt_labels(&mut labels, self.opts);
        meta(name, &self.opts.namespace, labels)
    }

    /// `<name>-operator-config`.
    fn config_name(&self) -> String {
        format!("{}-config", self.operator)
    }

    fn service_account(&self) -> Document {
        Document {
            source: None,
            object: Object::ServiceAccount(ServiceAccount {
                metadata: self.meta(&self.operator),
                ..Default::default()
            }),
        }
    }

    /// Each Role and ClusterRole of `role.yaml`, followed by its RoleBinding.
    fn render_roles(
        &self,
        solution: &Solution<'_, '_>,
        out: &mut Rendered,
    ) -> Result<(), RenderError> {
        let mut binding_names: BTreeMap<String, String> = BTreeMap::new();
        for role in roles(solution, &mut out.warnings)? {
            let (kind, role_name) = (role.kind(), role.name().to_string());
            let object = self.role_object(role, &mut out.warnings);
            out.documents.push(Document {
                source: Some(ROLES_FILE.into()),
                object,
            });
            let binding = binding_name(
                &self.operator,
                kind,
                &role_name,
                &mut binding_names,
                &mut out.warnings,
            );
            out.documents
                .push(self.role_binding(binding, kind, role_name));
        }
        Ok(())
    }

    /// A role as applied: a Role in the namespace, a ClusterRole (with a warning) as is.
    fn role_object(&self, role: RbacRole, warnings: &mut Vec<String>) -> Object {
        match role {
            RbacRole::Role(mut r) => {
                r.metadata.namespace = Some(self.opts.namespace.clone());
                salt_labels(
                    r.metadata.labels.get_or_insert_with(BTreeMap::new),
                    self.opts,
                );
                Object::Role(r)
            }
            RbacRole::ClusterRole(mut r) => {
                salt_labels(
                    r.metadata.labels.get_or_insert_with(BTreeMap::new),
                    self.opts,
                );
                warnings.push(format!(
                    "{ROLES_FILE}: ClusterRole {:?} grants the operator cluster-wide \
                     access (MetalK8s binds it in the namespace, but its cluster-scoped \
                     resources are global; MetalK8s issue #2619)",
                    r.metadata.name.as_deref().unwrap_or("")
                ));
                Object::ClusterRole(r)
            }
        }
    }

    /// The RoleBinding `binding` of the role `kind` `role_name` to the ServiceAccount.
    fn role_binding(&self, binding: String, kind: &str, role_name: String) -> Document {
        Document {
            source: None,
            object: Object::RoleBinding(RoleBinding {
                metadata: self.meta(&binding),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: kind.into(),
                    name: role_name,
                },
                subjects: Some(vec![Subject {
                    kind: "ServiceAccount".into(),
                    name: self.operator.clone(),
                    ..Default::default()
                }]),
            }),
        }
    }

    /// `<name>-operator-config`, holding the `OperatorConfig` of `versions`.
    fn config_map(
        &self,
        versions: &[(String, String, Vec<String>)],
    ) -> Result<Document, RenderError> {
        Ok(Document {
            source: None,
            object: Object::ConfigMap(ConfigMap {
                metadata: self.meta(&self.config_name()),
                data: Some(BTreeMap::from([(
                    OPERATOR_CONFIG_KEY.to_string(),
                    operator_config(versions, &self.opts.registry)?,
                )])),
                ..Default::default()
            }),
        })
    }

    /// The operator Deployment, running `image` (`(name, tag)` in the Solution's repository).
    fn deployment(&self, image: &(String, String)) -> Document {
        let mut pod_labels = operator_labels(self.name, self.version);
        pod_labels.insert("app.kubernetes.io/managed-by".into(), "salt".into());
        pod_labels.insert("heritage".into(), "salt".into());
        let (mounts, volumes) = self.volumes();
        let deployment = Deployment {
            metadata: self.meta(&self.operator),
            spec: Some(DeploymentSpec {
                replicas: Some(1),
                selector: LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        "app".to_string(),
                        self.operator.clone(),
                    )])),
                    ..Default::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(pod_labels),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        service_account_name: Some(self.operator.clone()),
                        containers: vec![self.container(image, mounts)],
                        volumes: Some(volumes),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            ..Default::default()
        };
        Document {
            source: None,
            object: Object::Deployment(Box::new(deployment)),
        }
    }

    /// The operator container: its image from the registry, its config, its environment.
    fn container(
        &self,
        (image_name, image_tag): &(String, String),
        mounts: Vec<VolumeMount>,
    ) -> Container {
        let field = |path: &str| EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = solution_id(self.name, self.version);
        let operator = &self.operator;
        Container {
            name: operator.clone(),
            image: Some(format!(
                "{}/{id}/{image_name}:{image_tag}",
                self.opts.registry
            )),
            command: Some(vec![
                operator.clone(),
                format!("--config=/etc/config/{OPERATOR_CONFIG_KEY}"),
            ]),
            image_pull_policy: Some("Always".into()),
            env: Some(vec![
                EnvVar {
                    name: "WATCH_NAMESPACE".into(),
                    value_from: Some(field("metadata.namespace")),
                    ..Default::default()
                },
                EnvVar {
                    name: "POD_NAME".into(),
                    value_from: Some(field("metadata.name")),
                    ..Default::default()
                },
                EnvVar {
                    name: "OPERATOR_NAME".into(),
                    value: Some(operator.clone()),
                    ..Default::default()
                },
            ]),
            volume_mounts: Some(mounts),
            ..Default::default()
        }
    }

    /// The operator's volume mounts and volumes: its config, and with `webhook` the
    /// `<name>-cert` Secret.
    fn volumes(&self) -> (Vec<VolumeMount>, Vec<Volume>) {
        let mut mounts = vec![VolumeMount {
            name: "operator-config".into(),
            mount_path: "/etc/config".into(),
            ..Default::default()
        }];
        let mut volumes = vec![Volume {
            name: "operator-config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: self.config_name(),
                ..Default::default()
            }),
            ..Default::default()
        }];
        if self.opts.webhook {
            mounts.push(VolumeMount {
                name: "cert".into(),
                mount_path: "/cert".into(),
                read_only: Some(true),
                ..Default::default()
            });
            volumes.push(Volume {
                name: "cert".into(),
                secret: Some(SecretVolumeSource {
                    default_mode: Some(0o644),
                    secret_name: Some(format!("{}-cert", self.name)),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        (mounts, volumes)
    }
}

/// The name of the RoleBinding of role `kind` `role_name`: `<operator>-<kind>-<role>`, cut at
/// [`NAME_LIMIT`] characters as MetalK8s cuts it, with a warning when it is cut, when
/// Kubernetes would refuse it, or when it collides with an earlier one (`names`: binding name
/// to the role it binds).
fn binding_name(
    operator: &str,
    kind: &str,
    role_name: &str,
    names: &mut BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> String {
    let full = format!("{operator}-{}-{role_name}", kind.to_lowercase());
    let binding = cut(&full, NAME_LIMIT).to_string();
    if binding.len() < full.len() {
        warnings.push(format!(
            "RoleBinding name {full:?} is cut to {binding:?} ({NAME_LIMIT} characters), as \
             MetalK8s cuts it"
        ));
    }
    if binding.ends_with(['-', '.']) {
        warnings.push(format!(
            "RoleBinding name {binding:?} ends with {:?}: Kubernetes refuses it",
            &binding[binding.len() - 1..]
        ));
    }
    if let Some(first) = names.insert(binding.clone(), format!("{kind} {role_name}")) {
        warnings.push(format!(
            "the RoleBindings of {first} and {kind} {role_name} are both named {binding:?} \
             once cut to {NAME_LIMIT} characters: the second replaces the first"
        ));
    }
    binding
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_is_python_slicing() {
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("ab", 3), "ab");
        assert_eq!(cut("ééé", 2), "éé");
    }

    #[test]
    fn lost_fields_names_unknown_paths() {
        let a = serde_json::json!({"spec": {"a": 1, "typo": true, "n": null}, "l": [{"x": 1.0}]});
        let b = serde_json::json!({"spec": {"a": 1.0}, "l": [{"x": 1}]});
        let mut out = Vec::new();
        lost_fields(&a, &b, &mut String::new(), &mut out);
        assert_eq!(out, vec!["field spec.typo".to_string()]);
    }

    #[test]
    fn operator_config_orders_versions_and_quotes_when_needed() {
        let v = vec![
            (
                "1.0".to_string(),
                "s-1.0".to_string(),
                vec!["a:1.0".to_string()],
            ),
            ("1.0.10".to_string(), "s-1.0.10".to_string(), vec![]),
        ];
        let text = operator_config(&v, "reg").unwrap();
        let parsed: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let repos = parsed["repositories"].as_mapping().unwrap();
        let keys: Vec<_> = repos.keys().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(keys, ["1.0", "1.0.10"], "{text}");
        assert_eq!(parsed["repositories"]["1.0"][0]["endpoint"], "reg/s-1.0");
    }
}
