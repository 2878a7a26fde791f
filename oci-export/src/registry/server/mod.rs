//! A read-only container registry over one or more Solution ISOs (the distribution-spec pull
//! API), repositories named `<name>-<version>/<image>` as MetalK8s names them.
//!
//! Blob and manifest bodies are slices of the ISO mappings handed to the HTTP stack without
//! copies (`Bytes::from_owner` over the shared mapping). Writes answer `UNSUPPORTED` (405,
//! `Allow: GET, HEAD`). Errors are the registry's JSON bodies (`MANIFEST_UNKNOWN`,
//! `BLOB_UNKNOWN`, `NAME_UNKNOWN`, `NAME_INVALID`, `DIGEST_INVALID`, `UNSUPPORTED`,
//! `RANGE_INVALID`).
//!
//! No byte leaves under a digest it does not have: manifests are checked when the ISOs are
//! opened, blobs before their first byte is sent ([`Registry::verify_all`] at start, or lazily,
//! once per blob, by the first request for it); a blob whose bytes do not match its digest is
//! answered with 500. Repositories and tags the distribution grammar refuses are not served
//! ([`Registry::warnings`] says which).
//!
//! [`serve`] runs the server: one task per connection over hyper's HTTP/1.1, with a header
//! timeout, an idle timeout, a send-stall timeout, a cap on open connections (idle ones are
//! closed to make room) and a graceful stop bounded in time ([`Draining::finish`]).

mod conn;
mod http;
mod names;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use iso_core::digest::{sha256_hex, sha256_of};
use iso_core::solution::Solution;
use iso_core::IsoFile;
use tokio::sync::OnceCell;

pub use conn::{serve, Draining, Log, ServeOptions, Stopped};

use crate::registry::mapped::{digest_mismatch, MapSlice};

/// The largest piece a blob body is handed to the connection in: the log's byte counts and the
/// send-stall timeout see progress at this grain (the pieces are views of the mapping, not
/// copies).
const PIECE: usize = 256 * 1024;

/// What hashing a blob found.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// Its bytes have its digest.
    Good,
    /// They do not: the digest they have (or why it could not be known).
    Bad(String),
}

/// A blob: its parts (slices of one mapped ISO), its digest, and the verdict of the check of
/// its bytes once made. Repositories sharing the same extents share one.
struct Blob {
    digest: String,
    parts: Vec<MapSlice>,
    len: u64,
    verdict: OnceCell<Verdict>,
}

impl Blob {
    /// The blob stored as `c` in `file`, or `None` if its parts are not slices of `file`.
    fn of(file: &Arc<IsoFile>, digest: &str, c: &iso_core::Contents<'_>) -> Option<Self> {
        let parts = c
            .parts()
            .iter()
            .map(|p| MapSlice::of(file, p))
            .collect::<Option<Vec<_>>>()?;
        Some(Blob {
            digest: digest.to_string(),
            parts,
            len: c.len(),
            verdict: OnceCell::new(),
        })
    }

    /// Hashes its bytes (blocking: up to the blob's size read from the mapping).
    fn check(&self) -> Verdict {
        match digest_mismatch(&self.digest, &self.parts) {
            None => Verdict::Good,
            Some(actual) => Verdict::Bad(actual),
        }
    }

    /// The verdict, hashing the blob (on a blocking thread) if nobody has yet; concurrent
    /// first callers wait for the same check.
    async fn verdict(self: &Arc<Self>) -> &Verdict {
        self.verdict
            .get_or_init(|| {
                let me = self.clone();
                async move {
                    tokio::task::spawn_blocking(move || me.check())
                        .await
                        .unwrap_or_else(|e| Verdict::Bad(format!("not checked: {e}")))
                }
            })
            .await
    }

