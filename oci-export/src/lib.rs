//! # oci-export
//!
//! The image side of isolution, on top of [`iso_core`]: it streams a MetalK8s Solution's
//! container images out of the ISO, byte for byte and digest-checked, without mounting it.
//!
//! | module | what it does | feature |
//! |---|---|---|
//! | [`export`] | an OCI image layout ([`export::layout`]), `docker load` and OCI archives ([`export::archive`]) | always |
//! | [`view`] | what the CLI and the Python package show: inspect reports, blob totals, `NAME:TAG` references, the failing side of an upgrade plan | always |
//! | `registry::client` | push to a registry, list and delete repositories | `push` |
//! | `import` | import the Solutions of a `solutions.yaml` into a registry | `push` |
//! | `registry::server` | a read-only registry over Solution ISOs | `serve` |
//! | `deploy` | the Kubernetes objects MetalK8s deploys for a Solution, and upgrade plans | `deploy` |
//! | `pack` | build a Solution ISO from a source tree and images, reproducibly, signed | `pack` |
//!
//! All four features are on by default, with `cli` (the `isolution` binary). A tool that only
//! writes layouts or archives takes `default-features = false` and links none of tokio, hyper,
//! reqwest, k8s-openapi, clap, indicatif or anyhow.
//!
//! ```
//! use std::ops::ControlFlow;
//! use iso_core::{solution::Solution, IsoFile};
//! use oci_export::export::layout::{export_oci, ExportReport};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let dest = dir.path().join("layout");
//! let file = IsoFile::open("../tests/solutions/example-solution-1.0.2.iso")?;
//! let image = file.image()?;
//! let solution = Solution::load(&image)?;
//! // Every image of the Solution (an empty list means all), with a progress callback that
//! // could stop the export by returning `ControlFlow::Break`.
//! let report: ExportReport =
//!     export_oci(&solution, &dest, &[], &mut |_progress| ControlFlow::Continue(()))?;
//! assert!(report.blobs_written > 0);
//! assert!(dest.join("index.json").exists());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub use iso_core;

pub mod export;
pub mod view;

#[cfg(feature = "push")]
pub mod import;
#[cfg(any(feature = "push", feature = "serve"))]
pub mod registry;

#[cfg(feature = "deploy")]
pub mod deploy;

#[cfg(feature = "pack")]
pub mod pack;

/// The progress callback asked to stop ([`std::ops::ControlFlow::Break`]): every exporter and
/// the registry client end with this error, and leave nothing half-written under a final name.
/// [`export::ExportError::Stopped`] and the registry client's `PushError::Stopped` are built
/// from it (`From<Stopped>`); an archive export reports it as an
/// [`std::io::ErrorKind::Interrupted`] error on its output file (see
/// [`export::archive::export_archive_with`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("stopped by the progress callback")]
pub struct Stopped;

impl Stopped {
    /// `Err(Stopped)` when a progress callback answered [`std::ops::ControlFlow::Break`]:
    /// the one place where an answer becomes a stop (`?` turns it into each caller's error).
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// use oci_export::Stopped;
    /// assert_eq!(Stopped::on_break(ControlFlow::Continue(())), Ok(()));
    /// assert_eq!(Stopped::on_break(ControlFlow::Break(())), Err(Stopped));
    /// ```
    pub fn on_break(flow: std::ops::ControlFlow<()>) -> Result<(), Stopped> {
        match flow {
            std::ops::ControlFlow::Continue(()) => Ok(()),
            std::ops::ControlFlow::Break(()) => Err(Stopped),
        }
    }
}
