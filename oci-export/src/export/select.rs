//! Which images, and which blobs of them, an export or a push handles: the one place that
//! picks the images asked for, refuses those that cannot be written, and finds the distinct
//! blobs they need with their stored bytes.

use std::collections::HashSet;

use iso_core::digest::Digest;
use iso_core::solution::{BlobRef, ContainerImage, ManifestKind, Solution};
use iso_core::Contents;

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

/// How errors name an image: `name:tag`.
pub(crate) fn label(img: &ContainerImage) -> String {
    format!("{}:{}", img.name, img.tag)
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

/// The config and layer descriptors of `img` whose digest is not in `seen` yet (added to it
/// as they come): what "distinct blobs" means everywhere.
fn fresh<'s, 'a>(
    img: &'s ContainerImage,
    seen: &'a mut HashSet<&'s Digest>,
) -> impl Iterator<Item = &'s BlobRef> + 'a
where
    's: 'a,
{
    img.content_refs().filter(move |d| seen.insert(&d.digest))
}

/// The distinct config and layer blobs (by digest, first naming image first) of the images
/// `selected` (indexes into `solution.images`): `(image index, descriptor)`.
pub fn distinct_blobs<'s>(
    solution: &'s Solution<'_, '_>,
    selected: &[usize],
) -> Vec<(usize, &'s BlobRef)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for &i in selected {
        if let Some(img) = solution.images.get(i) {
            out.extend(fresh(img, &mut seen).map(|d| (i, d)));
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

/// A blob an export or a push needs, with its stored bytes.
pub(crate) struct Needed<'s, 'd> {
    /// The descriptor (of the first image naming the blob).
    pub(crate) desc: &'s BlobRef,
    /// Its bytes in the archive.
    pub(crate) contents: Contents<'d>,
    /// That image, `name:tag`.
    pub(crate) label: String,
}

/// The stored bytes of blob `digest` of image `i` (labelled `label`), or
/// [`ExportError::NotFound`] naming it.
pub(crate) fn stored<'d>(
    solution: &Solution<'_, 'd>,
    i: usize,
    digest: &Digest,
    label: &str,
) -> Result<Contents<'d>, ExportError> {
    solution.blob(i, digest).ok_or_else(|| {
        ExportError::NotFound(format!("{label}: blob {digest} is not in the archive"))
    })
}

/// The config and layer blobs of image `i` that are not in `seen` yet, with their stored
/// bytes (a blob missing from the archive is an error).
pub(crate) fn new_blobs<'s, 'd>(
    solution: &'s Solution<'_, 'd>,
    i: usize,
    seen: &mut HashSet<&'s Digest>,
) -> Result<Vec<Needed<'s, 'd>>, ExportError> {
    let Some(img) = solution.images.get(i) else {
        return Ok(Vec::new());
    };
    let label = label(img);
    fresh(img, seen)
        .map(|desc| {
            Ok(Needed {
                desc,
                contents: stored(solution, i, &desc.digest, &label)?,
                label: label.clone(),
            })
        })
        .collect()
}

/// The distinct config and layer blobs of the images `selected`, with their stored bytes;
/// each image is checked ([`check_exportable`]) before its blobs are looked up.
pub(crate) fn needed_blobs<'s, 'd>(
    solution: &'s Solution<'_, 'd>,
    selected: &[usize],
) -> Result<Vec<Needed<'s, 'd>>, ExportError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for &i in selected {
        if let Some(img) = solution.images.get(i) {
            check_exportable(img, &label(img))?;
            out.extend(new_blobs(solution, i, &mut seen)?);
        }
    }
    Ok(out)
}

/// Why an image cannot be exported or pushed as it is.
pub(crate) enum Unfit {
    /// `manifest.json` is not an image manifest, list or index.
    Kind,
    /// A list or index of which `missing` of the `of` per-platform manifests could not be
    /// read: writing it would give a list that names what is not there.
    Platforms {
        /// Unreadable.
        missing: usize,
        /// In the list.
        of: usize,
    },
}

/// Whether `img` can be exported or pushed (see [`Unfit`]).
pub(crate) fn unfit(img: &ContainerImage) -> Option<Unfit> {
    if img.kind == ManifestKind::Other {
        return Some(Unfit::Kind);
    }
    match img.missing_platforms() {
        0 => None,
        missing => Some(Unfit::Platforms {
            missing,
            of: img.children().len(),
        }),
    }
}

/// [`unfit`] as an exporter's error: [`ExportError::Unsupported`] for the kind,
/// [`ExportError::NotFound`] for unreadable per-platform manifests.
pub(crate) fn check_exportable(img: &ContainerImage, label: &str) -> Result<(), ExportError> {
    match unfit(img) {
        None => Ok(()),
        Some(Unfit::Kind) => Err(ExportError::Unsupported {
            image: label.to_string(),
            what: format!("a {}", img.media_type),
        }),
        Some(Unfit::Platforms { missing, of }) => Err(ExportError::NotFound(format!(
            "{label}: {missing} of the list's {of} per-platform manifests could not be read (see `isolution validate`)"
        ))),
    }
}
