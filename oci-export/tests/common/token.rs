//! A registry asking for credentials, for the push and pack tests: Debian's
//! `docker-registry` with htpasswd basic auth ([`basic_registry`]) or with token auth served by
//! a token issuer started here ([`token_registry`]: distribution's token spec, JWT RS256
//! signed with a key made by the `openssl` CLI, granting exactly the scopes asked for); and
//! the check that a refusal printed no secret.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::pack::{ok, s};
use super::registry::{free_port, start_registry, Registry};
use super::{show, tools};

#[path = "../../../tests/common/b64.rs"]
pub mod b64;

/// Each token request: its scopes, and whether it was answered with a token.
pub type Requests = Arc<Mutex<Vec<(Vec<String>, bool)>>>;

/// The user the registries know.
pub const USER: &str = "alice";
/// USER's password.
pub const PASSWORD: &str = "Pa55-w0rd-XYZZY";
/// A wrong password.
pub const WRONG: &str = "Wr0ng-pa55-QUUX";
/// The registry's name in its token auth config.
pub const SERVICE: &str = "isolution-test-registry";
/// The issuer's name in its tokens.
pub const ISSUER: &str = "isolution-test-issuer";

/// A registry with htpasswd basic auth (USER, PASSWORD).
pub fn basic_registry(root: &Path) -> Option<Registry> {
    if !tools(&["docker-registry", "htpasswd"]) {
        return None;
    }
    let out = ok("htpasswd", &["-Bbn", USER, PASSWORD]);
    let file = root.join("htpasswd");
    std::fs::write(&file, &out.stdout).unwrap();
    start_registry(
        root,
        free_port(),
        Some(&format!(
            "  htpasswd:\n    realm: basic-realm\n    path: {}\n",
            file.display()
        )),
    )
}

/// A key and self-signed certificate made by the openssl CLI: the issuer signs with the key,
/// the registry trusts the certificate.
pub struct Keys {
    /// The private key, PEM.
    pub key: PathBuf,
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// The certificate, DER, base64 (the JWT header's `x5c`).
    pub x5c: String,
}

/// A [`Keys`] in `dir`.
pub fn keys(dir: &Path) -> Keys {
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    ok(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=isolution-test-issuer",
            "-keyout",
            s(&key),
            "-out",
            s(&cert),
        ],
    );
    let der = ok("openssl", &["x509", "-outform", "DER", "-in", s(&cert)]);
    Keys {
        key,
        cert,
        x5c: b64::encode(&der.stdout),
    }
}

/// Unpadded base64url.
pub fn b64url(b: &[u8]) -> String {
    b64::encode(b)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token issuer (distribution's token spec) on 127.0.0.1: checks USER/PASSWORD (anonymous
/// requests are refused), grants exactly the scopes asked for, signs RS256 JWTs with
/// `openssl dgst`.
pub struct Issuer {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// Each token request: its scopes, and whether it was answered with a token.
    pub requests: Requests,
    /// While set, tokens are issued already expired but for the registry's 60 s leeway
    /// (valid about 2 s), while `expires_in` says an hour.
    pub short: Arc<AtomicBool>,
    /// `exp` of those tokens, from the time they are issued.
    pub short_exp: Arc<AtomicI64>,
    /// The signing key.
    pub key: PathBuf,
    /// The certificate, DER, base64.
    pub x5c: String,
}

/// Starts an [`Issuer`] signing with `keys`.
pub fn start_issuer(keys: &Keys) -> Issuer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let short = Arc::new(AtomicBool::new(false));
    let (reqs, sh) = (requests.clone(), short.clone());
    let (key, x5c) = (keys.key.clone(), keys.x5c.clone());
    let short_exp = Arc::new(AtomicI64::new(0));
    let se = short_exp.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (reqs, sh, key, x5c, se) = (
                reqs.clone(),
                sh.clone(),
                key.clone(),
                x5c.clone(),
                se.clone(),
            );
            std::thread::spawn(move || {
                let _ = issue(conn, &reqs, &sh, &key, &x5c, &se);
            });
        }
    });
    Issuer {
        addr,
        requests,
        short,
        short_exp,
        key: keys.key.clone(),
        x5c: keys.x5c.clone(),
    }
}

