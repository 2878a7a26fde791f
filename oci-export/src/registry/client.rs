//! Push a Solution's images to a registry (distribution-spec push API), straight from the
//! mapped ISO.
//!
//! Per blob: `HEAD` first (already there: nothing sent); a cross-repository mount when this run
//! already pushed the blob to another repository; otherwise `POST` then a monolithic `PUT`, or
//! `PATCH` chunks then `PUT` for blobs over the chunk size. Then the manifest is `PUT` with its
//! exact bytes and media type (so its digest is unchanged, and checked against the registry's
//! `Docker-Content-Digest`). Requests run with bounded concurrency and are retried with backoff
//! on 5xx answers and connection errors, after the `Retry-After` of a 429 or 503; a re-run
//! skips what is there.
//!
//! Authentication as registries ask for it (see [`super::auth`]): a `Basic` challenge is
//! answered with the credentials; a `Bearer` one with a token from its realm (anonymous
//! without credentials), asked for the scope of each request (`repository:<repo>:pull,push`,
//! and `repository:<from>:pull` for a mount), cached per scope until it expires, dropped and
//! fetched again when the registry refuses it. Connect, idle-read and per-request time limits
//! ([`PushOptions`]); every connection error names its cause. Secrets never reach a message:
//! credentials written in the registry URL are taken out of it.
//!
//! Pulling ([`PullClient`], for `pack --image docker://...`) goes through the same client and
//! authentication with the `pull` scope: a manifest by tag or digest with the `Accept` of
//! Docker v2 schema 2, Docker lists, OCI manifests and indexes, read up to a bound; a blob's
//! answer streamed (redirects followed, credentials not sent to another host).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::stream::{self, TryStreamExt};
use iso_core::digest::Digest;
use iso_core::solution::{ContainerImage, Solution};
use iso_core::IsoFile;
use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};

use super::auth::{self, Challenge, Scope, TokenCache};
use super::credentials::{redact_registry, RegistryUrl};
pub use super::credentials::{Credentials, Secret};
use crate::export::layout::Progress;
use crate::export::select::{label, new_blobs, unfit, Needed, Unfit};
use crate::registry::mapped::{digest_mismatch, MapSlice};
use crate::Stopped;

/// How to push.
#[derive(Clone)]
pub struct PushOptions {
    /// Registry base URL (`http://127.0.0.1:5000`, `https://registry.example`); a bare
    /// `host:port` means https, or http with `insecure`. Credentials written in it
    /// (`http://alice:secret@host`) are used when `credentials` is `None`, and never shown.
    pub registry: String,
    /// Repository prefix; default `<name>-<version>` (the repository MetalK8s exposes).
    pub prefix: Option<String>,
    /// Use plain HTTP for a bare `host:port`, and accept invalid TLS certificates.
    pub insecure: bool,
    /// Credentials: sent when the registry asks for `Basic`, and to its token service for a
    /// `Bearer` challenge (without them, tokens are asked for anonymously).
    pub credentials: Option<Credentials>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Blobs larger than this are sent in chunks of this size.
    pub chunk_size: usize,
    /// Attempts per request on 5xx, 429 and connection errors (not on time-outs).
    pub attempts: u32,
    /// Time to establish a connection (TCP and TLS); default 10 s.
    pub connect_timeout: Duration,
    /// Longest silence while waiting for an answer or reading it; default 60 s.
    pub read_timeout: Duration,
    /// Budget of one request, its retries and `Retry-After` waits included; default 10 min.
    pub timeout: Duration,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            registry: String::new(),
            prefix: None,
            insecure: false,
            credentials: None,
            concurrency: 4,
            chunk_size: 64 << 20,
            attempts: 4,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            timeout: Duration::from_secs(600),
        }
    }
}

impl PushOptions {
    /// The registry as it may be shown: without the credentials its URL may hold.
    pub fn registry_shown(&self) -> String {
        redact_registry(&self.registry)
    }
}

/// Secrets redacted: the registry URL's credentials and the password.
impl fmt::Debug for PushOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushOptions")
            .field("registry", &self.registry_shown())
            .field("prefix", &self.prefix)
            .field("insecure", &self.insecure)
            .field("credentials", &self.credentials)
            .field("concurrency", &self.concurrency)
            .field("chunk_size", &self.chunk_size)
            .field("attempts", &self.attempts)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why a push stopped. No message holds a password or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The ISO could not be read.
    #[error(transparent)]
    Image(#[from] iso_core::Error),
    /// The registry answered with an error (status and body kept).
    #[error("{method} {url}: {status}: {body}")]
    Registry {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The registry's answer (its JSON errors).
        body: String,
    },
    /// The registry could not be reached (after retries), or did not answer in time.
    #[error("{method} {url}: {error}")]
    Transport {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// The cause: `connection refused`, `connection reset by the registry`, a TLS error,
        /// `timed out after 60 s waiting for the registry (--read-timeout)`…
        error: String,
    },
    /// The registry or its token service refused access (401, 403): missing or wrong
    /// credentials, or a token without the access asked for.
    #[error("{method} {url}: {reason}")]
    Auth {
        /// Method.
        method: String,
        /// URL (the registry's, or the token service's).
        url: String,
        /// HTTP status (401, 403).
        status: u16,
        /// What was refused, and what to do.
        reason: String,
    },
    /// Something else: a missing blob, a digest the registry disagrees with, an unsupported
    /// image kind.
    #[error("{0}")]
    Other(String),
    /// A blob of the archive whose bytes do not have its digest: refused before any of its
    /// bytes were sent (the bytes a push sends always carry a digest it checked).
    #[error("{repo}: blob {digest} is corrupt in the archive: its bytes have {actual}; nothing of it was sent")]
    Corrupt {
        /// The repository it was to go to.
        repo: String,
        /// The digest it is named by.
        digest: String,
        /// The digest of its bytes (or why it could not be computed).
        actual: String,
    },
    /// The progress callback asked to stop ([`ControlFlow::Break`]): built from
    /// [`crate::Stopped`], as [`crate::export::ExportError::Stopped`] is.
    #[error("push {}", crate::Stopped)]
    Stopped,
}

