//! The MetalK8s *Solution* archive: `manifest.yaml`, the container image inventory under
//! `images/`, the operator files, `registry-config.inc.j2`, and the `solutions.yaml`
//! configuration, checked the way MetalK8s reads them and more strictly.
//!
//! [`validate`] returns every finding at once ([`Finding`]: a stable rule id, a severity, the
//! path inside the archive and a message); nothing here stops at the first problem. Rules are
//! listed in [`rules`].

mod config;
mod images;
mod manifest;
mod reference;
mod registry;
pub mod rules;
pub mod signature;
pub mod sums;
mod verify;

use std::fmt;

use serde::Serialize;

pub use config::{
    check_config, parse_config, rpm_vercmp, salt_version_cmp, ArchiveInfo, ConfigReport,
    SolutionsConfig,
};
pub use images::{
    media, parse_image_manifest, BlobRef, ContainerImage, DigestCheck, ImageContent,
    ImageManifestError, ManifestKind, ParsedContent, ParsedManifest, PlatformManifest,
};
pub use manifest::{
    is_dns_label, parse as parse_manifest, FileContents, Manifest, OperatorFile, OperatorFiles,
    Refusal, YamlDocument, API_VERSION, CRDS_DIR, ROLES_FILE,
};
pub use reference::{BadImageRef, ImageRef};
pub use registry::{generate_registry_config, registry_config_for};
pub use rules::Rule;
pub use verify::{isomd5, verify, IsoMd5, TrustedKey, VerifyOptions, VerifyReport};

use crate::iso9660::{Image, Namespace};

/// Largest YAML or JSON file read from an archive into memory (manifests, CRDs, roles).
pub const MAX_DOCUMENT_BYTES: u64 = 4 * 1024 * 1024;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For information (e.g. which version `latest` resolves to).
    Info,
    /// Likely to fail at run time, or a deviation from the documented format.
    Warning,
    /// MetalK8s would refuse or silently ignore the archive, or serve something broken.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem found in an archive or a configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule, printed and serialised as its stable id, e.g. `image.blob-digest` (see
    /// [`Rule`]).
    pub rule: Rule,
    /// How serious it is (the rule's severity).
    pub severity: Severity,
    /// Path inside the archive (Rock Ridge names, no leading `/`), or a key path in a
    /// configuration; `-` for the archive as a whole.
    pub path: String,
    /// What is wrong and what to do, for a person.
    pub message: String,
}

impl Finding {
    /// A finding of `rule`, with the rule's severity.
    pub(crate) fn new(rule: Rule, path: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            rule,
            severity: rule.severity(),
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} [{}] {}",
            self.severity, self.path, self.rule, self.message
        )
    }
}

/// What [`validate`] does.
#[derive(Clone, Copy, Debug)]
pub struct ValidateOptions {
    /// Hash every distinct blob and compare it with its name and every descriptor naming it.
    pub digests: bool,
    /// Hashing threads (0: one per available core).
    pub threads: usize,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            digests: true,
            threads: 0,
        }
    }
}

/// The result of [`validate`].
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Every finding, errors first, then by path.
    pub findings: Vec<Finding>,
    /// Bytes hashed (distinct blobs).
    pub hashed_bytes: u64,
    /// Distinct blobs hashed.
    pub hashed_blobs: usize,
}

impl Report {
    /// Findings of this severity or worse.
    pub fn count(&self, at_least: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity >= at_least)
            .count()
    }

    /// True when there is no error (or, with `strict`, no warning either).
    pub fn passes(&self, strict: bool) -> bool {
        let bar = if strict {
            Severity::Warning
        } else {
            Severity::Error
        };
        self.count(bar) == 0
    }
}

/// A Solution archive, read from an [`Image`].
pub struct Solution<'a, 'data> {
    image: &'a Image<'data>,
    /// The tree the layout is read from: Rock Ridge (what MetalK8s's mount shows), else
    /// Joliet, else primary.
    pub namespace: Namespace,
    /// The manifest, when it could be read and parsed.
    pub manifest: Option<Manifest>,
    /// Images under `images/<name>/<tag>/`.
    pub images: Vec<ContainerImage>,
    /// The operator files (`operator/deploy/crds/**/*_crd.yaml`, `operator/deploy/role.yaml`),
    /// read and parsed once.
    pub operator: OperatorFiles,
    /// The volume identifier.
    pub volume_id: String,
    findings: Vec<Finding>,
    blob_files: Vec<images::BlobFile<'data>>,
}

