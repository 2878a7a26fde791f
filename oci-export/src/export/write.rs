//! Writing the files of an export: the one place that writes a blob while hashing it, checks
//! its size and digest, and gives a file its final name only when it is complete.
//!
//! - [`Expected`]: what a blob's bytes must be (its descriptor's digest and size).
//! - [`TempFile`]: a file created exclusively under a temporary name in the directory of its
//!   final name, synced and renamed by [`TempFile::persist`], removed on any error.
//! - [`Out`]: where a blob's bytes go, a file and an offset (a blob file of its own, or a
//!   member's place in a tar).
//! - [`hash_copy`] and [`hash_copy_pair`]: a blob's bytes hashed and written to an [`Out`] in
//!   chunks, one blob, or two at once hashed with the two-message SHA-256 of
//!   [`iso_core::sha256x2`] (what lets an export run near the hash ceiling).
//! - [`write_blob`] and [`write_blob_pair`]: `<dir>/<hex>` written through a [`TempFile`].
//!
//! # Copy what was hashed
//!
//! Each chunk is hashed, then written from the same bytes (the same slice of the mapping),
//! with `pwrite` at its place in a destination whose length was set first (`ftruncate`: the
//! file system then never extends the file write by write). The bytes written are the bytes
//! hashed, as long as the mapping does not change between the two reads of a chunk, which
//! is what [`iso_core::IsoFile`] promises for a file nobody else writes (its documented
//! caveat; [`iso_core::IsoFile::read`] holds the bytes in memory for files others can
//! write). A kernel copy (`copy_file_range`, `sendfile`) would read the file again, out of
//! sight of the hash, and was measured no cheaper: `copy_file_range` from the ISO to a
//! tmpfs is refused (`EXDEV`, another file system) and `sendfile` costs the same kernel
//! time per byte as `pwrite` from the mapping (the copy into new tmpfs pages is the cost,
//! not the way it is asked for).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::ControlFlow;
#[cfg(unix)]
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use iso_core::digest::{sha256_hex, sha256_of, SHA256_PREFIX};
use iso_core::sha256x2::{update_pair, State};
use sha2::{Digest, Sha256};

use super::ExportError;
use crate::Stopped;

/// Bytes hashed, then written, at a time (per blob; a pair hashes two such chunks at once):
/// small enough that a pair's chunks are still in the core's cache when they are written.
pub(crate) const CHUNK: usize = 256 << 10;

/// Told the bytes just written; [`ControlFlow::Break`] stops the write with [`Stopped`].
pub(crate) type Tick<'a> = &'a mut dyn FnMut(u64) -> ControlFlow<()>;

/// An I/O error on `path`, as an [`ExportError::Io`].
pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ExportError + '_ {
    move |error| ExportError::Io {
        path: path.to_owned(),
        error,
    }
}

/// `sha256:<hex>` of `bytes` (a manifest or index made by an exporter).
pub(crate) fn digest_of(bytes: &[u8]) -> String {
    format!("{SHA256_PREFIX}{}", sha256_of(bytes).digest())
}

/// The bytes of `parts` in all.
pub(crate) fn parts_len(parts: &[&[u8]]) -> u64 {
    parts.iter().map(|p| p.len() as u64).sum()
}

/// What a blob's bytes must be: its descriptor's digest and size; errors name `label`
/// (`name:tag`, the image the blob is written for).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expected<'a> {
    /// `sha256:<hex>`.
    pub(crate) digest: &'a str,
    /// Its 64 lowercase hexadecimal characters: the blob's file name.
    pub(crate) hex: &'a str,
    /// Its size.
    pub(crate) size: u64,
    /// The image (`name:tag`).
    pub(crate) label: &'a str,
}

