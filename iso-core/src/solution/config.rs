//! `solutions.yaml` (`SolutionsConfiguration`), checked as MetalK8s reads it, plus the
//! archive-level checks it lacks (MetalK8s #3108).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_yaml::Value;

use super::{
    manifest::API_VERSION, solution_id, sort_findings, validate, Finding, Rule, Severity,
    ValidateOptions,
};

/// A parsed `solutions.yaml`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SolutionsConfig {
    /// `apiVersion`.
    pub api_version: Option<String>,
    /// `kind`.
    pub kind: Option<String>,
    /// `archives`: ISO paths.
    pub archives: Vec<String>,
    /// `active`: Solution name to version (or `latest`).
    pub active: BTreeMap<String, String>,
}

/// One archive of the configuration, as read.
#[derive(Clone, Debug, Serialize)]
pub struct ArchiveInfo {
    /// Index in `archives`.
    pub index: usize,
    /// The path.
    pub path: String,
    /// `metadata.name`, when readable.
    pub name: Option<String>,
    /// `spec.version`, when readable.
    pub version: Option<String>,
}

impl ArchiveInfo {
    /// `<name>-<version>` (see [`solution_id`]), when both could be read.
    pub fn id(&self) -> Option<String> {
        Some(solution_id(self.name.as_deref()?, self.version.as_deref()?))
    }
}

/// The result of [`check_config`].
#[derive(Clone, Debug, Serialize)]
pub struct ConfigReport {
    /// The configuration as parsed.
    pub config: SolutionsConfig,
    /// The archives, read.
    pub archives: Vec<ArchiveInfo>,
    /// Active Solution name to the version it resolves to.
    pub resolved: BTreeMap<String, String>,
    /// Every finding, errors first.
    pub findings: Vec<Finding>,
}

impl ConfigReport {
    /// True when there is no error (or, with `strict`, no warning either).
    pub fn passes(&self, strict: bool) -> bool {
        let bar = if strict {
            Severity::Warning
        } else {
            Severity::Error
        };
        !self.findings.iter().any(|f| f.severity >= bar)
    }
}

