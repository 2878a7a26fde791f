//! `isolution inspect | validate | registry-config | config check`.

use std::io::Write;

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
    }
    out.flush()?;
    Ok(if report.passes(a.strict) {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}