impl From<Stopped> for PushError {
    fn from(_: Stopped) -> Self {
        PushError::Stopped
    }
}

/// What a push did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PushReport {
    /// `<registry>/<repo>:<tag>@<digest>` pushed.
    pub images: Vec<String>,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Blobs already in the registry (nothing sent).
    pub present: usize,
    /// Blobs mounted from another repository.
    pub mounted: usize,
    /// Bytes uploaded.
    pub bytes: u64,
}

/// A request body that can be sent again (after a 401, a 5xx): one buffer, or the parts of
/// a blob as they lie in the mapped ISO, streamed without being copied together.
#[derive(Clone)]
enum Body {
    None,
    One(Bytes),
    Parts(Vec<Bytes>),
}

impl Body {
    fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Body::None => req,
            Body::One(b) => req.header(CONTENT_LENGTH, b.len()).body(b.clone()),
            Body::Parts(parts) => {
                let len: usize = parts.iter().map(Bytes::len).sum();
                let s = stream::iter(parts.clone().into_iter().map(Ok::<_, std::io::Error>));
                req.header(CONTENT_LENGTH, len)
                    .body(reqwest::Body::wrap_stream(s))
            }
        }
    }
}

/// The bytes `pos..end` of a blob made of `parts`, as slices of them.
fn slice_parts(parts: &[Bytes], pos: usize, end: usize) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut at = 0;
    for p in parts {
        let (start, stop) = (at, at + p.len());
        at = stop;
        if stop <= pos || start >= end {
            continue;
        }
        out.push(p.slice(pos.max(start) - start..end.min(stop) - start));
    }
    out
}

/// The bearer realm learnt from the registry's challenge.
#[derive(Clone)]
struct Realm {
    realm: String,
    service: Option<String>,
}

struct Client {
    http: reqwest::Client,
    /// Base URL, without credentials.
    base: String,
    creds: Option<Credentials>,
    tokens: TokenCache,
    realm: Mutex<Option<Realm>>,
    /// The registry asked for `Basic`: credentials go with every request.
    basic: AtomicBool,
    attempts: u32,
    connect_timeout: Duration,
    read_timeout: Duration,
    budget: Duration,
}

/// `2 s`, `0.5 s`.
fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Whether an answer may be worth another try.
fn retryable(s: StatusCode) -> bool {
    s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS
}

