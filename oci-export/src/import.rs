//! `SolutionsConfiguration` import without mounting: every archive of `solutions.yaml` is
//! validated (and verified when a key is given) and its images pushed under
//! `<name>-<version>/`; an archive refused leaves the others untouched. Repositories of
//! Solutions no longer listed are reported, and deleted with `prune` where the registry allows
//! it, except those of an active Solution (MetalK8s's unimport rule).

use std::collections::BTreeSet;
use std::sync::Arc;

use iso_core::solution::{
    self, check_config, solution_id, ArchiveInfo, ConfigReport, Rule, Severity, TrustedKey,
    ValidateOptions, VerifyOptions,
};
use iso_core::IsoFile;

use crate::registry::client::{catalog, delete_repository, push, PushError, PushOptions};

/// How to import.
#[derive(Clone)]
pub struct ImportOptions {
    /// The registry and how to reach it (`prefix` is ignored: each Solution goes under its id).
    pub push: PushOptions,
    /// Delete the repositories of Solutions no longer listed.
    pub prune: bool,
    /// Only say what would be done.
    pub dry_run: bool,
    /// Verify each archive against this key before pushing it.
    pub key: Option<TrustedKey>,
    /// Hash every blob while validating.
    pub digests: bool,
}

/// Secrets redacted (through [`PushOptions`]'s `Debug`).
impl std::fmt::Debug for ImportOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportOptions")
            .field("push", &self.push)
            .field("prune", &self.prune)
            .field("dry_run", &self.dry_run)
            .field("key", &self.key)
            .field("digests", &self.digests)
            .finish()
    }
}

/// What happened to one archive.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ArchiveResult {
    /// The path in `solutions.yaml`.
    pub path: String,
    /// `<name>-<version>`, when readable.
    pub id: Option<String>,
    /// `pushed`, `planned` (dry run) or `refused`.
    pub status: &'static str,
    /// Why it was refused.
    pub reason: Option<String>,
}

/// What an import did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ImportReport {
    /// Each archive, in order.
    pub archives: Vec<ArchiveResult>,
    /// Repositories of Solutions no longer listed.
    pub stale: Vec<String>,
    /// Manifests deleted (`repo@digest`).
    pub pruned: Vec<String>,
    /// Stale repositories kept because their Solution version is active.
    pub kept_active: Vec<String>,
    /// Problems of the configuration itself (YAML, kind, apiVersion, `archives` not a list of
    /// paths): nothing is imported.
    pub config_errors: Vec<String>,
}

impl ImportReport {
    /// True when nothing was refused.
    pub fn ok(&self) -> bool {
        self.config_errors.is_empty() && self.archives.iter().all(|a| a.status != "refused")
    }
}

/// Imports the Solutions of a `solutions.yaml` into a registry.
pub async fn import(config: &[u8], opts: &ImportOptions) -> Result<ImportReport, PushError> {
    let checked = check_config(
        config,
        ValidateOptions {
            digests: opts.digests,
            threads: 0,
        },
    );
    let mut report = ImportReport::default();
    for f in &checked.findings {
        if f.severity == Severity::Error && blocks_import(f.rule) {
            report
                .config_errors
                .push(format!("{}: {}", f.rule, f.message));
        }
    }
    if !report.config_errors.is_empty() {
        return Ok(report);
    }
    let mut listed = BTreeSet::new();
    for a in &checked.archives {
        let result = import_archive(&checked, a, opts).await;
        // Still listed (even if refused this time): its repositories are not stale.
        if let Some(id) = &result.id {
            listed.insert(id.clone());
        }
        report.archives.push(result);
    }
    prune(&checked, &listed, opts, &mut report).await?;
    Ok(report)
}

