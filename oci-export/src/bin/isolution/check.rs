//! `isolution check`: verify the MD5 checksums xorriso records (`-md5 on`).
//!
//! Exit status: 0 when every tag, the session and every file match; 1 when anything does
//! not match or cannot be checked (a damaged tag included), and also when the image records
//! no MD5 at all, as `xorriso -check_md5` treats a session without MD5 as a mismatch; 2 when
//! the image cannot be opened or parsed.

use std::io::Write;

use serde::Serialize;

use crate::args::CheckArgs;
use crate::util;
use crate::Outcome;

#[derive(Serialize)]
struct Json<'a> {
    file: String,
    /// True when something was checked and everything matched.
    ok: bool,
    /// False when the image records no MD5 at all.
    md5_recorded: bool,
    summary: String,
    bytes: u64,
    checks: &'a [iso_core::Md5Check],
}

pub fn run(a: CheckArgs) -> anyhow::Result<Outcome> {
    let file = util::open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let bar = util::bytes_bar(a.quiet, util::BYTES_BAR);
    let report = image.check_md5(&mut |done, total| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = report?;
    let mut out = util::stdout();
    if a.json {
        util::json_line(
            &mut out,
            &Json {
                file: a.iso.display().to_string(),
                ok: report.all_ok(),
                md5_recorded: !report.is_empty(),
                summary: report.summary(),
                bytes: report.bytes,
                checks: &report.checks,
            },
        )?;
    } else if a.verbose {
        for c in &report.checks {
            writeln!(out, "{c}")?;
        }
        writeln!(out, "{}", report.summary())?;
    } else {
        write!(out, "{report}")?;
    }
    out.flush()?;
    Ok(if report.all_ok() {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}