impl Client {
    /// One request, retried on 5xx, 429 and connection errors. On a 401 the challenge is
    /// answered and the request sent again: once when it went without credentials, and once
    /// when the registry refused its token (dropped, and a new one fetched: it expired, or
    /// was revoked). `scope` is the access it needs.
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Body,
        scope: &Scope,
    ) -> Result<reqwest::Response, PushError> {
        self.send_n(method, url, headers, body, scope, self.attempts)
            .await
    }

    /// `GET url` for `scope` ([`Client::send`]): the answer when it is a success, else the
    /// error naming its status and the registry's reason.
    async fn get(
        &self,
        url: &str,
        headers: HeaderMap,
        scope: &Scope,
    ) -> Result<reqwest::Response, PushError> {
        let r = self
            .send(Method::GET, url, headers, Body::None, scope)
            .await?;
        if !r.status().is_success() {
            return Err(fail("GET", r).await);
        }
        Ok(r)
    }

    /// [`Client::send`] with at most `attempts` tries (1: no retry, still re-authenticated).
    async fn send_n(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Body,
        scope: &Scope,
        attempts: u32,
    ) -> Result<reqwest::Response, PushError> {
        let deadline = Instant::now() + self.budget;
        // Answered a challenge to a request sent without credentials; fetched a new token
        // after the registry refused one: each once.
        let (mut challenged, mut refreshed) = (false, false);
        loop {
            let (auth, token) = self.authorization(scope, deadline).await?;
            let r = self
                .retrying(&method, url, attempts, deadline, || {
                    let mut req = self
                        .http
                        .request(method.clone(), url)
                        .headers(headers.clone());
                    if let Some(a) = &auth {
                        req = req.header(AUTHORIZATION, a.clone());
                    }
                    body.apply(req)
                })
                .await?;
            if r.status() != StatusCode::UNAUTHORIZED {
                return Ok(r);
            }
            match (&auth, &token) {
                (_, Some(t)) if !refreshed => {
                    refreshed = true;
                    self.tokens.drop_token(scope, t);
                }
                (None, None) if !challenged => challenged = true,
                _ => return Err(self.refused(&method, url, token.is_some())),
            }
            self.answer(&method, &r, scope, deadline).await?;
        }
    }

    /// Sends what `make` builds until it gets an answer that is not worth another try, at
    /// most `attempts` times and within `deadline`: 5xx and 429 answers (after their
    /// `Retry-After`, when it fits in the budget) and connection errors are retried with
    /// backoff; time-outs are not (a registry that does not answer in time is stuck).
    async fn retrying(
        &self,
        method: &Method,
        url: &str,
        attempts: u32,
        deadline: Instant,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, PushError> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.transport(
                    method,
                    url,
                    format!("no answer within {} (--timeout)", secs(self.budget)),
                ));
            }
            let sent = Instant::now();
            let wait = match make().timeout(left).send().await {
                Ok(r) if retryable(r.status()) && attempt < attempts => {
                    let asked = r
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| auth::retry_after(v, SystemTime::now()));
                    match asked {
                        // Longer than the budget allows: the answer is the error.
                        Some(w) if Instant::now() + w >= deadline => return Ok(r),
                        Some(w) => w,
                        None => delay,
                    }
                }
                Ok(r) => return Ok(r),
                Err(e) if !e.is_timeout() && attempt < attempts => delay,
                Err(e) => {
                    return Err(self.transport(
                        method,
                        url,
                        self.describe(&e, sent.elapsed(), left),
                    ))
                }
            };
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(wait.min(left)).await;
            delay *= 2;
        }
    }

    fn transport(&self, method: &Method, url: &str, error: String) -> PushError {
        PushError::Transport {
            method: method.to_string(),
            url: url.to_string(),
            error,
        }
    }

    /// One line naming the cause of a reqwest error, from its `source()` chain: the I/O
    /// error's kind, a TLS error, or which time limit was hit.
    fn describe(&self, e: &reqwest::Error, elapsed: Duration, limit: Duration) -> String {
        use std::error::Error as _;
        if e.is_timeout() {
            return if e.is_connect() {
                format!(
                    "could not connect within {} (--connect-timeout)",
                    secs(self.connect_timeout)
                )
            } else if elapsed + Duration::from_millis(100) >= limit {
                format!(
                    "no complete answer within {} (--timeout)",
                    secs(self.budget)
                )
            } else {
                format!(
                    "timed out after {} waiting for the registry (--read-timeout)",
                    secs(self.read_timeout)
                )
            };
        }
        let mut chain: Vec<String> = Vec::new();
        let mut io_kind = None;
        let mut cur = e.source();
        while let Some(c) = cur {
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                io_kind.get_or_insert(io.kind());
            }
            let m = c.to_string();
            if !chain.iter().any(|x| x.contains(&m)) {
                chain.push(m);
            }
            cur = c.source();
        }
        use std::io::ErrorKind as K;
        let known = io_kind.and_then(|k| match k {
            K::ConnectionRefused => Some("connection refused"),
            K::ConnectionReset => Some("connection reset by the registry"),
            K::ConnectionAborted => Some("connection aborted"),
            K::BrokenPipe => Some("the registry closed the connection while the request was sent"),
            K::UnexpectedEof => Some("the registry closed the connection"),
            K::TimedOut => Some("timed out"),
            _ => None,
        });
        let deepest = chain.last().cloned().unwrap_or_else(|| {
            if e.is_body() {
                "error sending the request body".into()
            } else {
                "unknown error".into()
            }
        });
        let lower = chain.join(" ").to_lowercase();
        let tls = [
            "certificate",
            "tls",
            "handshake",
            "corrupt message",
            "rustls",
        ]
        .iter()
        .any(|w| lower.contains(w));
        match known {
            Some(k) => k.to_string(),
            None if tls => format!(
                "TLS error: {deepest} (does the registry speak https with a certificate this host trusts? --insecure accepts any certificate, and plain http for host:port)"
            ),
            None if e.is_connect() => format!("cannot connect: {deepest}"),
            None => deepest,
        }
    }

    /// The `Authorization` of a request needing `scope`: a cached token, else one fetched
    /// from the realm already learnt, else basic credentials once the registry asked for
    /// them, else nothing. The token is returned too, to drop it if refused.
    async fn authorization(
        &self,
        scope: &Scope,
        deadline: Instant,
    ) -> Result<(Option<HeaderValue>, Option<Secret>), PushError> {
        let token = match self.tokens.get(scope) {
            Some(t) => Some(t),
            None => {
                let realm = self.realm.lock().ok().and_then(|r| r.clone());
                match realm {
                    Some(r) => Some(self.fetch_token(&r, scope, scope, deadline).await?),
                    None => None,
                }
            }
        };
        if let Some(t) = token {
            let mut h = HeaderValue::from_str(&format!("Bearer {}", t.expose()))
                .map_err(|_| PushError::Other("the token service sent an unusable token".into()))?;
            h.set_sensitive(true);
            return Ok((Some(h), Some(t)));
        }
        if self.basic.load(Ordering::Relaxed) {
            if let Some(c) = &self.creds {
                let mut h = HeaderValue::from_str(&c.basic()).map_err(|_| {
                    PushError::Other(
                        "the user name or password holds characters HTTP headers cannot carry"
                            .into(),
                    )
                })?;
                h.set_sensitive(true);
                return Ok((Some(h), None));
            }
        }
        Ok((None, None))
    }

    /// Answers the challenge of 401 answer `r` to a request needing `scope`: learns the
    /// bearer realm and fetches a token (for our scope and the one the challenge names), or
    /// switches to basic credentials.
    async fn answer(
        &self,
        method: &Method,
        r: &reqwest::Response,
        scope: &Scope,
        deadline: Instant,
    ) -> Result<(), PushError> {
        let url = r.url().to_string();
        let auth_err = |reason: String| PushError::Auth {
            method: method.to_string(),
            url: url.clone(),
            status: 401,
            reason,
        };
        let challenges = auth::parse_challenges(
            r.headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        )
        .map_err(&auth_err)?;
        match challenges.into_iter().next() {
            Some(Challenge::Bearer {
                realm,
                service,
                scope: asked,
            }) => {
                let realm = Realm { realm, service };
                if let Ok(mut slot) = self.realm.lock() {
                    *slot = Some(realm.clone());
                }
                let wanted = match &asked {
                    Some(a) => scope.merged(a),
                    None => scope.clone(),
                };
                self.fetch_token(&realm, &wanted, scope, deadline).await?;
                Ok(())
            }
            Some(Challenge::Basic) if self.creds.is_some() => {
                self.basic.store(true, Ordering::Relaxed);
                Ok(())
            }
            Some(Challenge::Basic) => Err(auth_err(
                "the registry asks for credentials (HTTP 401): give --user with --password-stdin, --authfile, or log in with podman, skopeo or docker login"
                    .into(),
            )),
            None => Err(auth_err(
                "HTTP 401 without a Basic or Bearer challenge this client can answer".into(),
            )),
        }
    }

    /// The error of a request still refused after its challenge was answered.
    fn refused(&self, method: &Method, url: &str, bearer: bool) -> PushError {
        let reason = match (&self.creds, bearer) {
            (Some(c), false) => format!(
                "the registry refused the credentials of user {:?} (HTTP 401)",
                c.user
            ),
            (Some(c), true) => format!(
                "the registry refused the token issued to user {:?} (HTTP 401): no access to this repository?",
                c.user
            ),
            (None, _) => "the registry refused anonymous access (HTTP 401): give --user with --password-stdin, --authfile, or log in with podman, skopeo or docker login".into(),
        };
        PushError::Auth {
            method: method.to_string(),
            url: url.to_string(),
            status: 401,
            reason,
        }
    }

    /// Gets a token for `wanted` from `realm` (with the credentials, or anonymously) and
    /// caches it as the token of `scope`.
    async fn fetch_token(
        &self,
        realm: &Realm,
        wanted: &Scope,
        scope: &Scope,
        deadline: Instant,
    ) -> Result<Secret, PushError> {
        let mut url = realm.realm.clone();
        if let Some(s) = &realm.service {
            url = with_query(&url, "service", s);
        }
        for item in wanted.items() {
            url = with_query(&url, "scope", &item);
        }
        if let Some(c) = &self.creds {
            url = with_query(&url, "account", &c.user);
        }
        let get = Method::GET;
        let r = self
            .retrying(&get, &url, self.attempts, deadline, || {
                let req = self.http.get(&url);
                match &self.creds {
                    Some(c) => req.basic_auth(&c.user, Some(c.password.expose())),
                    None => req,
                }
            })
            .await?;
        let status = r.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let who = match &self.creds {
                Some(c) => format!("the credentials of user {:?}", c.user),
                None => "anonymous access (give --user with --password-stdin, --authfile, or log in with podman, skopeo or docker login)".into(),
            };
            return Err(PushError::Auth {
                method: "GET".into(),
                url: realm.realm.clone(),
                status: status.as_u16(),
                reason: format!("the token service refused {who} (HTTP {})", status.as_u16()),
            });
        }
        if !status.is_success() {
            return Err(fail("GET", r).await);
        }
        let body = r.bytes().await.map_err(|e| {
            self.transport(
                &get,
                &realm.realm,
                self.describe(&e, Duration::ZERO, self.budget),
            )
        })?;
        let answer = auth::parse_token_answer(&body, SystemTime::now()).ok_or_else(|| {
            PushError::Other(format!(
                "GET {}: the token service's answer holds no token",
                realm.realm
            ))
        })?;
        self.tokens
            .put(scope, answer.token.clone(), answer.lifetime);
        Ok(answer.token)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `host[:port]` as shown in image references.
    fn host(&self) -> &str {
        self.base.split("://").nth(1).unwrap_or(&self.base)
    }

    /// A `Location` header made absolute.
    fn location(&self, r: &reqwest::Response) -> Result<String, PushError> {
        let loc = r
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| PushError::Other(format!("{}: no Location in the answer", r.url())))?;
        Ok(
            if loc.starts_with("http://") || loc.starts_with("https://") {
                loc.to_string()
            } else {
                self.url(loc)
            },
        )
    }
}

