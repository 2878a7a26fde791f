//! Owned handles: a parsed [`Image`] (and, with the `solution` feature, a loaded
//! [`Solution`](crate::solution::Solution)) kept beside the [`IsoFile`] they borrow from, in
//! one value that can live in a struct, be sent to another thread and be shared with an
//! [`Arc`].
//!
//! [`IsoFile::image`] returns an `Image<'_>` that borrows the file, and `Solution::load`
//! returns a `Solution<'_, '_>` that borrows the image: the zero-copy design, where every file
//! content is a slice of the one mapping. A program that keeps them (a server, the Python
//! bindings) would otherwise parse again on every use. These handles parse once; the borrow
//! is checked by [`self_cell`], with no `unsafe` code here.
//!
//! ```
//! use std::sync::Arc;
//! use iso_core::{IsoFile, SharedImage};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = "../tests/solutions/example-solution-1.0.2.iso";
//! struct Catalog { iso: SharedImage }           // a struct can own it
//! let cat = Catalog { iso: SharedImage::open(Arc::new(IsoFile::open(path)?))? };
//! let manifest = cat.iso.image().lookup(iso_core::Namespace::RockRidge, "manifest.yaml")?;
//! println!("{} bytes", manifest.size());
//! # Ok(()) }
//! ```

use std::sync::Arc;

use crate::{Image, IsoFile, Limits, Result};

self_cell::self_cell!(
    struct ImageCell {
        owner: Arc<IsoFile>,
        #[covariant]
        dependent: Image,
    }
);

/// An [`IsoFile`] and its parsed [`Image`], in one owned value (see the module docs).
pub struct SharedImage(ImageCell);

impl SharedImage {
    /// Parses `file` with the default [`Limits`].
    pub fn open(file: Arc<IsoFile>) -> Result<Self> {
        Self::open_with_limits(file, Limits::DEFAULT)
    }

    /// Parses `file` with `limits`.
    pub fn open_with_limits(file: Arc<IsoFile>, limits: Limits) -> Result<Self> {
        ImageCell::try_new(file, |f| f.image_with_limits(limits)).map(SharedImage)
    }

    /// The parsed image; its contents borrow from the mapping this value keeps alive.
    pub fn image(&self) -> &Image<'_> {
        self.0.borrow_dependent()
    }

    /// The file (mapping or buffer) the image is read from.
    pub fn file(&self) -> &Arc<IsoFile> {
        self.0.borrow_owner()
    }
}

impl std::fmt::Debug for SharedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedImage")
            .field("path", &self.file().path())
            .field("len", &self.file().bytes().len())
            .finish()
    }
}

#[cfg(feature = "solution")]
mod solution {
    use super::SharedImage;
    use crate::solution::Solution;
    use crate::Result;

    type SolutionOf<'a> = Solution<'a, 'a>;

    self_cell::self_cell!(
        struct SolutionCell {
            owner: SharedImage,
            // Not covariant: a file's contents are a `SmallVec` of slices, and a type behind
            // a trait's associated type is invariant. Access goes through a closure.
            #[not_covariant]
            dependent: SolutionOf,
        }
    );

    /// A Solution archive loaded once and kept with the mapping it borrows from: it can live
    /// in a struct or behind an [`Arc`](std::sync::Arc), and every blob it hands out is still
    /// a slice of the mapping.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use iso_core::{IsoFile, SharedImage, SharedSolution};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let file = Arc::new(IsoFile::open("../tests/solutions/example-solution-1.0.2.iso")?);
    /// let shared = Arc::new(SharedSolution::load(SharedImage::open(file)?)?);
    /// shared.with(|s| println!("{:?}: {} images", s.id(), s.images.len()));
    /// # Ok(()) }
    /// ```
    pub struct SharedSolution(SolutionCell);

    impl SharedSolution {
        /// Loads the Solution of `image` (see [`Solution::load`]).
        pub fn load(image: SharedImage) -> Result<Self> {
            SolutionCell::try_new(image, |i| Solution::load(i.image())).map(SharedSolution)
        }

        /// Runs `f` on the loaded Solution (its borrows cannot leave the closure).
        pub fn with<R>(&self, f: impl for<'a> FnOnce(&Solution<'a, 'a>) -> R) -> R {
            self.0.with_dependent(|_, s| f(s))
        }

        /// The image it was loaded from.
        pub fn shared_image(&self) -> &SharedImage {
            self.0.borrow_owner()
        }
    }

    impl std::fmt::Debug for SharedSolution {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("SharedSolution")
                .field("image", self.shared_image())
                .field("id", &self.with(|s| s.id()))
                .finish()
        }
    }

    #[cfg(test)]
    mod tests {
        use std::sync::Arc;

        use super::*;

        fn assert_send_sync<T: Send + Sync>() {}

        #[test]
        fn kept_in_a_struct_and_shared_across_threads() {
            assert_send_sync::<SharedSolution>();
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../tests/solutions/example-solution-1.0.2.iso"
            );
            let file = Arc::new(crate::IsoFile::open(path).unwrap());
            let shared = Arc::new(SharedSolution::load(SharedImage::open(file).unwrap()).unwrap());
            let s2 = shared.clone();
            let id = std::thread::spawn(move || s2.with(|s| s.id()))
                .join()
                .unwrap();
            assert_eq!(id.as_deref(), Some("example-solution-1.0.2"));
            let map = shared.shared_image().file().bytes().as_ptr_range();
            shared.with(|s| {
                let layer = s.images[0].layers()[0].clone();
                let blob = s.blob(0, &layer.digest).unwrap();
                // Zero copy: the blob is a slice of the mapping the handle keeps.
                assert!(map.contains(&blob.as_slice().unwrap().as_ptr()));
            });
        }
    }
}

#[cfg(feature = "solution")]
pub use solution::SharedSolution;
