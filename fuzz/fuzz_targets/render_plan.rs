//! Opens arbitrary bytes as a Solution ISO and renders its deployment objects and an upgrade
//! plan against itself (seeded with the Solution fixtures of `tests/solutions/`, whose CRD and
//! role YAML sit in the image as plain text for the mutator to reach). The invariant: no
//! panic, no hang, memory bounded; a render that succeeds serialises, and a plan of an
//! archive against itself has no CRD, image or RBAC change.
#![no_main]

use iso_core::solution::Solution;
use libfuzzer_sys::fuzz_target;
use oci_export::deploy::render::{render, RenderOptions};
use oci_export::deploy::upgrade::{plan, Area};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(image) = common::parse(data) else {
        return;
    };
    let Ok(s) = Solution::load(&image) else {
        return;
    };
    if let Ok(r) = render(&s, &[&s], &RenderOptions::new("fuzz")) {
        let yaml = r.to_yaml();
        assert!(yaml.is_empty() || yaml.starts_with("---\n"));
    }
    if let Ok(p) = plan(&s, &s) {
        assert!(
            p.changes
                .iter()
                .all(|c| matches!(c.area, Area::Solution | Area::Operator)),
            "{:?}",
            p.changes
        );
    }
});