impl<'a> Expected<'a> {
    /// `digest` must be `sha256:<64 lowercase hex>` (a [`ExportError::Corrupt`] otherwise).
    pub(crate) fn new(digest: &'a str, size: u64, label: &'a str) -> Result<Self, ExportError> {
        let hex = sha256_hex(digest).ok_or_else(|| ExportError::Corrupt {
            image: label.into(),
            digest: digest.into(),
            reason: "not a sha256 digest".into(),
        })?;
        Ok(Expected {
            digest,
            hex,
            size,
            label,
        })
    }

    fn corrupt(&self, reason: String) -> ExportError {
        ExportError::Corrupt {
            image: self.label.into(),
            digest: self.digest.into(),
            reason,
        }
    }

    /// Refuses `len` bytes where the descriptor says otherwise.
    pub(crate) fn check_size(&self, len: u64) -> Result<(), ExportError> {
        if len == self.size {
            return Ok(());
        }
        Err(self.corrupt(format!("{len} bytes, the descriptor says {}", self.size)))
    }

    /// Refuses content whose SHA-256 is not the descriptor's.
    pub(crate) fn check_digest(&self, got: &[u8; 32]) -> Result<(), ExportError> {
        let got = hex::encode(got);
        if got == self.hex {
            return Ok(());
        }
        Err(self.corrupt(format!("content has sha256:{got}")))
    }
}

/// A file being written under a temporary name in the directory of its final name. It is
/// created exclusively (`O_CREAT|O_EXCL`, plus `O_NOFOLLOW`: never an existing file, and
/// never through a symbolic link, which `O_EXCL` refuses even when it dangles) under a name
/// private to this writer ([`TempFile::private`]; nothing is ever removed and created again
/// at a fixed name, which another process could race), gets its final name only through
/// [`TempFile::persist`] (synced, then renamed), and is removed when dropped otherwise: on
/// any error, or when the progress callback stops the export.
pub(crate) struct TempFile {
    // Declared first so that it is closed before `guard` removes the file.
    file: File,
    guard: Guard,
}

/// Removes the temporary file unless it was renamed.
struct Guard {
    path: PathBuf,
    kept: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Numbers the temporary files of this process, so two writers never share one.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Options that never follow a symbolic link at the last component (`O_NOFOLLOW`).
/// `O_CREAT|O_EXCL` alone already refuses a symbolic link (POSIX); this is the second lock on
/// the same door, and what makes [`blob_matches`] refuse one.
fn no_follow(o: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW);
    }
    o
}

/// Creates `path` exclusively, for writing, never through a symbolic link.
fn create_new(path: &Path) -> io::Result<File> {
    no_follow(OpenOptions::new().write(true).create_new(true)).open(path)
}

/// Whether `path` holds blob `want` already: a regular file itself (a symbolic link, a
/// directory or anything else does not count: it is replaced, never followed) of the
/// descriptor's size and, unless `trust`, whose content hashes to the descriptor's digest
/// (re-read in full). A file that cannot be read does not count either.
pub(crate) fn blob_matches(path: &Path, want: &Expected<'_>, trust: bool) -> bool {
    let Ok(mut f) = no_follow(OpenOptions::new().read(true)).open(path) else {
        return false;
    };
    match f.metadata() {
        Ok(m) if m.is_file() && m.len() == want.size => {}
        _ => return false,
    }
    if trust {
        return true;
    }
    let mut h = Sha256::new();
    io::copy(&mut f, &mut h).is_ok() && hex::encode(h.finalize()) == want.hex
}

/// At most this many bytes of a final name go into a temporary name (a name has at most
/// 255 bytes, and `.<name>.partial-<pid>-<n>` adds up to 40).
const NAME_MAX_KEPT: usize = 200;

/// The temporary-name prefix of final name `name`: `.<name>.partial-` (`name` cut to
/// [`NAME_MAX_KEPT`] bytes).
pub(crate) fn partial_prefix(name: &str) -> String {
    let mut end = name.len().min(NAME_MAX_KEPT);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(".{}.partial-", &name[..end])
}

