//! `isolution push` and `import` against registries that ask for credentials, and against
//! servers that do not answer: Debian's `docker-registry` (distribution 2.8) with htpasswd
//! basic auth, and with token auth served by a token issuer started here (JWT RS256 signed
//! with a key made by the `openssl` CLI, granting exactly the scopes asked for). Credentials
//! from `--user`, the registry URL, and auth files written by `skopeo login`; a token that
//! expires in the middle of a push; wrong credentials; a registry that accepts connections
//! and never answers, one that answers a byte a second, one that refuses connections. No
//! password ever appears in what `isolution` prints.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::registry::{free_port, start_registry};
use common::token::{
    assert_failed_cleanly, assert_no_secret, b64, basic_registry, granted, isolate, mint, now,
    run_with_stdin, token_registry, PASSWORD, USER, WRONG,
};
use common::{json, skopeo, solution, tool, BIN};

/// `isolution push` of example-solution-1.0.2 to `registry` (plain http), `stdin` on its
/// input, with an environment of its own: HOME and XDG_RUNTIME_DIR in `home`, no
/// DOCKER_CONFIG or REGISTRY_AUTH_FILE unless `env` sets them.
fn push(registry: &str, home: &Path, extra: &[&str], env: &[(&str, &Path)], stdin: &str) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("push")
        .arg(solution("example-solution-1.0.2.iso"))
        .args(["--registry", registry, "--insecure", "--json"])
        .args(extra);
    isolate(&mut cmd, home, env);
    run_with_stdin(cmd, stdin)
}

fn images(r: &serde_json::Value) -> usize {
    r["images"].as_array().unwrap().len()
}

#[test]
fn basic_auth_with_user_and_password_stdin_and_from_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let Some(reg) = basic_registry(dir.path()) else {
        return;
    };
    let home = dir.path().join("home");
    // Anonymous: refused, and told how to give credentials.
    let out = push(&reg.addr, &home, &[], &[], "");
    assert_failed_cleanly(&out, &["401", "--user", "--authfile"]);
    // Wrong password: refused, the user named, the password nowhere.
    let user = ["--user", USER, "--password-stdin"];
    let out = push(&reg.addr, &home, &user, &[], &format!("{WRONG}\n"));
    assert_failed_cleanly(&out, &["refused the credentials", USER, &reg.addr]);
    // Right password.
    let out = push(&reg.addr, &home, &user, &[], &format!("{PASSWORD}\n"));
    assert_no_secret(&out);
    assert_eq!(images(&json(&out)), 3);
    // Credentials in the URL: used, and never printed (nor the user-info part).
    let url = format!("http://{USER}:{PASSWORD}@{}", reg.addr);
    let out = push(&url, &home, &["--prefix", "from-url"], &[], "");
    assert_no_secret(&out);
    let r = json(&out);
    assert_eq!(images(&r), 3);
    assert!(!r.to_string().contains('@') || !r.to_string().contains(&format!("{USER}:")));
    assert!(
        r["images"][0].as_str().unwrap().starts_with(&reg.addr),
        "{r}"
    );
    let bad = format!("http://{USER}:{WRONG}@{}", reg.addr);
    let out = push(&bad, &home, &["--prefix", "from-url"], &[], "");
    let err = assert_failed_cleanly(&out, &["refused the credentials"]);
    assert!(!err.contains(&format!("{USER}:")), "{err}");
}

