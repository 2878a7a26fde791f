//! The pull API: routes, answers and the response body (zero-copy pieces, counted, logged when
//! its last piece was handed to the connection, or when it was dropped before: "ABORTED after
//! N of M bytes").

use std::collections::VecDeque;
use std::convert::Infallible;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::conn::{ConnState, Log, Shared};
use super::names::{valid_digest, valid_name, valid_tag};
use super::{Repo, Verdict};

/// A response body: zero-copy pieces handed to the connection one at a time. When a request
/// is tracked, dropping it tells the connection the response is over, and logs the request.
pub(super) struct SendBody {
    chunks: VecDeque<Bytes>,
    sent: u64,
    total: u64,
    track: Option<Track>,
}

/// The request a body answers, for the connection's bookkeeping and the log.
struct Track {
    conn: Arc<ConnState>,
    polled: bool,
    log: Option<LogLine>,
}

struct LogLine {
    sink: Log,
    method: Method,
    uri: String,
    status: u16,
    start: Instant,
    headers_after: f64,
}

impl Body for SendBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(t) = &mut this.track {
            if !t.polled {
                t.polled = true;
                t.conn.sending();
            }
        }
        match this.chunks.pop_front() {
            Some(b) => {
                this.sent += b.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(b))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.total - self.sent)
    }
}

impl Drop for SendBody {
    fn drop(&mut self) {
        let Some(t) = self.track.take() else {
            return;
        };
        t.conn.response_done();
        if let Some(l) = t.log {
            let how = if self.chunks.is_empty() {
                "complete".to_string()
            } else {
                format!("ABORTED after {} of", self.sent)
            };
            l.sink.line(&format!(
                "{} {} {} {how} {} bytes, headers {:.1}ms, end {:.1}ms",
                l.method,
                l.uri,
                l.status,
                self.total,
                l.headers_after,
                l.start.elapsed().as_secs_f64() * 1e3
            ));
        }
    }
}

/// An answer before it becomes a response: status, headers, body pieces and their length.
struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    chunks: Vec<Bytes>,
    len: u64,
}

impl Reply {
    fn new(status: StatusCode, content_type: &str, chunks: Vec<Bytes>) -> Self {
        let len = chunks.iter().map(|c| c.len() as u64).sum();
        let mut r = Reply {
            status,
            headers: Vec::new(),
            chunks,
            len,
        };
        r.header(header::CONTENT_TYPE, content_type);
        r
    }

    fn json(status: StatusCode, body: &serde_json::Value) -> Self {
        Reply::new(
            status,
            "application/json",
            vec![Bytes::from(body.to_string())],
        )
    }

    /// A registry error: `{"errors": [{"code", "message", "detail"}]}`.
    fn error(status: StatusCode, code: &str, message: &str) -> Self {
        Reply::json(
            status,
            &json!({"errors": [{"code": code, "message": message, "detail": null}]}),
        )
    }

    fn header(&mut self, name: HeaderName, value: &str) {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
    }
}

