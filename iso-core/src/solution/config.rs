//! `solutions.yaml` (`SolutionsConfiguration`), checked as MetalK8s reads it, plus the
//! archive-level checks it lacks (MetalK8s #3108).
//!
//! MetalK8s reads the file with PyYAML (`yaml.safe_load`, YAML 1.1) in
//! `salt/_modules/metalk8s_solutions.py` (`read_config`), renders
//! `salt/metalk8s/solutions/available.sls` from its `archives` (import) and
//! `salt/metalk8s/orchestrate/solutions/deploy-components.sls` from its `active` (activation).
//! Each check below names the function or state that decides it.
//!
//! Each archive is read once, however many times it is listed: entries are keyed by their
//! canonical path and by device and inode, so a symlink, a `./` spelling or a hard link of an
//! archive already read reuses what was read ([`ConfigReport::archives_read`] counts the reads).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_yaml::Value;

use super::{
    is_dns_label, manifest::API_VERSION, solution_id, sort_findings, Finding, Rule, Severity,
    ValidateOptions,
};

/// A parsed `solutions.yaml`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SolutionsConfig {
    /// `apiVersion`.
    pub api_version: Option<String>,
    /// `kind`.
    pub kind: Option<String>,
    /// `archives`: ISO paths (an entry that is not a string is its YAML text).
    pub archives: Vec<String>,
    /// `active`: Solution name to version (or `latest`); a value that is not a string is its
    /// YAML text (a finding says why MetalK8s does not take it).
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
    /// The index of an earlier entry naming the same file (same canonical path, or same
    /// device and inode): this entry was not read again.
    pub same_file_as: Option<usize>,
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
    /// How many archive files were opened and validated: each distinct file once, however
    /// many entries name it.
    pub archives_read: usize,
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

/// What an `active` entry asks for, once read the way PyYAML reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Wanted {
    /// A version string, or `latest`.
    Version(String),
    /// A value Jinja finds false (null, `''`, `false`, `0`): `deploy-components.sls` treats
    /// the Solution as not active.
    Inactive,
    /// Anything else (a number, a date, a list…): already a finding.
    Invalid,
}

/// [`parse_config`], plus what [`check_config`] needs and the public model does not carry.
#[derive(Default)]
struct Parsed {
    config: SolutionsConfig,
    findings: Vec<Finding>,
    /// Per `archives` entry: whether it is a string (else it was reported, and is not read).
    archive_is_path: Vec<bool>,
    /// The `active` entries with a string key, in file order.
    wanted: Vec<(String, Wanted)>,
    /// The document did not parse (nothing else is checked).
    unreadable: bool,
}

/// Parses a `solutions.yaml` and checks its schema as MetalK8s does (no file is opened).
pub fn parse_config(bytes: &[u8]) -> (SolutionsConfig, Vec<Finding>) {
    let p = parse(bytes);
    (p.config, p.findings)
}

fn parse(bytes: &[u8]) -> Parsed {
    let mut p = Parsed::default();
    let doc: Value = match serde_yaml::from_slice::<Value>(bytes) {
        Ok(v) if v.is_mapping() => v,
        Ok(_) => {
            p.findings.push(Finding::new(
                Rule::ConfigYamlInvalid,
                "-",
                "the document is not a mapping",
            ));
            p.unreadable = true;
            return p;
        }
        Err(e) => {
            p.findings.push(Finding::new(
                Rule::ConfigYamlInvalid,
                "-",
                format!("not valid YAML: {e}"),
            ));
            p.unreadable = true;
            return p;
        }
    };
    let cfg = &mut p.config;
    cfg.kind = doc.get("kind").and_then(Value::as_str).map(str::to_string);
    cfg.api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    if cfg.kind.as_deref() != Some("SolutionsConfiguration") {
        p.findings.push(Finding::new(
            Rule::ConfigKind,
            "kind",
            format!(
                "Invalid `kind` in configuration ({}), must be \"SolutionsConfiguration\"",
                cfg.kind.as_deref().unwrap_or("")
            ),
        ));
    }
    if cfg.api_version.as_deref() != Some(API_VERSION) {
        p.findings.push(Finding::new(
            Rule::ConfigApiVersion,
            "apiVersion",
            format!(
                "Invalid `apiVersion` in configuration ({}), must be one of: {API_VERSION}",
                cfg.api_version.as_deref().unwrap_or("")
            ),
        ));
    }
    parse_archives(doc.get("archives"), &mut p);
    parse_active(doc.get("active"), bytes, &mut p);
    p
}

/// `archives`. `read_config` (metalk8s_solutions.py) fills in `[]` only when the key is
/// missing (`setdefault`): a null stays null.
fn parse_archives(value: Option<&Value>, p: &mut Parsed) {
    match value {
        None => {}
        // metalk8s_solutions.configure_archive (what `solutions.sh import` and `unimport`
        // call) then tests `archive not in None` and raises; available.sls renders only while
        // nothing is mounted.
        Some(Value::Null) => p.findings.push(Finding::new(
            Rule::ConfigArchivesNull,
            "archives",
            "archives is null: MetalK8s keeps it (read_config fills in [] only for a missing \
             key), and configure_archive, which `solutions.sh import` and `unimport` call, then \
             fails on it; write `archives: []`",
        )),
        Some(Value::Sequence(list)) => {
            for (i, v) in list.iter().enumerate() {
                if let Value::String(s) = v {
                    p.config.archives.push(s.clone());
                    p.archive_is_path.push(true);
                } else {
                    let text = yaml_text(v);
                    p.findings.push(Finding::new(
                        Rule::ConfigArchivesInvalid,
                        format!("archives[{i}]"),
                        format!(
                            "{text} is a YAML {}, not a path: available.sls hands it to \
                             manifest_from_iso (isoinfo -i), which finds no such archive",
                            type_name(v)
                        ),
                    ));
                    p.config.archives.push(text);
                    p.archive_is_path.push(false);
                }
            }
        }
        // available.sls loops over it (a string character by character, a mapping by key);
        // configure_archive cannot append to it.
        Some(other) => p.findings.push(Finding::new(
            Rule::ConfigArchivesInvalid,
            "archives",
            format!(
                "archives is a YAML {}, not a list of paths: available.sls loops over it (a \
                 string character by character) and configure_archive cannot append to it",
                type_name(other)
            ),
        )),
    }
}

