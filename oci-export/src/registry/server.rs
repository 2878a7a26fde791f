//! A read-only container registry over one or more Solution ISOs (the distribution-spec pull
//! API), repositories named `<name>-<version>/<image>` as MetalK8s names them.
//!
//! Blob and manifest bodies are slices of the ISO mappings handed to the HTTP stack without
//! copies (`Bytes::from_owner` over the shared mapping). Writes answer `UNSUPPORTED` (405).
//! Errors are the registry's JSON bodies (`MANIFEST_UNKNOWN`, `BLOB_UNKNOWN`, `NAME_UNKNOWN`,
//! `UNSUPPORTED`, `RANGE_INVALID`).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use iso_core::digest::SHA256_PREFIX;
use iso_core::solution::Solution;
use iso_core::IsoFile;
use serde::Deserialize;
use serde_json::json;

use crate::registry::mapped::MapSlice;

/// A blob: its parts, slices of one mapped ISO.
#[derive(Clone)]
struct Blob {
    parts: Vec<MapSlice>,
    len: u64,
}

impl Blob {
    /// The blob stored as `c` in `file`, or `None` if its parts are not slices of `file`.
    fn of(file: &Arc<IsoFile>, c: &iso_core::Contents<'_>) -> Option<Self> {
        let parts = c
            .parts()
            .iter()
            .map(|p| MapSlice::of(file, p))
            .collect::<Option<Vec<_>>>()?;
        Some(Blob {
            parts,
            len: c.len(),
        })
    }

    /// The bytes in `want` (a byte range of the blob), as zero-copy chunks: exactly
    /// `want.end - want.start` bytes, or `None` when `want` is not inside the blob.
    fn chunks(&self, want: Range<u64>) -> Option<Vec<Bytes>> {
        if want.start > want.end || want.end > self.len {
            return None;
        }
        let mut out = Vec::new();
        let mut base = 0u64;
        for p in &self.parts {
            let plen = p.len() as u64;
            let (s, e) = (want.start.max(base), want.end.min(base + plen));
            if s < e {
                let sub = p.slice((s - base) as usize..(e - base) as usize)?;
                out.push(Bytes::from_owner(sub));
            }
            base += plen;
        }
        Some(out)
    }
}

#[derive(Clone)]
struct Manifest {
    bytes: Bytes,
    digest: String,
    media_type: String,
}

#[derive(Default)]
struct Repo {
    tags: BTreeMap<String, Manifest>,
    by_digest: HashMap<String, Manifest>,
    blobs: HashMap<String, Blob>,
}

/// The images of some Solution ISOs, indexed for serving.
pub struct Registry {
    repos: BTreeMap<String, Repo>,
}

/// Why a registry could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// An ISO could not be opened.
    #[error("{0}: {1}")]
    Open(String, std::io::Error),
    /// An ISO could not be read as a Solution.
    #[error("{0}: {1}")]
    Image(String, iso_core::Error),
    /// A Solution without a readable name and version.
    #[error("{0}: no metadata.name and spec.version: not a Solution")]
    NotSolution(String),
}

