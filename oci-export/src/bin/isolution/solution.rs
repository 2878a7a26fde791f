//! `isolution inspect | validate | registry-config | config check`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use iso_core::solution::{self, Finding, Solution, ValidateOptions};
use oci_export::view::InspectReport;

use crate::args::{ConfigCheckArgs, InspectArgs, ValidateArgs};
use crate::util;
use crate::Outcome;

pub fn inspect(a: InspectArgs) -> anyhow::Result<Outcome> {
    let file = util::open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let s = Solution::load(&image)?;
    let report = InspectReport::new(&s);
    let mut out = util::stdout();
    if a.json {
        util::json_line(&mut out, &report)?;
    } else {
        out.write_all(report.to_text().as_bytes())?;
    }
    out.flush()?;
    Ok(Outcome::Clean)
}

fn print_findings(out: &mut impl Write, findings: &[Finding]) -> anyhow::Result<()> {
    for f in findings {
        writeln!(
            out,
            "{:<7} {}  [{}]  {}",
            f.severity.to_string(),
            f.path,
            f.rule,
            f.message
        )?;
    }
    Ok(())
}

pub fn validate(a: ValidateArgs) -> anyhow::Result<Outcome> {
    let file = util::open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let report = solution::validate(
        &image,
        ValidateOptions {
            digests: !a.no_digests,
            threads: a.threads,
        },
    )?;
    let mut out = util::stdout();
    if a.json {
        util::json_line(&mut out, &report)?;
    } else {
        print_findings(&mut out, &report.findings)?;
        writeln!(
            out,
            "{}: {} error(s), {} warning(s){}",
            a.iso.display(),
            report.count(solution::Severity::Error),
            report.count(solution::Severity::Warning) - report.count(solution::Severity::Error),
            if a.no_digests {
                ", digests not checked".to_string()
            } else {
                format!(
                    ", {} blob(s) / {} bytes hashed",
                    report.hashed_blobs, report.hashed_bytes
                )
            }
        )?;
    }
    out.flush()?;
    Ok(if report.passes(a.strict) {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}

/// The gate of `export`, `push` and `serve`: an archive `isolution validate` refuses (an
/// error among the structural findings; blobs are not hashed here, they are checked while
/// they are exported, pushed or served) is refused with exit 1, its errors printed on
/// stderr, unless `force`, which prints them as a warning and goes on. `None`: go on.
pub fn gate(s: &Solution<'_, '_>, iso: &Path, force: bool) -> Option<Outcome> {
    let report = s.validate(ValidateOptions {
        digests: false,
        threads: 0,
    });
    if report.passes(false) {
        return None;
    }
    let errors: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.severity == solution::Severity::Error)
        .collect();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "isolution: {}{}: {} validation error(s){}",
        if force { "warning: " } else { "" },
        iso.display(),
        errors.len(),
        if force {
            ", going on (--force)"
        } else {
            ": refused (see `isolution validate`; --force goes on anyway)"
        }
    );
    for f in errors {
        let _ = writeln!(err, "  {}  [{}]  {}", f.path, f.rule, f.message);
    }
    (!force).then_some(Outcome::Problems)
}

pub fn registry_config(a: InspectArgs) -> anyhow::Result<Outcome> {
    let file = util::open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let s = Solution::load(&image)?;
    let mut out = util::stdout();
    out.write_all(s.registry_config().as_bytes())?;
    out.flush()?;
    Ok(Outcome::Clean)
}

pub fn config_check(a: ConfigCheckArgs) -> anyhow::Result<Outcome> {
    let bytes =
        std::fs::read(&a.config).with_context(|| format!("cannot read {}", a.config.display()))?;
    let report = solution::check_config(
        &bytes,
        ValidateOptions {
            digests: !a.no_digests,
            threads: 0,
        },
    );
    let mut out = util::stdout();
    if a.json {
        util::json_line(&mut out, &report)?;
    } else {
        print_findings(&mut out, &report.findings)?;
        for (name, v) in &report.resolved {
            writeln!(out, "active: {name} {v}")?;
        }
        // An archive listed under several paths is read once.
        writeln!(
            out,
            "{}: {} archive(s) listed, {} read",
            a.config.display(),
            report.archives.len(),
            report.archives_read
        )?;
    }
    out.flush()?;
    Ok(if report.passes(a.strict) {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}