/// `active`, read as PyYAML reads it (`source` is the document, to tell a quoted scalar).
fn parse_active(value: Option<&Value>, source: &[u8], p: &mut Parsed) {
    let map = match value {
        None => return,
        Some(Value::Mapping(m)) => m,
        // read_config keeps a null `active` (setdefault fills in {} only for a missing key):
        // deploy-components.sls then calls `desired.get(name)` on it and fails to render, and
        // activate_solution (`config["active"][solution] = version`) raises.
        Some(v) => {
            let what = if v.is_null() {
                "null".to_string()
            } else {
                format!("a YAML {}, not a mapping", type_name(v))
            };
            p.findings.push(Finding::new(
                Rule::ConfigActiveInvalid,
                "active",
                format!(
                    "active is {what}: MetalK8s keeps it (read_config fills in {{}} only for a \
                     missing key), then fails to render deploy-components.sls (desired.get) \
                     and activate_solution raises; write `active: {{}}`"
                ),
            ));
            return;
        }
    };
    for (k, v) in map {
        let Value::String(name) = k else {
            let text = yaml_text(k);
            p.findings.push(Finding::new(
                Rule::ConfigActiveInvalid,
                format!("active.{text}"),
                format!(
                    "the key {text} is a YAML {}, not a Solution name: deploy-components.sls \
                     looks Solutions up by name and fails with \"No version for Solution {text} \
                     available\"",
                    type_name(k)
                ),
            ));
            p.config.active.insert(text, yaml_text(v));
            continue;
        };
        let key = format!("active.{name}");
        let ty = pyyaml_type(v, source);
        let wanted = match (v, ty) {
            (Value::String(s), PyType::Str) if !s.is_empty() => Wanted::Version(s.clone()),
            _ if is_falsy(v, ty) => {
                // deploy-components.sls: `{%- if not desired_version %}` (not active: the CRDs
                // of the version that was active are removed).
                p.findings.push(Finding::new(
                    Rule::ConfigActiveEmpty,
                    &key,
                    format!(
                        "{} is empty for MetalK8s: deploy-components.sls treats {name} as not \
                         active (and removes the CRDs of a version that was); remove the entry \
                         or name a version",
                        shown(v)
                    ),
                ));
                Wanted::Inactive
            }
            _ => {
                // deploy-components.sls: `desired_version not in versions |
                // map(attribute='version')` compares it with the version strings;
                // activate_solution does the same test (`version not in (...)`).
                // A float is shown as read (1.10 is 1.1), not as written.
                let (what, text) = match ty {
                    PyType::Float => (
                        format!("this version as the float {}", yaml_text(v)),
                        "<version>".to_string(),
                    ),
                    _ => (format!("{} as a {}", yaml_text(v), ty.name()), yaml_text(v)),
                };
                p.findings.push(Finding::new(
                    Rule::ConfigActiveVersionNotString,
                    &key,
                    format!(
                        "PyYAML, which MetalK8s reads solutions.yaml with, reads {what}, \
                         not a string: it never equals an archive's version string, so \
                         deploy-components.sls fails (\"Solution {name}-{} is not \
                         available\"); quote the version as the archive's manifest writes it \
                         (and with solutions.sh activate, whose --version salt-call reads as \
                         YAML too, pass --version '\"{text}\"')",
                        // Jinja prints the value as Python's str() does.
                        if ty == PyType::Bool {
                            "True".to_string()
                        } else {
                            yaml_text(v)
                        }
                    ),
                ));
                Wanted::Invalid
            }
        };
        p.config.active.insert(name.clone(), yaml_text(v));
        p.wanted.push((name.clone(), wanted));
    }
}

/// True for what Jinja's `not` finds false once PyYAML has read `v` as `ty`: null, `''`,
/// `false` (`no`, `off`), zero, an empty list or mapping.
fn is_falsy(v: &Value, ty: PyType) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => match ty {
            PyType::Str => s.is_empty(),
            PyType::Null => true,
            PyType::Bool => matches!(s.to_ascii_lowercase().as_str(), "no" | "false" | "off"),
            // Zero in any spelling: `0`, `00`, `0x0`, `0.0`, `.0`.
            PyType::Int | PyType::Float => {
                s.contains('0') && s.bytes().all(|c| b"0_+-.xb".contains(&c))
            }
            PyType::Timestamp | PyType::Other => false,
        },
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Sequence(s) => s.is_empty(),
        Value::Mapping(m) => m.is_empty(),
        Value::Tagged(_) => false,
    }
}

/// A value as YAML text (a string as is).
fn yaml_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// A value as a finding shows it: strings quoted.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => yaml_text(other),
    }
}

/// The YAML type of a value, for messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Sequence(_) => "list",
        Value::Mapping(_) => "mapping",
        Value::Tagged(_) => "tagged value",
    }
}

/// A scalar type of PyYAML's YAML 1.1 `SafeLoader`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PyType {
    Str,
    Null,
    Bool,
    Int,
    Float,
    Timestamp,
    Other,
}

impl PyType {
    fn name(self) -> &'static str {
        match self {
            PyType::Str => "string",
            PyType::Null => "null",
            PyType::Bool => "bool",
            PyType::Int => "int",
            PyType::Float => "float",
            PyType::Timestamp => "timestamp",
            PyType::Other => "non-string value",
        }
    }
}