trait JsonBody {
    async fn json_body(self) -> Result<serde_json::Value, ()>;
}

impl JsonBody for reqwest::Response {
    async fn json_body(self) -> Result<serde_json::Value, ()> {
        let b = self.bytes().await.map_err(|_| ())?;
        serde_json::from_slice(&b).map_err(|_| ())
    }
}

async fn fail(method: &str, r: reqwest::Response) -> PushError {
    let url = r.url().to_string();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap_or_default();
    PushError::Registry {
        method: method.into(),
        url,
        status,
        body: body.chars().take(500).collect(),
    }
}

fn with_query(url: &str, k: &str, v: &str) -> String {
    let enc: String = v
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{k}={enc}")
}

struct BlobJob {
    repo: String,
    digest: String,
    parts: Vec<Bytes>,
    len: u64,
}

/// A manifest to PUT, after the blobs.
struct ManifestJob {
    repo: String,
    /// Tag, or digest for a list's per-platform manifests.
    reference: String,
    media_type: String,
    digest: String,
    bytes: Vec<u8>,
    /// Reported as a pushed image (tags only).
    tagged: bool,
}

enum Outcome {
    Present,
    Mounted,
    Uploaded(u64),
}

/// What pushing to `repo` needs.
fn push_scope(repo: &str) -> Scope {
    Scope::repository(repo, &["pull", "push"])
}

impl Client {
    /// Whether the registry has blob `d` in `repo` already.
    async fn has_blob(&self, repo: &str, d: &str) -> Result<bool, PushError> {
        let head = self
            .send(
                Method::HEAD,
                &self.url(&format!("/v2/{repo}/blobs/{d}")),
                HeaderMap::new(),
                Body::None,
                &push_scope(repo),
            )
            .await?;
        Ok(head.status() == StatusCode::OK)
    }

    /// `POST /v2/<repo>/blobs/uploads/`, with `?mount=<d>&from=<repo>` when `mount` is
    /// given: the answer, checked to be 202 (a session) or, for a mount, 201 (mounted).
    async fn start_upload(
        &self,
        repo: &str,
        mount: Option<(&str, &str)>,
    ) -> Result<reqwest::Response, PushError> {
        let mut url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let mut scope = push_scope(repo);
        if let Some((d, from)) = mount {
            url = with_query(&with_query(&url, "mount", d), "from", from);
            scope = scope.with(&format!("repository:{from}"), &["pull"]);
        }
        let r = self
            .send(
                Method::POST,
                &url,
                HeaderMap::new(),
                Body::One(Bytes::new()),
                &scope,
            )
            .await?;
        match r.status() {
            StatusCode::ACCEPTED => Ok(r),
            StatusCode::CREATED if mount.is_some() => Ok(r),
            _ => Err(fail("POST", r).await),
        }
    }
}