    /// The bytes in `want` (a byte range of the blob), as zero-copy pieces of at most
    /// [`PIECE`] bytes: exactly `want.end - want.start` bytes, or `None` when `want` is not
    /// inside the blob.
    fn chunks(&self, want: Range<u64>) -> Option<Vec<Bytes>> {
        if want.start > want.end || want.end > self.len {
            return None;
        }
        let mut out = Vec::new();
        let mut base = 0u64;
        for p in &self.parts {
            let plen = p.len() as u64;
            let (s, e) = (want.start.max(base), want.end.min(base + plen));
            if s < e {
                let sub = Bytes::from_owner(p.slice((s - base) as usize..(e - base) as usize)?);
                let mut off = 0;
                while off < sub.len() {
                    let end = (off + PIECE).min(sub.len());
                    out.push(sub.slice(off..end));
                    off = end;
                }
            }
            base += plen;
        }
        Some(out)
    }
}

/// A blob's digest and extents (address and length of each part in the mapping).
type BlobKey = (String, Vec<(usize, usize)>);

#[derive(Clone)]
struct Manifest {
    bytes: Bytes,
    digest: String,
    media_type: String,
}

#[derive(Default)]
struct Repo {
    tags: BTreeMap<String, Manifest>,
    by_digest: HashMap<String, Manifest>,
    blobs: HashMap<String, Arc<Blob>>,
}

/// The images of some Solution ISOs, indexed for serving.
pub struct Registry {
    repos: BTreeMap<String, Repo>,
    /// Every distinct blob, once.
    blobs: Vec<Arc<Blob>>,
    warnings: Vec<String>,
}

/// Why a registry could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// An ISO could not be opened.
    #[error("{0}: {1}")]
    Open(String, std::io::Error),
    /// An ISO could not be read as a Solution.
    #[error("{0}: {1}")]
    Image(String, iso_core::Error),
    /// A Solution without a readable name and version.
    #[error("{0}: no metadata.name and spec.version: not a Solution")]
    NotSolution(String),
}

/// What [`Registry::verify_all`] found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Distinct blobs hashed.
    pub blobs: usize,
    /// Their bytes.
    pub bytes: u64,
    /// How long it took.
    pub elapsed: Duration,
    /// The blobs whose bytes do not match their digest, one line each (digest, what the bytes
    /// hash to, the repositories that list it): they are answered with 500.
    pub bad: Vec<String>,
}

/// `bytes` as a manifest if they have `digest`, else a warning about `what`.
fn checked_manifest(
    bytes: Bytes,
    digest: &str,
    media_type: &str,
    what: &str,
) -> Result<Manifest, String> {
    if sha256_hex(digest) != Some(sha256_of(&bytes).digest()) {
        return Err(format!(
            "{what}: its bytes do not have its digest {digest} (they have sha256:{}): not served",
            sha256_of(&bytes).digest()
        ));
    }
    Ok(Manifest {
        bytes,
        digest: digest.to_string(),
        media_type: media_type.to_string(),
    })
}