/// Answers one request on `conn`: the connection learns when the response is over (the body is
/// dropped), and the request is logged then if `shared` logs requests.
pub(super) async fn handle(
    shared: &Shared,
    req: Request<hyper::body::Incoming>,
    conn: Arc<ConnState>,
) -> Response<SendBody> {
    conn.request_started();
    let start = Instant::now();
    let method = req.method().clone();
    let head = method == Method::HEAD;
    let reply = {
        // `--max-requests`: requests answered at once (a blob's first check included).
        let _permit = shared.requests.acquire().await;
        answer(shared, &method, req.uri(), req.headers()).await
    };
    let total = reply.len;
    let mut resp = Response::new(SendBody {
        chunks: if head {
            VecDeque::new()
        } else {
            reply.chunks.into()
        },
        sent: 0,
        total: if head { 0 } else { total },
        track: Some(Track {
            conn,
            polled: false,
            log: shared.options.log_requests.then(|| LogLine {
                sink: shared.options.log.clone(),
                method,
                uri: req.uri().to_string(),
                status: reply.status.as_u16(),
                start,
                headers_after: start.elapsed().as_secs_f64() * 1e3,
            }),
        }),
    });
    *resp.status_mut() = reply.status;
    let h = resp.headers_mut();
    for (k, v) in reply.headers {
        h.append(k, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    h.insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}

#[derive(Default)]
struct Page {
    n: Option<usize>,
    last: Option<String>,
}

/// `n` and `last` of a query string.
fn page(query: Option<&str>) -> Page {
    let mut p = Page::default();
    for kv in query.unwrap_or("").split('&') {
        match kv.split_once('=') {
            Some(("n", v)) => p.n = v.parse().ok(),
            Some(("last", v)) => p.last = Some(percent_decode(v)),
            _ => {}
        }
    }
    p
}

/// `%XX` escapes and `+` of a query value decoded (invalid escapes kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 3 <= b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(x) => {
                        out.push(x);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            x => {
                out.push(x);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// What a `/v2/<name>/...` path asks for.
enum Route<'a> {
    /// `tags/list`.
    Tags,
    /// `manifests/<reference>`.
    Manifest(&'a str),
    /// `blobs/<digest>`.
    Blob(&'a str),
    /// `blobs/uploads/...` (pushes: not served here).
    Upload,
}

/// `<name>/tags/list`, `<name>/manifests/<reference>` or `<name>/blobs/<digest>`.
fn route(rest: &str) -> Option<(&str, Route<'_>)> {
    if let Some(n) = rest.strip_suffix("/tags/list") {
        Some((n, Route::Tags))
    } else if let Some((n, r)) = rest.rsplit_once("/manifests/") {
        Some((n, Route::Manifest(r)))
    } else if let Some((n, _)) = rest.rsplit_once("/blobs/uploads") {
        Some((n, Route::Upload))
    } else {
        rest.rsplit_once("/blobs/")
            .map(|(n, r)| (n, Route::Blob(r)))
    }
}

/// The answer to `method uri`.
async fn answer(shared: &Shared, method: &Method, uri: &hyper::Uri, headers: &HeaderMap) -> Reply {
    let reg = &shared.registry;
    let path = uri.path();
    let Some(rest) = path
        .strip_prefix("/v2/")
        .or_else(|| (path == "/v2").then_some(""))
    else {
        return Reply::error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "not a registry API path",
        );
    };
    if method != Method::GET && method != Method::HEAD {
        let mut r = Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "this registry is read-only",
        );
        r.header(header::ALLOW, "GET, HEAD");
        return r;
    }
    let page = page(uri.query());
    if rest.is_empty() {
        return Reply::new(
            StatusCode::OK,
            "application/json",
            vec![Bytes::from_static(b"{}")],
        );
    }
    if rest == "_catalog" {
        let (repos, next) = paginate(reg.repos.keys().map(String::as_str), &page);
        return listing(
            json!({ "repositories": repos }),
            next,
            &page,
            "/v2/_catalog",
        );
    }
    let Some((name, what)) = route(rest) else {
        return Reply::error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown API path");
    };
    if !valid_name(name) {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            &format!("{name:?} is not a valid repository name"),
        );
    }
    let Some(repo) = reg.repos.get(name) else {
        return Reply::error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            &format!("repository {name} is not known"),
        );
    };
    match what {
        Route::Tags => {
            let (tags, next) = paginate(repo.tags.keys().map(String::as_str), &page);
            listing(
                json!({ "name": name, "tags": tags }),
                next,
                &page,
                &format!("/v2/{name}/tags/list"),
            )
        }
        Route::Manifest(reference) => manifest(repo, name, reference),
        Route::Blob(reference) => {
            let get = method == Method::GET;
            blob(repo, name, reference, headers, get, &shared.options.log).await
        }
        Route::Upload => Reply::error(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "this registry is read-only: no uploads",
        ),
    }
}

/// A JSON listing (`_catalog`, `tags/list`), with a `Link` to the next page when `next` says
/// there is one.
fn listing(body: serde_json::Value, next: Option<String>, page: &Page, path: &str) -> Reply {
    let mut r = Reply::json(StatusCode::OK, &body);
    if let (Some(last), Some(n)) = (next, page.n) {
        r.header(
            header::LINK,
            &format!("<{path}?n={n}&last={last}>; rel=\"next\""),
        );
    }
    r
}

fn digest_invalid(reference: &str) -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        "DIGEST_INVALID",
        &format!("{reference:?} is not a valid digest"),
    )
}

/// `GET`/`HEAD /v2/<name>/manifests/<reference>` (a tag, or a digest).
fn manifest(repo: &Repo, name: &str, reference: &str) -> Reply {
    let m = if reference.contains(':') {
        if !valid_digest(reference) {
            return digest_invalid(reference);
        }
        repo.by_digest.get(reference)
    } else if valid_tag(reference) {
        repo.tags.get(reference)
    } else {
        None
    };
    let Some(m) = m else {
        return Reply::error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            &format!("manifest {reference} is not known in {name}"),
        );
    };
    let mut r = Reply::new(StatusCode::OK, &m.media_type, vec![m.bytes.clone()]);
    r.header(HeaderName::from_static("docker-content-digest"), &m.digest);
    r.header(header::ETAG, &format!("\"{}\"", m.digest));
    r
}