/// Hashes `job`'s bytes (on a blocking thread) and refuses the blob unless they have its
/// digest: checked before the first byte of an upload leaves, so a corrupt archive never
/// sends bytes under a name they do not have (whatever the registry checks itself).
async fn check_blob(job: &BlobJob) -> Result<(), PushError> {
    let corrupt = |actual: String| PushError::Corrupt {
        repo: job.repo.clone(),
        digest: job.digest.clone(),
        actual,
    };
    let (digest, parts) = (job.digest.clone(), job.parts.clone());
    let mismatch = tokio::task::spawn_blocking(move || digest_mismatch(&digest, &parts))
        .await
        .map_err(|e| corrupt(format!("no digest (the hashing task failed: {e})")))?;
    match mismatch {
        None => Ok(()),
        Some(actual) => Err(corrupt(actual)),
    }
}

async fn push_blob(
    c: &Client,
    job: &BlobJob,
    from: Option<String>,
    chunk: usize,
) -> Result<Outcome, PushError> {
    let (repo, d) = (&job.repo, &job.digest);
    if c.has_blob(repo, d).await? {
        return Ok(Outcome::Present);
    }
    let r = c
        .start_upload(repo, from.as_deref().map(|f| (d.as_str(), f)))
        .await?;
    if r.status() == StatusCode::CREATED {
        return Ok(Outcome::Mounted);
    }
    check_blob(job).await?;
    let mut loc = c.location(&r)?;
    // An upload session that fails mid-request (a connection cut inside a PATCH or PUT) may
    // hold part of the body: resending on the same session is refused (416, or 404
    // BLOB_UPLOAD_INVALID once the registry dropped it). So the session is abandoned and a new
    // one started, up to `attempts` times; a blob that arrived whole after all is found by HEAD.
    let mut attempt = 1;
    let mut delay = Duration::from_millis(200);
    loop {
        let err = match upload(c, job, chunk, &loc).await {
            Ok(n) => return Ok(Outcome::Uploaded(n)),
            Err(e) => e,
        };
        let restartable = match &err {
            PushError::Transport { .. } => true,
            PushError::Registry { status, .. } => {
                matches!(status, 404 | 416) || (500..600).contains(status)
            }
            _ => false,
        };
        if !restartable || attempt >= c.attempts {
            return Err(err);
        }
        attempt += 1;
        tokio::time::sleep(delay).await;
        delay *= 2;
        if c.has_blob(repo, d).await? {
            return Ok(Outcome::Uploaded(job.len));
        }
        loc = c.location(&c.start_upload(repo, None).await?)?;
    }
}

/// Sends one blob's bytes into the upload session at `loc`: one PUT, or PATCH chunks then an
/// empty PUT. Requests carrying a body are sent once (not retried on the same session: see
/// [`push_blob`]).
async fn upload(c: &Client, job: &BlobJob, chunk: usize, loc: &str) -> Result<u64, PushError> {
    let d = &job.digest;
    let scope = push_scope(&job.repo);
    let mut loc = loc.to_string();
    let size = usize::try_from(job.len).unwrap_or(usize::MAX);
    let mut octet = HeaderMap::new();
    octet.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let last = if size > chunk {
        let mut pos = 0;
        while pos < size {
            let end = (pos + chunk).min(size);
            let mut h = octet.clone();
            if let Ok(v) = HeaderValue::from_str(&format!("{pos}-{}", end - 1)) {
                h.insert("Content-Range", v);
            }
            let part = Body::Parts(slice_parts(&job.parts, pos, end));
            let r = c.send_n(Method::PATCH, &loc, h, part, &scope, 1).await?;
            if r.status() != StatusCode::ACCEPTED {
                return Err(fail("PATCH", r).await);
            }
            loc = c.location(&r)?;
            pos = end;
        }
        Body::One(Bytes::new())
    } else if job.parts.len() == 1 {
        Body::One(job.parts[0].clone())
    } else {
        Body::Parts(job.parts.clone())
    };
    let r = c
        .send_n(
            Method::PUT,
            &with_query(&loc, "digest", d),
            octet,
            last,
            &scope,
            1,
        )
        .await?;
    if r.status() != StatusCode::CREATED {
        return Err(fail("PUT", r).await);
    }
    Ok(job.len)
}

fn client(opts: &PushOptions) -> Result<Client, PushError> {
    let reg = RegistryUrl::parse(&opts.registry);
    let shown = reg.shown.trim_end_matches('/');
    let base = if shown.contains("://") {
        shown.to_string()
    } else if opts.insecure {
        format!("http://{shown}")
    } else {
        format!("https://{shown}")
    };
    let positive = |d: Duration| d.max(Duration::from_millis(1));
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(opts.insecure)
        .connect_timeout(positive(opts.connect_timeout))
        .read_timeout(positive(opts.read_timeout))
        .build()
        .map_err(|e| PushError::Other(format!("cannot set up the HTTP client: {e}")))?;
    Ok(Client {
        http,
        base,
        creds: opts.credentials.clone().or(reg.credentials),
        tokens: TokenCache::default(),
        realm: Mutex::new(None),
        basic: AtomicBool::new(false),
        attempts: opts.attempts.max(1),
        connect_timeout: positive(opts.connect_timeout),
        read_timeout: positive(opts.read_timeout),
        budget: positive(opts.timeout),
    })
}

