//! `isolution verify` and `isolution sums`.

use std::io::Write;

use anyhow::Context;
use iso_core::solution::signature::{parse_allowed_signers, parse_minisign_key};
use iso_core::solution::sums::{render_sums, sums_for_dir};
use iso_core::solution::{self, TrustedKey, VerifyReport};

use crate::args::{SumsArgs, VerifyArgs};
use crate::util;
use crate::Outcome;

fn read_text(p: &std::path::Path, what: &str) -> anyhow::Result<String> {
    let b = std::fs::read(p).with_context(|| format!("cannot read the {what} {}", p.display()))?;
    String::from_utf8(b).with_context(|| format!("the {what} {} is not UTF-8 text", p.display()))
}

pub fn verify(a: VerifyArgs) -> anyhow::Result<Outcome> {
    // Keys first: an unreadable key is a usage error (exit 2), not a failed verification.
    let key = trusted_key(&a)?;
    let detached = match &a.detached {
        Some(p) => Some(read_text(p, "detached signature")?),
        None => None,
    };
    let file = util::open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let r = solution::verify(
        &image,
        &key,
        solution::VerifyOptions {
            detached: detached.as_deref(),
            embedded: !a.detached_only,
            threads: a.threads,
        },
    );
    let mut out = util::stdout();
    if a.json {
        util::json_line(&mut out, &r)?;
    } else {
        write_report(&mut out, &r)?;
    }
    out.flush()?;
    Ok(if r.verified {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}

/// The key to verify with: `--key` (minisign), or `--allowed-signers` with `--identity`.
fn trusted_key(a: &VerifyArgs) -> anyhow::Result<TrustedKey> {
    Ok(match (&a.key, &a.allowed_signers, &a.identity) {
        (Some(k), _, _) => TrustedKey::Minisign(
            parse_minisign_key(&read_text(k, "key")?)
                .map_err(|f| anyhow::anyhow!("{}: {f}", k.display()))?,
        ),
        (None, Some(f), Some(id)) => TrustedKey::Ssh {
            signers: parse_allowed_signers(&read_text(f, "allowed signers file")?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?,
            identity: id.clone(),
        },
        _ => anyhow::bail!("give --key, or --allowed-signers and --identity"),
    })
}

/// Writes the text form of the report `r`: the isomd5 result, the failures, then what was
/// verified (or how many failures).
fn write_report(out: &mut impl Write, r: &VerifyReport) -> anyhow::Result<()> {
    if let Some(m) = &r.isomd5 {
        writeln!(
            out,
            "isomd5: {} (MD5 {}: integrity only, not authenticity)",
            if m.ok {
                "integrity ok"
            } else {
                "isomd5 mismatch"
            },
            m.recorded
        )?;
    }
    for f in &r.failures {
        writeln!(out, "FAILED {f}")?;
    }
    if r.verified {
        if let Some(d) = &r.detached {
            writeln!(out, "detached signature: {} key {}", d.scheme, d.key_id)?;
            if r.signature.is_none() {
                writeln!(out, "verified: the image file, by its detached signature")?;
            }
        }
        if let Some(s) = &r.signature {
            if let Some(tc) = &s.trusted_comment {
                writeln!(out, "trusted comment: {tc}")?;
            }
            writeln!(
                out,
                "verified: {} file(s), {} bytes, {} signature by key {}{}",
                r.files,
                r.bytes,
                s.scheme,
                s.key_id,
                s.signer
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            )?;
        }
    } else {
        writeln!(out, "NOT verified: {} failure(s)", r.failures.len())?;
    }
    Ok(())
}

pub fn sums(a: SumsArgs) -> anyhow::Result<Outcome> {
    let s = sums_for_dir(&a.dir).with_context(|| format!("cannot list {}", a.dir.display()))?;
    let mut out = util::stdout();
    out.write_all(render_sums(&s).as_bytes())?;
    out.flush()?;
    Ok(Outcome::Clean)
}
