//! Registries: a client that pushes a Solution's images (`client`, feature `push`), with its
//! authentication (`auth`) and the credentials users keep (`credentials`), and a read-only
//! registry server over Solution ISOs (`server`, feature `serve`). Both send blob bodies as
//! slices of the mapped ISO.

#[cfg(feature = "push")]
pub mod auth;
#[cfg(feature = "push")]
pub mod client;
#[cfg(feature = "push")]
pub mod credentials;
mod mapped;
#[cfg(feature = "serve")]
pub mod server;
