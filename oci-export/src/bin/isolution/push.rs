//! `isolution push`.

use std::io::{BufRead, Write};
use std::sync::Arc;

use anyhow::Context;
use oci_export::registry::client::{push_with, PushOptions};

use crate::args::PushArgs;
use crate::util;
use crate::Outcome;

pub fn run(a: PushArgs) -> anyhow::Result<Outcome> {
    let credentials = match &a.user {
        Some(u) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password")?;
            Some((u.clone(), line.trim_end_matches(['\r', '\n']).to_string()))
        }
        None => None,
    };
    let file = Arc::new(util::open(&a.iso)?);
    let opts = PushOptions {
        registry: a.registry.clone(),
        prefix: a.prefix.clone(),
        insecure: a.insecure,
        credentials,
        concurrency: a.concurrency,
        chunk_size: a.chunk_size,
        ..PushOptions::default()
    };
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
    let report = report?;
    let mut out = util::stdout();
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
    out.flush()?;
    Ok(Outcome::Clean)
}
