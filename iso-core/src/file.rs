//! Owning handles on an image: a read-only memory map, or bytes in memory.
//!
//! One of the crate's two modules with `unsafe` code (one call, [`memmap2::Mmap::map`]; the
//! other is [`crate::sha256x2`]).
#![allow(unsafe_code)]

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::{Image, Limits, Result};

/// An ISO image held open: either memory-mapped read-only from a file, or owned in memory.
///
/// Parse it with [`IsoFile::image`]; the returned [`Image`] borrows from this value, and so does
/// every file content it hands out.
///
/// # The memory-map caveat
///
/// A mapping reflects the file as it is *now*: if another process truncates the file while it
/// is mapped, touching a page past the new end raises `SIGBUS` and kills the process; if it
/// rewrites the file, bytes change underneath (a digest checked a moment ago may no longer
/// hold). [`IsoFile::open`] guards what it can: it records the file's length when mapping and
/// [`Image`] bounds every read by that length, it opens the file read-only, and the mapping is
/// private. It cannot stop another writer. For images in locations that other users or processes
/// can write (a shared upload directory, say), use [`IsoFile::read`], which copies the file into
/// memory once and is immune to later changes, or copy the image somewhere private first.
pub struct IsoFile {
    backing: Backing,
    path: Option<PathBuf>,
}

enum Backing {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl IsoFile {
    /// Maps the file at `path` read-only. Empty files (which cannot be mapped) are held as an
    /// empty buffer, and fail later as too small. See the type's docs for the mmap caveat.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        Self::open_mapped(path.as_ref(), true)
    }

    /// Like [`IsoFile::open`], without asking the kernel to read the whole file ahead
    /// (`MADV_WILLNEED`): for work that reads a small part of the image, such as listing
    /// its directories or reading one file, where on a large image in the page cache that
    /// request costs more than the work (some 0.1 ms for 1 GiB).
    pub fn open_sparse(path: impl AsRef<Path>) -> std::io::Result<Self> {
        Self::open_mapped(path.as_ref(), false)
    }

    fn open_mapped(path: &Path, read_ahead: bool) -> std::io::Result<Self> {
        let file = File::open(path).map_err(|e| with_path(e, path))?;
        let meta = file.metadata().map_err(|e| with_path(e, path))?;
        if meta.is_dir() {
            return Err(with_path(
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "is a directory"),
                path,
            ));
        }
        if meta.len() == 0 {
            return Ok(IsoFile {
                backing: Backing::Owned(Vec::new()),
                path: Some(path.to_owned()),
            });
        }
        // SAFETY: the map is read-only and private. Its length is fixed here from the file's
        // current length, and every access goes through bounds-checked slices of it. What this
        // cannot rule out is another process truncating the file while it is mapped (SIGBUS);
        // the type's documentation states that caveat and offers `IsoFile::read` instead.
        let map = unsafe { memmap2::Mmap::map(&file) };
        match map {
            Ok(map) => {
                #[cfg(unix)]
                if read_ahead {
                    let _ = map.advise(memmap2::Advice::WillNeed);
                }
                #[cfg(not(unix))]
                let _ = read_ahead;
                Ok(IsoFile {
                    backing: Backing::Mapped(map),
                    path: Some(path.to_owned()),
                })
            }
            // Not mappable (a pipe, some special file systems): fall back to reading.
            Err(_) => IsoFile::read(path),
        }
    }

    /// Reads the whole file at `path` into memory. Use this for images in locations that
    /// others can write to: the bytes cannot change underneath.
    pub fn read(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| with_path(e, path))?;
        Ok(IsoFile {
            backing: Backing::Owned(bytes),
            path: Some(path.to_owned()),
        })
    }

    /// Holds `bytes` as the image.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        IsoFile {
            backing: Backing::Owned(bytes),
            path: None,
        }
    }

    /// The whole image.
    pub fn bytes(&self) -> &[u8] {
        match &self.backing {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }

    /// True when the image is memory-mapped.
    pub fn is_mapped(&self) -> bool {
        matches!(self.backing, Backing::Mapped(_))
    }

    /// Asks the kernel to map bytes `range` of a mapped image at once, for a caller about to
    /// read all of them (a large directory's records, say): one system call
    /// (`MADV_POPULATE_READ`) instead of a page fault every few pages. Only a hint: ignored
    /// for an image held in memory, a range outside the image, or a kernel without it (before
    /// Linux 5.14); never an error, and the bytes read are the same either way.
    ///
    /// ```no_run
    /// let iso = iso_core::IsoFile::open_sparse("solution.iso")?;
    /// iso.populate(32_768..65_536);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn populate(&self, range: std::ops::Range<usize>) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Backing::Mapped(m) = &self.backing {
            if range.start < range.end && range.end <= m.len() {
                let _ = m.advise_range(
                    memmap2::Advice::PopulateRead,
                    range.start,
                    range.end - range.start,
                );
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = range;
    }

    /// The path the image was opened from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Parses the volume descriptors with the default [`Limits`].
    pub fn image(&self) -> Result<Image<'_>> {
        Image::parse(self.bytes())
    }

    /// Parses the volume descriptors with the given [`Limits`].
    pub fn image_with_limits(&self, limits: Limits) -> Result<Image<'_>> {
        Image::parse_with_limits(self.bytes(), limits)
    }
}

fn with_path(e: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn populate_is_a_hint_that_never_changes_bytes_or_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image");
        let bytes: Vec<u8> = (0..3 * 4096 + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let mapped = IsoFile::open_sparse(&path).unwrap();
        assert!(mapped.is_mapped());
        let len = bytes.len();
        // In range, empty, reversed, past the end, overflowing: all accepted and ignored
        // where they make no sense.
        #[allow(clippy::reversed_empty_ranges)]
        let ranges = [
            0..len,
            4096..8192,
            10..10,
            20..5,
            len..len + 1,
            0..usize::MAX,
        ];
        for r in ranges {
            mapped.populate(r);
        }
        assert_eq!(mapped.bytes(), &bytes[..]);
        let owned = IsoFile::from_vec(bytes.clone());
        owned.populate(0..len);
        assert_eq!(owned.bytes(), &bytes[..]);
    }
}
