//! The harness of the adversarial tests (`tests/adversarial_*.rs`): every case goes through
//! [`exercise`] (parse, walk every namespace, look every path up, read every file through
//! `Image::contents` and `Image::reader`, read the boot catalog) inside [`case`], which bounds
//! its time and the size of its largest allocation.
//!
//! The allocation bound needs the tracking allocator in the test binary: each adversarial test
//! file declares
//!
//! ```text
//! #[global_allocator]
//! static GLOBAL: isolution_tests::exercise::Tracking = isolution_tests::exercise::Tracking;
//! ```
//!
//! and [`case`] refuses to run without it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use iso_core::{EntryKind, Error, ErrorKind, Image, Limits, Namespace, WalkEntry};

use crate::listing;

// ---------------------------------------------------------------------------------------------
// Bounded time and memory
// ---------------------------------------------------------------------------------------------

/// The largest single allocation a case may make. The images are under 1 MiB; a reader that
/// allocates by a claimed size (4 GiB directories, files, continuation areas) trips this.
pub const MAX_ALLOC: usize = 16 << 20;
/// Each case must finish within this.
pub const MAX_TIME: Duration = Duration::from_secs(2);
/// Bytes read from one file by [`exercise`] (a zisofs bomb may claim 4 GiB).
pub const READ_CAP: u64 = 64 << 20;

/// The global allocator of the adversarial test binaries: the system allocator, noting the
/// largest allocation of each thread.
pub struct Tracking;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

/// Set by the first allocation through [`Tracking`]: it is the binary's global allocator.
static TRACKING: AtomicBool = AtomicBool::new(false);

fn note(size: usize) {
    TRACKING.store(true, Ordering::Relaxed);
    let _ = PEAK.try_with(|p| {
        if size > p.get() {
            p.set(size)
        }
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size());
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        note(new);
        unsafe { System.realloc(p, l, new) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

/// Runs one case: under [`MAX_TIME`], no allocation over [`MAX_ALLOC`].
pub fn case<T>(name: &str, f: impl FnOnce() -> T) -> T {
    PEAK.with(|p| p.set(0));
    // Anything the process did before (the test harness allocates) went through `note`.
    assert!(
        TRACKING.load(Ordering::Relaxed),
        "{name}: the test binary must declare `#[global_allocator] static GLOBAL: Tracking = Tracking;`"
    );
    let t = Instant::now();
    let out = f();
    let took = t.elapsed();
    let peak = PEAK.with(|p| p.get());
    assert!(took < MAX_TIME, "{name}: took {took:?}");
    assert!(
        peak <= MAX_ALLOC,
        "{name}: one allocation of {peak} bytes (over {MAX_ALLOC})"
    );
    out
}

// ---------------------------------------------------------------------------------------------
// Exercising and checking
// ---------------------------------------------------------------------------------------------

/// What walking one namespace gave.
#[derive(Debug)]
pub struct Walked {
    pub ns: Namespace,
    pub paths: Vec<String>,
    pub error: Option<Error>,
    pub read_errors: Vec<(String, Error)>,
}

/// An error a walk or a read returned must say where it happened.
pub fn check_located(e: &Error, what: &str) {
    assert!(
        e.offset().is_some(),
        "{what}: error without an offset: {e:?} ({e})"
    );
}

/// Parses `img`, walks every namespace, looks every path up, reads every file through
/// `contents` and `reader` (up to [`READ_CAP`] bytes), reads the boot catalog and its images.
/// Never panics by itself except to report an unlocated error or a `contents` length that
/// disagrees with the entry's size.
pub fn exercise(img: &[u8], limits: Limits) -> Result<Vec<Walked>, Error> {
    let image = Image::parse_with_limits(img, limits)?;
    let mut out = Vec::new();
    for ns in image.namespaces() {
        let mut w = Walked {
            ns,
            paths: Vec::new(),
            error: None,
            read_errors: Vec::new(),
        };
        let walk = match image.walk(ns) {
            Ok(walk) => walk,
            Err(e) => {
                check_located(&e, "walk");
                w.error = Some(e);
                out.push(w);
                continue;
            }
        };
        let mut items: Vec<WalkEntry> = Vec::new();
        for item in walk {
            match item {
                Ok(i) => items.push(i),
                Err(e) => {
                    check_located(&e, "walk");
                    assert!(e.path().is_some(), "walk error without a path: {e:?}");
                    w.error = Some(e);
                    break;
                }
            }
        }
        for item in &items {
            let e = &item.entry;
            let _ = image.lookup(ns, &item.path);
            let _ = (e.modified(), e.mode(), e.symlink_target(), e.file_id());
            if e.is_dir() {
                let _ = image.read_dir(e).map(|r| r.take(100_000).count());
            }
            if e.kind() != EntryKind::File {
                continue;
            }
            match image.contents(e) {
                Ok(c) => assert_eq!(
                    c.len(),
                    e.size(),
                    "{}: contents length differs from the size",
                    item.path
                ),
                Err(err) => {
                    if !matches!(err.kind(), ErrorKind::Unsupported(_)) {
                        check_located(&err, "contents");
                    }
                }
            }
            match image.reader(e) {
                Ok(r) => {
                    let n = std::io::copy(&mut r.take(READ_CAP), &mut std::io::sink());
                    if let Ok(n) = n {
                        if e.zisofs().is_none() && n < READ_CAP {
                            assert_eq!(n, e.size(), "{}: read length differs", item.path);
                        }
                    }
                }
                Err(err) => {
                    check_located(&err, "reader");
                    w.read_errors.push((item.path.clone(), err));
                }
            }
        }
        w.paths = items.into_iter().map(|i| i.path).collect();
        out.push(w);
    }
    if let Ok(Some(cat)) = image.boot_catalog() {
        for e in &cat.entries {
            let _ = image.boot_image(e);
        }
    }
    Ok(out)
}

/// [`exercise`] with the default limits, inside [`case`].
pub fn run(name: &str, img: &[u8]) -> Result<Vec<Walked>, Error> {
    case(name, || exercise(img, Limits::DEFAULT))
}

/// [`exercise`] with `limits`, inside [`case`].
pub fn run_with(name: &str, img: &[u8], limits: Limits) -> Result<Vec<Walked>, Error> {
    case(name, || exercise(img, limits))
}

pub fn walked(res: &Result<Vec<Walked>, Error>, ns: Namespace) -> &Walked {
    res.as_ref()
        .unwrap_or_else(|e| panic!("parse failed: {e:?}"))
        .iter()
        .find(|w| w.ns == ns)
        .unwrap_or_else(|| panic!("no {ns} namespace"))
}

/// The error the walk of `ns` stopped with.
pub fn walk_error(res: &Result<Vec<Walked>, Error>, ns: Namespace) -> &Error {
    let w = walked(res, ns);
    w.error
        .as_ref()
        .unwrap_or_else(|| panic!("the {ns} walk succeeded: {:?}", w.paths))
}

/// The paths of a walk of `ns` that must succeed.
pub fn walk_paths(res: &Result<Vec<Walked>, Error>, ns: Namespace) -> Vec<String> {
    let w = walked(res, ns);
    if let Some(e) = &w.error {
        panic!("the {ns} walk failed: {e:?} ({e})");
    }
    w.paths.clone()
}

/// The walk of `ns`, entries included; panics on an error.
pub fn entries<'d>(image: &Image<'d>, ns: Namespace) -> Vec<WalkEntry<'d>> {
    image
        .walk(ns)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{ns} walk: {e:?}"))
}

pub fn entry_at<'d>(image: &Image<'d>, ns: Namespace, path: &str) -> WalkEntry<'d> {
    entries(image, ns)
        .into_iter()
        .find(|i| i.path == path)
        .unwrap_or_else(|| panic!("{path} not in the {ns} walk"))
}

