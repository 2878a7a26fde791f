//! Registry credentials: a [`Secret`] that never prints, [`Credentials`] (user and password),
//! credentials written in a registry URL (`http://alice:secret@host`), and the auth files
//! users already keep, read in the order podman, skopeo and docker read them.
//!
//! Auth files are parsed here (serde JSON) rather than with the `docker_credential` crate:
//! that crate matches keys by host only (podman's `host/namespace` keys, most specific first,
//! are not found), derives `Debug` with the password inside, and its errors do not name the
//! file. `credHelpers` and `credsStore` are honoured the way docker does it: the helper
//! `docker-credential-<name> get` is run with the registry host on its standard input.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A password or token: its `Debug` and `Display` print `<redacted>`; [`Secret::expose`]
/// is the one way to the value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

/// A user name and password (basic authentication, and for bearer tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name (printed).
    pub user: String,
    /// Password (never printed).
    pub password: Secret,
}

impl Credentials {
    /// `user` with `password`.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            password: Secret::new(password),
        }
    }

    /// The `Authorization` value of basic authentication.
    pub(crate) fn basic(&self) -> String {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.user,
            self.password.expose()
        ));
        format!("Basic {b}")
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &self.password)
            .finish()
    }
}

impl From<(String, String)> for Credentials {
    fn from((user, password): (String, String)) -> Self {
        Credentials::new(user, password)
    }
}

/// A registry given as a URL or `host:port`, split into what is shown and the credentials
/// written in it (`http://alice:secret@host:5000` → `http://host:5000` and alice's).
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryUrl {
    /// The registry without credentials: what may be displayed.
    pub shown: String,
    /// The credentials of its user-info part, percent-decoded.
    pub credentials: Option<Credentials>,
}

impl fmt::Debug for RegistryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryUrl")
            .field("shown", &self.shown)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl RegistryUrl {
    /// Splits `registry` (with or without a scheme) into its displayable form and the
    /// credentials of its user-info part.
    pub fn parse(registry: &str) -> RegistryUrl {
        let (scheme, rest) = match registry.split_once("://") {
            Some((s, r)) => (Some(s), r),
            None => (None, registry),
        };
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let (userinfo, host) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let shown = match scheme {
            Some(s) => format!("{s}://{host}{path}"),
            None => format!("{host}{path}"),
        };
        let credentials = userinfo.map(|u| match u.split_once(':') {
            Some((user, pass)) => Credentials::new(percent_decode(user), percent_decode(pass)),
            None => Credentials::new(percent_decode(u), String::new()),
        });
        RegistryUrl { shown, credentials }
    }

    /// `host[:port]` of the registry: the key of auth files.
    pub fn host(&self) -> &str {
        let rest = self
            .shown
            .split_once("://")
            .map_or(self.shown.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// The registry `registry` without the credentials a URL may hold: what messages show.
pub fn redact_registry(registry: &str) -> String {
    RegistryUrl::parse(registry).shown
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied(), b.get(i + 2).copied()) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where credentials were found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An auth file (`--authfile`, `REGISTRY_AUTH_FILE`, containers' or docker's).
    File(PathBuf),
    /// A credential helper (`docker-credential-<name>`) named by a docker config file.
    Helper(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Helper(h) => write!(f, "docker-credential-{h}"),
        }
    }
}

/// Why an auth file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct AuthFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong (never its secrets).
    pub reason: String,
}

/// The auth files to read, in order: `authfile` (`--authfile`) or else `$REGISTRY_AUTH_FILE`;
/// then `$XDG_RUNTIME_DIR/containers/auth.json` (podman's and skopeo's), and
/// `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/…`); then `$DOCKER_CONFIG/config.json`,
/// or `~/.docker/config.json`. Only the first, when given, must exist.
pub fn auth_files(authfile: Option<&Path>) -> Vec<(PathBuf, bool)> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut files = Vec::new();
    if let Some(f) = authfile {
        files.push((f.to_path_buf(), true));
    } else if let Some(f) = env("REGISTRY_AUTH_FILE") {
        files.push((f, true));
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        files.push((d.join("containers/auth.json"), false));
    }
    // containers-auth.json(5)'s fallback before docker's file.
    if let Some(d) = env("XDG_CONFIG_HOME").or_else(|| env("HOME").map(|h| h.join(".config"))) {
        files.push((d.join("containers/auth.json"), false));
    }
    if let Some(d) = env("DOCKER_CONFIG") {
        files.push((d.join("config.json"), false));
    } else if let Some(h) = env("HOME") {
        files.push((h.join(".docker/config.json"), false));
    }
    files
}

