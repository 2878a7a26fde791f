//! The two-message SHA-256 (`iso_core::sha256x2`) against the `sha2` crate on the same input:
//! two 32 MiB messages hashed one after the other by `sha2`, and as a pair by `sha256x2`, on
//! one thread. Criterion prints both throughputs; the ratio is what justifies the module.
//!
//! ```text
//! cargo bench -p iso-core --bench sha256x2
//! ```

#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sha2::Digest;

fn pair(c: &mut Criterion) {
    let a: Vec<u8> = (0..32u32 << 20).map(|i| (i * 7 + 3) as u8).collect();
    let b: Vec<u8> = (0..32u32 << 20).map(|i| (i * 13 + 5) as u8).collect();
    let mut g = c.benchmark_group("sha256 of two 32 MiB messages");
    g.throughput(Throughput::Bytes((a.len() + b.len()) as u64));
    g.sample_size(10);
    g.bench_function("sha2, one after the other", |bench| {
        bench.iter(|| {
            (
                sha2::Sha256::digest(black_box(&a)),
                sha2::Sha256::digest(black_box(&b)),
            )
        })
    });
    g.bench_function("sha256x2::digest_pair", |bench| {
        bench.iter(|| iso_core::sha256x2::digest_pair(black_box(&a), black_box(&b)))
    });
    g.finish();
    eprintln!(
        "sha256x2: SHA extensions {}",
        if iso_core::sha256x2::simd_available() {
            "present: the pair path ran"
        } else {
            "absent: both rows are sha2's scalar code"
        }
    );
}

criterion_group!(benches, pair);
criterion_main!(benches);