/// The media types a pull accepts for a manifest: Docker v2 schema 2 and its list, OCI
/// manifest and index.
pub const PULL_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// A manifest as a registry served it.
#[derive(Clone, Debug)]
pub struct PulledManifest {
    /// Its exact bytes.
    pub bytes: Vec<u8>,
    /// `Content-Type` of the answer (may be empty).
    pub media_type: String,
    /// `Docker-Content-Digest` of the answer, when given.
    pub digest: Option<String>,
}

/// A registry client for pulling: the push client, with its authentication (challenges,
/// token cache, credentials), time limits and retries; each request asks for the `pull`
/// scope of its repository.
pub struct PullClient(Client);

impl fmt::Debug for PullClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullClient")
            .field("registry", &self.0.base)
            .field("credentials", &self.0.creds)
            .finish()
    }
}

/// A client for pulling from `opts.registry` (the fields about pushing are not used).
pub fn pull_client(opts: &PushOptions) -> Result<PullClient, PushError> {
    client(opts).map(PullClient)
}

/// What pulling from `repo` needs.
fn pull_scope(repo: &str) -> Scope {
    Scope::repository(repo, &["pull"])
}

impl PullClient {
    /// The registry's base URL (`https://host:port`), without credentials.
    pub fn base(&self) -> &str {
        &self.0.base
    }