/// The credentials for `host` (`host[:port]`) and repository `repo` (may be empty) from the
/// auth files of [`auth_files`], the first file that has an entry winning; `None` when none
/// has. A file named by `authfile` or `REGISTRY_AUTH_FILE` that cannot be read, or any file
/// that is not JSON, is an error.
pub fn lookup(
    host: &str,
    repo: &str,
    authfile: Option<&Path>,
) -> Result<Option<(Credentials, Source)>, AuthFileError> {
    for (path, required) in auth_files(authfile) {
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(AuthFileError {
                    path,
                    reason: format!("cannot read it: {e}"),
                })
            }
        };
        if let Some(found) = from_auth_file(&path, &text, host, repo)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AuthFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The credentials for `host` and `repo` in one auth file (`text`, read from `path`).
pub fn from_auth_file(
    path: &Path,
    text: &[u8],
    host: &str,
    repo: &str,
) -> Result<Option<(Credentials, Source)>, AuthFileError> {
    let err = |reason: String| AuthFileError {
        path: path.to_path_buf(),
        reason,
    };
    let f: AuthFile = serde_json::from_slice(text)
        // serde_json's message names a position, never the text.
        .map_err(|e| err(format!("not an auth file: {e}")))?;
    if let Some((key, entry)) = best_entry(&f.auths, host, repo) {
        let creds = decode_entry(entry).ok_or_else(|| {
            err(format!(
                "the entry {key:?} has no usable auth (base64 of user:password) or username and password"
            ))
        })?;
        return Ok(Some((creds, Source::File(path.to_path_buf()))));
    }
    let helper = f
        .cred_helpers
        .get(host)
        .or(f.creds_store.as_ref())
        .filter(|h| !h.is_empty());
    match helper {
        Some(h) => Ok(run_helper(h, host)
            .map_err(|reason| err(format!("docker-credential-{h}: {reason}")))?
            .map(|c| (c, Source::Helper(h.clone())))),
        None => Ok(None),
    }
}

/// The entry of `auths` for `host` and `repo`: keys `host/ns/…` that are a prefix of
/// `host/repo` (by path segments), the longest first, then `host`, `https://host`,
/// `http://host`, `https://host/v1/` (docker's forms).
fn best_entry<'a>(
    auths: &'a HashMap<String, AuthEntry>,
    host: &str,
    repo: &str,
) -> Option<(&'a str, &'a AuthEntry)> {
    let full = if repo.is_empty() {
        host.to_string()
    } else {
        format!("{host}/{}", repo.trim_matches('/'))
    };
    let mut best: Option<(usize, &str, &AuthEntry)> = None;
    for (key, entry) in auths {
        let bare = key
            .strip_prefix("https://")
            .or_else(|| key.strip_prefix("http://"));
        let rank = match bare {
            // A URL key: docker's, naming the host only (`https://host/v1/`).
            Some(b) => (b.split('/').next() == Some(host)).then_some(0),
            None => {
                let k = key.trim_end_matches('/');
                (k == full || full.starts_with(&format!("{k}/"))).then_some(k.len())
            }
        };
        if let Some(r) = rank {
            if best
                .as_ref()
                .is_none_or(|(b, bk, _)| r > *b || (r == *b && key.as_str() < *bk))
            {
                best = Some((r, key.as_str(), entry));
            }
        }
    }
    best.map(|(_, k, e)| (k, e))
}

fn decode_entry(e: &AuthEntry) -> Option<Credentials> {
    use base64::Engine;
    if let Some(a) = e.auth.as_deref().filter(|a| !a.is_empty()) {
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let raw = engine.decode(a.trim()).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (u, p) = text.split_once(':')?;
        return Some(Credentials::new(u, p));
    }
    match (&e.username, &e.password) {
        (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.clone())),
        _ => None,
    }
}

