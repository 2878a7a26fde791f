//! `isolution pack SRC -o SOLUTION.iso [--image REF]... [--platform OS/ARCH] [--sign KEY]`.
//!
//! The check after the build fails on every `validate --strict` finding but `image.not-v2s2`
//! on a tag pack wrote as a multi-platform list (MetalK8s's registry serves no list; serve,
//! export and push do): that one is printed as a note (`notes` in `--json`), exit 0.

use std::io::{Read as _, Write};
use std::path::Path;

use anyhow::Context;
use iso_core::solution::signature::{
    parse_allowed_signers, parse_minisign_key, verify_minisign, verify_sshsig, SSH_NAMESPACE,
};
use iso_core::solution::{self, Rule, Severity, TrustedKey, ValidateOptions};
use oci_export::pack::sign::MAX_KEY_FILE;
use oci_export::pack::{pack, ImageSpec, PackOptions, PlatformChoice, Signer};

use crate::args::PackArgs;
use crate::util;
use crate::Outcome;

pub fn run(a: PackArgs) -> anyhow::Result<Outcome> {
    let images = a
        .images
        .iter()
        .map(|s| s.parse::<ImageSpec>())
        .collect::<Result<Vec<_>, _>>()?;
    let platform = match &a.platform {
        Some(p) => Some(
            p.parse::<PlatformChoice>()
                .map_err(|e| anyhow::anyhow!("--platform: {e}"))?,
        ),
        None => None,
    };
    let signer = match &a.sign {
        Some(k) => {
            let text = read_key(k)?;
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
                Signer::parse(&text, password.as_deref())
                    .map_err(|e| anyhow::anyhow!("{}: {e}", k.display()))?,
            )
        }
        None => None,
    };
    // What the check trusts: the public half of the signing key (for SSH, an allowed signer
    // line for it alone).
    let trusted = match &signer {
        Some(Signer::Minisign(k)) => Some(TrustedKey::Minisign(
            parse_minisign_key(&k.public_key_text()).map_err(|e| anyhow::anyhow!("{e}"))?,
        )),
        Some(Signer::Ssh(k)) => Some(TrustedKey::Ssh {
            signers: parse_allowed_signers(&format!("{PACK_IDENTITY} {}", k.public_key_openssh()))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            identity: PACK_IDENTITY.to_string(),
        }),
        None => None,
    };
    let signature_file = signer.as_ref().map(Signer::signature_file);
    let remote = remote_options(&a, &images)?;
    // With docker:// images, SIGINT and SIGTERM stop the build through the progress
    // callback, so that the temporary directory of the downloads is removed (a second
    // signal exits at once).
    let interrupted = if remote.is_some() {
        Some(stop_on_signals()?)
    } else {
        None
    };
    let bar = util::bytes_bar(a.quiet, util::BYTES_BAR);
    let progress = {
        let bar = bar.clone();
        move |done: u64, total: u64| {
            if let Some(b) = &bar {
                b.set_length(total);
                b.set_position(done);
            }
            match &interrupted {
                Some(f) if f.load(std::sync::atomic::Ordering::Relaxed) => {
                    std::ops::ControlFlow::Break(())
                }
                _ => std::ops::ControlFlow::Continue(()),
            }
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
            remote: remote.unwrap_or_default(),
            platform,
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
    // Pack's notes, and the check's findings that only say a tag pack wrote is a list (which
    // MetalK8s's registry does not serve, but `serve`, `export` and `push` do): they do not
    // fail the build.
    let mut notes = report.notes.clone();
    let lists: std::collections::BTreeSet<String> = report
        .images
        .iter()
        .filter(|i| !i.platforms.is_empty())
        .map(|i| format!("images/{}/{}/manifest.json", i.name, i.tag))
        .collect();
    if !a.no_check {
        let file = util::open(&a.output)?;
        let image = util::parse(&file, &a.output)?;
        let r = solution::validate(
            &image,
            ValidateOptions {
                digests: a.full_check && trusted.is_none(),
                threads: 0,
            },
        )?;
        for f in &r.findings {
            if f.rule == Rule::ImageNotV2s2 && lists.contains(&f.path) {
                notes.push(format!(
                    "{} is a multi-platform list: MetalK8s's registry serves only \
                     single-platform v2s2 manifests (isolution serve, export and push handle \
                     lists); pack --platform OS/ARCH packs one platform",
                    f.path.trim_end_matches("/manifest.json")
                ));
            } else if f.severity >= Severity::Warning {
                problems.push(format!(
                    "{} {}  [{}]  {}",
                    f.severity, f.path, f.rule, f.message
                ));
            }
        }
        if let (Some(key), Some(sig_name)) = (&trusted, signature_file) {
            if a.full_check {
                let v = solution::verify(
                    &image,
                    key,
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
                let sig = String::from_utf8(read(sig_name)?)?;
                let checked = match key {
                    TrustedKey::Minisign(k) => verify_minisign(k, &sig, &[&sums]),
                    TrustedKey::Ssh { signers, identity } => {
                        verify_sshsig(signers, identity, SSH_NAMESPACE, &sig, &[&sums])
                    }
                };
                if let Err(f) = checked {
                    problems.push(format!("verify: {sig_name}: {f}"));
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
        // `notes` (the report's, and the check's) replaces the report's own.
        let mut with_notes = report.clone();
        with_notes.notes = notes.clone();
        util::json_line(
            &mut out,
            &J {
                report: &with_notes,
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
            if let (Some(p), Some(list)) = (&i.platform, &i.from_list) {
                writeln!(out, "  {p}, chosen from the list {list}")?;
            }
            // A multi-platform image: the list's digest above, each platform below.
            for p in &i.platforms {
                match &p.converted_from {
                    Some(from) => {
                        writeln!(out, "  {} {} (converted from {from})", p.platform, p.digest)?
                    }
                    None => writeln!(out, "  {} {}", p.platform, p.digest)?,
                }
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
            match (&report.signed_by, report.signature_scheme) {
                (Some(k), Some("ssh")) => format!(", SHA256SUMS signed by SSH key {k}"),
                (Some(k), _) => format!(", SHA256SUMS signed by minisign key {k}"),
                (None, _) => String::new(),
            }
        )?;
    }
    out.flush()?;
    {
        let mut err = std::io::stderr().lock();
        for n in &notes {
            let _ = writeln!(err, "isolution: pack: note: {n}");
        }
    }
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

/// The principal the check allows the SSH signing key as.
const PACK_IDENTITY: &str = "isolution-pack";

/// A key file's text, at most [`MAX_KEY_FILE`] bytes.
fn read_key(path: &Path) -> anyhow::Result<String> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("{}: cannot read the secret key", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: cannot read the secret key", path.display()))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        anyhow::bail!(
            "{}: larger than {MAX_KEY_FILE} bytes: not a key file",
            path.display()
        );
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}: not a text key file", path.display()))
}

/// The registry options when some image is `docker://` (`None` otherwise: nothing is read
/// from standard input). `--user` reads the password from standard input once, used for
/// every registry; without it, each registry's credentials come from the auth files.
fn remote_options(
    a: &PackArgs,
    images: &[ImageSpec],
) -> anyhow::Result<Option<oci_export::pack::remote::RemoteOptions>> {
    use oci_export::pack::ImageSource;
    if !images
        .iter()
        .any(|i| matches!(i.source, ImageSource::Docker { .. }))
    {
        return Ok(None);
    }
    let credentials = match &a.access.user {
        Some(_) => a.access.credentials("", "")?,
        None => None,
    };
    Ok(Some(oci_export::pack::remote::RemoteOptions {
        insecure: a.insecure || !a.tls_verify,
        credentials,
        authfile: a.access.authfile.clone(),
        concurrency: usize::from(a.concurrency),
        connect_timeout: a.access.connect_timeout,
        read_timeout: a.access.read_timeout,
        timeout: a.access.timeout,
        tmp_dir: None,
    }))
}

/// A flag set by the first SIGINT or SIGTERM (a thread waits for them); a second one exits
/// at once (status 130).
fn stop_on_signals() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::signal::unix::{signal, SignalKind};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("cannot start the signal handler")?;
    let (mut int, mut term) = {
        let _guard = rt.enter();
        (
            signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
        )
    };
    let set = flag.clone();
    std::thread::spawn(move || {
        rt.block_on(async {
            for n in 0..2 {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                if n == 0 {
                    set.store(true, Ordering::Relaxed);
                    eprintln!("isolution: pack: stopping (a second signal exits at once)");
                }
            }
            std::process::exit(130);
        })
    });
    Ok(flag)
}