#[test]
fn basic_auth_credentials_from_auth_files_for_push_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let Some(reg) = basic_registry(dir.path()) else {
        return;
    };
    let home = dir.path().join("home");
    let auth = b64::encode(format!("{USER}:{PASSWORD}").as_bytes());
    // docker's config.json, its key a URL, in $DOCKER_CONFIG.
    let docker = dir.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths": {{"https://{}": {{"auth": "{auth}"}}}}}}"#,
            reg.addr
        ),
    )
    .unwrap();
    let out = push(&reg.addr, &home, &[], &[("DOCKER_CONFIG", &docker)], "");
    assert_no_secret(&out);
    assert_eq!(images(&json(&out)), 3);
    // podman's auth.json in $XDG_RUNTIME_DIR/containers, a key for the namespace.
    let xdg = home.join("run/containers");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(
        xdg.join("auth.json"),
        format!(
            r#"{{"auths": {{"{0}/podman-ns": {{"auth": "{auth}"}}, "{0}": {{"auth": "{1}"}}}}}}"#,
            reg.addr,
            b64::encode(format!("{USER}:{WRONG}").as_bytes())
        ),
    )
    .unwrap();
    let out = push(&reg.addr, &home, &["--prefix", "podman-ns/x"], &[], "");
    assert_no_secret(&out);
    assert_eq!(images(&json(&out)), 3, "the namespace's entry wins");
    let out = push(&reg.addr, &home, &["--prefix", "elsewhere"], &[], "");
    assert_failed_cleanly(&out, &["refused the credentials"]);
    std::fs::remove_file(xdg.join("auth.json")).unwrap();
    // import, with --authfile.
    let authfile = dir.path().join("auth.json");
    std::fs::write(
        &authfile,
        format!(r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#, reg.addr),
    )
    .unwrap();
    let config = dir.path().join("solutions.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: SolutionsConfiguration\narchives:\n  - \"{}\"\nactive: {{}}\n",
            solution("example-solution-1.0.10.iso").canonicalize().unwrap().display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("import")
        .arg(&config)
        .args([
            "--registry",
            &reg.addr,
            "--insecure",
            "--json",
            "--no-digests",
        ])
        .arg("--authfile")
        .arg(&authfile);
    isolate(&mut cmd, &home, &[]);
    let out = run_with_stdin(cmd, "");
    assert_no_secret(&out);
    let r = json(&out);
    assert_eq!(r["archives"][0]["status"], "pushed", "{r}");
    // import without credentials: the archive is refused, the reason says why.
    let mut cmd = Command::new(BIN);
    cmd.arg("import").arg(&config).args([
        "--registry",
        &reg.addr,
        "--insecure",
        "--json",
        "--no-digests",
    ]);
    isolate(&mut cmd, &home, &[]);
    let out = run_with_stdin(cmd, "");
    assert_no_secret(&out);
    assert_ne!(out.status.code(), Some(0));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("401"), "{text}");
}

#[test]
fn token_auth_gets_a_token_per_repository_and_mounts_with_the_source_scope() {
    let dir = tempfile::tempdir().unwrap();
    let Some((reg, issuer)) = token_registry(dir.path()) else {
        return;
    };
    let home = dir.path().join("home");
    let user = ["--user", USER, "--password-stdin", "--concurrency", "4"];
    let out = push(&reg.addr, &home, &user, &[], &format!("{PASSWORD}\n"));
    assert_no_secret(&out);
    let r = json(&out);
    assert_eq!(images(&r), 3, "{r}");
    assert!(r["mounted"].as_u64().unwrap() >= 1, "a mount: {r}");
    let scopes = granted(&issuer);
    let repo = |name: &str| format!("repository:example-solution-1.0.2/{name}:pull,push");
    for name in ["base-server", "example-solution-operator"] {
        assert!(
            scopes.iter().any(|s| s == &[repo(name)]),
            "a token for {name} alone: {scopes:?}"
        );
    }
    // The mount's token: push on the target, pull on the source.
    assert!(
        scopes.iter().any(|s| s.len() == 2
            && s.iter().filter(|x| x.ends_with(":pull,push")).count() == 1
            && s.iter().filter(|x| x.ends_with(":pull")).count() == 1),
        "{scopes:?}"
    );
    // One token per scope: cached, not fetched per request.
    assert!(scopes.len() <= 6, "{scopes:?}");
    if tool("skopeo") {
        skopeo(&[
            "inspect",
            "--tls-verify=false",
            "--creds",
            &format!("{USER}:{PASSWORD}"),
            &format!(
                "docker://{}/example-solution-1.0.2/base-server:1.0.2",
                reg.addr
            ),
        ]);
    }
    // Wrong password: the token service refuses; one line, no secret.
    let wrong = ["--user", USER, "--password-stdin"];
    let out = push(&reg.addr, &home, &wrong, &[], &format!("{WRONG}\n"));
    assert_failed_cleanly(&out, &["token service refused", USER]);
    // No credentials: anonymous token requests, refused.
    let before = issuer.requests.lock().unwrap().len();
    let out = push(&reg.addr, &home, &[], &[], "");
    assert_failed_cleanly(&out, &["anonymous"]);
    assert!(issuer.requests.lock().unwrap().len() > before);
}