/// Runs `docker-credential-<helper> get` with `host` on its input: the credentials, `None`
/// when the helper has none for it.
fn run_helper(helper: &str, host: &str) -> Result<Option<Credentials>, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(host.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot run it: {e}"))?;
    if !out.status.success() {
        // "credentials not found in native keychain": no entry, not an error.
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let a: Answer = serde_json::from_slice(&out.stdout)
        .map_err(|_| "its answer is not the JSON of a credential".to_string())?;
    Ok(Some(Credentials::new(a.username, a.secret)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn b64(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn debug_and_display_never_show_the_password() {
        let c = Credentials::new("alice", "hunter2-secret");
        let shown = format!("{c:?} {} {:?}", c.password, Some(&c));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("alice") && shown.contains("<redacted>"),
            "{shown}"
        );
        let u = RegistryUrl::parse("http://alice:hunter2-secret@127.0.0.1:5000");
        assert!(!format!("{u:?}").contains("hunter2"));
    }

    #[test]
    fn credentials_in_a_url_are_taken_out_of_it() {
        let u = RegistryUrl::parse("http://alice:p%40ss%3Aword@127.0.0.1:5000/");
        assert_eq!(u.shown, "http://127.0.0.1:5000/");
        assert_eq!(u.host(), "127.0.0.1:5000");
        let c = u.credentials.unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.expose()),
            ("alice", "p@ss:word")
        );
        let bare = RegistryUrl::parse("bob:x@registry.example:5000");
        assert_eq!(bare.shown, "registry.example:5000");
        assert_eq!(bare.credentials.unwrap().user, "bob");
        let none = RegistryUrl::parse("https://registry.example");
        assert_eq!(none.shown, "https://registry.example");
        assert!(none.credentials.is_none());
        assert_eq!(redact_registry("http://a:b@h:1"), "http://h:1");
    }

    #[test]
    fn auth_file_keys_match_by_host_and_most_specific_namespace() {
        let text = format!(
            r#"{{"auths": {{
                "reg.example:5000": {{"auth": "{}"}},
                "reg.example:5000/team": {{"auth": "{}"}},
                "reg.example:5000/team/app": {{"auth": "{}"}},
                "https://docker.example/v1/": {{"auth": "{}"}},
                "other.example": {{"username": "u", "password": "p"}}
            }}}}"#,
            b64("host:1"),
            b64("team:2"),
            b64("app:3"),
            b64("docker:4")
        );
        let p = Path::new("auth.json");
        let get = |host: &str, repo: &str| {
            from_auth_file(p, text.as_bytes(), host, repo)
                .unwrap()
                .map(|(c, _)| c.user)
        };
        assert_eq!(
            get("reg.example:5000", "team/app/x").as_deref(),
            Some("app")
        );
        assert_eq!(get("reg.example:5000", "team/app").as_deref(), Some("app"));
        assert_eq!(
            get("reg.example:5000", "team/other").as_deref(),
            Some("team")
        );
        assert_eq!(get("reg.example:5000", "teamx/y").as_deref(), Some("host"));
        assert_eq!(get("reg.example:5000", "").as_deref(), Some("host"));
        assert_eq!(get("docker.example", "a/b").as_deref(), Some("docker"));
        assert_eq!(get("other.example", "").as_deref(), Some("u"));
        assert_eq!(
            get("reg.example", "team"),
            None,
            "the port is part of the key"
        );
        // Unpadded base64, as some tools write it.
        let unpadded = format!(
            r#"{{"auths": {{"h:1": {{"auth": "{}"}}}}}}"#,
            b64("ab:c").trim_end_matches('=')
        );
        let c = from_auth_file(p, unpadded.as_bytes(), "h:1", "")
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(c.password.expose(), "c");
    }

    #[test]
    fn a_broken_auth_file_is_named_without_its_secrets() {
        let p = Path::new("/x/auth.json");
        let e = from_auth_file(p, br#"{"auths": {"h:1": {"auth": "!!!"}}}"#, "h:1", "")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/x/auth.json: "), "{e}");
        let e = from_auth_file(p, b"{ not json secret", "h:1", "")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not an auth file") && !e.contains("secret"),
            "{e}"
        );
    }

    #[test]
    fn files_are_read_in_order_and_a_missing_authfile_is_an_error() {
        let dir = std::env::temp_dir().join(format!("isolution-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.json");
        std::fs::write(
            &f,
            format!(r#"{{"auths": {{"h:1": {{"auth": "{}"}}}}}}"#, b64("x:y")),
        )
        .unwrap();
        let (c, src) = lookup("h:1", "r", Some(&f)).unwrap().unwrap();
        assert_eq!(c.user, "x");
        assert_eq!(src, Source::File(f.clone()));
        assert!(lookup("h:1", "r", Some(&dir.join("missing.json"))).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