/// `GET`/`HEAD /v2/<name>/blobs/<digest>`, whole or one `Range` (`GET` only), once its bytes
/// are known to have its digest.
async fn blob(
    repo: &Repo,
    name: &str,
    reference: &str,
    headers: &HeaderMap,
    get: bool,
    log: &Log,
) -> Reply {
    if !valid_digest(reference) {
        return digest_invalid(reference);
    }
    let Some(b) = repo.blobs.get(reference) else {
        return Reply::error(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            &format!("blob {reference} is not known in {name}"),
        );
    };
    if let Verdict::Bad(got) = b.verdict().await {
        log.line(&format!(
            "isolution: refused blob {reference} of {name}: its bytes have {got}, not that digest"
        ));
        return Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            &format!("blob {reference} of {name} is corrupt in the archive: its bytes do not have that digest"),
        );
    }
    let etag = format!("\"{reference}\"");
    // Ranges apply to GET only, and not when an If-Range names another version.
    let range_header = headers
        .get(header::RANGE)
        .filter(|_| get)
        .filter(|_| {
            headers
                .get(header::IF_RANGE)
                .is_none_or(|v| v.as_bytes() == etag.as_bytes())
        })
        .map(|v| v.to_str().unwrap_or(""));
    let want = match range_header.map_or(RangeAsk::Whole, |r| parse_range(r, b.len)) {
        RangeAsk::Whole => None,
        RangeAsk::Part(r) => Some(r),
        RangeAsk::Unsatisfiable => return range_invalid(b.len),
    };
    let Some(chunks) = b.chunks(want.clone().unwrap_or(0..b.len)) else {
        return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", "range");
    };
    let status = if want.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut r = Reply::new(status, "application/octet-stream", chunks);
    r.header(HeaderName::from_static("docker-content-digest"), reference);
    r.header(header::ACCEPT_RANGES, "bytes");
    r.header(header::ETAG, &etag);
    if let Some(w) = want {
        r.header(
            header::CONTENT_RANGE,
            &format!("bytes {}-{}/{}", w.start, w.end - 1, b.len),
        );
    }
    r
}

/// 416 for a `Range` no byte of the blob satisfies, with the blob's size.
fn range_invalid(len: u64) -> Reply {
    let mut r = Reply::error(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "RANGE_INVALID",
        "no byte of the blob is in that Range",
    );
    r.header(header::CONTENT_RANGE, &format!("bytes */{len}"));
    r
}

/// What a `Range` header asks of a blob.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// The whole blob (200): a unit other than bytes, several ranges, or a header that is not
    /// a valid range (RFC 9110 lets a server ignore those).
    Whole,
    /// One satisfiable byte range (206).
    Part(Range<u64>),
    /// No byte of the blob is in the range (416), and every range on a zero-length blob.
    Unsatisfiable,
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` within a blob of `len` bytes (RFC 9110 §14.1.2).
fn parse_range(h: &str, len: u64) -> RangeAsk {
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let Some((unit, spec)) = h.trim().split_once('=') else {
        return RangeAsk::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeAsk::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // The last n bytes.
        let Some(n) = num(b) else {
            return RangeAsk::Whole;
        };
        if n == 0 || len == 0 {
            return RangeAsk::Unsatisfiable;
        }
        return RangeAsk::Part(len - n.min(len)..len);
    }
    let Some(s) = num(a) else {
        return RangeAsk::Whole;
    };
    let e = if b.is_empty() {
        None
    } else {
        match num(b) {
            Some(e) if e >= s => Some(e),
            _ => return RangeAsk::Whole,
        }
    };
    if s >= len {
        return RangeAsk::Unsatisfiable;
    }
    // `len > s >= 0` here: `len - 1` does not underflow.
    RangeAsk::Part(s..e.map_or(len, |e| e.min(len - 1) + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeAsk::*;
        assert_eq!(parse_range("bytes=0-9", 100), Part(0..10));
        assert_eq!(parse_range("bytes=90-", 100), Part(90..100));
        assert_eq!(parse_range("bytes=-5", 100), Part(95..100));
        assert_eq!(parse_range("bytes=-500", 100), Part(0..100));
        assert_eq!(parse_range("bytes=50-500", 100), Part(50..100));
        assert_eq!(parse_range("Bytes = 1-1", 100), Part(1..2));
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        // Ignored: several ranges, another unit, not a range.
        assert_eq!(parse_range("bytes=0-1,3-4", 100), Whole);
        assert_eq!(parse_range("items=0-1", 100), Whole);
        assert_eq!(parse_range("bytes=5-1", 100), Whole);
        assert_eq!(parse_range("bytes=x-", 100), Whole);
        assert_eq!(parse_range("bytes=+1-2", 100), Whole);
        assert_eq!(parse_range("bytes", 100), Whole);
        assert_eq!(parse_range("bytes=99999999999999999999-", 100), Whole);
    }

    #[test]
    fn zero_length_blobs_satisfy_no_range() {
        for r in ["bytes=0-", "bytes=0-0", "bytes=-1", "bytes=-0", "bytes=5-"] {
            assert_eq!(parse_range(r, 0), RangeAsk::Unsatisfiable, "{r}");
        }
        assert_eq!(parse_range("bytes=0-1,2-3", 0), RangeAsk::Whole);
    }

    #[test]
    fn queries() {
        let p = page(Some("n=2&last=a%2Fb+c%zz%4"));
        assert_eq!(p.n, Some(2));
        assert_eq!(p.last.as_deref(), Some("a/b c%zz%4"));
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%41"), "A");
    }
}
