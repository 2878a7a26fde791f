//! The parsers of untrusted documents from a Solution archive: `manifest.yaml`, image
//! `manifest.json` (manifests, lists, indexes) and `solutions.yaml`. The first input byte picks
//! the parser. Invariant: no panic, no hang, bounded memory (YAML alias bombs and deep nesting
//! must be refused quickly).
#![no_main]

use iso_core::solution::{parse_config, parse_image_manifest, parse_manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            let mut findings = Vec::new();
            let _ = parse_manifest(rest, &mut findings);
        }
        1 => {
            let _ = parse_image_manifest(rest);
        }
        _ => {
            let _ = parse_config(rest);
        }
    }
});
