//! What the `isolution` CLI and the Python package show, computed once for both: neither
//! keeps domain logic of its own.
//!
//! - [`InspectReport`]: a Solution's name, version, images, CRDs and roles (`isolution
//!   inspect`, Python's `Solution` attributes), as text or JSON;
//! - [`BlobTotal`]: the bytes of the distinct blobs of a set of images (the progress total of
//!   an export or a push, and `inspect`'s "bytes of distinct blobs");
//! - [`parse_images`]: `NAME:TAG` arguments, parsed by [`ImageRef`]'s one `FromStr`.
//!
//! ```
//! use iso_core::{solution::Solution, IsoFile};
//! use oci_export::view::InspectReport;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let file = IsoFile::open("../tests/solutions/example-solution-1.0.2.iso")?;
//! let image = file.image()?;
//! let solution = Solution::load(&image)?;
//! let text = InspectReport::new(&solution).to_text();
//! assert!(text.starts_with("Name:          example-solution\n"));
//! # Ok(()) }
//! ```

use std::fmt::Write as _;

pub use iso_core::solution::{BadImageRef, ImageRef};
use iso_core::solution::{ContainerImage, Solution};
use serde::Serialize;

pub use crate::export::BlobTotal;

/// Parses `NAME:TAG` strings (see [`ImageRef`]).
///
/// ```
/// let refs = oci_export::view::parse_images(&["base-server:1.0.2", "a:b:c"]).unwrap();
/// assert_eq!(refs[1].name, "a:b");
/// assert!(oci_export::view::parse_images(&["no-tag"]).is_err());
/// ```
pub fn parse_images<S: AsRef<str>>(items: &[S]) -> Result<Vec<ImageRef>, BadImageRef> {
    items.iter().map(|s| s.as_ref().parse()).collect()
}

/// `(name, tag)` pairs, as the exporters take them.
pub fn pairs(refs: &[ImageRef]) -> Vec<(String, String)> {
    refs.iter()
        .map(|r| (r.name.clone(), r.tag.clone()))
        .collect()
}

/// What `isolution inspect` shows of a Solution (its `--json` output is this, serialised).
#[derive(Clone, Debug, Serialize)]
pub struct InspectReport<'a> {
    /// `metadata.name`.
    pub name: Option<&'a str>,
    /// The display name annotation.
    pub display_name: Option<&'a str>,
    /// `spec.version`.
    pub version: Option<&'a str>,
    /// `<name>-<version>`.
    pub id: Option<String>,
    /// The ISO volume identifier.
    pub volume_id: &'a str,
    /// The tree the layout was read from (`rr`, `joliet` or `primary`).
    pub namespace: &'static str,
    /// `NAME:TAG` of the operator image.
    pub operator_image: Option<String>,
    /// The image tags.
    pub images: &'a [ContainerImage],
    /// Bytes of the distinct config and layer blobs of every image, as the descriptors give
    /// them.
    pub distinct_blob_bytes: u64,
    /// Paths of the CRD files.
    pub crds: Vec<&'a str>,
    /// `kind/name` of each operator role.
    pub roles: Vec<String>,
    /// How many findings loading it gave (run a validation for them).
    pub findings: usize,
}

impl<'a> InspectReport<'a> {
    /// The report of `s`.
    pub fn new(s: &'a Solution<'_, '_>) -> Self {
        let m = s.manifest.as_ref();
        let all: Vec<usize> = (0..s.images.len()).collect();
        InspectReport {
            name: m.and_then(|m| m.name.as_deref()),
            display_name: m.and_then(|m| m.display_name.as_deref()),
            version: m.and_then(|m| m.version.as_deref()),
            id: s.id(),
            volume_id: &s.volume_id,
            namespace: s.namespace.as_str(),
            operator_image: m
                .and_then(|m| m.operator_image_ref())
                .map(|(n, t)| format!("{n}:{t}")),
            images: &s.images,
            distinct_blob_bytes: BlobTotal::of(s, &all).descriptor_bytes,
            crds: s.operator.crd_paths().collect(),
            roles: s
                .operator
                .role_names()
                .map(|(k, n)| format!("{k}/{n}"))
                .collect(),
            findings: s.findings().len(),
        }
    }

    /// The text `isolution inspect` prints.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        let or = |o: Option<&str>| o.unwrap_or("-").to_string();
        writeln!(out, "Name:          {}", or(self.name))?;
        writeln!(out, "Display name:  {}", or(self.display_name))?;
        writeln!(out, "Version:       {}", or(self.version))?;
        writeln!(out, "Id:            {}", self.id.as_deref().unwrap_or("-"))?;
        writeln!(out, "Volume id:     {}", self.volume_id)?;
        writeln!(
            out,
            "Operator:      {}",
            self.operator_image.as_deref().unwrap_or("-")
        )?;
        writeln!(
            out,
            "Images:        {} tags, {} bytes of distinct blobs",
            self.images.len(),
            self.distinct_blob_bytes
        )?;
        for i in self.images {
            writeln!(out, "  {}", image_line(i))?;
        }
        writeln!(out, "CRDs:          {}", self.crds.len())?;
        for c in &self.crds {
            writeln!(out, "  {c}")?;
        }
        let roles = if self.roles.is_empty() {
            "-".to_string()
        } else {
            self.roles.join(", ")
        };
        writeln!(out, "Roles:         {roles}")?;
        if self.findings > 0 {
            writeln!(
                out,
                "({} finding(s): run `isolution validate`)",
                self.findings
            )?;
        }
        Ok(())
    }
}

/// One image tag as `inspect` lists it: `name:tag  sha256:<12 hex>…  media type  contents`.
pub fn image_line(i: &ContainerImage) -> String {
    let digest = i.manifest_digest_str();
    let short = digest.get(..19).unwrap_or(digest);
    if i.is_list() {
        let platforms: Vec<&str> = i.platforms().iter().map(|p| p.platform.as_str()).collect();
        format!(
            "{}:{}  {}…  {}  {} platform(s): {}, {} bytes",
            i.name,
            i.tag,
            short,
            i.media_type,
            i.children().len(),
            platforms.join(", "),
            i.blob_bytes
        )
    } else {
        format!(
            "{}:{}  {}…  {}  {} layer(s), {} bytes",
            i.name,
            i.tag,
            short,
            i.media_type,
            i.layers().len(),
            i.blob_bytes
        )
    }
}

/// Which archive of an upgrade plan could not be read or rendered: the CLI names its path,
/// Python raises for it.
#[cfg(feature = "deploy")]
pub use crate::deploy::upgrade::{PlanError, Side};
