//! The validation rules: stable ids, severities and what each means.
//!
//! Ids are stable: scripts may match on them. `--strict` turns warnings into failures.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use super::Severity;

/// Declares [`Rule`] from one table (variant = id, severity, description), so that the id, the
/// severity and the description of a rule are written once, side by side.
macro_rules! rules {
    ($($variant:ident = $id:literal, $severity:ident, $description:literal;)*) => {
        /// A validation rule. Findings carry one; it prints, and serialises, as its stable
        /// dotted id ([`Rule::id`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Rule {
            $(
                // The description goes in a text block: it names paths like `images/<name>/`.
                #[doc = concat!("`", $id, "` (", stringify!($severity), ")\n\n```text\n", $description, "\n```")]
                $variant,
            )*
        }

        impl Rule {
            /// Every rule, grouped by area, in the order they are documented.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            /// The stable dotted id, e.g. `image.blob-digest`.
            pub const fn id(self) -> &'static str {
                match self {
                    $(Rule::$variant => $id,)*
                }
            }

            /// How serious a finding of this rule is.
            pub const fn severity(self) -> Severity {
                match self {
                    $(Rule::$variant => Severity::$severity,)*
                }
            }

            /// What the rule reports, for a person.
            pub const fn description(self) -> &'static str {
                match self {
                    $(Rule::$variant => $description,)*
                }
            }
        }
    };
}

