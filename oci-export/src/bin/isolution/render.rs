//! `isolution render` and `isolution upgrade-plan`.

use std::io::Write;
use std::path::Path;

use iso_core::solution::Solution;
use iso_core::IsoFile;
use oci_export::deploy::render::{self, Components, RenderError, RenderOptions};
use oci_export::deploy::upgrade::{self, PlanError, Side};

use crate::args::{RenderArgs, UpgradePlanArgs};
use crate::util;
use crate::Outcome;

/// What a render error means for the exit code: an archive MetalK8s would refuse to deploy
/// is a finding (exit 1, named by path); an unreadable file or bad options are errors (2).
fn report(iso: &Path, e: RenderError) -> anyhow::Result<Outcome> {
    match e {
        RenderError::Invalid { path, message } => {
            eprintln!("isolution: {}: {path}: {message}", iso.display());
            Ok(Outcome::Problems)
        }
        other => Err(anyhow::Error::new(other).context(iso.display().to_string())),
    }
}

fn open(path: &Path) -> anyhow::Result<IsoFile> {
    util::open(path).map_err(|e| e.context(path.display().to_string()))
}

pub fn render(a: RenderArgs) -> anyhow::Result<Outcome> {
    let file = open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let solution = Solution::load(&image)?;
    let others: Vec<IsoFile> = a
        .available
        .iter()
        .map(|p| open(p))
        .collect::<anyhow::Result<_>>()?;
    let other_images = others
        .iter()
        .zip(&a.available)
        .map(|(f, p)| util::parse(f, p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let other_solutions = other_images
        .iter()
        .map(Solution::load)
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&Solution<'_, '_>> = other_solutions.iter().collect();
    let mut opts = RenderOptions::new(a.namespace.unwrap_or_default());
    opts.registry = a.registry;
    opts.webhook = a.webhook;
    opts.metalk8s_version = a.metalk8s_version;
    opts.components = if a.crds_only {
        Components::CrdsOnly
    } else if a.no_crds {
        Components::NoCrds
    } else {
        Components::All
    };
    let rendered = match render::render(&solution, &refs, &opts) {
        Ok(r) => r,
        Err(e) => return report(&a.iso, e),
    };
    for w in &rendered.warnings {
        eprintln!("isolution: warning: {w}");
    }
    let mut out = util::stdout();
    if a.json {
        let objects: Vec<_> = rendered.documents.iter().map(|d| &d.object).collect();
        util::json_line(&mut out, &objects)?;
    } else {
        out.write_all(rendered.to_yaml().as_bytes())?;
    }
    out.flush()?;
    Ok(Outcome::Clean)
}

pub fn upgrade_plan(a: UpgradePlanArgs) -> anyhow::Result<Outcome> {
    let (old_file, new_file) = (open(&a.old)?, open(&a.new)?);
    let old_image = util::parse(&old_file, &a.old)?;
    let new_image = util::parse(&new_file, &a.new)?;
    let old = Solution::load(&old_image)?;
    let new = Solution::load(&new_image)?;
    let plan = match upgrade::plan(&old, &new) {
        Ok(p) => p,
        // Named by the archive the problem is in.
        Err(PlanError { side, cause }) => {
            let iso = match side {
                Side::Old => &a.old,
                Side::New => &a.new,
            };
            return report(iso, cause);
        }
    };
    let mut out = util::stdout();
    if a.json {
        util::json_line(&mut out, &plan)?;
    } else {
        out.write_all(plan.to_text().as_bytes())?;
    }
    out.flush()?;
    Ok(if plan.safe {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}