/// A query string component decoded (`%XX`, `+` for a space).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Answers one token request on `conn`.
pub fn issue(
    mut conn: TcpStream,
    reqs: &Mutex<Vec<(Vec<String>, bool)>>,
    short: &AtomicBool,
    key: &Path,
    x5c: &str,
    short_exp: &AtomicI64,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut params: Vec<(String, String)> = Vec::new();
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        params.push((percent_decode(k), percent_decode(v)));
    }
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
        .collect();
    let expected = format!(
        "basic {}",
        b64::encode(format!("{USER}:{PASSWORD}").as_bytes())
    );
    let authorized = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("authorization:")
            && l["authorization:".len()..]
                .trim()
                .eq_ignore_ascii_case(&expected)
    });
    let service_ok = params.iter().any(|(k, v)| k == "service" && v == SERVICE);
    reqs.lock()
        .unwrap()
        .push((scopes.clone(), authorized && service_ok));
    if !(authorized && service_ok) {
        let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
        return write!(
            conn,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let (resource, actions) = s.rsplit_once(':')?;
            let (kind, name) = resource.split_once(':')?;
            Some(serde_json::json!({
                "type": kind, "name": name,
                "actions": actions.split(',').collect::<Vec<_>>(),
            }))
        })
        .collect();
    let t = now();
    let exp = if short.load(Ordering::SeqCst) {
        t + short_exp.load(Ordering::SeqCst)
    } else {
        t + 300
    };
    let token = mint(key, x5c, access, exp)?;
    let body = serde_json::json!({"token": token, "expires_in": 3600}).to_string();
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A JWT for USER granting `access` until `exp`, signed with `key`.
pub fn mint(
    key: &Path,
    x5c: &str,
    access: Vec<serde_json::Value>,
    exp: i64,
) -> std::io::Result<String> {
    static JTI: AtomicUsize = AtomicUsize::new(0);
    let t = now();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": USER, "aud": SERVICE, "exp": exp, "nbf": t - 10, "iat": t,
        "jti": format!("t{}", JTI.fetch_add(1, Ordering::SeqCst)), "access": access,
    });
    let signing = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child.stdin.take().unwrap().write_all(signing.as_bytes())?;
    let sig = child.wait_with_output()?.stdout;
    Ok(format!("{signing}.{}", b64url(&sig)))
}

/// A registry with token auth, and its issuer.
pub fn token_registry(root: &Path) -> Option<(Registry, Issuer)> {
    if !tools(&["docker-registry", "openssl"]) {
        return None;
    }
    let k = keys(root);
    let issuer = start_issuer(&k);
    let reg = start_registry(
        root,
        free_port(),
        Some(&format!(
            "  token:\n    realm: http://{}/token\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            issuer.addr,
            k.cert.display()
        )),
    )?;
    Some((reg, issuer))
}

/// The scopes of the token requests that got a token.
pub fn granted(issuer: &Issuer) -> Vec<Vec<String>> {
    issuer
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(s, _)| s.clone())
        .collect()
}

/// Gives `cmd` an environment of its own: HOME and XDG_RUNTIME_DIR in `home`, no
/// DOCKER_CONFIG, REGISTRY_AUTH_FILE or XDG_CONFIG_HOME unless `env` sets them.
pub fn isolate(cmd: &mut Command, home: &Path, env: &[(&str, &Path)]) {
    std::fs::create_dir_all(home.join("run")).unwrap();
    cmd.env("HOME", home)
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_CONFIG_HOME");
    for (k, v) in env {
        cmd.env(k, v);
    }
}

/// Runs `cmd` with `stdin` on its input; what it printed.
pub fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// Asserts `out` failed with exit 2 and one line on stderr (a trailing newline) starting
/// `isolution: ` and holding every one of `needles`, no secret anywhere; returns the line.
#[track_caller]
pub fn assert_failed_cleanly(out: &Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{}", show(out));
    assert!(
        err.ends_with('\n') && err.trim_end().lines().count() == 1,
        "not one line: {err:?}"
    );
    assert!(err.starts_with("isolution: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
    assert_no_secret(out);
    eprintln!("(as expected) {}", err.trim_end());
    err
}

/// Neither password, nor the basic credentials, nor a token (`eyJ...`) in what `out`
/// printed.
#[track_caller]
pub fn assert_no_secret(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in [PASSWORD, WRONG] {
            assert!(!text.contains(secret), "a password was printed: {text}");
        }
        let basic = b64::encode(format!("{USER}:{PASSWORD}").as_bytes());
        assert!(!text.contains(&basic), "basic credentials printed: {text}");
        assert!(!text.contains("eyJ"), "a token was printed: {text}");
    }
}
