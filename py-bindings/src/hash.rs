//! Every file at once: which regular files `Image.sha256_all` and `Image.views` cover, and
//! their SHA-256 digests computed on every core, straight from the mapping.
//!
//! The digests go through `iso_core::sha256x2` (the code `validate` and `verify` use: two
//! messages interleaved per core with the SHA extensions, largest files first), so hashing
//! every file from Python runs at the speed of the CLI. A file stored as is is hashed from
//! the image's bytes, without a copy; each extent once (hard links share theirs). A zisofs
//! file is hashed as it reads (the inflated bytes), streamed through a 256 KiB buffer per
//! thread.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};

use iso_core::sha256x2::{self, State};
use iso_core::{Contents, DirEntry, EntryKind, Namespace};

use crate::{components, lookup_file, NotFile};

/// Up to this many `paths=` are looked up one by one; more are found in one walk.
const LOOKUPS: usize = 16;

/// A regular file picked by [`pick`]: the key it is reported under (its path in the walk, or
/// the string the caller gave), its cleaned path, and its entry.
pub struct Picked<'d> {
    pub key: String,
    pub path: String,
    pub entry: DirEntry<'d>,
}

/// The regular files of namespace `ns` in walk order (every path of a hard link), or, with
/// `paths`, the files at those paths in the order given. A path that is missing, a directory
/// or another type is an error naming it, as `Image.read` raises; so is a walk that fails.
pub fn pick<'d>(
    img: &iso_core::Image<'d>,
    ns: Namespace,
    paths: Option<&[String]>,
) -> Result<Vec<Picked<'d>>, NotFile> {
    let Some(paths) = paths else {
        let mut out = Vec::new();
        let mut walk = img.walk(ns)?;
        while let Some(item) = walk.next_entry() {
            let (p, e) = item?;
            if e.kind() == EntryKind::File {
                out.push(Picked {
                    key: p.to_string(),
                    path: p.to_string(),
                    entry: e.clone(),
                });
            }
        }
        return Ok(out);
    };
    let clean: Vec<String> = paths.iter().map(|p| components(p).join("/")).collect();
    let mut found: Vec<Option<DirEntry<'d>>> = vec![None; paths.len()];
    if paths.len() > LOOKUPS {
        // One walk finds them all (a lookup scans its directory: thousands of paths in a
        // directory of thousands of files would cost the square).
        let mut want: HashMap<&str, Vec<usize>> = HashMap::with_capacity(clean.len());
        for (i, c) in clean.iter().enumerate() {
            want.entry(c.as_str()).or_default().push(i);
        }
        let mut left = clean.len();
        let mut walk = img.walk(ns)?;
        while left > 0 {
            let Some(item) = walk.next_entry() else { break };
            let (p, e) = item?;
            if let Some(ix) = want.get(p) {
                if e.kind() == EntryKind::File {
                    for &i in ix {
                        if found[i].is_none() {
                            found[i] = Some(e.clone());
                            left -= 1;
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::with_capacity(paths.len());
    for ((user, c), f) in paths.iter().zip(clean).zip(found) {
        // Not met in the walk (or few paths): a lookup, which also matches the primary
        // tree's recorded identifiers, and names what is wrong with the path.
        let entry = match f {
            Some(e) => e,
            None => lookup_file(img, ns, &c)?,
        };
        out.push(Picked {
            key: user.clone(),
            path: c,
            entry,
        });
    }
    Ok(out)
}

/// SHA-256 of every file of `files` (see the module docs), on `threads` threads (0: every
/// core). The first file (in `files` order) that cannot be read is an error naming its path.
pub fn sha256_all(
    img: &iso_core::Image<'_>,
    files: &[Picked<'_>],
    threads: usize,
) -> Result<Vec<[u8; 32]>, NotFile> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        threads
    }
    .clamp(1, 64);
    // Stored files: each extent once. The others (zisofs, or contents that cannot be had)
    // go through the reader, which inflates them or says what is wrong.
    let mut unique: Vec<Contents<'_>> = Vec::new();
    let mut by_extent: HashMap<(usize, u64), usize> = HashMap::new();
    let mut slow: Vec<usize> = Vec::new();
    let mut slot: Vec<Slot> = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        match img.contents(&f.entry) {
            Ok(c) => {
                let key = c.parts().first().map(|p| (p.as_ptr() as usize, c.len()));
                let known = key.and_then(|k| by_extent.get(&k).copied());
                let k = match known {
                    Some(k) => k,
                    None => {
                        unique.push(c);
                        if let Some(key) = key {
                            by_extent.insert(key, unique.len() - 1);
                        }
                        unique.len() - 1
                    }
                };
                slot.push(Slot::Stored(k));
            }
            Err(_) => {
                slot.push(Slot::Slow(slow.len()));
                slow.push(i);
            }
        }
    }
    let refs: Vec<Option<&Contents<'_>>> = unique.iter().map(Some).collect();
    let stored = sha256x2::digest_all(&refs, threads);
    let mut streamed: Vec<Option<iso_core::Result<[u8; 32]>>> =
        hash_streamed(img, files, &slow, threads)
            .into_iter()
            .map(Some)
            .collect();
    let mut out = Vec::with_capacity(files.len());
    for (f, s) in files.iter().zip(slot) {
        let d = match s {
            Slot::Stored(k) => stored.get(k).copied().flatten(),
            Slot::Slow(k) => match streamed.get_mut(k).and_then(Option::take) {
                Some(Ok(d)) => Some(d),
                Some(Err(e)) => return Err(NotFile::Iso(e.with_path(f.path.clone()))),
                None => None,
            },
        };
        // digest_all hashes every item it is given: a gap would be a bug, reported as such
        // rather than as a wrong digest.
        let d = d.ok_or_else(|| {
            NotFile::Iso(
                iso_core::Error::new(iso_core::ErrorKind::Unsupported("a digest went missing"))
                    .with_path(f.path.clone()),
            )
        })?;
        out.push(d);
    }
    Ok(out)
}

/// Where a file's digest comes from: a stored extent's, or a streamed file's.
enum Slot {
    Stored(usize),
    Slow(usize),
}

/// The digests of `files[i]` for each `i` of `which`, read through the reader (inflated),
/// on up to `threads` threads.
fn hash_streamed(
    img: &iso_core::Image<'_>,
    files: &[Picked<'_>],
    which: &[usize],
    threads: usize,
) -> Vec<iso_core::Result<[u8; 32]>> {
    if which.is_empty() {
        return Vec::new();
    }
    let next = AtomicUsize::new(0);
    let n = threads.min(which.len());
    let mut out: Vec<Option<iso_core::Result<[u8; 32]>>> = (0..which.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; 256 << 10];
                    let mut res = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = which.get(k).and_then(|&i| files.get(i)) else {
                            break;
                        };
                        res.push((k, hash_reader(img, &f.entry, &mut buf)));
                    }
                    res
                })
            })
            .collect();
        for w in workers {
            // A worker that panicked loses only its own results: computed again below.
            if let Ok(v) = w.join() {
                for (k, d) in v {
                    if let Some(o) = out.get_mut(k) {
                        *o = Some(d);
                    }
                }
            }
        }
    });
    let mut buf = vec![0u8; 256 << 10];
    out.into_iter()
        .zip(which)
        .map(|(o, &i)| match (o, files.get(i)) {
            (Some(d), _) => d,
            (None, Some(f)) => hash_reader(img, &f.entry, &mut buf),
            (None, None) => Err(iso_core::Error::new(iso_core::ErrorKind::Unsupported(
                "a file went missing",
            ))),
        })
        .collect()
}

/// SHA-256 of what the reader gives for `e` (the inflated bytes of a zisofs file), through
/// `buf`.
fn hash_reader(
    img: &iso_core::Image<'_>,
    e: &DirEntry<'_>,
    buf: &mut [u8],
) -> iso_core::Result<[u8; 32]> {
    let mut r = img.reader(e)?;
    let mut st = State::new();
    let mut have = 0usize;
    while let Some(room) = buf.get_mut(have..) {
        let n = match r.read(room) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        };
        have += n;
        let used = st.update_blocks(&buf[..have]);
        buf.copy_within(used..have, 0);
        have -= used;
    }
    Ok(st.finish(&buf[..have]))
}

/// Lower-case hex of a digest, as `hashlib`'s `hexdigest()` writes it.
pub fn hex(d: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in d {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}
