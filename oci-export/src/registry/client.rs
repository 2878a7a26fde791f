//! Push a Solution's images to a registry (distribution-spec push API), straight from the
//! mapped ISO.
//!
//! Per blob: `HEAD` first (already there: nothing sent); a cross-repository mount when this run
//! already pushed the blob to another repository; otherwise `POST` then a monolithic `PUT`, or
//! `PATCH` chunks then `PUT` for blobs over the chunk size. Then the manifest is `PUT` with its
//! exact bytes and media type (so its digest is unchanged, and checked against the registry's
//! `Docker-Content-Digest`). Requests run with bounded concurrency and are retried with backoff
//! on 5xx answers and connection errors; a re-run skips what is there. Basic and bearer-token
//! authentication.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, TryStreamExt};
use iso_core::digest::Digest;
use iso_core::solution::{ContainerImage, Solution};
use iso_core::IsoFile;
use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};

use crate::export::layout::Progress;
use crate::export::select::{label, new_blobs, unfit, Needed, Unfit};
use crate::registry::mapped::MapSlice;
use crate::Stopped;

/// How to push.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Registry base URL (`http://127.0.0.1:5000`, `https://registry.example`); a bare
    /// `host:port` means https, or http with `insecure`.
    pub registry: String,
    /// Repository prefix; default `<name>-<version>` (the repository MetalK8s exposes).
    pub prefix: Option<String>,
    /// Use plain HTTP for a bare `host:port`, and accept invalid TLS certificates.
    pub insecure: bool,
    /// Basic credentials (also used to obtain bearer tokens).
    pub credentials: Option<(String, String)>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Blobs larger than this are sent in chunks of this size.
    pub chunk_size: usize,
    /// Attempts per request on 5xx and connection errors.
    pub attempts: u32,
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
        }
    }
}

/// Why a push stopped.
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
    /// The registry could not be reached (after retries).
    #[error("{method} {url}: {error}")]
    Transport {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// The error.
        error: String,
    },
    /// Something else: a missing blob, a digest the registry disagrees with, an unsupported
    /// image kind.
    #[error("{0}")]
    Other(String),
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

struct Client {
    http: reqwest::Client,
    base: String,
    creds: Option<(String, String)>,
    token: Mutex<Option<String>>,
    attempts: u32,
}

impl Client {
    fn auth_header(&self) -> Option<HeaderValue> {
        if let Some(t) = self.token.lock().ok()?.as_ref() {
            return HeaderValue::from_str(&format!("Bearer {t}")).ok();
        }
        self.creds.as_ref().and_then(|(u, p)| {
            use base64::Engine;
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            HeaderValue::from_str(&format!("Basic {b}")).ok()
        })
    }

    /// One request, retried on 5xx and transport errors, re-authenticated once on 401.
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<reqwest::Response, PushError> {
        self.send_n(method, url, headers, body, self.attempts).await
    }

    /// [`Client::send`] with at most `attempts` tries (1: no retry, still re-authenticated).
    async fn send_n(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        attempts: u32,
    ) -> Result<reqwest::Response, PushError> {
        let mut delay = Duration::from_millis(200);
        let mut reauthed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), url)
                .headers(headers.clone());
            if let Some(a) = self.auth_header() {
                req = req.header(AUTHORIZATION, a);
            }
            if let Some(b) = &body {
                req = req.header(CONTENT_LENGTH, b.len()).body(b.clone());
            }
            match req.send().await {
                Ok(r) if r.status() == StatusCode::UNAUTHORIZED && !reauthed => {
                    reauthed = true;
                    self.authenticate(&r).await?;
                    continue;
                }
                Ok(r) if r.status().is_server_error() && attempt < attempts => {}
                Ok(r) => return Ok(r),
                Err(e) if attempt < attempts => {
                    let _ = e;
                }
                Err(e) => {
                    return Err(PushError::Transport {
                        method: method.to_string(),
                        url: url.to_string(),
                        error: e.to_string(),
                    })
                }
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }

    /// Bearer token flow: `WWW-Authenticate: Bearer realm=..,service=..,scope=..`.
    async fn authenticate(&self, r: &reqwest::Response) -> Result<(), PushError> {
        let Some(h) = r
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(());
        };
        let Some(params) = h.strip_prefix("Bearer ") else {
            return Ok(()); // Basic: the credentials are already sent
        };
        let mut kv = HashMap::new();
        for part in params.split(',') {
            if let Some((k, v)) = part.trim().split_once('=') {
                kv.insert(k.to_string(), v.trim_matches('"').to_string());
            }
        }
        let realm = kv.get("realm").cloned().unwrap_or_default();
        let mut req = self.http.get(&realm).query(
            &kv.iter()
                .filter(|(k, _)| k.as_str() != "realm")
                .collect::<Vec<_>>(),
        );
        if let Some((u, p)) = &self.creds {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().await.map_err(|e| PushError::Transport {
            method: "GET".into(),
            url: realm.clone(),
            error: e.to_string(),
        })?;
        let v: serde_json::Value = resp.json_body().await.unwrap_or_default();
        let t = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str());
        if let (Some(t), Ok(mut slot)) = (t, self.token.lock()) {
            *slot = Some(t.to_string());
        }
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
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