impl Registry {
    /// Opens (maps) each ISO and indexes its images under `<name>-<version>/<image>`.
    pub fn open(paths: &[impl AsRef<Path>]) -> Result<Self, LoadError> {
        let mut repos: BTreeMap<String, Repo> = BTreeMap::new();
        for p in paths {
            let p = p.as_ref();
            let shown = p.display().to_string();
            let file = Arc::new(IsoFile::open(p).map_err(|e| LoadError::Open(shown.clone(), e))?);
            let image = file
                .image()
                .map_err(|e| LoadError::Image(shown.clone(), e))?;
            let s = Solution::load(&image).map_err(|e| LoadError::Image(shown.clone(), e))?;
            let id = s
                .id()
                .ok_or_else(|| LoadError::NotSolution(shown.clone()))?;
            for (i, img) in s.images.iter().enumerate() {
                let Ok(bytes) = s.manifest_bytes(i) else {
                    continue;
                };
                let Some(digest) = &img.manifest_digest else {
                    continue;
                };
                let repo = repos.entry(format!("{id}/{}", img.name)).or_default();
                let m = Manifest {
                    bytes: Bytes::from(bytes),
                    digest: digest.to_string(),
                    media_type: img.media_type.clone(),
                };
                repo.tags.insert(img.tag.clone(), m.clone());
                repo.by_digest.insert(m.digest.clone(), m);
                // A list's per-platform manifests are pulled by digest.
                for p in img.platforms() {
                    if let Some(c) = s.blob(i, &p.manifest.digest) {
                        repo.by_digest.insert(
                            p.manifest.digest.to_string(),
                            Manifest {
                                bytes: Bytes::from(c.to_vec()),
                                digest: p.manifest.digest.to_string(),
                                media_type: p.manifest.media_type.clone(),
                            },
                        );
                    }
                }
                for d in img.blob_refs() {
                    if let Some(b) = s.blob(i, &d.digest).and_then(|c| Blob::of(&file, &c)) {
                        repo.blobs.insert(d.digest.to_string(), b);
                    }
                }
            }
        }
        Ok(Registry { repos })
    }

    /// Repository names.
    pub fn repositories(&self) -> Vec<&str> {
        self.repos.keys().map(String::as_str).collect()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": message, "detail": null}]});
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
struct Page {
    n: Option<usize>,
    last: Option<String>,
}

fn paginate<'a>(
    items: impl Iterator<Item = &'a str>,
    page: &Page,
) -> (Vec<&'a str>, Option<String>) {
    let mut v: Vec<&str> = items
        .filter(|i| page.last.as_deref().is_none_or(|l| *i > l))
        .collect();
    let mut next = None;
    if let Some(n) = page.n {
        if v.len() > n {
            v.truncate(n);
            next = v.last().map(|s| s.to_string());
        }
    }
    (v, next)
}

/// The router: `/v2/`, `/v2/_catalog`, `/v2/<repo>/{manifests,blobs,tags}/...`.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .fallback(handle)
        .with_state(registry)
        .layer(axum::middleware::from_fn(api_version))
}

async fn api_version(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut r = next.run(req).await;
    r.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    r
}

async fn handle(
    State(reg): State<Arc<Registry>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let page = Query::<Page>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let path = uri.path();
    let Some(rest) = path
        .strip_prefix("/v2/")
        .or_else(|| (path == "/v2").then_some(""))
    else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "not a registry API path",
        );
    };
    if method != Method::GET && method != Method::HEAD {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "this registry is read-only",
        );
    }
    let head = method == Method::HEAD;
    if rest.is_empty() {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response();
    }
    if rest == "_catalog" {
        let (repos, next) = paginate(reg.repos.keys().map(String::as_str), &page);
        let body = json!({ "repositories": repos });
        return listing(body, next, &page, "/v2/_catalog");
    }
    let Some((name, what)) = route(rest) else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown API path");
    };
    let Some(repo) = reg.repos.get(name) else {
        return error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            &format!("repository {name} is not known"),
        );
    };
    match what {
        Route::Tags => {
            let (tags, next) = paginate(repo.tags.keys().map(String::as_str), &page);
            let body = json!({ "name": name, "tags": tags });
            listing(body, next, &page, &format!("/v2/{name}/tags/list"))
        }
        Route::Manifest(reference) => manifest(repo, name, reference, head),
        Route::Blob(reference) => blob(repo, name, reference, &headers, head),
    }
}