/// The listing of every namespace of `img` (all files read), as `common::listing` gives it.
pub fn listings(img: &[u8]) -> Vec<(Namespace, Vec<String>)> {
    let image = Image::parse(img).unwrap();
    image
        .namespaces()
        .into_iter()
        .map(|ns| {
            (
                ns,
                listing(&image, ns).unwrap_or_else(|e| panic!("{ns}: {e:?}")),
            )
        })
        .collect()
}

/// `img` reads exactly as `base` does in every namespace of `base`.
pub fn assert_same_listing(name: &str, img: &[u8], base: &[u8]) {
    let got = case(name, || listings(img));
    assert_eq!(got, listings(base), "{name}: listing changed");
}

/// Asserts that an [`Error`] is of the kind `$pat` (with an optional guard) and carries an
/// offset.
#[macro_export]
macro_rules! assert_kind {
    ($err:expr, $pat:pat $(if $guard:expr)?) => {{
        let e: &::iso_core::Error = &$err;
        assert!(
            matches!(e.kind(), $pat $(if $guard)?),
            "unexpected error kind: {e:?} ({e})"
        );
        assert!(e.offset().is_some(), "error without an offset: {e:?}");
    }};
}

pub fn contents_of(img: &[u8], ns: Namespace, path: &str) -> Result<Vec<u8>, Error> {
    let image = Image::parse(img)?;
    let e = image.lookup(ns, path)?;
    image.contents(&e).map(|c| c.to_vec())
}

/// The namespaces, short.
pub const RR: Namespace = Namespace::RockRidge;
pub const PRIMARY: Namespace = Namespace::Primary;
pub const JOLIET: Namespace = Namespace::Joliet;