impl Client {
    /// Whether the registry has blob `d` in `repo` already.
    async fn has_blob(&self, repo: &str, d: &str) -> Result<bool, PushError> {
        let head = self
            .send(
                Method::HEAD,
                &self.url(&format!("/v2/{repo}/blobs/{d}")),
                HeaderMap::new(),
                None,
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
        if let Some((d, from)) = mount {
            url = with_query(&with_query(&url, "mount", d), "from", from);
        }
        let r = self
            .send(Method::POST, &url, HeaderMap::new(), Some(Bytes::new()))
            .await?;
        match r.status() {
            StatusCode::ACCEPTED => Ok(r),
            StatusCode::CREATED if mount.is_some() => Ok(r),
            _ => Err(fail("POST", r).await),
        }
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
    let mut loc = loc.to_string();
    let body: Bytes = if job.parts.len() == 1 {
        job.parts[0].clone()
    } else {
        Bytes::from(job.parts.concat())
    };
    let mut octet = HeaderMap::new();
    octet.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let last = if body.len() > chunk {
        let mut pos = 0;
        while pos < body.len() {
            let end = (pos + chunk).min(body.len());
            let mut h = octet.clone();
            if let Ok(v) = HeaderValue::from_str(&format!("{pos}-{}", end - 1)) {
                h.insert("Content-Range", v);
            }
            let r = c
                .send_n(Method::PATCH, &loc, h, Some(body.slice(pos..end)), 1)
                .await?;
            if r.status() != StatusCode::ACCEPTED {
                return Err(fail("PATCH", r).await);
            }
            loc = c.location(&r)?;
            pos = end;
        }
        Bytes::new()
    } else {
        body
    };
    let r = c
        .send_n(
            Method::PUT,
            &with_query(&loc, "digest", d),
            octet,
            Some(last),
            1,
        )
        .await?;
    if r.status() != StatusCode::CREATED {
        return Err(fail("PUT", r).await);
    }
    Ok(job.len)
}

fn client(opts: &PushOptions) -> Result<Client, PushError> {
    let base = if opts.registry.contains("://") {
        opts.registry.trim_end_matches('/').to_string()
    } else if opts.insecure {
        format!("http://{}", opts.registry.trim_end_matches('/'))
    } else {
        format!("https://{}", opts.registry.trim_end_matches('/'))
    };
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(opts.insecure)
        .build()
        .map_err(|e| PushError::Other(e.to_string()))?;
    Ok(Client {
        http,
        base,
        creds: opts.credentials.clone(),
        token: Mutex::new(None),
        attempts: opts.attempts.max(1),
    })
}

/// Repositories of the registry (`_catalog`, following `Link` pages, at most 100,000).
pub async fn catalog(opts: &PushOptions) -> Result<Vec<String>, PushError> {
    let c = client(opts)?;
    let mut out: Vec<String> = Vec::new();
    let mut url = c.url("/v2/_catalog?n=1000");
    loop {
        let r = c.send(Method::GET, &url, HeaderMap::new(), None).await?;
        if !r.status().is_success() {
            return Err(fail("GET", r).await);
        }
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
    let r = c
        .send(
            Method::GET,
            &c.url(&format!("/v2/{repo}/tags/list")),
            HeaderMap::new(),
            None,
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
                None,
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
                None,
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
            .send(Method::PUT, &url, h, Some(Bytes::from(bytes)))
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
            let host = c.base.split("://").nth(1).unwrap_or(&c.base).to_string();
            report.images.push(format!("{host}/{repo}:{tag}@{digest}"));
        }
    }
    Ok(())
}
