//! Criterion benchmarks of the `iso-core` reader over a generated image.
//!
//! The image is built once per run, in a temporary directory, with
//! `genisoimage -R -J -joliet-long` from a generated tree: 2,000 files of 100 to 4,000 bytes in
//! one directory (`many/`) and three 8 MiB files (`big/`). Without `genisoimage` the benchmarks
//! print a note and do nothing. When run as a test (`cargo test --all-targets`, where Criterion
//! runs each benchmark once) the tree is smaller, to keep the test fast.
//!
//! | Benchmark | What one iteration does | Throughput |
//! | --- | --- | --- |
//! | `reader/open` | [`Image::parse`] of the mapped image (volume descriptors) | - |
//! | `reader/walk` | a full walk of the default namespace, counting entries | entries |
//! | `reader/walk_helper` | the same walk with [`Walk::with_helper_thread`] (a second core decodes parts of `many/`) | entries |
//! | `reader/read_all` | the walk, plus [`Image::contents`] of every file and a sum over every byte | bytes |
//! | `reader/lookup` | [`Image::lookup`] of the last file of the 2,000-entry directory | lookups |

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iso_core::{Image, IsoFile, Namespace, Walk};

/// Sizes of the generated tree.
struct Shape {
    small_files: usize,
    big_files: usize,
    big_bytes: usize,
}

const BENCH: Shape = Shape {
    small_files: 2_000,
    big_files: 3,
    big_bytes: 8 << 20,
};

/// For test mode, where each benchmark runs once: the same layout, smaller.
const TEST: Shape = Shape {
    small_files: 200,
    big_files: 1,
    big_bytes: 256 << 10,
};

/// True when Criterion will only test the benchmarks (its rule: no `--bench`, or `--test`).
fn test_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test")
}

/// Deterministic pseudo-random numbers (xorshift64*), so every run builds the same tree.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let n = self.next().to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
    }
}

/// The path of small file `i`.
fn small_name(i: usize) -> String {
    format!("many/file-{i:05}.dat")
}

/// Writes the tree under `root`.
fn build_tree(root: &Path, shape: &Shape) -> std::io::Result<()> {
    let mut rng = Rng(0x9660_9660_9660_9660);
    std::fs::create_dir_all(root.join("many"))?;
    std::fs::create_dir_all(root.join("big"))?;
    let mut buf = vec![0u8; 4_000];
    for i in 0..shape.small_files {
        let len = 100 + (rng.next() % 3_901) as usize;
        rng.fill(&mut buf[..len]);
        std::fs::write(root.join(small_name(i)), &buf[..len])?;
    }
    let mut big = vec![0u8; shape.big_bytes];
    for i in 0..shape.big_files {
        rng.fill(&mut big);
        std::fs::write(root.join(format!("big/big-{i}.bin")), &big)?;
    }
    Ok(())
}

/// Builds the image in `dir`; `None` (with a note on stderr) when genisoimage is unusable.
fn build_image(dir: &Path, shape: &Shape) -> Option<std::path::PathBuf> {
    let tree = dir.join("tree");
    let iso = dir.join("bench.iso");
    build_tree(&tree, shape).expect("write the benchmark tree");
    let status = Command::new("genisoimage")
        .args(["-quiet", "-input-charset", "utf-8", "-V", "ISOLUTION_BENCH"])
        .args(["-R", "-J", "-joliet-long", "-o"])
        .arg(&iso)
        .arg(&tree)
        .status();
    match status {
        Ok(s) if s.success() => Some(iso),
        Ok(s) => {
            eprintln!("note: genisoimage failed ({s}); skipping the reader benchmarks");
            None
        }
        Err(e) => {
            eprintln!("note: cannot run genisoimage ({e}); skipping the reader benchmarks");
            None
        }
    }
}

/// Walks the whole tree of `ns`, returning the number of entries.
fn walk(image: &Image<'_>, ns: Namespace) -> u64 {
    let mut w = image.walk(ns).expect("walk");
    let mut n = 0;
    while let Some(item) = w.next_entry() {
        black_box(item.expect("walk entry"));
        n += 1;
    }
    n
}

/// [`walk`] with a helper thread decoding parts of the large directory.
fn walk_helper(image: &Image<'_>, ns: Namespace) -> u64 {
    let mut w = image.walk(ns).expect("walk");
    w.with_helper_thread(|w: &mut Walk<'_>| {
        let mut n = 0;
        while let Some(item) = w.next_entry() {
            black_box(item.expect("walk entry"));
            n += 1;
        }
        n
    })
}

/// Walks the tree and reads every byte of every file (the contents are borrowed slices of the
/// mapping, so the sum is what actually reads them). Returns (bytes, byte sum).
fn read_all(image: &Image<'_>, ns: Namespace) -> (u64, u64) {
    let mut w = image.walk(ns).expect("walk");
    let (mut bytes, mut sum) = (0u64, 0u64);
    while let Some(item) = w.next_entry() {
        let (_, e) = item.expect("walk entry");
        if !e.is_file() {
            continue;
        }
        let c = image.contents(e).expect("contents");
        for part in c.parts() {
            let part = black_box(*part);
            bytes += part.len() as u64;
            sum = sum.wrapping_add(part.iter().map(|&b| u64::from(b)).sum::<u64>());
        }
    }
    (bytes, sum)
}

fn reader(c: &mut Criterion) {
    let shape = if test_mode() { &TEST } else { &BENCH };
    let dir = tempfile::tempdir().expect("temporary directory");
    let started = Instant::now();
    let Some(iso) = build_image(dir.path(), shape) else {
        return;
    };
    let file = IsoFile::open(&iso).expect("open the image");
    eprintln!(
        "note: built a {:.1} MiB image ({} + {} files) in {:.1?}",
        file.bytes().len() as f64 / f64::from(1 << 20),
        shape.small_files,
        shape.big_files,
        started.elapsed()
    );
    let image = file.image().expect("parse the image");
    let ns = image.default_namespace();
    assert_eq!(ns, Namespace::RockRidge);
    let entries = walk(&image, ns);
    let (bytes, _) = read_all(&image, ns);
    let expected = 2 + shape.small_files + shape.big_files;
    assert_eq!(entries, expected as u64, "entries in the generated image");
    let last = small_name(shape.small_files - 1);

    let mut g = c.benchmark_group("reader");
    g.bench_function("open", |b| {
        b.iter(|| Image::parse(black_box(file.bytes())).expect("parse"))
    });
    g.throughput(Throughput::Elements(entries));
    g.bench_function("walk", |b| b.iter(|| walk(&image, black_box(ns))));
    assert_eq!(walk_helper(&image, ns), entries);
    g.bench_function("walk_helper", |b| {
        b.iter(|| walk_helper(&image, black_box(ns)))
    });
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("read_all", |b| b.iter(|| read_all(&image, black_box(ns))));
    g.throughput(Throughput::Elements(1));
    g.bench_function("lookup", |b| {
        b.iter(|| image.lookup(ns, black_box(&last)).expect("lookup"))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // Short defaults: the whole run takes about 20 s. `--warm-up-time`, `--measurement-time`
    // and `--quick` on the command line override them.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = reader
}
criterion_main!(benches);
