//! `isolution pack SRC -o SOLUTION.iso [--image REF]... [--sign KEY]`.

use std::io::Write;

use anyhow::Context;
use iso_core::solution::signature::{parse_minisign_key, verify_minisign};
use iso_core::solution::{self, Severity, TrustedKey, ValidateOptions};
use oci_export::pack::{pack, ImageSpec, MinisignSecretKey, PackOptions};

use crate::args::PackArgs;
use crate::util;
use crate::Outcome;

pub fn run(a: PackArgs) -> anyhow::Result<Outcome> {
    let images = a
        .images
        .iter()
        .map(|s| s.parse::<ImageSpec>())
        .collect::<Result<Vec<_>, _>>()?;
    let signer = match &a.sign {
        Some(k) => {
            let text = std::fs::read_to_string(k)
                .with_context(|| format!("{}: cannot read the secret key", k.display()))?;
            let password = match &a.password_file {
                Some(p) => {
                    let t = std::fs::read(p)
                        .with_context(|| format!("{}: cannot read the password", p.display()))?;
                    let line = t.split(|b| *b == b'\n').next().unwrap_or(&[]).to_vec();
                    Some(line.strip_suffix(b"\r").map(<[u8]>::to_vec).unwrap_or(line))
                }
                None => None,
            };
            Some(
                MinisignSecretKey::parse(&text, password.as_deref())
                    .map_err(|e| anyhow::anyhow!("{}: {e}", k.display()))?,
            )
        }
        None => None,
    };
    let public_key = signer.as_ref().map(MinisignSecretKey::public_key_text);
    let bar = util::bytes_bar(a.quiet, util::BYTES_BAR);
    let progress = {
        let bar = bar.clone();
        move |done: u64, total: u64| {
            if let Some(b) = &bar {
                b.set_length(total);
                b.set_position(done);
            }
            std::ops::ControlFlow::Continue(())
        }
    };
    let report = pack(
        PackOptions {
            src: a.src.clone(),
            images,
            name: a.name.clone(),
            version: a.version.clone(),
            display_name: a.display_name.clone(),
            volume_id: a.volume_id.clone(),
            source_date_epoch: None,
            signer,
        },
        &a.output,
        progress,
    )?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    // The check, on the ISO as written: `validate --strict` (every structure, manifest and
    // reference; blob digests only with --full-check: every blob was hashed as it was
    // written) and the signature over the SHA256SUMS read back. --full-check re-reads every
    // byte: `verify` (each file against SHA256SUMS) when signed, blob digests otherwise.
    let mut problems = Vec::new();
    if !a.no_check {
        let file = util::open(&a.output)?;
        let image = util::parse(&file, &a.output)?;
        let r = solution::validate(
            &image,
            ValidateOptions {
                digests: a.full_check && public_key.is_none(),
                threads: 0,
            },
        )?;
        for f in &r.findings {
            if f.severity >= Severity::Warning {
                problems.push(format!(
                    "{} {}  [{}]  {}",
                    f.severity, f.path, f.rule, f.message
                ));
            }
        }
        if let Some(pk) = &public_key {
            let key = parse_minisign_key(pk).map_err(|e| anyhow::anyhow!("{e}"))?;
            if a.full_check {
                let v = solution::verify(
                    &image,
                    &TrustedKey::Minisign(key),
                    solution::VerifyOptions {
                        detached: None,
                        embedded: true,
                        threads: 0,
                    },
                );
                if !v.verified {
                    problems.push(format!("verify: {:?}", v.failures));
                }
            } else {
                let read = |name: &str| -> anyhow::Result<Vec<u8>> {
                    let e = image.lookup(image.default_namespace(), name)?;
                    Ok(image.contents(&e)?.to_vec())
                };
                let sums = read("SHA256SUMS")?;
                let sig = String::from_utf8(read("SHA256SUMS.minisig")?)?;
                if let Err(f) = verify_minisign(&key, &sig, &[&sums]) {
                    problems.push(format!("verify: SHA256SUMS.minisig: {f}"));
                }
            }
        }
    }
    let mut out = util::stdout();
    if a.json {
        #[derive(serde::Serialize)]
        struct J<'a> {
            #[serde(flatten)]
            report: &'a oci_export::pack::PackReport,
            problems: &'a [String],
        }
        util::json_line(
            &mut out,
            &J {
                report: &report,
                problems: &problems,
            },
        )?;
    } else {
        for i in &report.images {
            match &i.converted_from {
                Some(from) => writeln!(
                    out,
                    "{}:{} {} (converted to Docker v2s2 from {from})",
                    i.name, i.tag, i.digest
                )?,
                None => writeln!(out, "{}:{} {}", i.name, i.tag, i.digest)?,
            }
        }
        if report.replaced_registry_config {
            writeln!(
                out,
                "registry-config.inc.j2 of the source tree replaced by the generated one"
            )?;
        }
        writeln!(
            out,
            "{}: {} bytes, volume id {:?}, {} files, {} distinct blob(s) / {} bytes{}",
            report.output.display(),
            report.bytes,
            report.volume_id,
            report.files,
            report.distinct_blobs,
            report.blob_bytes,
            match &report.signed_by {
                Some(k) => format!(", SHA256SUMS signed by minisign key {k}"),
                None => String::new(),
            }
        )?;
    }
    out.flush()?;
    if problems.is_empty() {
        Ok(Outcome::Clean)
    } else {
        let mut err = std::io::stderr().lock();
        for p in &problems {
            let _ = writeln!(err, "isolution: pack: {p}");
        }
        Ok(Outcome::Problems)
    }
}
