//! Slices of a mapped ISO that keep the mapping alive, for zero-copy HTTP bodies.

use std::ops::Range;
use std::sync::Arc;

use iso_core::IsoFile;

/// A byte range of a shared [`IsoFile`]: `AsRef<[u8]>` for `Bytes::from_owner`.
pub(crate) struct MapSlice {
    file: Arc<IsoFile>,
    range: Range<usize>,
}

impl MapSlice {
    pub(crate) fn new(file: Arc<IsoFile>, range: Range<usize>) -> Self {
        MapSlice { file, range }
    }
}

impl AsRef<[u8]> for MapSlice {
    fn as_ref(&self) -> &[u8] {
        self.file.bytes().get(self.range.clone()).unwrap_or(&[])
    }
}
