//! Deploying a Solution as MetalK8s does: [`render`] builds the Kubernetes objects for its CRDs
//! and Operator, and [`upgrade`] compares two versions before an upgrade.

pub mod render;
pub mod upgrade;