/// Removes the temporary files that interrupted runs left in `dir`: names starting with
/// `prefix` (see [`partial_prefix`]; all `.partial-` names when empty) followed by
/// `<pid>-<n>` of a process that no longer runs (a live export keeps its files). A symbolic
/// link planted there is removed itself, never followed. Best effort: errors are ignored.
pub(crate) fn remove_leftovers(dir: &Path, prefix: &str) {
    let Ok(rd) = fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let rest = if prefix.is_empty() {
            name.rsplit_once(".partial-").map(|(_, r)| r)
        } else {
            name.strip_prefix(prefix)
        };
        let Some(pid) = rest.and_then(|r| r.split('-').next()) else {
            continue;
        };
        if pid.parse::<u32>().is_ok_and(|p| !running(p)) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Whether process `pid` runs (on Linux, as `/proc` says; elsewhere only this process is
/// known to run, so every other leftover is removed, as before).
fn running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    cfg!(target_os = "linux") && Path::new("/proc").join(pid.to_string()).exists()
}

impl TempFile {
    /// `.<name>.partial-<pid>-<n>` in `dir` (see [`partial_prefix`]): a name private to
    /// this writer, created exclusively (a name taken, by a leftover or anything planted
    /// there, is skipped, never opened).
    pub(crate) fn private(dir: &Path, name: &str) -> Result<Self, ExportError> {
        let pid = std::process::id();
        let prefix = partial_prefix(name);
        let mut tries = 0;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{prefix}{pid}-{n}"));
            match create_new(&path) {
                Ok(file) => return Ok(TempFile::new(file, path)),
                // A leftover of an earlier process with this pid, or a planted link: take the
                // next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 100 => tries += 1,
                Err(e) => return Err(io_error(&path)(e)),
            }
        }
    }

    fn new(file: File, path: PathBuf) -> Self {
        TempFile {
            file,
            guard: Guard { path, kept: false },
        }
    }

    /// Where bytes go in this file, from byte `at` on.
    pub(crate) fn out(&self, at: u64) -> Out<'_> {
        Out {
            file: &self.file,
            at,
            path: &self.guard.path,
        }
    }

    /// Sets the file's length to `len` (what is not written after reads as zeroes): the
    /// writes that follow fill it in place.
    pub(crate) fn set_len(&self, len: u64) -> Result<(), ExportError> {
        self.file.set_len(len).map_err(io_error(&self.guard.path))
    }

    /// Writes `bytes` at the start of the (new) file, an error naming the temporary path.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        self.out(0).put(0, bytes)
    }

    /// Syncs the file and renames it to `to` (replacing what is there; a symbolic link at
    /// `to` is replaced, not followed). On an error the temporary file is removed.
    pub(crate) fn persist(self, to: &Path) -> Result<(), ExportError> {
        let TempFile { file, mut guard } = self;
        file.sync_all().map_err(io_error(&guard.path))?;
        drop(file);
        fs::rename(&guard.path, to).map_err(io_error(to))?;
        guard.kept = true;
        Ok(())
    }
}

/// Where a blob's bytes go: `file` from byte `at` on; `path` names errors.
#[derive(Clone, Copy)]
pub(crate) struct Out<'f> {
    file: &'f File,
    at: u64,
    path: &'f Path,
}

impl<'f> Out<'f> {
    /// The file's path, for errors.
    pub(crate) fn path(&self) -> &'f Path {
        self.path
    }

    /// Writes `bytes` at `pos` bytes past the start (`pwrite`: the file's offset is not
    /// used, so several threads write one file at once).
    pub(crate) fn put(&self, pos: u64, bytes: &[u8]) -> Result<(), ExportError> {
        let at = self.at.checked_add(pos).ok_or_else(|| ExportError::Io {
            path: self.path.to_owned(),
            error: io::Error::new(io::ErrorKind::InvalidInput, "offset overflows"),
        })?;
        write_at(self.file, bytes, at).map_err(io_error(self.path))
    }
}