/// The type PyYAML's `safe_load` gives `v`. serde_yaml resolves plain scalars by YAML 1.2
/// (`2` an int, `1.0` a float, `true` a bool); PyYAML resolves YAML 1.1's wider set too
/// (`yes`, `on`, `010`, `1_000`, `2024-01-15`), which serde_yaml leaves as strings. Such a
/// string counts as plain unless `source` holds it quoted somewhere (serde_yaml keeps no
/// scalar style). Numbers serde_yaml finds are numbers for PyYAML too, but for exponents
/// without a dot (`1e3`) and `0o` octals, which no version string looks like.
fn pyyaml_type(v: &Value, source: &[u8]) -> PyType {
    match v {
        Value::Null => PyType::Null,
        Value::Bool(_) => PyType::Bool,
        Value::Number(n) if n.is_f64() => PyType::Float,
        Value::Number(_) => PyType::Int,
        Value::String(s) => {
            let ty = yaml11_plain_type(s);
            if ty == PyType::Str || quoted_in(source, s) {
                PyType::Str
            } else {
                ty
            }
        }
        _ => PyType::Other,
    }
}

/// Whether `source` holds `s` between single or double quotes.
fn quoted_in(source: &[u8], s: &str) -> bool {
    [b'"', b'\''].iter().any(|&q| {
        let mut needle = Vec::with_capacity(s.len() + 2);
        needle.push(q);
        needle.extend_from_slice(s.as_bytes());
        needle.push(q);
        source.windows(needle.len()).any(|w| w == needle.as_slice())
    })
}

/// The type PyYAML's YAML 1.1 implicit resolvers (`yaml/resolver.py`) give the plain scalar
/// `s`: bool, int, float, null or timestamp, else string.
fn yaml11_plain_type(s: &str) -> PyType {
    const BOOLS: &[&str] = &[
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF",
    ];
    if BOOLS.contains(&s) {
        PyType::Bool
    } else if matches!(s, "" | "~" | "null" | "Null" | "NULL") {
        PyType::Null
    } else if yaml11_int(s) {
        PyType::Int
    } else if yaml11_float(s) {
        PyType::Float
    } else if yaml11_timestamp(s) {
        PyType::Timestamp
    } else {
        PyType::Str
    }
}

/// `s` without one leading `+` or `-`.
fn unsigned(s: &str) -> &str {
    s.strip_prefix(['+', '-']).unwrap_or(s)
}

/// Non-empty, and every byte satisfies `ok`.
fn all(s: &str, ok: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.bytes().all(ok)
}

/// `[0-9][0-9_]*`
fn digits_(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && all(s, |c| c.is_ascii_digit() || c == b'_')
}

/// `(?::[0-5]?[0-9])+` (YAML 1.1 base 60), the part after the first `:`.
fn sexagesimal_tail(s: &str) -> bool {
    s.split(':').all(|part| {
        let b = part.as_bytes();
        match b {
            [d] => d.is_ascii_digit(),
            [h, d] => (b'0'..=b'5').contains(h) && d.is_ascii_digit(),
            _ => false,
        }
    })
}

/// PyYAML's int resolver: `0b` binary, `0` octal, decimal, `0x` hex, base 60; underscores
/// allowed.
fn yaml11_int(s: &str) -> bool {
    let u = unsigned(s);
    if let Some(b) = u.strip_prefix("0b") {
        return all(b, |c| matches!(c, b'0' | b'1' | b'_'));
    }
    if let Some(x) = u.strip_prefix("0x") {
        return all(x, |c| c.is_ascii_hexdigit() || c == b'_');
    }
    if u == "0" {
        return true;
    }
    if let Some(o) = u.strip_prefix('0') {
        return all(o, |c| (b'0'..=b'7').contains(&c) || c == b'_');
    }
    if let Some((head, tail)) = u.split_once(':') {
        return u.starts_with(|c: char| ('1'..='9').contains(&c))
            && digits_(head)
            && sexagesimal_tail(tail);
    }
    u.starts_with(|c: char| ('1'..='9').contains(&c)) && digits_(u)
}

/// PyYAML's float resolver: `1.`, `1.5`, `1.5e+3`, `.5`, base 60 with a fraction, `.inf`,
/// `.nan`.
fn yaml11_float(s: &str) -> bool {
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let u = unsigned(s);
    if matches!(u, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    // An exponent, `[eE][-+][0-9]+` (the sign is required), may end the decimal forms.
    let (mantissa, exponent) = match u.find(['e', 'E']) {
        Some(i) => (&u[..i], Some(&u[i + 1..])),
        None => (u, None),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        e.len() > 1 && e.starts_with(['+', '-']) && all(&e[1..], |c| c.is_ascii_digit())
    });
    let Some((int, frac)) = mantissa.split_once('.') else {
        return false;
    };
    if !exponent_ok || frac.bytes().any(|c| !(c.is_ascii_digit() || c == b'_')) {
        return false;
    }
    if int.is_empty() {
        // `\.[0-9_]+`: no sign.
        return s.starts_with('.') && !frac.is_empty();
    }
    if let Some((head, tail)) = int.split_once(':') {
        // Base 60: no exponent.
        return exponent.is_none() && digits_(head) && sexagesimal_tail(tail);
    }
    digits_(int)
}