impl<'a, 'data> Solution<'a, 'data> {
    /// Reads the manifest, the image inventory and the operator files. Problems become
    /// findings; only an unreadable image is an error.
    pub fn load(image: &'a Image<'data>) -> crate::Result<Self> {
        let namespace = image.default_namespace();
        let mut findings = Vec::new();
        if image.rock_ridge().is_none() {
            findings.push(Finding::new(
                Rule::IsoNoRockRidge,
                "-",
                "no Rock Ridge: MetalK8s mounts the ISO and needs Rock Ridge names (blob files \
                 have 64-character names); rebuild with -R",
            ));
        }
        if image.joliet().is_none() {
            findings.push(Finding::new(
                Rule::IsoNoJoliet,
                "-",
                "no Joliet tree: the documented mkisofs flags include -J -joliet-long",
            ));
        }
        let manifest = manifest::load(image, namespace, &mut findings)?;
        let volume_id = image.primary().volume_id.clone();
        if let Some(m) = &manifest {
            if let Some(v) = &m.version {
                if !volume_id.ends_with(v.as_str()) {
                    findings.push(Finding::new(
                        Rule::IsoVolumeId,
                        "-",
                        format!(
                            "volume id {volume_id:?} does not end with the version {v:?} \
                             (documented: \"<Display Name> <version>\", at most 32 characters)"
                        ),
                    ));
                }
            }
        }
        let (images, blob_files) = images::inventory(image, namespace, &mut findings)?;
        let operator = OperatorFiles::load(image, namespace, &mut findings)?;
        let mut s = Solution {
            image,
            namespace,
            manifest,
            images,
            operator,
            volume_id,
            findings,
            blob_files,
        };
        s.cross_checks()?;
        Ok(s)
    }

    /// `<name>-<version>`, the id MetalK8s derives (mount point, registry repository), when
    /// the manifest gives both (see [`solution_id`]).
    pub fn id(&self) -> Option<String> {
        let m = self.manifest.as_ref()?;
        Some(solution_id(m.name.as_ref()?, m.version.as_ref()?))
    }

    /// Findings of the structural checks (everything but digests).
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The image this Solution was read from.
    pub fn image(&self) -> &'a Image<'data> {
        self.image
    }

    fn cross_checks(&mut self) -> crate::Result<()> {
        let ns = self.namespace;
        let has_images = self.image.lookup(ns, "images").is_ok_and(|e| e.is_dir());
        if !has_images {
            self.findings.push(Finding::new(
                Rule::LayoutImagesMissing,
                "images",
                "no images/ directory: MetalK8s refuses the archive (\"images does not exist or \
                 is not a directory\")",
            ));
        }
        if let Some(m) = &self.manifest {
            // An operator image part that is unknown (derived from a missing or invalid name
            // or version, or given with a wrong type) was reported with its cause.
            if let Some((name, tag)) = m
                .operator_image_ref()
                .filter(|(n, t)| !self.images.iter().any(|i| i.name == *n && i.tag == *t))
            {
                self.findings.push(Finding::new(
                    Rule::OperatorImageMissing,
                    format!("images/{name}/{tag}"),
                    format!(
                        "the operator image {name}:{tag} ({}) has no images/{name}/{tag}/manifest.json: \
                         the operator Deployment cannot pull it",
                        if m.operator_image_declared { "spec.operator.image" } else { "the default <name>-operator:<version>" }
                    ),
                ));
            }
            // MetalK8s 2.5.x deployed spec.ui.image (default <name>-ui:<version>) as every
            // Solution's UI (orchestrate/solutions/prepare-environment.sls, deploy_admin_ui);
            // 2.6.0 and later deploy none, so the image is only looked for when spec.ui is
            // given (the default alone is the phantom UI of MetalK8s #2788).
            if let Some((name, tag)) = m
                .ui_image_ref()
                .filter(|_| m.ui_declared)
                .filter(|(n, t)| !self.images.iter().any(|i| i.name == *n && i.tag == *t))
            {
                self.findings.push(Finding::new(
                    Rule::ManifestUiImageMissing,
                    format!("images/{name}/{tag}"),
                    format!(
                        "the UI image {name}:{tag} (spec.ui.image, default <name>-ui:<version>) \
                         has no images/{name}/{tag}/manifest.json: MetalK8s 2.5.x deploys it and \
                         cannot pull it (2.6.0 and later ignore spec.ui)"
                    ),
                ));
            }
            for (i, entry) in m.images.iter().enumerate() {
                let ok = entry
                    .parse::<ImageRef>()
                    .is_ok_and(|r| self.images.iter().any(|im| r.is(&im.name, &im.tag)));
                if !ok {
                    self.findings.push(Finding::new(
                        Rule::ManifestImagesEntry,
                        "manifest.yaml",
                        format!(
                            "spec.images[{i}] = {entry:?} is not \"<name>:<tag>\" of an image under images/"
                        ),
                    ));
                }
            }
        }
        match self.image.lookup(ns, "registry-config.inc.j2") {
            Ok(e) if e.is_file() => {
                let bytes = read_capped(self.image, &e, "registry-config.inc.j2", &mut self.findings)?;
                if let Some(bytes) = bytes {
                    let text = String::from_utf8_lossy(&bytes);
                    registry::compare(&self.images, &text, &mut self.findings);
                    registry::jinja(&text, &mut self.findings);
                }
            }
            _ => self.findings.push(Finding::new(
                Rule::LayoutRegistryConfigMissing,
                "registry-config.inc.j2",
                "no registry-config.inc.j2 at the root: MetalK8s's state that exposes the images fails",
            )),
        }
        Ok(())
    }

