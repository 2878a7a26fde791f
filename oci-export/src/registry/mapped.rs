//! Slices of a mapped ISO that keep the mapping alive, for zero-copy HTTP bodies.

use std::ops::Range;
use std::sync::Arc;

use iso_core::IsoFile;

/// A byte range of a shared [`IsoFile`]: `AsRef<[u8]>` for `Bytes::from_owner`. The range is
/// checked when the slice is made, so its bytes are always the whole range: a body sent from
/// it always has the length announced for it.
#[derive(Clone)]
pub(crate) struct MapSlice {
    file: Arc<IsoFile>,
    range: Range<usize>,
}

impl MapSlice {
    /// Bytes `range` of `file`, or `None` when the range is not inside the file.
    pub(crate) fn new(file: Arc<IsoFile>, range: Range<usize>) -> Option<Self> {
        file.bytes().get(range.clone())?;
        Some(MapSlice { file, range })
    }

    /// `part`, a slice of `file`'s bytes (a blob's extent), or `None` when it is not one.
    pub(crate) fn of(file: &Arc<IsoFile>, part: &[u8]) -> Option<Self> {
        let start = (part.as_ptr() as usize).checked_sub(file.bytes().as_ptr() as usize)?;
        MapSlice::new(file.clone(), start..start.checked_add(part.len())?)
    }

    /// Its length.
    #[cfg_attr(not(feature = "serve"), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.range.len()
    }

    /// Bytes `sub` of this slice (offsets within it), or `None` when `sub` is not inside it.
    #[cfg_attr(not(feature = "serve"), allow(dead_code))]
    pub(crate) fn slice(&self, sub: Range<usize>) -> Option<Self> {
        if sub.start > sub.end || sub.end > self.len() {
            return None;
        }
        let start = self.range.start + sub.start;
        MapSlice::new(self.file.clone(), start..start + sub.len())
    }
}

impl AsRef<[u8]> for MapSlice {
    fn as_ref(&self) -> &[u8] {
        // In bounds: checked by `new`, and a mapping never changes size.
        &self.file.bytes()[self.range.clone()]
    }
}

/// Whether `parts`, one after the other, have `digest`: `None` when they do, else what they
/// have instead (`sha256:<hex>`), or why that cannot be told (not a sha256 digest). Blocking:
/// every byte is read. Both the client (before a blob's upload) and the server (before a
/// blob's first byte) ask it, so bytes only ever leave under a digest checked here.
#[cfg_attr(not(any(feature = "push", feature = "serve")), allow(dead_code))]
pub(crate) fn digest_mismatch<P: AsRef<[u8]>>(digest: &str, parts: &[P]) -> Option<String> {
    use sha2::Digest as _;
    let Some(want) = iso_core::digest::sha256_hex(digest) else {
        return Some(format!(
            "{digest}: an algorithm this tool cannot check (only sha256)"
        ));
    };
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_ref());
    }
    let got = hex::encode(h.finalize());
    (got != want).then(|| format!("sha256:{got}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_outside_the_file_are_refused() {
        let file = Arc::new(IsoFile::from_vec((0..100u8).collect()));
        assert!(MapSlice::new(file.clone(), 90..101).is_none());
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 10..5;
        assert!(MapSlice::new(file.clone(), backwards).is_none());
        let s = MapSlice::new(file.clone(), 10..50).unwrap();
        assert_eq!(s.as_ref(), &(10..50u8).collect::<Vec<_>>()[..]);
        assert_eq!(s.slice(5..10).unwrap().as_ref(), &[15, 16, 17, 18, 19]);
        assert!(s.slice(30..41).is_none());
        let part = &file.bytes()[20..30];
        assert_eq!(MapSlice::of(&file, part).unwrap().as_ref(), part);
        let elsewhere = [0u8; 4];
        assert!(MapSlice::of(&file, &elsewhere).is_none());
    }
}
