//! The validation rules: stable ids, severities and what each means.
//!
//! Ids are stable: scripts may match on them. `--strict` turns warnings into failures.

use super::Severity;

/// Every rule: id, severity, description.
pub const RULES: &[(&str, Severity, &str)] = &[
    ("manifest.missing-primary", Severity::Error, "no MANIFEST.YAML;1 in the primary ISO 9660 root, where MetalK8s reads it (isoinfo -x /MANIFEST.YAML;1)"),
    ("manifest.missing-rr", Severity::Error, "no manifest.yaml in the Rock Ridge root, which MetalK8s reads after mounting"),
    ("manifest.legacy-format", Severity::Error, "legacy product.txt archive (MetalK8s 2.4 to 2.5.0): current MetalK8s does not import it"),
    ("manifest.yaml-invalid", Severity::Error, "manifest.yaml is not valid YAML, or not a mapping"),
    ("manifest.kind", Severity::Error, "kind is not Solution: MetalK8s mounts it but never lists it"),
    ("manifest.api-version", Severity::Error, "apiVersion is not solutions.metalk8s.scality.com/v1alpha1"),
    ("manifest.name-missing", Severity::Error, "metadata.name is missing"),
    ("manifest.name-invalid", Severity::Error, "metadata.name is not a DNS-1123 label (^(?!-)[0-9a-z-]{1,63}(?<!-)$)"),
    ("manifest.version-missing", Severity::Error, "spec.version is missing"),
    ("manifest.version-not-string", Severity::Error, "spec.version is not a string (quote it: 1.0 is a float)"),
    ("manifest.name-metalk8s-prefix", Severity::Warning, "metadata.name starts with metalk8s-: MetalK8s never lists such a Solution"),
    ("manifest.name-too-long", Severity::Warning, "metadata.name is over 54 characters: the label app=<name>-operator exceeds 63"),
    ("manifest.id-not-dns-safe", Severity::Warning, "<name>-<version> is not DNS-label safe ([a-z0-9.-]): MetalK8s derives volume names and registry paths from it"),
    ("manifest.id-too-long", Severity::Warning, "<name>-<version> is over 53 characters: the volume name registry-<id> exceeds 63"),
    ("manifest.images-entry", Severity::Warning, "a spec.images entry is malformed or names no image under images/"),
    ("manifest.display-name-toplevel", Severity::Warning, "the display name sits in a top-level annotations key (what MetalK8s's code reads) but not in metadata.annotations (what its docs say)"),
    ("manifest.unknown-key", Severity::Warning, "a key MetalK8s does not know (kept, reported)"),
    ("layout.images-missing", Severity::Error, "no images/ directory"),
    ("layout.registry-config-missing", Severity::Error, "no registry-config.inc.j2 at the root"),
    ("layout.file-too-large", Severity::Error, "a document (manifest, CRD, role, registry config) is larger than isolution reads into memory"),
    ("operator.role-kind", Severity::Error, "operator/deploy/role.yaml holds a document that is not a Role or ClusterRole"),
    ("operator.role-invalid", Severity::Error, "operator/deploy/role.yaml is not valid YAML"),
    ("operator.image-missing", Severity::Error, "the operator image is not under images/"),
    ("operator.cluster-role", Severity::Warning, "role.yaml grants a ClusterRole: cluster-wide permissions for the operator (MetalK8s #2619)"),
    ("operator.crd-name", Severity::Warning, "a file under operator/deploy/crds/ does not end in _crd.yaml: MetalK8s ignores it"),
    ("operator.crd-multi-doc", Severity::Warning, "a CRD file holds more than one YAML document"),
    ("operator.crd-kind", Severity::Warning, "a CRD file holds something other than a CustomResourceDefinition, or is not valid YAML"),
    ("image.manifest-missing", Severity::Error, "an images/<name>/<tag>/ directory without manifest.json"),
    ("image.manifest-invalid", Severity::Error, "manifest.json is not a valid image manifest or index"),
    ("image.not-v2s2", Severity::Warning, "manifest.json is not a Docker v2 schema 2 manifest: MetalK8s's registry skips it"),
    ("image.version-file", Severity::Warning, "the version file is missing or not \"Directory Transport Version: 1.x\""),
    ("image.blob-missing", Severity::Error, "a manifest names a blob that is not in its directory"),
    ("image.blob-size", Severity::Error, "a blob's size differs from the size its descriptor gives"),
    ("image.blob-digest", Severity::Error, "a blob's sha256 differs from the digest its descriptor names"),
    ("image.blob-name", Severity::Error, "a blob file's name is not the sha256 of its content"),
    ("registry-config.extra", Severity::Error, "registry-config.inc.j2 holds nginx configuration that the image tree does not imply (MetalK8s includes it verbatim into its registry server)"),
    ("registry-config.constants", Severity::Warning, "registry-config.inc.j2 holds the constant blocks MetalK8s already defines (generated without --omit-constants)"),
    ("registry-config.missing", Severity::Warning, "registry-config.inc.j2 lacks a location block the image tree implies: that image or tag is not served"),
    ("iso.no-rock-ridge", Severity::Warning, "the ISO has no Rock Ridge"),
    ("iso.no-joliet", Severity::Warning, "the ISO has no Joliet tree"),
    ("iso.volume-id", Severity::Warning, "the volume id does not end with spec.version"),
    ("config.yaml-invalid", Severity::Error, "solutions.yaml is not valid YAML, or not a mapping"),
    ("config.kind", Severity::Error, "kind is not SolutionsConfiguration"),
    ("config.api-version", Severity::Error, "apiVersion is not solutions.metalk8s.scality.com/v1alpha1"),
    ("config.archive-path-relative", Severity::Error, "an archive path is not absolute"),
    ("config.archive-missing", Severity::Error, "an archive path does not exist"),
    ("config.archive-invalid", Severity::Error, "an archive is not a valid Solution (not ISO 9660, or it fails validation)"),
    ("config.duplicate-archive", Severity::Error, "two archives hold the same Solution name and version (MetalK8s #3108)"),
    ("config.active-unknown", Severity::Error, "active names a Solution no archive provides"),
    ("config.active-version-unknown", Severity::Error, "active names a version no archive provides"),
    ("config.latest", Severity::Info, "the version latest resolves to"),
];

/// The severity of a rule (error for an unknown id).
pub fn severity(rule: &str) -> Severity {
    RULES
        .iter()
        .find(|(id, _, _)| *id == rule)
        .map_or(Severity::Error, |r| r.1)
}