    /// Hashes every distinct blob file once (hard links are one blob), on `threads` threads
    /// (0: one per available core), and checks each against its name and every descriptor
    /// that names it.
    pub fn verify_digests(&self, threads: usize) -> DigestCheck {
        images::verify(&self.images, &self.blob_files, threads)
    }

    /// The stored bytes of blob `digest` (`sha256:<hex>` or `<hex>`, as a string or a typed
    /// [`Digest`](crate::digest::Digest) such as [`BlobRef::digest`]) of image `index` (an
    /// index into [`Solution::images`]), borrowed from the image. Blobs are looked up in the
    /// image's own directory, then in the other tags of the same repository (as MetalK8s's
    /// registry does with `try_files`).
    pub fn blob(&self, index: usize, digest: impl AsRef<str>) -> Option<crate::Contents<'data>> {
        let hex = crate::digest::hex_or_self(digest.as_ref());
        let name = &self.images.get(index)?.name;
        let candidates = self
            .blob_files
            .iter()
            .filter(|b| b.name_hex.as_deref() == Some(hex));
        let mut fallback = None;
        for b in candidates {
            if b.image == index {
                return b.contents.clone();
            }
            if fallback.is_none() && self.images.get(b.image).is_some_and(|i| &i.name == name) {
                fallback = b.contents.clone();
            }
        }
        fallback
    }

    /// The raw bytes of image `index`'s `manifest.json` (never re-serialised).
    pub fn manifest_bytes(&self, index: usize) -> crate::Result<Vec<u8>> {
        let img = self
            .images
            .get(index)
            .ok_or_else(|| crate::Error::new(crate::ErrorKind::NotFound))?;
        let path = format!("{}/manifest.json", img.path);
        let e = self.image.lookup(self.namespace, &path)?;
        Ok(self
            .image
            .contents(&e)
            .map_err(|e| e.with_path(path))?
            .to_vec())
    }

    /// The registry configuration MetalK8s's generator would write for these images, byte
    /// for byte (see [`generate_registry_config`]).
    pub fn registry_config(&self) -> String {
        generate_registry_config(&self.images)
    }
}

/// Reads a small file of the archive into memory, refusing (with a `layout.file-too-large`
/// finding) files over [`MAX_DOCUMENT_BYTES`]: the one capped reader of the archive's
/// documents (the manifest, the operator files, image manifests, the registry config).
pub(crate) fn read_capped(
    image: &Image<'_>,
    e: &crate::DirEntry<'_>,
    path: &str,
    findings: &mut Vec<Finding>,
) -> crate::Result<Option<Vec<u8>>> {
    if let Some(f) = too_large(e.size(), path) {
        findings.push(f);
        return Ok(None);
    }
    let mut r = image.reader(e).map_err(|err| err.with_path(path))?;
    let mut v = Vec::with_capacity(e.size() as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut r, MAX_DOCUMENT_BYTES), &mut v)
        .map_err(crate::Error::from)?;
    Ok(Some(v))
}

/// The `layout.file-too-large` finding for a document of `size` bytes at `path`, if it is
/// larger than [`MAX_DOCUMENT_BYTES`].
pub(crate) fn too_large(size: u64, path: &str) -> Option<Finding> {
    (size > MAX_DOCUMENT_BYTES).then(|| {
        Finding::new(
            Rule::LayoutFileTooLarge,
            path,
            format!(
                "{size} bytes, more than the {MAX_DOCUMENT_BYTES} read into memory for a document"
            ),
        )
    })
}

/// Loads and checks a Solution: structure, and digests unless `opts.digests` is false.
pub fn validate(image: &Image<'_>, opts: ValidateOptions) -> crate::Result<Report> {
    Ok(Solution::load(image)?.validate(opts))
}

impl Solution<'_, '_> {
    /// [`validate`] of an already loaded Solution: its structural findings, and the digest
    /// checks unless `opts.digests` is false.
    pub fn validate(&self, opts: ValidateOptions) -> Report {
        let mut findings = self.findings().to_vec();
        let (mut hashed_bytes, mut hashed_blobs) = (0, 0);
        if opts.digests {
            let check = self.verify_digests(opts.threads);
            findings.extend(check.findings);
            hashed_bytes = check.hashed_bytes;
            hashed_blobs = check.hashed_blobs;
        }
        sort_findings(&mut findings);
        Report {
            findings,
            hashed_bytes,
            hashed_blobs,
        }
    }
}

/// `<name>-<version>`: the id MetalK8s derives from a Solution's name and version (its mount
/// point, its registry repository, the names of its volumes).
pub fn solution_id(name: &str, version: &str) -> String {
    format!("{name}-{version}")
}

/// Sorts findings errors first, then by path, rule id and message, and drops repeats.
pub(crate) fn sort_findings(f: &mut Vec<Finding>) {
    f.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.path.cmp(&b.path))
            .then_with(|| a.rule.id().cmp(b.rule.id()))
            .then_with(|| a.message.cmp(&b.message))
    });
    f.dedup();
}
