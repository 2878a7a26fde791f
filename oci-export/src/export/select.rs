//! Which images, and which blobs of them, an export or a push handles: the one place that
//! picks the images asked for and the distinct blobs they need.

use iso_core::solution::{ContainerImage, Solution};

use super::ExportError;

/// Indexes into `solution.images` of `images` (`(name, tag)`; empty: every image).
pub(crate) fn select_images(
    solution: &Solution<'_, '_>,
    images: &[(String, String)],
) -> Result<Vec<usize>, ExportError> {
    if images.is_empty() {
        return Ok((0..solution.images.len()).collect());
    }
    images
        .iter()
        .map(|(n, t)| {
            solution
                .images
                .iter()
                .position(|i| &i.name == n && &i.tag == t)
                .ok_or_else(|| ExportError::NotFound(format!("no image {n}:{t} in the archive")))
        })
        .collect()
}

/// Bytes of the distinct config and layer blobs of a set of images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BlobTotal {
    /// Distinct blobs (by digest).
    pub blobs: usize,
    /// Their sizes as the descriptors give them (the first descriptor naming each).
    pub descriptor_bytes: u64,
    /// Their sizes as stored in the archive (the descriptor's size where a blob is missing):
    /// what an export or a push counts its progress in.
    pub stored_bytes: u64,
}

/// The distinct config and layer blobs (by digest, first naming image first) of the images
/// `selected` (indexes into `solution.images`): `(image index, descriptor)`.
pub fn distinct_blobs<'s>(
    solution: &'s Solution<'_, '_>,
    selected: &[usize],
) -> Vec<(usize, &'s iso_core::solution::BlobRef)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for &i in selected {
        let Some(img) = solution.images.get(i) else {
            continue;
        };
        for d in img.content_refs() {
            if seen.insert(d.digest.as_str()) {
                out.push((i, d));
            }
        }
    }
    out
}

impl BlobTotal {
    /// The totals of the images `selected` (indexes into `solution.images`).
    pub fn of(solution: &Solution<'_, '_>, selected: &[usize]) -> BlobTotal {
        let mut t = BlobTotal::default();
        for (i, d) in distinct_blobs(solution, selected) {
            t.blobs += 1;
            t.descriptor_bytes = t.descriptor_bytes.saturating_add(d.size);
            let stored = solution.blob(i, &d.digest).map_or(d.size, |c| c.len());
            t.stored_bytes = t.stored_bytes.saturating_add(stored);
        }
        t
    }
}

/// A list or index whose per-platform manifests could not all be read is refused: exporting it
/// would give a list that names what is not there.
pub(crate) fn check_platforms(img: &ContainerImage, label: &str) -> Result<(), ExportError> {
    match img.missing_platforms() {
        0 => Ok(()),
        n => Err(ExportError::NotFound(format!(
            "{label}: {n} of the list's {} per-platform manifests could not be read (see `isolution validate`)",
            img.children.len()
        ))),
    }
}
