//! Export a Solution's images to files: an OCI image layout ([`layout`]), or a `docker load`
//! or OCI archive ([`archive`]). Both copy blobs straight from the mapped ISO, hash them while
//! writing, and give a file its final name only when it is complete and its digest checked.

pub mod archive;
pub mod layout;
pub(crate) mod select;
mod write;

pub use layout::{ExportError, ExportReport, LayoutOptions, Progress};
pub use select::{distinct_blobs, BlobTotal};