impl Registry {
    /// Opens (maps) each ISO and indexes its images under `<name>-<version>/<image>`. What it
    /// leaves out (names and tags the distribution grammar refuses, manifests that do not have
    /// their digest, unreadable manifests) is in [`Registry::warnings`].
    pub fn open(paths: &[impl AsRef<Path>]) -> Result<Self, LoadError> {
        let mut repos: BTreeMap<String, Repo> = BTreeMap::new();
        let mut warnings = Vec::new();
        let mut bad_names = BTreeSet::new();
        // One `Blob` per distinct (digest, extents), shared by the repositories listing it.
        let mut seen: HashMap<BlobKey, Arc<Blob>> = HashMap::new();
        let mut blobs = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let shown = p.display().to_string();
            let file = Arc::new(IsoFile::open(p).map_err(|e| LoadError::Open(shown.clone(), e))?);
            let image = file
                .image()
                .map_err(|e| LoadError::Image(shown.clone(), e))?;
            let s = Solution::load(&image).map_err(|e| LoadError::Image(shown.clone(), e))?;
            let id = s
                .id()
                .ok_or_else(|| LoadError::NotSolution(shown.clone()))?;
            for (i, img) in s.images.iter().enumerate() {
                let name = format!("{id}/{}", img.name);
                let shown_img = format!("{shown}: {name}:{}", img.tag);
                if !names::valid_name(&name) {
                    if bad_names.insert(name.clone()) {
                        warnings.push(format!(
                            "{shown}: repository {name:?} is not a valid distribution name: not served"
                        ));
                    }
                    continue;
                }
                let (Ok(bytes), Some(digest)) = (s.manifest_bytes(i), &img.manifest_digest) else {
                    warnings.push(format!("{shown_img}: no readable manifest: not served"));
                    continue;
                };
                let m = match checked_manifest(
                    Bytes::from(bytes),
                    digest.as_ref(),
                    &img.media_type,
                    &shown_img,
                ) {
                    Ok(m) => m,
                    Err(w) => {
                        warnings.push(w);
                        continue;
                    }
                };
                let repo = repos.entry(name.clone()).or_default();
                if names::valid_tag(&img.tag) {
                    repo.tags.insert(img.tag.clone(), m.clone());
                } else {
                    warnings.push(format!(
                        "{shown}: tag {:?} of {name} is not a valid tag: served by digest only",
                        img.tag
                    ));
                }
                repo.by_digest.insert(m.digest.clone(), m);
                // A list's per-platform manifests are pulled by digest.
                for p in img.platforms() {
                    let d = p.manifest.digest.to_string();
                    if let Some(c) = s.blob(i, &p.manifest.digest) {
                        match checked_manifest(
                            Bytes::from(c.to_vec()),
                            &d,
                            &p.manifest.media_type,
                            &format!("{shown_img}: platform manifest {d}"),
                        ) {
                            Ok(m) => {
                                repo.by_digest.insert(d, m);
                            }
                            Err(w) => warnings.push(w),
                        }
                    }
                }
                for r in img.blob_refs() {
                    let Some(c) = s.blob(i, &r.digest) else {
                        continue;
                    };
                    let d = r.digest.to_string();
                    let key = (
                        d.clone(),
                        c.parts()
                            .iter()
                            .map(|x| (x.as_ptr() as usize, x.len()))
                            .collect(),
                    );
                    if let Some(b) = seen.get(&key) {
                        repo.blobs.insert(d, b.clone());
                    } else if let Some(b) = Blob::of(&file, &d, &c) {
                        let b = Arc::new(b);
                        seen.insert(key, b.clone());
                        blobs.push(b.clone());
                        repo.blobs.insert(d, b);
                    }
                }
            }
        }
        Ok(Registry {
            repos,
            blobs,
            warnings,
        })
    }

    /// Repository names.
    pub fn repositories(&self) -> Vec<&str> {
        self.repos.keys().map(String::as_str).collect()
    }

    /// What [`Registry::open`] left out, one line each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Hashes every blob not checked yet, on `threads` threads (blocking), recording each
    /// verdict: the bad ones are then refused (500) without another check.
    pub fn verify_all(&self, threads: usize) -> VerifyReport {
        let t = Instant::now();
        let next = AtomicUsize::new(0);
        let threads = threads.clamp(1, self.blobs.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(b) = self.blobs.get(i) else {
                        break;
                    };
                    if b.verdict.get().is_none() {
                        // Another thread cannot have set it: each index is taken once.
                        let _ = b.verdict.set(b.check());
                    }
                });
            }
        });
        let mut bad = Vec::new();
        for b in &self.blobs {
            if let Some(Verdict::Bad(got)) = b.verdict.get() {
                let listed: Vec<&str> = self
                    .repos
                    .iter()
                    .filter(|(_, r)| r.blobs.get(&b.digest).is_some_and(|x| Arc::ptr_eq(x, b)))
                    .map(|(n, _)| n.as_str())
                    .collect();
                bad.push(format!(
                    "blob {} (in {}): its bytes have {got}: not served",
                    b.digest,
                    listed.join(", ")
                ));
            }
        }
        VerifyReport {
            blobs: self.blobs.len(),
            bytes: self.blobs.iter().map(|b| b.len).sum(),
            elapsed: t.elapsed(),
            bad,
        }
    }
}