/// Parses a `solutions.yaml` and checks its schema as MetalK8s does (no file is opened).
pub fn parse_config(bytes: &[u8]) -> (SolutionsConfig, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut cfg = SolutionsConfig::default();
    let doc: Value = match serde_yaml::from_slice::<Value>(bytes) {
        Ok(v) if v.is_mapping() => v,
        Ok(_) => {
            findings.push(Finding::new(
                Rule::ConfigYamlInvalid,
                "-",
                "the document is not a mapping",
            ));
            return (cfg, findings);
        }
        Err(e) => {
            findings.push(Finding::new(
                Rule::ConfigYamlInvalid,
                "-",
                format!("not valid YAML: {e}"),
            ));
            return (cfg, findings);
        }
    };
    cfg.kind = doc.get("kind").and_then(Value::as_str).map(str::to_string);
    cfg.api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    if cfg.kind.as_deref() != Some("SolutionsConfiguration") {
        findings.push(Finding::new(
            Rule::ConfigKind,
            "kind",
            format!(
                "Invalid `kind` in configuration ({}), must be \"SolutionsConfiguration\"",
                cfg.kind.as_deref().unwrap_or("")
            ),
        ));
    }
    if cfg.api_version.as_deref() != Some(API_VERSION) {
        findings.push(Finding::new(
            Rule::ConfigApiVersion,
            "apiVersion",
            format!(
                "Invalid `apiVersion` in configuration ({}), must be one of: {API_VERSION}",
                cfg.api_version.as_deref().unwrap_or("")
            ),
        ));
    }
    if let Some(Value::Sequence(list)) = doc.get("archives") {
        cfg.archives = list
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect();
    }
    if let Some(Value::Mapping(m)) = doc.get("active") {
        for (k, v) in m {
            let v = match v {
                Value::String(s) => s.clone(),
                other => serde_yaml::to_string(&other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            cfg.active.insert(k.as_str().unwrap_or("").to_string(), v);
        }
    }
    (cfg, findings)
}

/// Checks a `solutions.yaml`: schema as MetalK8s checks it; every archive absolute, present and
/// a valid Solution; no two archives with the same name and version; every `active` entry
/// naming an imported Solution and version; `latest` resolved with RPM version comparison.
pub fn check_config(bytes: &[u8], opts: ValidateOptions) -> ConfigReport {
    let (config, mut findings) = parse_config(bytes);
    let mut report = ConfigReport {
        config,
        archives: Vec::new(),
        resolved: BTreeMap::new(),
        findings: Vec::new(),
    };
    if findings.iter().any(|f| f.rule == Rule::ConfigYamlInvalid) {
        report.findings = findings;
        return report;
    }
    let archives = &report.config.archives;
    // Name and version to the index of the first archive providing them.
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, path) in archives.iter().enumerate() {
        let key = format!("archives[{i}]");
        let info = read_archive(i, path, &key, opts, &mut findings);
        if let (Some(n), Some(v)) = (&info.name, &info.version) {
            if let Some(first) = seen.get(&(n.clone(), v.clone())) {
                findings.push(Finding::new(
                    Rule::ConfigDuplicateArchive,
                    &key,
                    format!("{path} is Solution {n} {v}, like archives[{first}] ({}): MetalK8s fails with \"conflicting ID\" (#3108)", archives[*first]),
                ));
            } else {
                seen.insert((n.clone(), v.clone()), i);
            }
        }
        report.archives.push(info);
    }
    report.resolved = resolve_active(&report.config.active, &seen, &mut findings);
    sort_findings(&mut findings);
    report.findings = findings;
    report
}

/// Reads archive `index` of the configuration, at `path` (`key` names it in findings): it must
/// be absolute, exist, be an ISO 9660 image and a valid Solution. The name and version are
/// filled in when the manifest gives them, valid or not.
fn read_archive(
    index: usize,
    path: &str,
    key: &str,
    opts: ValidateOptions,
    findings: &mut Vec<Finding>,
) -> ArchiveInfo {
    let mut info = ArchiveInfo {
        index,
        path: path.to_string(),
        name: None,
        version: None,
    };
    if !Path::new(path).is_absolute() {
        findings.push(Finding::new(
            Rule::ConfigArchivePathRelative,
            key,
            format!("{path:?} is not absolute (MetalK8s stores readlink -f paths)"),
        ));
        return info;
    }
    let file = match crate::IsoFile::open(path) {
        Ok(f) => f,
        Err(e) => {
            findings.push(Finding::new(
                Rule::ConfigArchiveMissing,
                key,
                format!("{e}"),
            ));
            return info;
        }
    };
    let image = match file.image() {
        Ok(i) => i,
        Err(e) => {
            findings.push(Finding::new(
                Rule::ConfigArchiveInvalid,
                key,
                format!("{path}: not ISO 9660: {e}"),
            ));
            return info;
        }
    };
    match (validate(&image, opts), super::Solution::load(&image)) {
        (Ok(r), Ok(s)) => {
            let errors: Vec<String> = r
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| format!("{} [{}]", f.path, f.rule))
                .collect();
            if !errors.is_empty() {
                findings.push(Finding::new(
                    Rule::ConfigArchiveInvalid,
                    key,
                    format!("{path}: not a valid Solution: {}", errors.join(", ")),
                ));
            }
            if let Some(m) = &s.manifest {
                info.name = m.name.clone();
                info.version = m.version.clone();
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            findings.push(Finding::new(
                Rule::ConfigArchiveInvalid,
                key,
                format!("{path}: {e}"),
            ));
        }
    }
    info
}

/// Resolves each `active` entry (name to version or `latest`) against the Solutions the
/// archives provide (`seen`, by name and version): the versions they resolve to, by name.
/// Entries naming no imported Solution or version are findings.
fn resolve_active(
    active: &BTreeMap<String, String>,
    seen: &BTreeMap<(String, String), usize>,
    findings: &mut Vec<Finding>,
) -> BTreeMap<String, String> {
    let mut resolved = BTreeMap::new();
    for (name, version) in active {
        let key = format!("active.{name}");
        let versions: Vec<&String> = seen
            .keys()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .collect();
        if versions.is_empty() {
            findings.push(Finding::new(
                Rule::ConfigActiveUnknown,
                &key,
                format!("Solution {name:?} is active but no archive provides it"),
            ));
            continue;
        }
        if version == "latest" {
            let latest = versions
                .iter()
                .copied()
                .max_by(|a, b| rpm_vercmp(a, b))
                .cloned()
                .unwrap_or_default();
            findings.push(Finding::new(Rule::ConfigLatest, &key, latest.clone()));
            resolved.insert(name.clone(), latest);
        } else if versions.contains(&version) {
            resolved.insert(name.clone(), version.clone());
        } else {
            findings.push(Finding::new(
                Rule::ConfigActiveVersionUnknown,
                &key,
                format!("version {version:?} of Solution {name:?} is active but not imported (available: {})", versions.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")),
            ));
        }
    }
    resolved
}

/// RPM's `rpmvercmp`: compares version strings segment by segment (digit runs numerically,
/// alphabetic runs lexically, digits newer than letters, `~` older than anything, `^` newer than
/// the end of the string but older than anything else).
pub fn rpm_vercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let sep = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    loop {
        while a.first().is_some_and(sep) {
            a = &a[1..];
        }
        while b.first().is_some_and(sep) {
            b = &b[1..];
        }
        let (at, bt) = (a.first() == Some(&b'~'), b.first() == Some(&b'~'));
        if at || bt {
            if !at {
                return Ordering::Greater;
            }
            if !bt {
                return Ordering::Less;
            }
            a = &a[1..];
            b = &b[1..];
            continue;
        }
        let (ac, bc) = (a.first() == Some(&b'^'), b.first() == Some(&b'^'));
        if ac || bc {
            if a.is_empty() {
                return Ordering::Less;
            }
            if b.is_empty() {
                return Ordering::Greater;
            }
            if !ac {
                return Ordering::Greater;
            }
            if !bc {
                return Ordering::Less;
            }
            a = &a[1..];
            b = &b[1..];
            continue;
        }
        if a.is_empty() || b.is_empty() {
            break;
        }
        let num = a[0].is_ascii_digit();
        let take = |s: &[u8]| -> usize {
            s.iter()
                .take_while(|c| {
                    if num {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (na, nb) = (take(a), take(b));
        let (sa, sb) = (&a[..na], &b[..nb]);
        if sb.is_empty() {
            // Segments of different types: numeric is newer.
            return if num {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if num {
            let za = sa
                .iter()
                .position(|&c| c != b'0')
                .map_or(&sa[sa.len()..], |p| &sa[p..]);
            let zb = sb
                .iter()
                .position(|&c| c != b'0')
                .map_or(&sb[sb.len()..], |p| &sb[p..]);
            za.len().cmp(&zb.len()).then_with(|| za.cmp(zb))
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        a = &a[na..];
        b = &b[nb..];
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn rpmvercmp_cases() {
        // Cases from RPM's own test suite semantics.
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("1.0.10", "1.0.2", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("2a", "2.0", Less),
            ("1.0a", "1.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("001", "1", Equal),
            ("1.0-dev", "1.0", Greater),
        ] {
            assert_eq!(rpm_vercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpm_vercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
