//! The adversarial checklist of ISO 9660 readers (hostile-input cases, §5.3 of our readers notes), all items at once: small
//! random mutations of the metadata sectors of every base image.
//!
//! Each case patches bytes of a small genuine image made by genisoimage
//! (`isolution_tests::images`), then checks the reader answers with a typed error (kind,
//! offset, path) or the documented tolerant result. Every case also goes through
//! `exercise` inside `case` (`isolution_tests::exercise`): parse, walk every namespace, look
//! every path up, read every file and the boot catalog, in under 2 s and without a single
//! allocation larger than 16 MiB (the tracking global allocator below checks it): the reader
//! must never allocate by a size the image claims.

use isolution_tests::exercise::*;
use isolution_tests::images::*;
use isolution_tests::patch::*;

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// A deterministic smoke of small random mutations (interesting byte values) of the metadata
/// sectors of every base image: no panic, no hang, no big allocation, every error located.
#[test]
fn mutation_smoke() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let bases = [main_iso(), deep_iso(), boot_iso(), zisofs_iso()];
    for base in bases.into_iter().flatten() {
        let meta = 16 * SECTOR..60 * SECTOR;
        for _ in 0..150 {
            let mut img = base.to_vec();
            for _ in 0..1 + rnd() % 8 {
                let at = meta.start + rnd() as usize % meta.len();
                img[at] = match rnd() % 6 {
                    0 => 0,
                    1 => 0xFF,
                    2 => 1,
                    3 => img[at].wrapping_add(1),
                    4 => img[at].wrapping_sub(1),
                    _ => rnd() as u8,
                };
            }
            let _ = run("mutation", &img);
        }
    }
}
