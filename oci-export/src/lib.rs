//! # oci-export
//!
//! The importer layer of isolution, on top of [`iso_core`]: it will stream a Solution's images
//! out of the ISO to an OCI layout, a `docker load` tar, a registry, or serve them as a
//! read-only registry. It also holds the `isolution` command-line tool (`src/bin/isolution`),
//! a thin shell over the libraries. [`render`] builds the Kubernetes objects that deploy a
//! Solution's CRDs and Operator, and [`upgrade`] compares two versions before an upgrade.
#![deny(missing_docs)]

pub use iso_core;

pub mod archive;
pub mod import;
pub mod layout;
mod mapped;
pub mod push;
pub mod render;
pub mod serve;
pub mod upgrade;
