//! `isolution extract`.

use iso_core::extract::{extract, ExtractOptions};
use iso_core::Image;

use crate::args::ExtractArgs;
use crate::util;
use crate::Outcome;

pub fn run(a: ExtractArgs) -> anyhow::Result<Outcome> {
    let file = util::open(&a.iso)?;
    let image: Image<'_> = util::parse(&file, &a.iso)?;
    let ns = util::namespace(&image, a.tree.namespace)?;
    let opts = ExtractOptions {
        namespace: ns,
        paths: a.paths.clone(),
        modes: !a.no_modes,
        times: !a.no_times,
        max_bytes: a.max_bytes,
        xattrs: a.xattrs,
        acls: a.acls,
    };
    let bar = util::bytes_bar(
        a.quiet,
        "{spinner} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_bar} {msg}",
    );
    let mut last = 0u64;
    let report = extract(&image, &a.dest, &opts, &mut |p| {
        if let Some(b) = &bar {
            if p.entries == 1 {
                b.set_length(p.total_bytes);
            }
            if p.bytes - last >= 1 << 20 || p.entries == p.total_entries {
                b.set_position(p.bytes);
                b.set_message(format!("{}/{} entries", p.entries, p.total_entries));
                last = p.bytes;
            }
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for s in &report.skipped {
        let what = if s.refused { "refused" } else { "skipped" };
        eprintln!("isolution: {what} {}: {}", s.path, s.reason);
    }
    // Entries that failed, the others having been extracted (as tar: every one listed, exit 1).
    for f in &report.failed {
        eprintln!("isolution: failed {}: {}", f.path, f.error);
    }
    if a.json {
        let mut out = Vec::new();
        util::json_line(&mut out, &report)?;
        util::write_record(&out)?;
    }
    Ok(
        if report.skipped.iter().any(|s| s.refused) || !report.failed.is_empty() {
            Outcome::Problems
        } else {
            Outcome::Clean
        },
    )
}
