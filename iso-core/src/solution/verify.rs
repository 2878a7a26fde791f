//! `verify`: the signature over `SHA256SUMS` inside the archive, then every listed file's
//! digest, then coverage; optionally a detached signature over the whole image; and the
//! isomd5sum implanted by `implantisomd5`, reported as integrity only.

use std::collections::BTreeSet;

use md5::Md5;
use serde::Serialize;
use sha2::Digest;

use super::signature::{
    verify_minisign, verify_sshsig, AllowedSigner, Failure, FailureKind, MinisignKey,
    SignatureInfo, SSH_NAMESPACE,
};
use super::sums::{parse_sums, Sums, SUMS, SUMS_MINISIG, SUMS_SSHSIG};
use crate::iso9660::{EntryKind, Image};
use crate::sha256x2;

/// The key to trust, from outside the archive.
#[derive(Clone, Debug)]
pub enum TrustedKey {
    /// A minisign or signify public key.
    Minisign(MinisignKey),
    /// An `allowed_signers` file and the identity to require.
    Ssh {
        /// Parsed allowed signers.
        signers: Vec<AllowedSigner>,
        /// The principal the signer must be allowed as.
        identity: String,
    },
}

/// The isomd5sum check.
#[derive(Clone, Debug, Serialize)]
pub struct IsoMd5 {
    /// The recorded MD5.
    pub recorded: String,
    /// True when it matches. Integrity only: anyone who can change the image can recompute it.
    pub ok: bool,
}

/// The result of [`verify`].
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// Everything checked out.
    pub verified: bool,
    /// The embedded signature, when it verified.
    pub signature: Option<SignatureInfo>,
    /// The detached signature, when one was given and it verified.
    pub detached: Option<SignatureInfo>,
    /// Files listed in `SHA256SUMS`.
    pub files: usize,
    /// Bytes hashed.
    pub bytes: u64,
    /// The isomd5sum, when the image carries one.
    pub isomd5: Option<IsoMd5>,
    /// Every failed check.
    pub failures: Vec<Failure>,
}

fn verify_sig(key: &TrustedKey, sig: &str, message: &[&[u8]]) -> Result<SignatureInfo, Failure> {
    match key {
        TrustedKey::Minisign(k) => verify_minisign(k, sig, message),
        TrustedKey::Ssh { signers, identity } => {
            verify_sshsig(signers, identity, SSH_NAMESPACE, sig, message)
        }
    }
}

/// What [`verify`] checks.
#[derive(Clone, Copy, Debug)]
pub struct VerifyOptions<'a> {
    /// A detached signature (file text) over the whole image, to verify too.
    pub detached: Option<&'a str>,
    /// Verify the embedded `SHA256SUMS`, its signature, every file and coverage (default).
    pub embedded: bool,
    /// Hashing threads (0: every core).
    pub threads: usize,
}

impl Default for VerifyOptions<'_> {
    fn default() -> Self {
        VerifyOptions {
            detached: None,
            embedded: true,
            threads: 0,
        }
    }
}

/// Verifies the image: the detached signature over the whole image when given, the isomd5sum
/// when present, and (unless `opts.embedded` is false) the embedded `SHA256SUMS` with its
/// signature, every listed file, and coverage.
pub fn verify(image: &Image<'_>, key: &TrustedKey, opts: VerifyOptions<'_>) -> VerifyReport {
    let (detached, threads) = (opts.detached, opts.threads);
    let mut r = VerifyReport {
        verified: false,
        signature: None,
        detached: None,
        files: 0,
        bytes: 0,
        isomd5: isomd5(image),
        failures: Vec::new(),
    };
    if let Some(m) = &r.isomd5 {
        if !m.ok {
            r.failures.push(Failure::new(
                FailureKind::Isomd5Mismatch,
                "the isomd5sum implanted in the volume descriptor does not match the image",
            ));
        }
    }
    if let Some(sig) = detached {
        // One core hashes (the hash is sequential); the other faults the mapping's pages in
        // ahead of it, so the hashing core never waits on a page fault.
        let data = image.data();
        let done = std::sync::atomic::AtomicBool::new(false);
        let result = std::thread::scope(|s| {
            s.spawn(|| prefault(data, &done));
            let r = verify_sig(key, sig, &[data]);
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            r
        });
        match result {
            Ok(info) => r.detached = Some(info),
            Err(mut f) => {
                f.path = Some("(detached)".into());
                r.failures.push(f);
            }
        }
    }
    if opts.embedded {
        embedded(image, key, threads, &mut r);
    }
    r.verified = r.failures.is_empty();
    r
}