rules! {
    ManifestMissingPrimary = "manifest.missing-primary", Error, "no MANIFEST.YAML;1 in the primary ISO 9660 root, where MetalK8s reads it (isoinfo -x /MANIFEST.YAML;1)";
    ManifestMissingRr = "manifest.missing-rr", Error, "no manifest.yaml in the Rock Ridge root, which MetalK8s reads after mounting";
    ManifestLegacyFormat = "manifest.legacy-format", Error, "legacy product.txt archive (MetalK8s 2.4 to 2.5.0): current MetalK8s does not import it";
    ManifestYamlInvalid = "manifest.yaml-invalid", Error, "manifest.yaml is not valid YAML, or not a mapping";
    ManifestKind = "manifest.kind", Error, "kind is not Solution: MetalK8s mounts it but never lists it";
    ManifestApiVersion = "manifest.api-version", Error, "apiVersion is not solutions.metalk8s.scality.com/v1alpha1";
    ManifestNameMissing = "manifest.name-missing", Error, "metadata.name is missing";
    ManifestNameNotString = "manifest.name-not-string", Error, "metadata.name is not a string (MetalK8s's name check fails on it)";
    ManifestNameInvalid = "manifest.name-invalid", Error, "metadata.name is not a DNS-1123 label (^(?!-)[0-9a-z-]{1,63}(?<!-)$)";
    ManifestVersionMissing = "manifest.version-missing", Error, "spec.version is missing";
    ManifestVersionNotString = "manifest.version-not-string", Error, "spec.version is not a string (quote it: 1.0 is a float)";
    ManifestVersionEmpty = "manifest.version-empty", Error, "spec.version is empty (MetalK8s accepts it: the id becomes <name>- and the default operator tag is empty)";
    ManifestStateIdUnsafe = "manifest.state-id-unsafe", Error, "the display name MetalK8s reads (top-level annotations, else the name) and the version hold \": \", \" #\" or a line break, which break the YAML of the state ids MetalK8s writes them into";
    ManifestFieldInvalid = "manifest.field-invalid", Error, "metadata, spec or the top-level annotations is not a mapping, or spec.operator, spec.operator.image (name, tag) or spec.images has a type MetalK8s cannot use";
    ManifestNameMetalk8sPrefix = "manifest.name-metalk8s-prefix", Warning, "metadata.name is metalk8s or starts with metalk8s-: MetalK8s never lists such a Solution";
    ManifestNameTooLong = "manifest.name-too-long", Warning, "metadata.name is over 54 characters: the label app=<name>-operator exceeds 63";
    ManifestIdNotDnsSafe = "manifest.id-not-dns-safe", Warning, "<name>-<version> is not DNS-label safe ([a-z0-9.-]): MetalK8s derives volume names and registry paths from it";
    ManifestIdTooLong = "manifest.id-too-long", Warning, "<name>-<version> is over 53 characters: the volume name registry-<id> exceeds 63";
    ManifestImagesEntry = "manifest.images-entry", Warning, "a spec.images entry is malformed or names no image under images/";
    ManifestDisplayNameToplevel = "manifest.display-name-toplevel", Warning, "the display name sits in a top-level annotations key (what MetalK8s's code reads) but not in metadata.annotations (what its docs say)";
    ManifestDisplayNameNotShown = "manifest.display-name-not-shown", Warning, "the display name is only in metadata.annotations (what MetalK8s's docs say) and not in a top-level annotations key (what its code reads): MetalK8s shows metadata.name";
    ManifestUiImageMissing = "manifest.ui-image-missing", Warning, "spec.ui is given but its image (default <name>-ui:<version>) is not under images/ (MetalK8s 2.5.x deployed it)";
    ManifestUiNotDeployed = "manifest.ui-not-deployed", Info, "spec.ui is given: MetalK8s deploys no Solution UI since 2.6.0";
    ManifestUnknownKey = "manifest.unknown-key", Warning, "a key MetalK8s does not know (kept, reported)";
    LayoutImagesMissing = "layout.images-missing", Error, "no images/ directory";
    LayoutRegistryConfigMissing = "layout.registry-config-missing", Error, "no registry-config.inc.j2 at the root";
    LayoutFileTooLarge = "layout.file-too-large", Error, "a document (manifest, CRD, role, registry config) is larger than isolution reads into memory";
    OperatorRoleKind = "operator.role-kind", Error, "operator/deploy/role.yaml holds a document that is not a Role or ClusterRole";
    OperatorRoleInvalid = "operator.role-invalid", Error, "operator/deploy/role.yaml is not valid YAML";
    OperatorImageMissing = "operator.image-missing", Error, "the operator image is not under images/";
    OperatorClusterRole = "operator.cluster-role", Warning, "role.yaml grants a ClusterRole: cluster-wide permissions for the operator (MetalK8s #2619)";
    OperatorCrdName = "operator.crd-name", Warning, "a file under operator/deploy/crds/ does not end in _crd.yaml: MetalK8s ignores it";
    OperatorCrdMultiDoc = "operator.crd-multi-doc", Warning, "a CRD file holds more than one YAML document";
    OperatorCrdKind = "operator.crd-kind", Warning, "a CRD file holds something other than a CustomResourceDefinition, or is not valid YAML";
    ImageManifestMissing = "image.manifest-missing", Error, "an images/<name>/<tag>/ directory without manifest.json";
    ImageManifestInvalid = "image.manifest-invalid", Error, "manifest.json is not a valid image manifest or index";
    ImageNotV2s2 = "image.not-v2s2", Warning, "manifest.json is not a Docker v2 schema 2 manifest: MetalK8s's registry skips it";
    ImageVersionFile = "image.version-file", Warning, "the version file is missing or not \"Directory Transport Version: 1.x\"";
    ImageBlobMissing = "image.blob-missing", Error, "a manifest names a blob that is not in its directory";
    ImageBlobSize = "image.blob-size", Error, "a blob's size differs from the size its descriptor gives";
    ImageBlobDigest = "image.blob-digest", Error, "a blob's sha256 differs from the digest its descriptor names";
    ImageBlobName = "image.blob-name", Error, "a blob file's name is not the sha256 of its content";
    RegistryConfigExtra = "registry-config.extra", Error, "registry-config.inc.j2 holds nginx configuration that the image tree does not imply (MetalK8s includes it verbatim into its registry server)";
    RegistryConfigJinja = "registry-config.jinja", Error, "registry-config.inc.j2 holds Jinja syntax other than {{ repository }} and {{ registry_root }} (MetalK8s renders the file with Salt's Jinja, salt functions included, comments too)";
    RegistryConfigConstants = "registry-config.constants", Warning, "registry-config.inc.j2 holds the constant blocks MetalK8s already defines (generated without --omit-constants)";
    RegistryConfigMissing = "registry-config.missing", Warning, "registry-config.inc.j2 lacks a location block the image tree implies: that image or tag is not served";
    IsoNoRockRidge = "iso.no-rock-ridge", Warning, "the ISO has no Rock Ridge";
    IsoNoJoliet = "iso.no-joliet", Warning, "the ISO has no Joliet tree";
    IsoVolumeId = "iso.volume-id", Warning, "the volume id does not end with spec.version";
    ConfigYamlInvalid = "config.yaml-invalid", Error, "solutions.yaml is not valid YAML, or not a mapping";
    ConfigKind = "config.kind", Error, "kind is not SolutionsConfiguration";
    ConfigApiVersion = "config.api-version", Error, "apiVersion is not solutions.metalk8s.scality.com/v1alpha1";
    ConfigArchivePathRelative = "config.archive-path-relative", Error, "an archive path is not absolute";
    ConfigArchiveMissing = "config.archive-missing", Error, "an archive path does not exist";
    ConfigArchiveInvalid = "config.archive-invalid", Error, "an archive is not a valid Solution (not ISO 9660, or it fails validation)";
    ConfigDuplicateArchive = "config.duplicate-archive", Error, "two archives hold the same Solution name and version (MetalK8s #3108)";
    ConfigActiveUnknown = "config.active-unknown", Error, "active names a Solution no archive provides";
    ConfigActiveVersionUnknown = "config.active-version-unknown", Error, "active names a version no archive provides";
    ConfigLatest = "config.latest", Info, "the version latest resolves to";
    ConfigArchivesNull = "config.archives-null", Warning, "archives is null: MetalK8s keeps it, and configure_archive (solutions.sh import, unimport) then fails";
    ConfigArchivesInvalid = "config.archives-invalid", Error, "archives is not a list, or an entry is not a path string";
    ConfigArchivePathNotCanonical = "config.archive-path-not-canonical", Warning, "an archive path is not canonical (a symlink, ./, ..): solutions.sh writes readlink -f paths, and available.sls unmounts a Solution whose mounted file is not listed";
    ConfigActiveInvalid = "config.active-invalid", Error, "active is null or not a mapping of Solution names: MetalK8s fails to render deploy-components.sls and activate_solution raises";
    ConfigActiveVersionNotString = "config.active-version-not-string", Error, "an active version is not a YAML string for PyYAML (2 is an int, 1.10 the float 1.1): MetalK8s finds it not available; quote it";
    ConfigActiveEmpty = "config.active-empty", Warning, "an active entry is empty (null, '', false): MetalK8s treats the Solution as not active";
    ConfigLatestOrder = "config.latest-order", Warning, "latest depends on the archive order: Salt's version_cmp finds two versions equal (one has a release part, the other none), and MetalK8s keeps the first";
}