/// PyYAML's timestamp resolver: `2024-01-15`, or a date and a time.
fn yaml11_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let d = |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if b.len() == 10 && d(0..4) && b[4] == b'-' && d(5..7) && b[7] == b'-' && d(8..10) {
        return true;
    }
    // YYYY-M[M]-D[D](T|t|[ \t]+)H[H]:MM:SS(.frac)?([ \t]*(Z|[-+]H[H](:MM)?))?
    let Some(date_end) = s.find(['T', 't', ' ', '\t']) else {
        return false;
    };
    let date: Vec<&str> = s[..date_end].split('-').collect();
    let date_ok = matches!(date.as_slice(), [y, m, dd]
        if y.len() == 4 && all(y, |c| c.is_ascii_digit())
            && (1..=2).contains(&m.len()) && all(m, |c| c.is_ascii_digit())
            && (1..=2).contains(&dd.len()) && all(dd, |c| c.is_ascii_digit()));
    if !date_ok {
        return false;
    }
    let rest = s[date_end..].trim_start_matches(['T', 't', ' ', '\t']);
    let time_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.'))
        .unwrap_or(rest.len());
    let (time, zone) = rest.split_at(time_end);
    let (hms, _frac) = time.split_once('.').unwrap_or((time, ""));
    let hms: Vec<&str> = hms.split(':').collect();
    let time_ok = matches!(hms.as_slice(), [h, m, sec]
        if (1..=2).contains(&h.len()) && all(h, |c| c.is_ascii_digit())
            && m.len() == 2 && all(m, |c| c.is_ascii_digit())
            && sec.len() == 2 && all(sec, |c| c.is_ascii_digit()));
    let zone = zone.trim_start_matches([' ', '\t']);
    let zone_ok = zone.is_empty()
        || zone == "Z"
        || zone.strip_prefix(['+', '-']).is_some_and(|z| {
            let (h, m) = z.split_once(':').unwrap_or((z, "00"));
            (1..=2).contains(&h.len())
                && all(h, |c| c.is_ascii_digit())
                && m.len() == 2
                && all(m, |c| c.is_ascii_digit())
        });
    time_ok && zone_ok
}

/// Checks a `solutions.yaml`: its schema as MetalK8s checks it; every archive absolute,
/// present, canonical and a valid Solution (each file read once, however many entries name
/// it); no two archives with the same name and version; every `active` entry naming a
/// Solution and version MetalK8s would list; `latest` resolved as MetalK8s resolves it
/// ([`salt_version_cmp`], ties to the archive listed first).
pub fn check_config(bytes: &[u8], opts: ValidateOptions) -> ConfigReport {
    let parsed = parse(bytes);
    let mut findings = parsed.findings;
    let mut report = ConfigReport {
        config: parsed.config,
        archives: Vec::new(),
        archives_read: 0,
        resolved: BTreeMap::new(),
        findings: Vec::new(),
    };
    if parsed.unreadable {
        report.findings = findings;
        return report;
    }
    let mut reader = ArchiveReader::new(opts);
    // The Solutions MetalK8s would list, in archive order (`list_available` lists mounts, and
    // import mounts archives in this order).
    let mut offered: Vec<Offer> = Vec::new();
    // Name and version to the index of the first archive providing them.
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let archives = &report.config.archives;
    for (i, path) in archives.iter().enumerate() {
        let key = format!("archives[{i}]");
        if !parsed.archive_is_path.get(i).copied().unwrap_or(false) {
            report.archives.push(ArchiveInfo {
                index: i,
                path: path.clone(),
                name: None,
                version: None,
                same_file_as: None,
            });
            continue;
        }
        let (info, unlisted) = reader.read(i, path, &key, &mut findings);
        if let (Some(n), Some(v)) = (&info.name, &info.version) {
            if let Some(&first) = seen.get(&(n.clone(), v.clone())) {
                let same = if info.same_file_as == Some(first) {
                    "the same file as"
                } else {
                    "like"
                };
                findings.push(Finding::new(
                    Rule::ConfigDuplicateArchive,
                    &key,
                    format!(
                        "{path} is Solution {n} {v}, {same} archives[{first}] ({}): MetalK8s \
                         fails with \"conflicting ID\" (#3108)",
                        archives.get(first).map_or("", String::as_str)
                    ),
                ));
            } else {
                seen.insert((n.clone(), v.clone()), i);
                offered.push(Offer {
                    name: n.clone(),
                    version: v.clone(),
                    unlisted,
                });
            }
        }
        report.archives.push(info);
    }
    report.archives_read = reader.reads;
    report.resolved = resolve_active(&parsed.wanted, &offered, &mut findings);
    sort_findings(&mut findings);
    report.findings = findings;
    report
}

/// A Solution version an archive provides.
struct Offer {
    name: String,
    version: String,
    /// Why MetalK8s would mount it but never list it as available, if so.
    unlisted: Option<&'static str>,
}

/// What reading one archive file gave, kept for the other entries naming the same file.
#[derive(Clone)]
struct ReadOutcome {
    name: Option<String>,
    version: Option<String>,
    unlisted: Option<&'static str>,
    /// A finding for every entry naming this file: the rule and the message after the path.
    failure: Option<(Rule, String)>,
}

/// Reads archives, each distinct file once: keyed by canonical path, and (on Unix) by
/// device and inode, so hard links count as the same file.
struct ArchiveReader {
    opts: ValidateOptions,
    outcomes: Vec<(usize, ReadOutcome)>,
    by_path: HashMap<PathBuf, usize>,
    by_inode: HashMap<(u64, u64), usize>,
    reads: usize,
}

impl ArchiveReader {
    fn new(opts: ValidateOptions) -> Self {
        ArchiveReader {
            opts,
            outcomes: Vec::new(),
            by_path: HashMap::new(),
            by_inode: HashMap::new(),
            reads: 0,
        }
    }