/// The embedded checks: the signature over `SHA256SUMS`, then coverage both ways, then every
/// listed file's digest. Nothing is checked against an unauthenticated list.
fn embedded(image: &Image<'_>, key: &TrustedKey, threads: usize, r: &mut VerifyReport) {
    let Some(sums) = authenticated_sums(image, key, r) else {
        return;
    };
    r.files = sums.entries.len();
    let Some((present, files)) = archive_files(image, &sums, r) else {
        return;
    };
    for p in sums.entries.keys().filter(|p| !present.contains(*p)) {
        r.failures.push(Failure::at(
            FailureKind::Missing,
            p,
            "listed in SHA256SUMS but not in the archive",
        ));
    }
    check_digests(&files, threads, r);
}

/// The content of the regular file `path` of the archive's default tree, when it has one.
fn read_file(image: &Image<'_>, path: &str) -> Option<Vec<u8>> {
    let e = image
        .lookup(image.default_namespace(), path)
        .ok()
        .filter(|e| e.is_file())?;
    image.contents(&e).ok().map(|c| c.to_vec())
}

/// `SHA256SUMS`, once its signature (the file for this kind of key) verified with `key` and
/// it parsed; otherwise `None`, with the failure recorded.
fn authenticated_sums(image: &Image<'_>, key: &TrustedKey, r: &mut VerifyReport) -> Option<Sums> {
    let Some(sums_bytes) = read_file(image, SUMS) else {
        r.failures.push(Failure::at(
            FailureKind::NoSums,
            SUMS,
            "no SHA256SUMS at the root of the archive",
        ));
        return None;
    };
    let sig_name = match key {
        TrustedKey::Minisign(_) => SUMS_MINISIG,
        TrustedKey::Ssh { .. } => SUMS_SSHSIG,
    };
    let Some(sig) = read_file(image, sig_name) else {
        r.failures.push(Failure::at(
            FailureKind::NoSignature,
            sig_name,
            format!("no {sig_name} at the root of the archive for this kind of key"),
        ));
        return None;
    };
    match verify_sig(key, &String::from_utf8_lossy(&sig), &[&sums_bytes]) {
        Ok(info) => r.signature = Some(info),
        Err(mut f) => {
            f.path = Some(sig_name.into());
            r.failures.push(f);
            return None; // nothing in an unauthenticated list is worth checking
        }
    }
    let parsed = std::str::from_utf8(&sums_bytes)
        .map_err(|e| e.to_string())
        .and_then(|text| parse_sums(text).map_err(|e| e.to_string()));
    match parsed {
        Ok(s) => Some(s),
        Err(e) => {
            r.failures.push(Failure::at(FailureKind::BadSums, SUMS, e));
            None
        }
    }
}

/// Walks the archive: the paths it holds (directories and the list's own files excepted) and
/// the listed regular files to hash, recording what the list does not cover and what is
/// listed but not a file. `None` when the walk fails part-way (recorded); when it cannot
/// start, nothing is present.
fn archive_files<'d>(
    image: &Image<'d>,
    sums: &Sums,
    r: &mut VerifyReport,
) -> Option<(BTreeSet<String>, Vec<Item<'d>>)> {
    let mut present = BTreeSet::new();
    let mut files = Vec::new();
    let mut walk = match image.walk(image.default_namespace()) {
        Ok(walk) => walk,
        Err(e) => {
            r.failures.push(Failure::new(
                FailureKind::Missing,
                format!("the archive cannot be walked: {e}"),
            ));
            return Some((present, files));
        }
    };
    while let Some(item) = walk.next_entry() {
        let (path, e) = match item {
            Ok(item) => item,
            Err(e) => {
                r.failures.push(Failure::new(
                    FailureKind::Missing,
                    format!("the archive cannot be walked: {e}"),
                ));
                return None;
            }
        };
        if e.kind() == EntryKind::Directory || [SUMS, SUMS_MINISIG, SUMS_SSHSIG].contains(&path) {
            continue;
        }
        present.insert(path.to_string());
        match sums.entries.get(path) {
            None => r.failures.push(Failure::at(
                FailureKind::NotCovered,
                path,
                "in the archive but not listed in SHA256SUMS",
            )),
            Some(want) if e.kind() == EntryKind::File => {
                files.push((path.to_string(), image.contents(e).ok(), *want))
            }
            Some(_) => r.failures.push(Failure::at(
                FailureKind::DigestMismatch,
                path,
                format!("listed, but a {:?} rather than a file", e.kind()),
            )),
        }
    }
    Some((present, files))
}