/// Whether a finding about the configuration itself stops the whole import, as it stops
/// MetalK8s's: what `read_config` (salt/_modules/metalk8s_solutions.py) refuses fails
/// `configure_archive` and `available.sls`, and `archives` that is not a list fails
/// `available.sls`. Findings about one archive refuse only that archive; findings about
/// `active` (even a null `active`) do not stop an import, since `solutions.sh import`
/// (`configure_archive`, then `import-components.sls`) never reads `active`.
fn blocks_import(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::ConfigYamlInvalid
            | Rule::ConfigKind
            | Rule::ConfigApiVersion
            | Rule::ConfigArchivesInvalid
    )
}

/// Checks archive `a` (its findings, that it opens, its signature when a key is given) and
/// pushes it unless refused or a dry run.
async fn import_archive(
    checked: &ConfigReport,
    a: &ArchiveInfo,
    opts: &ImportOptions,
) -> ArchiveResult {
    let key = format!("archives[{}]", a.index);
    let id = a.id();
    let mut reason: Option<String> = checked
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error && f.path == key)
        .map(|f| format!("{} [{}]", f.message, f.rule))
        .reduce(|a, b| format!("{a}; {b}"));
    let file = if reason.is_none() {
        match IsoFile::open(&a.path) {
            Ok(f) => Some(Arc::new(f)),
            Err(e) => {
                reason = Some(e.to_string());
                None
            }
        }
    } else {
        None
    };
    if let (Some(file), Some(k), None) = (&file, &opts.key, &reason) {
        reason = verify_failures(file, k);
    }
    let status = match (&reason, opts.dry_run) {
        (Some(_), _) => "refused",
        (None, true) => "planned",
        (None, false) => {
            let mut p = opts.push.clone();
            p.prefix = None;
            match &file {
                Some(f) => match push(f.clone(), &p).await {
                    Ok(_) => "pushed",
                    Err(e) => {
                        reason = Some(e.to_string());
                        "refused"
                    }
                },
                None => "refused",
            }
        }
    };
    ArchiveResult {
        path: a.path.clone(),
        id,
        status,
        reason,
    }
}

/// Why `file` fails verification against `key`, if it does.
fn verify_failures(file: &IsoFile, key: &TrustedKey) -> Option<String> {
    match file.image() {
        Ok(image) => {
            let v = solution::verify(&image, key, VerifyOptions::default());
            (!v.verified).then(|| {
                v.failures
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        }
        Err(e) => Some(e.to_string()),
    }
}

/// Reports the repositories of Solutions no longer `listed` (keeping those of an active
/// Solution), and deletes them with `prune`.
async fn prune(
    checked: &ConfigReport,
    listed: &BTreeSet<String>,
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Result<(), PushError> {
    let active: BTreeSet<String> = checked
        .config
        .active
        .iter()
        .filter(|(_, v)| v.as_str() != "latest")
        .map(|(n, v)| solution_id(n, v))
        .chain(checked.resolved.iter().map(|(n, v)| solution_id(n, v)))
        .collect();
    let repos = catalog(&opts.push).await?;
    for repo in repos {
        let Some((prefix, _image)) = repo.split_once('/') else {
            continue;
        };
        if listed.contains(prefix) {
            continue;
        }
        if active.contains(prefix) {
            report.kept_active.push(repo);
            continue;
        }
        if opts.prune && !opts.dry_run {
            report
                .pruned
                .extend(delete_repository(&opts.push, &repo).await?);
        }
        report.stale.push(repo);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::registry::client::Credentials;

    #[test]
    fn debug_hides_the_credentials() {
        let opts = ImportOptions {
            push: PushOptions {
                registry: "https://u:in-url-Secret@registry.example".into(),
                credentials: Some(Credentials::new("alice", "pw-Secret")),
                ..PushOptions::default()
            },
            prune: false,
            dry_run: true,
            key: None,
            digests: true,
        };
        let shown = format!("{opts:?}");
        assert!(!shown.contains("Secret"), "{shown}");
        assert!(shown.contains("registry.example") && shown.contains("<redacted>"));
    }
}