#[test]
fn token_auth_with_credentials_from_skopeo_login() {
    let dir = tempfile::tempdir().unwrap();
    if !tool("skopeo") {
        return;
    }
    let Some((reg, _issuer)) = token_registry(dir.path()) else {
        return;
    };
    let home = dir.path().join("home");
    let authfile = dir.path().join("login/auth.json");
    let mut login = Command::new("skopeo");
    login
        .args(["login", "--tls-verify=false", "--authfile"])
        .arg(&authfile)
        .args(["--username", USER, "--password-stdin", &reg.addr]);
    isolate(&mut login, &home, &[]);
    let out = run_with_stdin(login, PASSWORD);
    assert!(
        out.status.success(),
        "skopeo login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let via_flag = ["--authfile", authfile.to_str().unwrap()];
    let out = push(&reg.addr, &home, &via_flag, &[], "");
    assert_no_secret(&out);
    assert_eq!(images(&json(&out)), 3);
    let out = push(
        &reg.addr,
        &home,
        &["--prefix", "via-env"],
        &[("REGISTRY_AUTH_FILE", &authfile)],
        "",
    );
    assert_no_secret(&out);
    assert_eq!(images(&json(&out)), 3);
    // A missing --authfile is an error that names it.
    let missing = dir.path().join("nowhere.json");
    let out = push(
        &reg.addr,
        &home,
        &["--authfile", missing.to_str().unwrap()],
        &[],
        "",
    );
    assert_failed_cleanly(&out, &["nowhere.json"]);
}

/// A TCP proxy that holds the bytes going to the registry for `stall` once `after` bytes
/// went through, then clears `short` (tokens from then on are long-lived).
fn stalling_proxy(
    upstream: String,
    after: usize,
    stall: Duration,
    short: Arc<AtomicBool>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let sent = Arc::new(AtomicUsize::new(0));
    let stalled = Arc::new(Mutex::new(false));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let Ok(mut server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
            let (sent, stalled, short) = (sent.clone(), stalled.clone(), short.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    let n = match client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if sent.fetch_add(n, Ordering::SeqCst) + n > after {
                        let mut done = stalled.lock().unwrap();
                        if !*done {
                            std::thread::sleep(stall);
                            short.store(false, Ordering::SeqCst);
                            *done = true;
                        }
                    }
                    if server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = server.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

#[test]
fn a_token_that_expires_mid_push_is_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let Some((reg, issuer)) = token_registry(dir.path()) else {
        return;
    };
    // Tokens valid about 2 s though announced for an hour; the proxy holds a request 4 s
    // once the push is under way: the tokens in hand have expired when it goes on.
    // Distribution may allow 60 s of leeway past `exp`: probe it with a token 30 s past.
    let past = mint(&issuer.key, &issuer.x5c, Vec::new(), now() - 30).unwrap();
    let mut c = TcpStream::connect(&reg.addr).unwrap();
    write!(
        c,
        "GET /v2/ HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {past}\r\nConnection: close\r\n\r\n",
        reg.addr
    )
    .unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    let leeway = answer.starts_with("HTTP/1.1 200");
    eprintln!("registry leeway past exp: {leeway}");
    issuer
        .short_exp
        .store(if leeway { -58 } else { 2 }, Ordering::SeqCst);
    issuer.short.store(true, Ordering::SeqCst);
    let proxy = stalling_proxy(
        reg.addr.clone(),
        6000,
        Duration::from_secs(4),
        issuer.short.clone(),
    );
    let home = dir.path().join("home");
    let user = ["--user", USER, "--password-stdin", "--chunk-size", "512"];
    let out = push(&proxy, &home, &user, &[], &format!("{PASSWORD}\n"));
    assert_no_secret(&out);
    let r = json(&out);
    assert_eq!(images(&r), 3, "{r}");
    assert!(!issuer.short.load(Ordering::SeqCst), "the proxy stalled");
    let scopes = granted(&issuer);
    let mut per_scope: HashMap<&Vec<String>, usize> = HashMap::new();
    for s in &scopes {
        *per_scope.entry(s).or_default() += 1;
    }
    assert!(
        per_scope.values().any(|&n| n >= 2),
        "a refused token was fetched again: {scopes:?}"
    );
}

#[test]
fn a_registry_that_never_answers_times_out_with_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c); // accepted, never answered
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let out = push(&addr, dir.path(), &["--read-timeout", "2"], &[], "");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert_failed_cleanly(
        &out,
        &[
            "timed out after 2 s waiting for the registry",
            "--read-timeout",
            &addr,
        ],
    );
}

#[test]
fn a_registry_answering_a_byte_a_second_hits_the_request_budget() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut c = c;
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                for b in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n" {
                    if c.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let out = push(
        &addr,
        dir.path(),
        &["--read-timeout", "5", "--timeout", "3"],
        &[],
        "",
    );
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert_failed_cleanly(&out, &["no complete answer within 3 s", "--timeout"]);
}

