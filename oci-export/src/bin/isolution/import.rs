//! `isolution import`.

use std::io::Write;

use anyhow::Context;
use iso_core::solution::signature::parse_minisign_key;
use iso_core::solution::TrustedKey;
use oci_export::import::{import, ImportOptions};
use oci_export::registry::client::PushOptions;

use crate::args::ImportArgs;
use crate::util;
use crate::Outcome;

pub fn run(a: ImportArgs) -> anyhow::Result<Outcome> {
    let config =
        std::fs::read(&a.config).with_context(|| format!("cannot read {}", a.config.display()))?;
    let key = match &a.key {
        Some(k) => {
            let text = std::fs::read_to_string(k)
                .with_context(|| format!("cannot read the key {}", k.display()))?;
            Some(TrustedKey::Minisign(
                parse_minisign_key(&text).map_err(|f| anyhow::anyhow!("{}: {f}", k.display()))?,
            ))
        }
        None => None,
    };
    // Each Solution goes under its own <name>-<version>: auth file entries of the host.
    let credentials = a.access.credentials(&a.registry, "")?;
    let opts = ImportOptions {
        push: a.access.apply(
            PushOptions {
                registry: a.registry.clone(),
                insecure: a.insecure,
                ..PushOptions::default()
            },
            credentials,
        ),
        prune: a.prune,
        dry_run: a.dry_run,
        key,
        digests: !a.no_digests,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = rt
        .block_on(import(&config, &opts))
        .with_context(|| format!("import into {}", opts.push.registry_shown()))?;
    let mut out = Vec::new();
    if a.json {
        util::json_line(&mut out, &report)?;
    } else {
        for e in &report.config_errors {
            writeln!(out, "config: {e}")?;
        }
        for r in &report.archives {
            writeln!(
                out,
                "{:<8} {} {}{}",
                r.status,
                r.id.as_deref().unwrap_or("-"),
                r.path,
                r.reason
                    .as_deref()
                    .map(|x| format!(": {x}"))
                    .unwrap_or_default()
            )?;
        }
        let verb = if a.prune && !a.dry_run {
            "pruned"
        } else {
            "stale (use --prune)"
        };
        for s in &report.stale {
            writeln!(out, "{verb:<8} {s}")?;
        }
        for s in &report.kept_active {
            writeln!(out, "kept     {s} (its Solution version is active)")?;
        }
    }
    util::write_record(&out)?;
    Ok(if report.ok() {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}