impl fmt::Display for Rule {
    /// The id (padding and alignment honoured).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.id())
    }
}

impl Serialize for Rule {
    /// The id, as a string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

/// The error of parsing a [`Rule`] from a string that is no rule's id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule id {0:?}")]
pub struct UnknownRule(String);

impl UnknownRule {
    /// The string that is not a rule id.
    pub fn id(&self) -> &str {
        &self.0
    }
}

impl FromStr for Rule {
    type Err = UnknownRule;

    /// The rule whose id is `s` (exactly: ids are lowercase).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::ALL
            .iter()
            .copied()
            .find(|r| r.id() == s)
            .ok_or_else(|| UnknownRule(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &r in Rule::ALL {
            assert!(seen.insert(r.id()), "{} twice", r.id());
            assert_eq!(r.id().parse::<Rule>(), Ok(r));
            assert_eq!(r.to_string(), r.id());
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.id())
            );
        }
        assert_eq!(
            "no.such-rule".parse::<Rule>().unwrap_err().to_string(),
            "unknown rule id \"no.such-rule\""
        );
    }

    #[test]
    fn severities() {
        assert_eq!(Rule::ImageBlobDigest.severity(), Severity::Error);
        assert_eq!(Rule::ImageNotV2s2.severity(), Severity::Warning);
        assert_eq!(Rule::ConfigLatest.severity(), Severity::Info);
        assert_eq!(
            format!("[{:<20}]", Rule::IsoNoJoliet),
            "[iso.no-joliet       ]"
        );
    }
}