    /// Reads archive `index` of the configuration, at `path` (`key` names it in findings):
    /// it must be absolute, exist, be an ISO 9660 image and a valid Solution. The name and
    /// version are filled in when the manifest gives them, valid or not. Also returns why
    /// MetalK8s would never list it, if so.
    fn read(
        &mut self,
        index: usize,
        path: &str,
        key: &str,
        findings: &mut Vec<Finding>,
    ) -> (ArchiveInfo, Option<&'static str>) {
        let mut info = ArchiveInfo {
            index,
            path: path.to_string(),
            name: None,
            version: None,
            same_file_as: None,
        };
        if !Path::new(path).is_absolute() {
            findings.push(Finding::new(
                Rule::ConfigArchivePathRelative,
                key,
                format!("{path:?} is not absolute (MetalK8s stores readlink -f paths)"),
            ));
            return (info, None);
        }
        let (canonical, inode) = match std::fs::canonicalize(path)
            .and_then(|c| std::fs::metadata(&c).map(|m| (c, inode_of(&m))))
        {
            Ok(x) => x,
            Err(e) => {
                findings.push(Finding::new(
                    Rule::ConfigArchiveMissing,
                    key,
                    format!("{path}: {e}"),
                ));
                return (info, None);
            }
        };
        if canonical.as_os_str() != std::ffi::OsStr::new(path) {
            // scripts/solutions.sh stores `readlink -f` paths; available.sls unmounts every
            // mounted Solution whose archive (list_available: the mount's `alt_device`, the
            // file the loop device resolved) is `not in configured`.
            findings.push(Finding::new(
                Rule::ConfigArchivePathNotCanonical,
                key,
                format!(
                    "{path} is {}: solutions.sh import writes readlink -f paths, and \
                     available.sls compares the listed paths with the file each mount \
                     resolved, so on the next import MetalK8s takes this archive for \
                     unimported and unmounts it (or fails if it is active)",
                    canonical.display()
                ),
            ));
        }
        let slot = self
            .by_path
            .get(&canonical)
            .or_else(|| inode.and_then(|i| self.by_inode.get(&i)))
            .copied();
        let outcome = match slot.and_then(|s| self.outcomes.get(s)) {
            Some((first, outcome)) => {
                info.same_file_as = Some(*first);
                outcome.clone()
            }
            None => {
                let outcome = self.read_file(&canonical);
                self.reads += 1;
                let s = self.outcomes.len();
                self.outcomes.push((index, outcome.clone()));
                self.by_path.insert(canonical, s);
                if let Some(i) = inode {
                    self.by_inode.insert(i, s);
                }
                outcome
            }
        };
        if let Some((rule, message)) = outcome.failure {
            findings.push(Finding::new(rule, key, format!("{path}: {message}")));
        }
        info.name = outcome.name;
        info.version = outcome.version;
        (info, outcome.unlisted)
    }

    /// Opens, parses and validates the archive at `canonical`.
    fn read_file(&self, canonical: &Path) -> ReadOutcome {
        let mut out = ReadOutcome {
            name: None,
            version: None,
            unlisted: None,
            failure: None,
        };
        let file = match crate::IsoFile::open(canonical) {
            Ok(f) => f,
            Err(e) => {
                out.failure = Some((Rule::ConfigArchiveMissing, e.to_string()));
                return out;
            }
        };
        let image = match file.image() {
            Ok(i) => i,
            Err(e) => {
                out.failure = Some((Rule::ConfigArchiveInvalid, format!("not ISO 9660: {e}")));
                return out;
            }
        };
        let s = match super::Solution::load(&image) {
            Ok(s) => s,
            Err(e) => {
                out.failure = Some((Rule::ConfigArchiveInvalid, e.to_string()));
                return out;
            }
        };
        let report = s.validate(self.opts);
        let errors: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{} [{}]", f.path, f.rule))
            .collect();
        if !errors.is_empty() {
            out.failure = Some((
                Rule::ConfigArchiveInvalid,
                format!("not a valid Solution: {}", errors.join(", ")),
            ));
        }
        if let Some(m) = &s.manifest {
            out.name = m.name.clone();
            out.version = m.version.clone();
            out.unlisted = unlisted_reason(m);
        }
        out
    }
}

/// Why `list_available` (metalk8s_solutions.py) would skip this mounted Solution, if it
/// would: it skips mounts under `/srv/scality/metalk8s-` (MetalK8s's own), and
/// `read_solution_manifest` refuses a wrong kind or apiVersion and
/// `_archive_info_from_manifest` a name that is not a DNS label.
fn unlisted_reason(m: &super::Manifest) -> Option<&'static str> {
    let name = m.name.as_deref().unwrap_or("");
    if m.kind.as_deref() != Some("Solution") || m.api_version.as_deref() != Some(API_VERSION) {
        Some("its manifest's kind or apiVersion is wrong, so list_available skips it")
    } else if !is_dns_label(name) {
        Some("its metadata.name is not a DNS label, so MetalK8s refuses it")
    } else if name.starts_with("metalk8s-") {
        Some(
            "its name starts with metalk8s-, and list_available skips mounts under \
             /srv/scality/metalk8s- (MetalK8s's own)",
        )
    } else {
        None
    }
}