/// `pwrite` of all of `bytes` at `at`.
#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], at: u64) -> io::Result<()> {
    file.write_all_at(bytes, at)
}

/// Elsewhere: a seek, then a write, which moves the file's offset: one writer per file
/// there (the archive writer then writes on one thread).
#[cfg(not(unix))]
fn write_at(mut file: &File, bytes: &[u8], at: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(at))?;
    file.write_all(bytes)
}

/// Hashes `parts` (one blob, in order) and writes them to `out`, chunk by chunk (each
/// chunk hashed, then written from the same bytes), telling `tick` each chunk's bytes;
/// returns the SHA-256 for the caller to check.
pub(crate) fn hash_copy(
    parts: &[&[u8]],
    out: Out<'_>,
    tick: Tick<'_>,
) -> Result<[u8; 32], ExportError> {
    let mut h = Sha256::new();
    let mut pos = 0u64;
    for part in parts {
        for chunk in part.chunks(CHUNK) {
            h.update(chunk);
            out.put(pos, chunk)?;
            pos += chunk.len() as u64;
            Stopped::on_break(tick(chunk.len() as u64))?;
        }
    }
    Ok(h.finalize().into())
}

/// [`hash_copy`] for two blobs at once: both hashed together on this core ([`update_pair`],
/// two messages interleaved) while each is written to its [`Out`]; returns both digests.
pub(crate) fn hash_copy_pair(
    (da, oa): (&[u8], Out<'_>),
    (db, ob): (&[u8], Out<'_>),
    tick: Tick<'_>,
) -> Result<([u8; 32], [u8; 32]), ExportError> {
    let (mut sa, mut sb) = (State::new(), State::new());
    // The whole 64-byte blocks both have: hashed in pairs.
    let both = da.len().min(db.len()) / 64 * 64;
    let mut pos = 0;
    while pos < both {
        let end = (pos + CHUNK).min(both);
        update_pair(&mut sa, &mut sb, &da[pos..end], &db[pos..end]);
        oa.put(pos as u64, &da[pos..end])?;
        ob.put(pos as u64, &db[pos..end])?;
        Stopped::on_break(tick(2 * (end - pos) as u64))?;
        pos = end;
    }
    let ga = finish_alone(sa, da, pos, oa, tick)?;
    let gb = finish_alone(sb, db, pos, ob, tick)?;
    Ok((ga, gb))
}

/// The rest of one blob of a pair (`data[from..]`), hashed alone: its whole blocks, then
/// the tail.
fn finish_alone(
    mut state: State,
    data: &[u8],
    from: usize,
    out: Out<'_>,
    tick: Tick<'_>,
) -> Result<[u8; 32], ExportError> {
    let mut p = from;
    while data.len() - p >= 64 {
        let end = (p + CHUNK).min(data.len());
        let n = state.update_blocks(&data[p..end]);
        out.put(p as u64, &data[p..p + n])?;
        Stopped::on_break(tick(n as u64))?;
        p += n;
    }
    let tail = &data[p..];
    out.put(p as u64, tail)?;
    Stopped::on_break(tick(tail.len() as u64))?;
    Ok(state.finish(tail))
}

/// Writes `parts` as `<dir>/<hex>`: a [`TempFile`] in `dir` of the blob's length, hashed
/// while written, renamed only when its size and digest are the descriptor's.
pub(crate) fn write_blob(
    dir: &Path,
    parts: &[&[u8]],
    want: &Expected<'_>,
    tick: Tick<'_>,
) -> Result<(), ExportError> {
    want.check_size(parts_len(parts))?;
    let tmp = TempFile::private(dir, want.hex)?;
    tmp.set_len(want.size)?;
    let got = hash_copy(parts, tmp.out(0), tick)?;
    want.check_digest(&got)?;
    tmp.persist(&dir.join(want.hex))
}

/// [`write_blob`] for two contiguous blobs at once: both hashed together on this core
/// ([`hash_copy_pair`]) while each is written to its [`TempFile`].
pub(crate) fn write_blob_pair(
    dir: &Path,
    (da, a): (&[u8], &Expected<'_>),
    (db, b): (&[u8], &Expected<'_>),
    tick: Tick<'_>,
) -> Result<(), ExportError> {
    a.check_size(da.len() as u64)?;
    b.check_size(db.len() as u64)?;
    let ta = TempFile::private(dir, a.hex)?;
    let tb = TempFile::private(dir, b.hex)?;
    ta.set_len(a.size)?;
    tb.set_len(b.size)?;
    let (ga, gb) = hash_copy_pair((da, ta.out(0)), (db, tb.out(0)), tick)?;
    a.check_digest(&ga)?;
    ta.persist(&dir.join(a.hex))?;
    b.check_digest(&gb)?;
    tb.persist(&dir.join(b.hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(bytes: &[u8]) -> (String, u64) {
        (digest_of(bytes), bytes.len() as u64)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_blob_is_renamed_only_when_its_digest_and_size_match() {
        let dir = tempfile::tempdir().unwrap();
        let data = vec![7u8; 200_000];
        let (d, size) = blob(&data);
        let want = Expected::new(&d, size, "x:1").unwrap();
        let mut seen = 0;
        write_blob(
            dir.path(),
            &[&data[..1000], &data[1000..]],
            &want,
            &mut |n| {
                seen += n;
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert_eq!(seen, size);
        assert_eq!(names(dir.path()), vec![want.hex.to_string()]);
        assert_eq!(fs::read(dir.path().join(want.hex)).unwrap(), data);

        // Wrong content, wrong size, a stop: an error and nothing left.
        let other = Expected::new(&d, size, "x:1").unwrap();
        fs::remove_file(dir.path().join(want.hex)).unwrap();
        let bad = vec![8u8; 200_000];
        let e = write_blob(dir.path(), &[&bad], &other, &mut |_| {
            ControlFlow::Continue(())
        });
        assert!(e.unwrap_err().to_string().contains("content has sha256:"));
        let e = write_blob(dir.path(), &[&bad[1..]], &other, &mut |_| {
            ControlFlow::Continue(())
        });
        assert!(e.unwrap_err().to_string().contains("the descriptor says"));
        let e = write_blob(
            dir.path(),
            &[&data],
            &other,
            &mut |_| ControlFlow::Break(()),
        );
        assert!(matches!(e, Err(ExportError::Stopped)));
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
        assert!(Expected::new("sha256:ABC", 1, "x:1").is_err());
    }

    #[test]
    fn pairs_hash_like_single_blobs_of_every_length() {
        let dir = tempfile::tempdir().unwrap();
        for (la, lb) in [(0, 3), (1, 200), (64, 64), (130_000, 70_001), (5, 65_600)] {
            let a: Vec<u8> = (0..la).map(|i| (i % 251) as u8).collect();
            let b: Vec<u8> = (0..lb).map(|i| (i % 241) as u8 ^ 0x5a).collect();
            let ((da, sa), (db, sb)) = (blob(&a), blob(&b));
            let (ea, eb) = (
                Expected::new(&da, sa, "a:1").unwrap(),
                Expected::new(&db, sb, "b:1").unwrap(),
            );
            let mut seen = 0;
            write_blob_pair(dir.path(), (&a, &ea), (&b, &eb), &mut |n| {
                seen += n;
                ControlFlow::Continue(())
            })
            .unwrap();
            assert_eq!(seen, sa + sb);
            assert_eq!(fs::read(dir.path().join(ea.hex)).unwrap(), a);
            assert_eq!(fs::read(dir.path().join(eb.hex)).unwrap(), b);
            fs::remove_file(dir.path().join(ea.hex)).unwrap();
            fs::remove_file(dir.path().join(eb.hex)).unwrap();
        }
        // A corrupt second blob: the first is kept (it is complete and checked), the second
        // leaves nothing.
        let (a, b) = (vec![1u8; 1000], vec![2u8; 1000]);
        let ((da, sa), (db, sb)) = (blob(&a), blob(&b));
        let ea = Expected::new(&da, sa, "a:1").unwrap();
        let eb = Expected::new(&db, sb, "b:1").unwrap();
        let e = write_blob_pair(dir.path(), (&a, &ea), (&a, &eb), &mut |_| {
            ControlFlow::Continue(())
        });
        assert!(e.unwrap_err().to_string().contains("content has sha256:"));
        assert_eq!(names(dir.path()), vec![ea.hex.to_string()]);
    }

    #[test]
    fn temporary_files_are_exclusive_and_never_follow_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"keep").unwrap();
        // Links planted at the old fixed name and at the next private names of this process.
        let pid = std::process::id();
        let next = NEXT.load(Ordering::Relaxed);
        let mut planted = vec![dir.path().join("x.tar.partial")];
        planted
            .extend((next..next + 8).map(|n| dir.path().join(format!(".x.tar.partial-{pid}-{n}"))));
        for at in &planted {
            std::os::unix::fs::symlink(&target, at).unwrap();
        }
        let mut t = TempFile::private(dir.path(), "x.tar").unwrap();
        t.write_all(b"new").unwrap();
        t.persist(&dir.path().join("x.tar")).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        assert_eq!(fs::read(dir.path().join("x.tar")).unwrap(), b"new");
        for at in &planted {
            assert!(fs::symlink_metadata(at).unwrap().file_type().is_symlink());
        }
        // This process runs: its links stay; the fixed name is not a leftover name.
        remove_leftovers(dir.path(), &partial_prefix("x.tar"));
        assert_eq!(names(dir.path()).len(), 2 + planted.len());
        // Dropped without persist: removed.
        for at in &planted {
            fs::remove_file(at).unwrap();
        }
        let t = TempFile::private(dir.path(), "y").unwrap();
        drop(t);
        assert_eq!(names(dir.path()), vec!["target", "x.tar"]);
        // A leftover of a process that no longer runs is removed (a pid above Linux's
        // largest pid_max), a symbolic link itself and not its target.
        let dead = dir.path().join(".x.tar.partial-4194399-0");
        std::os::unix::fs::symlink(&target, &dead).unwrap();
        remove_leftovers(dir.path(), &partial_prefix("x.tar"));
        assert_eq!(names(dir.path()), vec!["target", "x.tar"]);
        assert_eq!(fs::read(&target).unwrap(), b"keep");
    }

    #[test]
    fn a_blob_counts_as_present_only_when_it_is_a_regular_file_with_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"blob bytes".to_vec();
        let (d, size) = blob(&data);
        let want = Expected::new(&d, size, "x:1").unwrap();
        let path = dir.path().join(want.hex);
        assert!(!blob_matches(&path, &want, false));
        fs::write(&path, &data).unwrap();
        assert!(blob_matches(&path, &want, false));
        // Same size, one byte changed: found by the re-hash, not when trusted.
        fs::write(&path, b"blob bytez").unwrap();
        assert!(!blob_matches(&path, &want, false));
        assert!(blob_matches(&path, &want, true));
        // Another size: wrong even when trusted.
        fs::write(&path, b"blob").unwrap();
        assert!(!blob_matches(&path, &want, true));
        // A link to the right bytes: not a blob of the layout.
        let real = dir.path().join("real");
        fs::write(&real, &data).unwrap();
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&real, &path).unwrap();
        assert!(!blob_matches(&path, &want, false));
        assert!(!blob_matches(&path, &want, true));
    }
}
