//! Helpers shared by the cross-tool tests: listings in the corpus format, where the shared
//! corpus is, whether a tool is installed ([`tool`]), and one module per family of tests:
//!
//! - [`images`], [`exercise`] and [`patch`]: the adversarial tests (`adversarial_*.rs`);
//! - [`sig`] (with [`b64`] and [`json`]) and [`sig_case`]: the `sums`/`verify` tests
//!   (`signatures_*.rs`);
//! - [`tree`], [`mastering`] and [`roundtrip`]: the round trips through mastering tools
//!   (`roundtrip.rs`, `zisofs_lookalikes.rs`);
//! - [`registry_config`]: the regenerated `registry-config.inc.j2` against the shipped one
//!   (`solutions.rs`, and `oci-export`'s `cli_solution.rs`).

use std::io::Read;
use std::path::PathBuf;

use iso_core::{EntryKind, Image, Namespace};
use sha2::{Digest, Sha256};

/// `../shared` beside the checkout, when present.
pub fn shared_dir() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    p.is_dir().then(|| p.canonicalize().unwrap_or(p))
}

/// The repository root.
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Escapes a path or link target as the corpus listings do.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\t' => o.push_str("\\t"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => o.push_str(&format!("\\x{:02x}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

/// The listing of a namespace in the corpus format (`path type size digest-or-target`),
/// sorted by path bytes. File digests are over the content read through `Image::reader`.
pub fn listing(image: &Image<'_>, ns: Namespace) -> Result<Vec<String>, iso_core::Error> {
    let mut lines = Vec::new();
    for item in image.walk(ns)? {
        let item = item?;
        let e = &item.entry;
        let path = escape(&item.path);
        let line = match e.kind() {
            EntryKind::File => {
                let mut r = image
                    .reader(e)
                    .map_err(|err| err.with_path(item.path.clone()))?;
                let mut h = Sha256::new();
                let mut buf = vec![0u8; 1 << 16];
                let mut n = 0u64;
                loop {
                    let k = r.read(&mut buf).map_err(iso_core::Error::from)?;
                    if k == 0 {
                        break;
                    }
                    n += k as u64;
                    h.update(&buf[..k]);
                }
                assert_eq!(
                    n,
                    e.size(),
                    "{}: read {} bytes, size says {}",
                    item.path,
                    n,
                    e.size()
                );
                format!("{path}\tf\t{n}\t{}", hex::encode(h.finalize()))
            }
            EntryKind::Directory => format!("{path}\td\t-\t-"),
            EntryKind::Symlink => {
                format!("{path}\tl\t-\t{}", escape(e.symlink_target().unwrap_or("")))
            }
            EntryKind::BlockDevice | EntryKind::CharDevice => {
                let (ma, mi) = e.device().unwrap_or((0, 0));
                format!("{path}\t{}\t-\t{ma},{mi}", e.kind().letter())
            }
            k => format!("{path}\t{}\t-\t-", k.letter()),
        };
        lines.push(line);
    }
    lines.sort_by(|a, b| {
        let pa = a.split('\t').next().unwrap_or("");
        let pb = b.split('\t').next().unwrap_or("");
        pa.as_bytes().cmp(pb.as_bytes())
    });
    Ok(lines)
}
pub mod b64;
pub mod exercise;
pub mod images;
pub mod json;
pub mod mastering;
pub mod patch;
pub mod registry_config;
pub mod roundtrip;
pub mod sig;
pub mod sig_case;
pub mod tools;
pub mod tree;

pub use tools::{find_tool, tool, tool_path, tools};