/// Device and inode, where the platform has them.
#[cfg(unix)]
fn inode_of(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

/// Device and inode, where the platform has them.
#[cfg(not(unix))]
fn inode_of(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Resolves each `active` entry against the Solutions the archives provide (`offered`, in
/// archive order), as `deploy-components.sls` does: the versions they resolve to, by name.
/// Entries naming no listed Solution or version are findings.
fn resolve_active(
    wanted: &[(String, Wanted)],
    offered: &[Offer],
    findings: &mut Vec<Finding>,
) -> BTreeMap<String, String> {
    let mut resolved = BTreeMap::new();
    for (name, want) in wanted {
        let key = format!("active.{name}");
        let versions: Vec<&str> = offered
            .iter()
            .filter(|o| &o.name == name && o.unlisted.is_none())
            .map(|o| o.version.as_str())
            .collect();
        let version = match want {
            // Already reported; MetalK8s fails on it whatever is available.
            Wanted::Invalid => continue,
            Wanted::Inactive if !versions.is_empty() => continue,
            Wanted::Inactive => None,
            Wanted::Version(v) => Some(v),
        };
        if versions.is_empty() {
            // deploy-components.sls: `desired | difference(available)` → fail_missing_solution.
            let why = offered
                .iter()
                .find(|o| &o.name == name)
                .and_then(|o| o.unlisted)
                .map(|r| format!(" (an archive holds it, but {r})"))
                .unwrap_or_default();
            findings.push(Finding::new(
                Rule::ConfigActiveUnknown,
                &key,
                format!(
                    "Solution {name:?} is active but no archive provides it{why}: MetalK8s \
                     fails with \"No version for Solution {name} available\""
                ),
            ));
            continue;
        }
        let Some(version) = version else { continue };
        if version == "latest" {
            // deploy-components.sls: get_latest, with salt.pkg.version_cmp.
            let latest = salt_latest(&versions);
            findings.push(Finding::new(Rule::ConfigLatest, &key, latest));
            let ties: Vec<&str> = versions
                .iter()
                .copied()
                .filter(|v| *v != latest && salt_version_cmp(v, latest) != Ordering::Less)
                .collect();
            if !ties.is_empty() {
                findings.push(Finding::new(
                    Rule::ConfigLatestOrder,
                    &key,
                    format!(
                        "latest is {latest} only because of the archive order: Salt's \
                         pkg.version_cmp finds {} no older (it ignores the release, what \
                         follows the first '-', when only one side has one), and \
                         deploy-components.sls keeps the first version it lists; reorder the \
                         archives and latest changes, so name the version instead",
                        ties.join(", ")
                    ),
                ));
            }
            resolved.insert(name.clone(), latest.to_string());
        } else if versions.contains(&version.as_str()) {
            resolved.insert(name.clone(), version.clone());
        } else {
            findings.push(Finding::new(
                Rule::ConfigActiveVersionUnknown,
                &key,
                format!(
                    "version {version:?} of Solution {name:?} is active but not imported \
                     (available: {}): MetalK8s fails with \"Solution {name}-{version} is not \
                     available\"",
                    versions.join(", ")
                ),
            ));
        }
    }
    resolved
}

/// `get_latest` of `deploy-components.sls`: the first version, replaced by each later one
/// that [`salt_version_cmp`] finds newer (so of two that compare equal, the first stays).
/// `versions` is not empty.
fn salt_latest<'a>(versions: &[&'a str]) -> &'a str {
    let mut candidate = versions.first().copied().unwrap_or("");
    for v in versions.iter().skip(1) {
        if salt_version_cmp(v, candidate) == Ordering::Greater {
            candidate = v;
        }
    }
    candidate
}

/// Salt's `pkg.version_cmp`, as MetalK8s's `deploy-components.sls` calls it to resolve
/// `latest`: Salt 3002.9 (`buildchain/buildchain/versions.py`) on Rocky Linux 8, where
/// `yumpkg.version_cmp` is `lowpkg.version_cmp` (`salt/modules/rpm_lowpkg.py`): split each
/// version into epoch, version and release (`salt.utils.pkg.rpm.version_to_evr`: epoch before
/// the first `:`, release after the first `-`), drop both releases when either is empty, then
/// `rpm.labelCompare` (`rpmvercmp` on epoch, version, release in turn).
///
/// So `1.0.0` and `1.0.0-dev` are equal, and `1.0-2` is older than `1.0.1` (whole-string
/// [`rpm_vercmp`] says the opposite of both).
pub fn salt_version_cmp(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = version_to_evr(a);
    let (eb, vb, rb) = version_to_evr(b);
    let (ra, rb) = if ra.is_empty() || rb.is_empty() {
        ("", "")
    } else {
        (ra, rb)
    };
    rpm_vercmp(&ea, &eb)
        .then_with(|| rpm_vercmp(va, vb))
        .then_with(|| rpm_vercmp(ra, rb))
}

/// `salt.utils.pkg.rpm.version_to_evr`: (epoch, version, release). The epoch is what comes
/// before the first `:` read as a Python `int` (`0` when absent or not a number); the release
/// what follows the first `-`.
fn version_to_evr(s: &str) -> (String, &str, &str) {
    if s.is_empty() {
        return ("0".to_string(), "", "");
    }
    let colon = s.find(':');
    let epoch = colon
        .and_then(|i| python_int(&s[..i]))
        .unwrap_or_else(|| "0".to_string());
    let start = colon.map_or(0, |i| i + 1);
    match s.find('-') {
        // Python's s[start:dash] is empty when the dash comes first.
        Some(dash) => (epoch, s.get(start..dash).unwrap_or(""), &s[dash + 1..]),
        None => (epoch, &s[start..], ""),
    }
}

