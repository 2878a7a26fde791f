//! Registries: a client that pushes a Solution's images (`client`, feature `push`), and a
//! read-only registry server over Solution ISOs (`server`, feature `serve`). Both send blob
//! bodies as slices of the mapped ISO.

#[cfg(feature = "push")]
pub mod client;
mod mapped;
#[cfg(feature = "serve")]
pub mod server;