/// Hashes the listed files (each extent once: hard links are one extent with several paths)
/// and records every digest that differs from the list's, or content that cannot be read.
fn check_digests(files: &[Item<'_>], threads: usize, r: &mut VerifyReport) {
    let mut unique: Vec<Item<'_>> = Vec::new();
    let mut slot: Vec<usize> = Vec::with_capacity(files.len());
    let mut by_extent = std::collections::HashMap::new();
    for (path, c, want) in files {
        let key = c
            .as_ref()
            .and_then(|c| c.parts().first().map(|p| (p.as_ptr() as usize, c.len())));
        let idx = match key.and_then(|k| by_extent.get(&k).copied()) {
            Some(i) => i,
            None => {
                unique.push((path.clone(), c.clone(), *want));
                if let Some(k) = key {
                    by_extent.insert(k, unique.len() - 1);
                }
                unique.len() - 1
            }
        };
        slot.push(idx);
    }
    r.bytes = unique
        .iter()
        .map(|f| f.1.as_ref().map_or(0, |c| c.len()))
        .sum();
    let hashed = hash_all(&unique, threads);
    let digests = slot.iter().map(|&i| hashed[i]);
    for ((path, _, want), got) in files.iter().zip(digests) {
        match got {
            Some(got) if &got == want => {}
            Some(got) => r.failures.push(Failure::at(
                FailureKind::DigestMismatch,
                path,
                format!(
                    "sha256 {} but SHA256SUMS says {}",
                    hex::encode(got),
                    hex::encode(want)
                ),
            )),
            None => r.failures.push(Failure::at(
                FailureKind::DigestMismatch,
                path,
                "content unreadable",
            )),
        }
    }
}

/// Touches one byte per page of `data`, front to back, until `done`.
fn prefault(data: &[u8], done: &std::sync::atomic::AtomicBool) {
    for (i, chunk) in data.chunks(4096).enumerate() {
        if i % 256 == 0 && done.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        std::hint::black_box(chunk[0]);
    }
}

type Item<'d> = (String, Option<crate::Contents<'d>>, [u8; 32]);

/// SHA-256 of every file, two at a time per thread, largest first.
fn hash_all(files: &[Item<'_>], threads: usize) -> Vec<Option<[u8; 32]>> {
    let items: Vec<Option<&crate::Contents<'_>>> = files.iter().map(|f| f.1.as_ref()).collect();
    sha256x2::digest_all(&items, threads)
}

/// The isomd5sum of `implantisomd5`: an ASCII record in the primary volume descriptor's
/// application-use area (offset 883, 512 bytes): `ISO MD5SUM = <hex>;SKIPSECTORS = <n>;...`.
/// The MD5 covers the volume with that area blanked to spaces, less the last `n` sectors.
pub fn isomd5(image: &Image<'_>) -> Option<IsoMd5> {
    const APP: usize = 16 * 2048 + 883;
    let data = image.data();
    let area = data.get(APP..APP + 512)?;
    let text = std::str::from_utf8(area).ok()?;
    let field = |name: &str| -> Option<&str> {
        let start = text.find(name)? + name.len();
        let rest = &text[start..];
        Some(rest[..rest.find(';').unwrap_or(rest.len())].trim())
    };
    let recorded = field("ISO MD5SUM = ")?.to_ascii_lowercase();
    if recorded.len() != 32 {
        return None;
    }
    let skip: u64 = field("SKIPSECTORS = ")?.parse().ok()?;
    let volume = u64::from(image.primary().volume_space_blocks) * u64::from(image.block_size());
    let end = volume
        .min(data.len() as u64)
        .saturating_sub(skip.saturating_mul(2048)) as usize;
    let mut h = Md5::new();
    let mut pos = 0usize;
    for (start, stop) in [(0, APP.min(end)), (APP + 512, end)] {
        if stop > start {
            h.update(&data[start.max(pos)..stop]);
            pos = stop;
        }
        if start == 0 && end > APP {
            let blank = [b' '; 512];
            h.update(&blank[..(end - APP).min(512)]);
        }
    }
    Some(IsoMd5 {
        ok: hex::encode(h.finalize()) == recorded,
        recorded,
    })
}