/// What a `/v2/<name>/...` path asks for.
enum Route<'a> {
    /// `tags/list`.
    Tags,
    /// `manifests/<reference>`.
    Manifest(&'a str),
    /// `blobs/<digest>`.
    Blob(&'a str),
}

/// `<name>/tags/list`, `<name>/manifests/<reference>` or `<name>/blobs/<digest>`.
fn route(rest: &str) -> Option<(&str, Route<'_>)> {
    if let Some(n) = rest.strip_suffix("/tags/list") {
        Some((n, Route::Tags))
    } else if let Some((n, r)) = rest.rsplit_once("/manifests/") {
        Some((n, Route::Manifest(r)))
    } else {
        rest.rsplit_once("/blobs/")
            .map(|(n, r)| (n, Route::Blob(r)))
    }
}

/// A JSON listing (`_catalog`, `tags/list`), with a `Link` to the next page when `next` says
/// there is one.
fn listing(body: serde_json::Value, next: Option<String>, page: &Page, path: &str) -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let (Some(last), Some(n)) = (next, page.n) {
        if let Ok(v) = HeaderValue::from_str(&format!("<{path}?n={n}&last={last}>; rel=\"next\"")) {
            r.headers_mut().insert(header::LINK, v);
        }
    }
    r
}

fn response_error() -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", "response")
}

/// `GET`/`HEAD /v2/<name>/manifests/<reference>` (a tag, or a digest).
fn manifest(repo: &Repo, name: &str, reference: &str, head: bool) -> Response {
    let m = if reference.starts_with(SHA256_PREFIX) {
        repo.by_digest.get(reference)
    } else {
        repo.tags.get(reference)
    };
    let Some(m) = m else {
        return error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            &format!("manifest {reference} is not known in {name}"),
        );
    };
    let body = if head {
        Body::empty()
    } else {
        Body::from(m.bytes.clone())
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, m.media_type.as_str())
        .header("Docker-Content-Digest", m.digest.as_str())
        .header(header::CONTENT_LENGTH, m.bytes.len())
        .body(body)
        .unwrap_or_else(|_| response_error())
}

/// `GET`/`HEAD /v2/<name>/blobs/<digest>`, whole or one `Range`.
fn blob(repo: &Repo, name: &str, reference: &str, headers: &HeaderMap, head: bool) -> Response {
    let Some(b) = repo.blobs.get(reference) else {
        return error(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            &format!("blob {reference} is not known in {name}"),
        );
    };
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(r) => match parse_range(r, b.len) {
            Some(r) => Some(r),
            None => return range_invalid(b.len),
        },
    };
    let want = range.clone().unwrap_or(0..b.len);
    let len = want.end - want.start;
    let body = if head {
        Body::empty()
    } else {
        let Some(chunks) = b.chunks(want.clone()) else {
            return response_error();
        };
        Body::from_stream(futures_util::stream::iter(
            chunks.into_iter().map(Ok::<_, std::convert::Infallible>),
        ))
    };
    let mut builder = Response::builder()
        .status(if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        })
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("Docker-Content-Digest", reference)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, len);
    if range.is_some() {
        builder = builder.header(
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                want.start,
                want.end.saturating_sub(1),
                b.len
            ),
        );
    }
    builder.body(body).unwrap_or_else(|_| response_error())
}

/// 416 for a `Range` this server does not serve, with the blob's size.
fn range_invalid(len: u64) -> Response {
    let mut resp = error(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "RANGE_INVALID",
        "invalid Range",
    );
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
        resp.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    resp
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range) within a blob of `len` bytes.
fn parse_range(h: &str, len: u64) -> Option<Range<u64>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        len.saturating_sub(n)..len
    } else {
        let s: u64 = a.parse().ok()?;
        let e = if b.is_empty() {
            len - 1
        } else {
            b.parse::<u64>().ok()?.min(len.saturating_sub(1))
        };
        if s > e || s >= len {
            return None;
        }
        s..e + 1
    };
    (r.start < r.end).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(0..10));
        assert_eq!(parse_range("bytes=90-", 100), Some(90..100));
        assert_eq!(parse_range("bytes=-5", 100), Some(95..100));
        assert_eq!(parse_range("bytes=50-500", 100), Some(50..100));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