    /// `GET /v2/<repo>/manifests/<reference>` (a tag or a digest), accepting [`PULL_ACCEPT`];
    /// at most `limit` bytes are read (more is an error). A 404 is a
    /// [`PushError::Registry`] with status 404.
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
        limit: u64,
    ) -> Result<PulledManifest, PushError> {
        let c = &self.0;
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static(PULL_ACCEPT),
        );
        let url = c.url(&format!("/v2/{repo}/manifests/{reference}"));
        let r = c.get(&url, h, &pull_scope(repo)).await?;
        let header = |k: &str| {
            r.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let media_type = header(CONTENT_TYPE.as_str())
            .map(|t| t.split(';').next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        let digest = header("Docker-Content-Digest");
        if let Some(n) = r.content_length().filter(|n| *n > limit) {
            return Err(PushError::Other(format!(
                "GET {url}: the manifest is {n} bytes, more than the {limit} allowed"
            )));
        }
        let mut bytes = Vec::new();
        let mut r = r;
        while let Some(chunk) = self.chunk(&mut r, &url).await? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(PushError::Other(format!(
                    "GET {url}: the manifest is more than the {limit} bytes allowed"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(PulledManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// `GET /v2/<repo>/blobs/<digest>`, following redirects (credentials are not sent to
    /// another host): the answer, its body not read yet (read it with [`PullClient::chunk`]).
    pub async fn blob(&self, repo: &str, digest: &str) -> Result<reqwest::Response, PushError> {
        let c = &self.0;
        let url = c.url(&format!("/v2/{repo}/blobs/{digest}"));
        c.get(&url, HeaderMap::new(), &pull_scope(repo)).await
    }

    /// The next piece of `r`'s body (`None` at its end); a connection error or time-out is a
    /// [`PushError::Transport`] naming its cause.
    pub async fn chunk(
        &self,
        r: &mut reqwest::Response,
        url: &str,
    ) -> Result<Option<Bytes>, PushError> {
        let started = Instant::now();
        r.chunk().await.map_err(|e| {
            self.0.transport(
                &Method::GET,
                url,
                self.0.describe(&e, started.elapsed(), self.0.budget),
            )
        })
    }
}

/// Repositories of the registry (`_catalog`, following `Link` pages, at most 100,000).
pub async fn catalog(opts: &PushOptions) -> Result<Vec<String>, PushError> {
    let c = client(opts)?;
    let mut out: Vec<String> = Vec::new();
    let mut url = c.url("/v2/_catalog?n=1000");
    loop {
        let r = c.get(&url, HeaderMap::new(), &Scope::catalog()).await?;
        let link = r
            .headers()
            .get("Link")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let v = r.json_body().await.unwrap_or_default();
        let page = strings(&v["repositories"]);
        let empty = page.is_empty();
        out.extend(page);
        match link.and_then(|l| {
            l.split('<')
                .nth(1)
                .and_then(|r| r.split('>').next())
                .map(str::to_string)
        }) {
            Some(next) if !empty && out.len() < 100_000 => url = c.url(&next),
            _ => break,
        }
    }
    Ok(out)
}

/// The strings of a JSON array (`repositories` of a catalog page, `tags` of a tag list);
/// anything else is empty.
fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Deletes every tagged manifest of `repo` (the registry must allow deletion); returns the
/// references deleted.
pub async fn delete_repository(opts: &PushOptions, repo: &str) -> Result<Vec<String>, PushError> {
    let c = client(opts)?;
    let pull = Scope::repository(repo, &["pull"]);
    let r = c
        .send(
            Method::GET,
            &c.url(&format!("/v2/{repo}/tags/list")),
            HeaderMap::new(),
            Body::None,
            &pull,
        )
        .await?;
    if r.status() == StatusCode::NOT_FOUND {
        return Ok(Vec::new());
    }
    if !r.status().is_success() {
        return Err(fail("GET", r).await);
    }
    let v = r.json_body().await.unwrap_or_default();
    let tags = strings(&v["tags"]);
    let mut accept = HeaderMap::new();
    accept.insert(
        reqwest::header::ACCEPT,
        HeaderValue::from_static(
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json",
        ),
    );
    let mut deleted = Vec::new();
    let mut digests = HashSet::new();
    for t in tags {
        let r = c
            .send(
                Method::HEAD,
                &c.url(&format!("/v2/{repo}/manifests/{t}")),
                accept.clone(),
                Body::None,
                &pull,
            )
            .await?;
        if let Some(d) = r
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
        {
            digests.insert(d.to_string());
        }
    }
    for d in digests {
        let r = c
            .send(
                Method::DELETE,
                &c.url(&format!("/v2/{repo}/manifests/{d}")),
                HeaderMap::new(),
                Body::None,
                &Scope::repository(repo, &["delete"]),
            )
            .await?;
        if !(r.status().is_success() || r.status() == StatusCode::NOT_FOUND) {
            return Err(fail("DELETE", r).await);
        }
        deleted.push(format!("{repo}@{d}"));
    }
    Ok(deleted)
}

/// Pushes every image of the Solution in `file` as `<prefix>/<image>:<tag>`.
pub async fn push(file: Arc<IsoFile>, opts: &PushOptions) -> Result<PushReport, PushError> {
    push_with(file, opts, &|_| ControlFlow::Continue(())).await
}

/// A progress callback for [`push_with`]: called from the pushing tasks, so `Send + Sync`.
pub type PushProgress<'a> = &'a (dyn Fn(Progress) -> ControlFlow<()> + Send + Sync);

/// [`push`], calling `progress` with the blob bytes handled so far (uploaded, found present
/// or mounted) and the total: first with 0, then after each blob, last with `done == total`
/// before the manifests are sent. When it returns [`ControlFlow::Break`], no new blob is
/// started, no manifest is sent, and the result is [`PushError::Stopped`] (a later push
/// skips the blobs already there).
pub async fn push_with(
    file: Arc<IsoFile>,
    opts: &PushOptions,
    progress: PushProgress<'_>,
) -> Result<PushReport, PushError> {
    let image = file.image()?;
    let s = Solution::load(&image)?;
    let prefix = match &opts.prefix {
        Some(p) => p.trim_matches('/').to_string(),
        None => s
            .id()
            .ok_or_else(|| PushError::Other("the archive has no name and version".into()))?,
    };
    let c = client(opts)?;
    let (jobs, manifests) = plan(&file, &s, &prefix)?;
    let mut report = push_blobs(&c, &jobs, opts, progress).await?;
    push_manifests(&c, manifests, &mut report).await?;
    Ok(report)
}

/// What a push sends: blob jobs, one per (repository, digest), then the manifests.
fn plan(
    file: &Arc<IsoFile>,
    s: &Solution<'_, '_>,
    prefix: &str,
) -> Result<(Vec<BlobJob>, Vec<ManifestJob>), PushError> {
    let mut jobs = Vec::new();
    let mut manifests = Vec::new();
    // The digests already planned, per repository.
    let mut seen: HashMap<String, HashSet<&Digest>> = HashMap::new();
    for (i, img) in s.images.iter().enumerate() {
        let label = label(img);
        check_pushable(img, &label)?;
        let repo = format!("{prefix}/{}", img.name);
        let blobs = new_blobs(s, i, seen.entry(repo.clone()).or_default())
            .map_err(|e| PushError::Other(e.to_string()))?;
        for b in blobs {
            jobs.push(blob_job(file, &repo, &b)?);
        }
        manifests.extend(manifest_jobs(s, i, &label, &repo)?);
    }
    Ok((jobs, manifests))
}

/// Refuses what a registry cannot take as it is (see [`Unfit`]).
fn check_pushable(img: &ContainerImage, label: &str) -> Result<(), PushError> {
    match unfit(img) {
        None => Ok(()),
        Some(Unfit::Kind) => Err(PushError::Other(format!(
            "{label}: manifest.json is not an image manifest, list or index ({})",
            img.media_type
        ))),
        Some(Unfit::Platforms { missing, of }) => Err(PushError::Other(format!(
            "{label}: {missing} of the list's {of} manifests could not be read (see `isolution validate`)"
        ))),
    }
}

/// Blob `b` for repository `repo`, its body the slices of the mapped ISO.
fn blob_job(file: &Arc<IsoFile>, repo: &str, b: &Needed<'_, '_>) -> Result<BlobJob, PushError> {
    let parts = b
        .contents
        .parts()
        .iter()
        .map(|p| MapSlice::of(file, p).map(Bytes::from_owner))
        .collect::<Option<Vec<Bytes>>>()
        .ok_or_else(|| {
            PushError::Other(format!(
                "{}: blob {} is not in the mapped ISO",
                b.label, b.desc.digest
            ))
        })?;
    Ok(BlobJob {
        repo: repo.to_string(),
        digest: b.desc.digest.to_string(),
        parts,
        len: b.contents.len(),
    })
}

/// Image `i`'s manifests for repository `repo`: a list's per-platform manifests first, by
/// digest (the registry checks that what a manifest names is there), then the tag's.
fn manifest_jobs(
    s: &Solution<'_, '_>,
    i: usize,
    label: &str,
    repo: &str,
) -> Result<Vec<ManifestJob>, PushError> {
    let img = &s.images[i];
    let mut out = Vec::new();
    for p in img.platforms() {
        let c = s.blob(i, &p.manifest.digest).ok_or_else(|| {
            PushError::Other(format!(
                "{label}: manifest {} is not in the archive",
                p.manifest.digest
            ))
        })?;
        out.push(ManifestJob {
            repo: repo.to_string(),
            reference: p.manifest.digest.to_string(),
            media_type: p.manifest.media_type.clone(),
            digest: p.manifest.digest.to_string(),
            bytes: c.to_vec(),
            tagged: false,
        });
    }
    out.push(ManifestJob {
        repo: repo.to_string(),
        reference: img.tag.clone(),
        media_type: img.media_type.clone(),
        digest: img.manifest_digest_str().to_string(),
        bytes: s.manifest_bytes(i)?,
        tagged: true,
    });
    Ok(out)
}

/// Blobs of one digest in several repositories go one after another (to mount); others in
/// parallel. Groups in the order of their first job.
fn by_digest(jobs: &[BlobJob]) -> Vec<Vec<&BlobJob>> {
    let mut groups: Vec<Vec<&BlobJob>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for j in jobs {
        match index.get(j.digest.as_str()) {
            Some(&k) => groups[k].push(j),
            None => {
                index.insert(&j.digest, groups.len());
                groups.push(vec![j]);
            }
        }
    }
    groups
}

/// What the blob-pushing tasks share.
struct Pushing<'a> {
    c: &'a Client,
    chunk: usize,
    progress: PushProgress<'a>,
    total: u64,
    done: AtomicU64,
    /// Set once the progress callback asked to stop.
    stop: AtomicBool,
    /// Where each digest was pushed first, for mounts.
    pushed: Mutex<HashMap<String, String>>,
    report: Mutex<PushReport>,
}

impl Pushing<'_> {
    /// Pushes a group of jobs of one digest, one after another.
    async fn group(&self, group: &[&BlobJob]) -> Result<(), PushError> {
        for job in group {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Stopped.into());
            }
            let from = self
                .pushed
                .lock()
                .ok()
                .and_then(|m| m.get(&job.digest).cloned());
            let outcome = push_blob(self.c, job, from, self.chunk).await?;
            if let Ok(mut m) = self.pushed.lock() {
                m.entry(job.digest.clone())
                    .or_insert_with(|| job.repo.clone());
            }
            if let Ok(mut r) = self.report.lock() {
                match outcome {
                    Outcome::Present => r.present += 1,
                    Outcome::Mounted => r.mounted += 1,
                    Outcome::Uploaded(n) => {
                        r.uploaded += 1;
                        r.bytes += n;
                    }
                }
            }
            let now = self.done.fetch_add(job.len, Ordering::Relaxed) + job.len;
            if self.stop.load(Ordering::Relaxed)
                || (self.progress)(Progress {
                    done: now,
                    total: self.total,
                })
                .is_break()
            {
                self.stop.store(true, Ordering::Relaxed);
                return Err(Stopped.into());
            }
        }
        Ok(())
    }
}

/// Pushes the blobs, `opts.concurrency` requests at once, reporting progress (see
/// [`push_with`]).
async fn push_blobs(
    c: &Client,
    jobs: &[BlobJob],
    opts: &PushOptions,
    progress: PushProgress<'_>,
) -> Result<PushReport, PushError> {
    let total: u64 = jobs.iter().map(|j| j.len).sum();
    Stopped::on_break(progress(Progress { done: 0, total }))?;
    let p = Pushing {
        c,
        chunk: opts.chunk_size.max(1),
        progress,
        total,
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        pushed: Mutex::new(HashMap::new()),
        report: Mutex::new(PushReport::default()),
    };
    let groups = by_digest(jobs);
    stream::iter(groups.iter().map(Ok::<_, PushError>))
        .try_for_each_concurrent(opts.concurrency.max(1), |group| p.group(group))
        .await?;
    Ok(p.report.into_inner().unwrap_or_else(|e| e.into_inner()))
}

/// PUTs the manifests in order, each checked against the registry's
/// `Docker-Content-Digest`; the tagged ones are reported.
async fn push_manifests(
    c: &Client,
    manifests: Vec<ManifestJob>,
    report: &mut PushReport,
) -> Result<(), PushError> {
    for ManifestJob {
        repo,
        reference: tag,
        media_type,
        digest,
        bytes,
        tagged,
    } in manifests
    {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&media_type) {
            h.insert(CONTENT_TYPE, v);
        }
        let url = c.url(&format!("/v2/{repo}/manifests/{tag}"));
        let r = c
            .send(
                Method::PUT,
                &url,
                h,
                Body::One(Bytes::from(bytes)),
                &push_scope(&repo),
            )
            .await?;
        if r.status() != StatusCode::CREATED {
            return Err(fail("PUT", r).await);
        }
        if let Some(got) = r
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
        {
            if got != digest {
                return Err(PushError::Other(format!(
                    "{repo}:{tag}: the registry stored digest {got}, the archive's manifest is {digest}"
                )));
            }
        }
        if tagged {
            report
                .images
                .push(format!("{}/{repo}:{tag}@{digest}", c.host()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn chunks_of_a_blob_in_parts_are_slices_of_the_parts() {
        let parts = [
            Bytes::from_static(b"abc"),
            Bytes::from_static(b"defgh"),
            Bytes::from_static(b"ij"),
        ];
        let cat = |v: Vec<Bytes>| v.concat();
        assert_eq!(cat(slice_parts(&parts, 0, 10)), b"abcdefghij");
        assert_eq!(cat(slice_parts(&parts, 2, 4)), b"cd");
        assert_eq!(cat(slice_parts(&parts, 3, 8)), b"defgh");
        assert_eq!(slice_parts(&parts, 3, 8).len(), 1);
        assert_eq!(cat(slice_parts(&parts, 7, 10)), b"hij");
    }

    #[test]
    fn options_debug_hides_every_secret() {
        let opts = PushOptions {
            registry: "http://bob:url-Secret1@127.0.0.1:5000".into(),
            credentials: Some(Credentials::new("alice", "field-Secret2")),
            ..PushOptions::default()
        };
        let shown = format!("{opts:?}");
        assert!(!shown.contains("Secret"), "{shown}");
        assert!(
            shown.contains("http://127.0.0.1:5000") && shown.contains("alice"),
            "{shown}"
        );
        assert_eq!(opts.registry_shown(), "http://127.0.0.1:5000");
        let c = client(&opts).unwrap();
        assert_eq!(c.base, "http://127.0.0.1:5000");
        assert_eq!(
            c.creds.as_ref().unwrap().user,
            "alice",
            "explicit credentials win"
        );
        let from_url = client(&PushOptions {
            credentials: None,
            ..opts
        })
        .unwrap();
        assert_eq!(from_url.creds.unwrap().password.expose(), "url-Secret1");
    }
}
