//! `isolution push`, and the registry access flags it shares with `import`.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use iso_core::solution::Solution;
use oci_export::registry::client::{push_with, Credentials, PushOptions};
use oci_export::registry::credentials::{self, RegistryUrl};

use crate::args::PushArgs;
use crate::util;
use crate::Outcome;

// How to authenticate to the registry, and how long to wait for it. (A plain comment: a doc
// comment would become the `--help` summary of every command that flattens it, as
// subcommands are deferred.)
#[derive(clap::Args, Debug)]
pub struct RegistryAccess {
    /// User name (the password is read from standard input). Without it, credentials come
    /// from the registry URL (http://user:password@host), else from --authfile or
    /// $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
    /// ~/.config/containers/auth.json, then $DOCKER_CONFIG/config.json or
    /// ~/.docker/config.json.
    #[arg(long, requires = "password_stdin")]
    pub user: Option<String>,
    /// Read the password from standard input.
    #[arg(long, requires = "user")]
    pub password_stdin: bool,
    /// Auth file to read credentials from (podman/skopeo auth.json or docker config.json
    /// format); default $REGISTRY_AUTH_FILE.
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Seconds to establish a connection.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub connect_timeout: Duration,
    /// Seconds of silence from the registry before giving up on a request.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = seconds)]
    pub read_timeout: Duration,
    /// Seconds one request may take in all, its retries and Retry-After waits included.
    #[arg(long, value_name = "SECS", default_value = "600", value_parser = seconds)]
    pub timeout: Duration,
}

/// A positive number of seconds (`2`, `0.5`).
fn seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v.is_nan() || v <= 0.0 {
        return Err("must be more than 0".into());
    }
    Duration::try_from_secs_f64(v).map_err(|e| e.to_string())
}

impl RegistryAccess {
    /// The credentials for `registry` and repositories under `namespace` (may be empty), in
    /// this order: --user with the password on standard input; the registry URL's; the auth
    /// files. `None` when there are none: anonymous.
    pub fn credentials(
        &self,
        registry: &str,
        namespace: &str,
    ) -> anyhow::Result<Option<Credentials>> {
        if let Some(u) = &self.user {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password")?;
            return Ok(Some(Credentials::new(
                u.clone(),
                line.trim_end_matches(['\r', '\n']),
            )));
        }
        let url = RegistryUrl::parse(registry);
        if url.credentials.is_some() {
            return Ok(url.credentials);
        }
        let found = credentials::lookup(url.host(), namespace, self.authfile.as_deref())?;
        Ok(found.map(|(c, _source)| c))
    }

    /// `opts` with these credentials and time limits.
    pub fn apply(&self, mut opts: PushOptions, credentials: Option<Credentials>) -> PushOptions {
        opts.credentials = credentials;
        opts.connect_timeout = self.connect_timeout;
        opts.read_timeout = self.read_timeout;
        opts.timeout = self.timeout;
        opts
    }
}

pub fn run(a: PushArgs) -> anyhow::Result<Outcome> {
    let file = Arc::new(util::open(&a.iso)?);
    let id = {
        let image = util::parse(&file, &a.iso)?;
        let solution = Solution::load(&image)?;
        if let Some(refused) = crate::solution::gate(&solution, &a.iso, a.force) {
            return Ok(refused);
        }
        solution.id()
    };
    // Auth files may hold per-namespace entries: look up the one of the prefix.
    let namespace = match &a.prefix {
        Some(p) => p.trim_matches('/').to_string(),
        None => id.unwrap_or_default(),
    };
    let credentials = a.access.credentials(&a.registry, &namespace)?;
    let opts = a.access.apply(
        PushOptions {
            registry: a.registry.clone(),
            prefix: a.prefix.clone(),
            insecure: a.insecure,
            concurrency: a.concurrency,
            chunk_size: a.chunk_size,
            ..PushOptions::default()
        },
        credentials,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bar = util::bytes_bar(a.quiet, util::BYTES_BAR);
    let report = rt.block_on(push_with(file, &opts, &|p| {
        if let Some(b) = &bar {
            b.set_length(p.total);
            b.set_position(p.done);
        }
        std::ops::ControlFlow::Continue(())
    }));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = report.with_context(|| format!("push to {}", opts.registry_shown()))?;
    let mut out = Vec::new();
    if a.json {
        util::json_line(&mut out, &report)?;
    } else {
        for i in &report.images {
            writeln!(out, "{i}")?;
        }
        writeln!(
            out,
            "{} image(s): {} blob(s) uploaded ({} bytes), {} mounted, {} already there",
            report.images.len(),
            report.uploaded,
            report.bytes,
            report.mounted,
            report.present
        )?;
    }
    util::write_record(&out)?;
    Ok(Outcome::Clean)
}
