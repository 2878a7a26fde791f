//! `isolution inspect | validate | registry-config | config check`.

use std::io::Write;

use anyhow::Context;
use iso_core::solution::{self, Finding, Solution, ValidateOptions};
use serde::Serialize;

use crate::args::{ConfigCheckArgs, InspectArgs, ValidateArgs};
use crate::util;
use crate::Outcome;

#[derive(Serialize)]
struct Inspect<'a> {
    name: Option<&'a str>,
    display_name: Option<&'a str>,
    version: Option<&'a str>,
    id: Option<String>,
    volume_id: &'a str,
    namespace: &'static str,
    operator_image: Option<String>,
    images: &'a [solution::ContainerImage],
    distinct_blob_bytes: u64,
    crds: &'a [String],
    roles: Vec<String>,
    findings: usize,
}

pub fn inspect(a: InspectArgs) -> anyhow::Result<Outcome> {
    let file = util::open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let s = Solution::load(&image)?;
    let m = s.manifest.as_ref();
    let distinct: u64 = {
        let mut seen = std::collections::BTreeMap::new();
        for i in &s.images {
            for b in i.content_refs() {
                seen.insert(b.digest.clone(), b.size);
            }
        }
        seen.values().sum()
    };
    let info = Inspect {
        name: m.and_then(|m| m.name.as_deref()),
        display_name: m.and_then(|m| m.display_name.as_deref()),
        version: m.and_then(|m| m.version.as_deref()),
        id: s.id(),
        volume_id: &s.volume_id,
        namespace: s.namespace.as_str(),
        operator_image: m.map(|m| format!("{}:{}", m.operator_image.0, m.operator_image.1)),
        images: &s.images,
        distinct_blob_bytes: distinct,
        crds: &s.crds,
        roles: s.roles.iter().map(|(k, n)| format!("{k}/{n}")).collect(),
        findings: s.findings().len(),
    };
    let mut out = util::stdout();
    if a.json {
        util::json_line(&mut out, &info)?;
        out.flush()?;
        return Ok(Outcome::Clean);
    }
    let or = |o: Option<&str>| o.unwrap_or("-").to_string();
    writeln!(out, "Name:          {}", or(info.name))?;
    writeln!(out, "Display name:  {}", or(info.display_name))?;
    writeln!(out, "Version:       {}", or(info.version))?;
    writeln!(out, "Id:            {}", info.id.as_deref().unwrap_or("-"))?;
    writeln!(out, "Volume id:     {}", info.volume_id)?;
    writeln!(
        out,
        "Operator:      {}",
        info.operator_image.as_deref().unwrap_or("-")
    )?;
    writeln!(
        out,
        "Images:        {} tags, {} bytes of distinct blobs",
        info.images.len(),
        info.distinct_blob_bytes
    )?;
    for i in info.images {
        let short = i.manifest_digest.get(..19).unwrap_or(&i.manifest_digest);
        if i.is_list() {
            let platforms: Vec<&str> = i.platforms.iter().map(|p| p.platform.as_str()).collect();
            writeln!(
                out,
                "  {}:{}  {}…  {}  {} platform(s): {}, {} bytes",
                i.name,
                i.tag,
                short,
                i.media_type,
                i.children.len(),
                platforms.join(", "),
                i.blob_bytes
            )?;
            continue;
        }
        writeln!(
            out,
            "  {}:{}  {}…  {}  {} layer(s), {} bytes",
            i.name,
            i.tag,
            short,
            i.media_type,
            i.layers.len(),
            i.blob_bytes
        )?;
    }
    writeln!(out, "CRDs:          {}", info.crds.len())?;
    for c in info.crds {
        writeln!(out, "  {c}")?;
    }
    writeln!(
        out,
        "Roles:         {}",
        if info.roles.is_empty() {
            "-".to_string()
        } else {
            info.roles.join(", ")
        }
    )?;
    if info.findings > 0 {
        writeln!(
            out,
            "({} finding(s): run `isolution validate`)",
            info.findings
        )?;
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