/// `str(int(s))` in Python, for ASCII input: surrounding whitespace, a sign, digits with
/// single underscores between them; `None` where `int` raises.
fn python_int(s: &str) -> Option<String> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let (negative, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let ok = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.bytes().all(|c| c.is_ascii_digit() || c == b'_');
    if !ok {
        return None;
    }
    let plain: String = digits.chars().filter(|&c| c != '_').collect();
    let trimmed = plain.trim_start_matches('0');
    Some(match (trimmed.is_empty(), negative) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{trimmed}"),
        (false, false) => trimmed.to_string(),
    })
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

    const HEAD: &str =
        "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: SolutionsConfiguration\n";

    fn rules(findings: &[Finding]) -> Vec<(Rule, &str)> {
        findings.iter().map(|f| (f.rule, f.path.as_str())).collect()
    }

    fn offer(name: &str, version: &str) -> Offer {
        Offer {
            name: name.into(),
            version: version.into(),
            unlisted: None,
        }
    }

    /// Parses `body` after a valid head and resolves its `active` against `offers`.
    fn resolve(body: &str, offers: &[Offer]) -> (Vec<Finding>, BTreeMap<String, String>) {
        let p = parse(format!("{HEAD}{body}").as_bytes());
        let mut findings = p.findings;
        let resolved = resolve_active(&p.wanted, offers, &mut findings);
        (findings, resolved)
    }

    /// salt/_modules/metalk8s_solutions.py, `read_config`: `config.setdefault("active", {})`
    /// leaves a null `active` null; salt/metalk8s/orchestrate/solutions/deploy-components.sls
    /// then calls `desired.get(name)` on it (render error) and `activate_solution`
    /// (`config["active"][solution] = version`) raises. An error, as MetalK8s fails.
    #[test]
    fn a_null_active_is_an_error() {
        let (findings, _) = resolve("archives: []\nactive:\n", &[]);
        assert_eq!(rules(&findings), [(Rule::ConfigActiveInvalid, "active")]);
        assert_eq!(findings[0].severity, Severity::Error);
        assert!(findings[0].message.contains("active: {}"), "{findings:?}");
        let (findings, _) = resolve("active: [a, b]\n", &[]);
        assert_eq!(rules(&findings), [(Rule::ConfigActiveInvalid, "active")]);
        // A missing key is what read_config fills in with {}: fine.
        let (findings, _) = resolve("archives: []\n", &[]);
        assert!(findings.is_empty(), "{findings:?}");
    }

    /// deploy-components.sls (`desired_version not in versions | map(attribute='version')`)
    /// and metalk8s_solutions.py `activate_solution` (`version not in (info["version"] ...)`)
    /// compare what PyYAML read with the archives' version strings: `2` (an int) never equals
    /// "2", so MetalK8s says the version is not available. Refused, with "quote it".
    #[test]
    fn a_version_written_as_a_yaml_number_is_refused() {
        let offers = [offer("my-solution", "2"), offer("my-solution", "1.10")];
        for body in [
            "active: {my-solution: 2}\n",
            "active:\n  my-solution: 1.10\n",
            "active: {my-solution: yes}\n",
            "active: {my-solution: 2024-01-15}\n",
        ] {
            let (findings, resolved) = resolve(body, &offers);
            assert_eq!(
                rules(&findings),
                [(Rule::ConfigActiveVersionNotString, "active.my-solution")],
                "{body}"
            );
            assert!(findings[0].message.contains("quote"), "{findings:?}");
            assert!(resolved.is_empty(), "{body}: {resolved:?}");
        }
        // Quoted, the same versions are strings and match.
        for (body, want) in [
            ("active: {my-solution: \"2\"}\n", "2"),
            ("active:\n  my-solution: '1.10'\n", "1.10"),
        ] {
            let (findings, resolved) = resolve(body, &offers);
            assert!(findings.is_empty(), "{body}: {findings:?}");
            assert_eq!(resolved["my-solution"], want);
        }
    }

    /// PyYAML's YAML 1.1 resolvers (what MetalK8s's `yaml.safe_load` uses) on plain scalars.
    #[test]
    fn pyyaml_plain_scalar_types() {
        use PyType::*;
        for (s, want) in [
            ("2", Int),
            ("010", Int),
            ("0x1f", Int),
            ("0b101", Int),
            ("1_000", Int),
            ("1:30", Int),
            ("-3", Int),
            ("1.10", Float),
            ("1.", Float),
            (".5", Float),
            ("1.0e+3", Float),
            ("1:30.5", Float),
            (".inf", Float),
            ("yes", Bool),
            ("Off", Bool),
            ("~", Null),
            ("2024-01-15", Timestamp),
            ("2024-1-5 10:00:00", Timestamp),
            ("2024-01-15T10:00:00.5Z", Timestamp),
            ("1.0.2", Str),
            ("1.0.0-dev", Str),
            ("08", Str),
            ("1e3", Str),
            ("0:30", Str),
            ("latest", Str),
            ("y", Str),
            ("2024.01.15", Str),
            ("1.0_rc1", Str),
        ] {
            assert_eq!(yaml11_plain_type(s), want, "{s}");
        }
    }

    /// deploy-components.sls: `{%- if not desired_version %}` treats null, '' and false as
    /// "not active" (MetalK8s's own unit tests, test_metalk8s_solutions.yaml
    /// `deactivate_solution`, write such entries as ''). A warning; and an error still when
    /// no archive provides the Solution (`desired | difference(available)`).
    #[test]
    fn an_empty_active_entry_means_not_active() {
        let offers = [offer("a", "1.0.0")];
        for v in ["''", "", "null", "false", "no", "0"] {
            let (findings, resolved) = resolve(&format!("active:\n  a: {v}\n"), &offers);
            assert_eq!(
                rules(&findings),
                [(Rule::ConfigActiveEmpty, "active.a")],
                "{v}"
            );
            assert!(resolved.is_empty());
        }
        let (findings, _) = resolve("active:\n  b: ''\n", &offers);
        assert_eq!(
            rules(&findings),
            [
                (Rule::ConfigActiveEmpty, "active.b"),
                (Rule::ConfigActiveUnknown, "active.b")
            ]
        );
    }

    /// salt/modules/rpm_lowpkg.py `version_cmp` (Salt 3002.9, as MetalK8s's
    /// buildchain/buildchain/versions.py pins it, with rpm.labelCompare on Rocky Linux 8),
    /// reached from deploy-components.sls `get_latest` through `salt.pkg.version_cmp`.
    #[test]
    fn salt_version_cmp_cases() {
        for (a, b, want) in [
            ("1.0.0", "1.0.0-dev", Equal),
            ("2.0.0", "2.0.0-rc1", Equal),
            ("1.0.0-dev", "1.0.0-rc1", Less),
            ("1.0.10", "1.0.2", Greater),
            ("1.0-2", "1.0.1", Less),
            ("1:0.1", "2.0", Greater),
            ("x:1.0", "1.0", Equal),
            ("1.0.1", "1.0.0-dev", Greater),
            ("", "", Equal),
        ] {
            assert_eq!(salt_version_cmp(a, b), want, "{a} vs {b}");
            assert_eq!(salt_version_cmp(b, a), want.reverse(), "{b} vs {a}");
        }
        assert_eq!(version_to_evr("2:1.0-1.2"), ("2".into(), "1.0", "1.2"));
        assert_eq!(version_to_evr("1-2:3"), ("0".into(), "", "2:3"));
        assert_eq!(python_int(" +0_1 "), Some("1".into()));
        assert_eq!(python_int("1__0"), None);
    }

    /// deploy-components.sls `get_latest`: the first version listed stays unless a later one
    /// compares greater, so with `1.0.0` and `1.0.0-dev` (equal for Salt's version_cmp) the
    /// archive listed first wins; a warning says the answer depends on that order.
    #[test]
    fn latest_between_a_release_and_a_pre_release_follows_the_archive_order() {
        for (order, want) in [
            (["1.0.0", "1.0.0-dev"], "1.0.0"),
            (["1.0.0-dev", "1.0.0"], "1.0.0-dev"),
            (["2.0.0-rc1", "2.0.0"], "2.0.0-rc1"),
        ] {
            let offers: Vec<Offer> = order.iter().map(|v| offer("a", v)).collect();
            let (findings, resolved) = resolve("active: {a: latest}\n", &offers);
            assert_eq!(resolved["a"], want, "{order:?}");
            assert_eq!(
                rules(&findings),
                [
                    (Rule::ConfigLatest, "active.a"),
                    (Rule::ConfigLatestOrder, "active.a")
                ],
                "{order:?}"
            );
        }
        // No tie: no warning.
        let offers = [offer("a", "1.0.2"), offer("a", "1.0.10")];
        let (findings, resolved) = resolve("active: {a: latest}\n", &offers);
        assert_eq!(resolved["a"], "1.0.10");
        assert_eq!(rules(&findings), [(Rule::ConfigLatest, "active.a")]);
    }

    /// metalk8s_solutions.py `list_available` skips mounts under /srv/scality/metalk8s-:
    /// a Solution named metalk8s-… is mounted but never available, so activating it fails.
    #[test]
    fn a_solution_metalk8s_never_lists_cannot_be_active() {
        let offers = [Offer {
            name: "metalk8s-x".into(),
            version: "1.0.0".into(),
            unlisted: Some("its name starts with metalk8s-"),
        }];
        let (findings, resolved) = resolve("active: {metalk8s-x: 1.0.0}\n", &offers);
        assert_eq!(
            rules(&findings),
            [(Rule::ConfigActiveUnknown, "active.metalk8s-x")]
        );
        assert!(findings[0].message.contains("metalk8s-"), "{findings:?}");
        assert!(resolved.is_empty());
    }

    /// `archives`: metalk8s_solutions.py `configure_archive` (`archive not in
    /// config["archives"]`, `.append`) fails on a null list (what `solutions.sh import` calls);
    /// available.sls loops over anything else that is not a list.
    #[test]
    fn archives_null_warns_and_other_shapes_are_errors() {
        let p = parse(format!("{HEAD}archives:\nactive: {{}}\n").as_bytes());
        assert_eq!(rules(&p.findings), [(Rule::ConfigArchivesNull, "archives")]);
        assert_eq!(p.findings[0].severity, Severity::Warning);
        let p = parse(format!("{HEAD}archives: /a.iso\n").as_bytes());
        assert_eq!(
            rules(&p.findings),
            [(Rule::ConfigArchivesInvalid, "archives")]
        );
        let p = parse(format!("{HEAD}archives: [/a.iso, 3]\n").as_bytes());
        assert_eq!(
            rules(&p.findings),
            [(Rule::ConfigArchivesInvalid, "archives[1]")]
        );
        assert_eq!(p.archive_is_path, [true, false]);
        let r = check_config(
            format!("{HEAD}archives:\n").as_bytes(),
            ValidateOptions::default(),
        );
        assert!(r.passes(false) && !r.passes(true));
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/solutions")
            .join(name)
    }

    /// The same archive listed under several paths (itself, `./`, a symlink, a hard link) is
    /// read once, keyed by canonical path and device and inode. MetalK8s would mount it under
    /// one id per entry (available.sls: "conflicting ID", #3108), and compare each listed path
    /// with the resolved file of the mount (so a symlink or `./` path gets it unmounted).
    #[cfg(unix)]
    #[test]
    fn an_archive_listed_under_several_paths_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let iso = base.join("a.iso");
        std::fs::copy(fixture("example-solution-1.0.2.iso"), &iso).unwrap();
        std::os::unix::fs::symlink(&iso, base.join("link.iso")).unwrap();
        std::fs::hard_link(&iso, base.join("hard.iso")).unwrap();
        let paths = [
            iso.clone(),
            base.join("./a.iso"),
            base.join("link.iso"),
            base.join("hard.iso"),
            iso.clone(),
        ];
        let list: String = paths
            .iter()
            .map(|p| format!("  - {:?}\n", p.to_str().unwrap()))
            .collect();
        let yaml = format!("{HEAD}archives:\n{list}active: {{example-solution: latest}}\n");
        let r = check_config(
            yaml.as_bytes(),
            ValidateOptions {
                digests: false,
                threads: 1,
            },
        );
        assert_eq!(r.archives_read, 1, "{:?}", r.findings);
        let same: Vec<Option<usize>> = r.archives.iter().map(|a| a.same_file_as).collect();
        assert_eq!(same, [None, Some(0), Some(0), Some(0), Some(0)]);
        let mut got = rules(&r.findings);
        got.sort_by_key(|(rule, path)| (path.to_string(), rule.id()));
        assert_eq!(
            got,
            [
                (Rule::ConfigLatest, "active.example-solution"),
                (Rule::ConfigArchivePathNotCanonical, "archives[1]"),
                (Rule::ConfigDuplicateArchive, "archives[1]"),
                (Rule::ConfigArchivePathNotCanonical, "archives[2]"),
                (Rule::ConfigDuplicateArchive, "archives[2]"),
                (Rule::ConfigDuplicateArchive, "archives[3]"),
                (Rule::ConfigDuplicateArchive, "archives[4]"),
            ]
        );
        assert_eq!(r.resolved["example-solution"], "1.0.2");
    }

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