#[test]
fn a_refused_connection_says_refused() {
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let out = push(&addr, dir.path(), &[], &[], "");
    assert_failed_cleanly(&out, &["connection refused", &addr]);
    // Credentials in the URL of an unreachable registry are not printed either.
    let url = format!("http://{USER}:{PASSWORD}@{addr}");
    let out = push(&url, dir.path(), &[], &[], "");
    let err = assert_failed_cleanly(&out, &["connection refused"]);
    assert!(!err.contains(USER), "{err}");
}

/// A TCP proxy to `upstream` that answers the first `busy` connections itself, with `status`
/// and `Retry-After: retry_after`, then forwards the others.
fn busy_proxy(
    upstream: String,
    busy: usize,
    status: &'static str,
    retry_after: &'static str,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut client) = conn else { continue };
            if i < busy {
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match client.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = write!(
                        client,
                        "HTTP/1.1 {status}\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                });
                continue;
            }
            let Ok(mut server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client, &mut server);
                let _ = server.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

#[test]
fn retry_after_is_honoured_within_the_request_budget() {
    let dir = tempfile::tempdir().unwrap();
    let Some(reg) = start_registry(dir.path(), free_port(), None) else {
        return;
    };
    let home = dir.path().join("home");
    // One 429 asking for 2 s: waited for, then the push completes.
    let proxy = busy_proxy(reg.addr.clone(), 1, "429 Too Many Requests", "2");
    let t = Instant::now();
    let r = json(&push(&proxy, &home, &["--concurrency", "1"], &[], ""));
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(images(&r), 3);
    // 503s asking for more than the budget allows: the answer is the error, at once.
    let proxy = busy_proxy(
        reg.addr.clone(),
        usize::MAX,
        "503 Service Unavailable",
        "3600",
    );
    let t = Instant::now();
    let out = push(&proxy, &home, &["--timeout", "5"], &[], "");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_failed_cleanly(&out, &["503"]);
}
