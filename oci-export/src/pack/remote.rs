//! `--image docker://HOST[:PORT]/PATH/NAME[:TAG][@sha256:...]`: images downloaded from a
//! registry with the client of `push` ([`crate::registry::client`]: its challenges, token
//! cache, credentials and time limits), then packed as any other source.
//!
//! References are spelt as skopeo spells them: a first component with a `.` or a `:`, or
//! `localhost`, is the registry, otherwise the image is Docker Hub's (`docker.io`,
//! `library/` for a one-component name); no tag and no digest means `:latest`. The image gets
//! the last component of the repository as its name and the tag as its tag, unless
//! `NAME:TAG=` comes first (a reference by digest alone needs it).
//!
//! Registries on the loopback (`127.0.0.1`, `localhost`, `[::1]`) are spoken to in plain
//! HTTP, as Docker does; others in HTTPS, or plain HTTP with [`RemoteOptions::insecure`]
//! (`--tls-verify=false`), as `push --insecure` decides.
//!
//! The download, before anything else is read: each manifest (at most
//! [`MAX_MANIFEST_BYTES`], checked against the registry's `Docker-Content-Digest` and against
//! the `@sha256:` of the reference), every instance manifest of a list or index, then every
//! blob, each once, [`RemoteOptions::concurrency`] at a time, streamed to a file created
//! exclusively in a private temporary directory (mode 0700) while hashed: a blob whose size
//! or digest is not the one its manifest gives is refused ([`RemoteError::Blob`]). The
//! directory is an OCI image layout, loaded by the same code as `oci:` sources (conversion
//! to Docker v2 schema 2, multi-platform images), and removed when [`Downloaded`] is dropped:
//! once the ISO is written, on error, and when the progress callback stops the build.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::ops::ControlFlow;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::stream::{self, TryStreamExt};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::convert::{self, PlatformChoice};
use super::source::{check_name, check_tag, sha256_digest, ImageSource, ImageSpec};
use super::{io_err, PackError};
use crate::registry::client::{pull_client, Credentials, PullClient, PushError, PushOptions};
use crate::registry::credentials;
use iso_core::solution::media;

pub use super::source::MAX_MANIFEST_BYTES;

/// Most manifests a list or index may name.
pub const MAX_PLATFORMS: usize = 1024;
/// Most blobs (configs and layers) of one image, all platforms together.
pub const MAX_BLOBS: usize = 100_000;

/// `docker://HOST[:PORT]/PATH/NAME[:TAG][@sha256:HEX]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// `host[:port]` as written; `docker.io` when the reference names none.
    pub registry: String,
    /// The repository: `PATH/NAME`.
    pub repository: String,
    /// The tag (`latest` when neither a tag nor a digest is given).
    pub tag: Option<String>,
    /// `sha256:<hex>` after `@`.
    pub digest: Option<String>,
}

impl fmt::Display for RemoteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "docker://{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Whether `d` is `sha256:` and 64 lowercase hex digits.
fn is_sha256(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

impl RemoteRef {
    /// Parses what follows `docker:` (`//HOST/NAME:TAG`).
    ///
    /// ```
    /// use oci_export::pack::remote::RemoteRef;
    /// let r = RemoteRef::parse("//127.0.0.1:5000/team/web:1.0")?;
    /// assert_eq!((r.registry.as_str(), r.repository.as_str()), ("127.0.0.1:5000", "team/web"));
    /// assert_eq!((r.tag.as_deref(), r.name()), (Some("1.0"), "web"));
    /// let hub = RemoteRef::parse("//alpine")?;
    /// assert_eq!(hub.to_string(), "docker://docker.io/library/alpine:latest");
    /// # Ok::<(), String>(())
    /// ```
    pub fn parse(arg: &str) -> Result<RemoteRef, String> {
        let rest = arg
            .strip_prefix("//")
            .ok_or("expected docker://HOST[:PORT]/NAME:TAG")?;
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) if is_sha256(d) => (r, Some(d.to_string())),
            Some((_, d)) => {
                return Err(format!(
                    "{d:?} is not a sha256 digest (sha256: and 64 lowercase hex digits)"
                ))
            }
            None => (rest, None),
        };
        let (path, tag) = match rest.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => {
                check_tag(t)?;
                (p, Some(t.to_string()))
            }
            _ => (rest, None),
        };
        let (registry, repository) = match path.split_once('/') {
            Some((h, r)) if h.contains('.') || h.contains(':') || h == "localhost" => {
                (h.to_string(), r.to_string())
            }
            Some(_) => ("docker.io".to_string(), path.to_string()),
            None => ("docker.io".to_string(), format!("library/{path}")),
        };
        let host_ok = !registry.is_empty()
            && registry.len() <= 255
            && registry.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if !host_ok {
            return Err(format!("{registry:?} is not a registry host[:port]"));
        }
        if repository.len() > 255 {
            return Err("the repository is longer than 255 bytes".into());
        }
        for c in repository.split('/') {
            check_name(c)?;
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t,
        };
        Ok(RemoteRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The image's default name in the Solution: the repository's last component.
    pub fn name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }

    /// What the manifest is asked for by: the digest when given, else the tag.
    fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The host to connect to (Docker Hub's API is `registry-1.docker.io`).
    fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// Whether the registry is on the loopback (plain HTTP, as Docker does).
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => self.registry.split(':').next().unwrap_or(&self.registry),
        };
        host == "localhost" || host == "::1" || host.starts_with("127.")
    }
}

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Plain HTTP for every registry, and invalid TLS certificates accepted
    /// (`--tls-verify=false`, `push --insecure`). Loopback registries are spoken to in plain
    /// HTTP without it.
    pub insecure: bool,
    /// Credentials for every registry; without them, each registry's come from the auth files
    /// ([`credentials::lookup`]: `authfile` or `$REGISTRY_AUTH_FILE`, containers' auth.json,
    /// docker's config.json and its helpers), else anonymous.
    pub credentials: Option<Credentials>,
    /// Auth file read first (podman/skopeo auth.json or docker config.json format).
    pub authfile: Option<PathBuf>,
    /// Blobs downloaded at once.
    pub concurrency: usize,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Longest silence while waiting for an answer or reading it.
    pub read_timeout: Duration,
    /// Budget of one request, its retries included.
    pub timeout: Duration,
    /// Where the private temporary directory is made (default: [`std::env::temp_dir`],
    /// `$TMPDIR` or `/tmp`).
    pub tmp_dir: Option<PathBuf>,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        let p = PushOptions::default();
        RemoteOptions {
            insecure: false,
            credentials: None,
            authfile: None,
            concurrency: 4,
            connect_timeout: p.connect_timeout,
            read_timeout: p.read_timeout,
            timeout: p.timeout,
            tmp_dir: None,
        }
    }
}

/// Why a registry image could not be downloaded. No message holds a password or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The registry (or its token service) refused, failed or could not be reached.
    #[error("{image}: {cause}")]
    Registry {
        /// The reference (`docker://host/repo:tag`): the registry and the repository.
        image: String,
        /// What happened: a 401 and its realm, `no such tag`, a time-out, a TLS error...
        cause: String,
    },
    /// A manifest that is not what the registry or the reference says, or not an image.
    #[error("{image}: manifest {reference}: {why}")]
    Manifest {
        /// The reference.
        image: String,
        /// The tag or digest it was asked for by.
        reference: String,
        /// Why it is refused.
        why: String,
    },
    /// A blob whose bytes are not those its manifest names.
    #[error("{image}: blob {digest}: expected {expected}, the registry sent {got}")]
    Blob {
        /// The reference.
        image: String,
        /// The blob's digest.
        digest: String,
        /// Its size (and digest) as the manifest gives them.
        expected: String,
        /// What was received.
        got: String,
    },
    /// The auth files could not be read.
    #[error("{image}: {cause}")]
    Credentials {
        /// The reference.
        image: String,
        /// The auth file and what is wrong with it.
        cause: String,
    },
    /// The download could not be set up (async runtime, HTTP client).
    #[error("cannot download registry images: {0}")]
    Setup(String),
}

/// One line: registries answer with JSON that may end with a newline.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// [`RemoteError::Registry`] for `e`, met while getting `what` of `r`.
fn registry_err(r: &RemoteRef, what: &str, e: PushError) -> PackError {
    let cause = match &e {
        PushError::Registry {
            status: 404, body, ..
        } if what == "manifest" => match (&r.digest, &r.tag) {
            (Some(d), _) => format!(
                "no such manifest {d} in repository {} of {} (HTTP 404: {})",
                r.repository,
                r.registry,
                one_line(body)
            ),
            (None, t) => format!(
                "no such tag {:?} in repository {} of {} (HTTP 404: {})",
                t.as_deref().unwrap_or("latest"),
                r.repository,
                r.registry,
                one_line(body)
            ),
        },
        PushError::Auth {
            url,
            status,
            reason,
            ..
        } => format!("{reason} [HTTP {status} from {url}]"),
        PushError::Stopped => return PackError::Stopped(crate::Stopped),
        other => format!("{what}: {}", one_line(&other.to_string())),
    };
    RemoteError::Registry {
        image: r.to_string(),
        cause,
    }
    .into()
}

/// A private temporary directory (mode 0700), removed with everything in it when dropped.
#[derive(Debug)]
pub struct Downloaded {
    dir: PathBuf,
}

impl Downloaded {
    /// Makes `isolution-pack-<pid>-<n>` under `parent`, refusing to reuse anything there.
    fn create(parent: &Path) -> Result<Downloaded, PackError> {
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut last = None;
        for n in 0..100u32 {
            let dir = parent.join(format!("isolution-pack-{pid}-{nanos:08x}-{n}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(Downloaded { dir }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(io_err(&dir, "create the temporary directory")(e)),
            }
        }
        let e = last.unwrap_or_else(|| std::io::Error::other("no free name"));
        Err(io_err(parent, "create a temporary directory")(e))
    }

    /// The directory (an OCI image layout once the download is complete).
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Downloaded {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Creates `path` exclusively (mode 0600) and writes `bytes` to it; a file already there
/// with the same name holds the same bytes (files are named by their digest), and is kept.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), PackError> {
    let mut f = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(io_err(path, "create")(e)),
    };
    f.write_all(bytes).map_err(io_err(path, "write"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default)]
    schema_version: u32,
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: u64,
}

/// A blob to download: where from, and what it must be.
struct BlobJob {
    client: usize,
    reference: RemoteRef,
    digest: String,
    size: u64,
}

/// What the download tasks share.
struct Downloading<'a> {
    clients: &'a [PullClient],
    blobs: PathBuf,
    total: u64,
    done: AtomicU64,
    stop: AtomicBool,
    progress: Mutex<&'a mut (dyn FnMut(u64, u64) -> ControlFlow<()> + Send)>,
}

impl Downloading<'_> {
    /// Reports `n` more bytes; `Err` when the callback asked to stop (or did before).
    fn advance(&self, n: u64) -> Result<(), PackError> {
        let now = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if self.stop.load(Ordering::Relaxed) {
            return Err(crate::Stopped.into());
        }
        let flow = match self.progress.lock() {
            Ok(mut p) => (*p)(now, self.total),
            Err(_) => ControlFlow::Break(()),
        };
        if flow.is_break() {
            self.stop.store(true, Ordering::Relaxed);
            return Err(crate::Stopped.into());
        }
        Ok(())
    }

    /// Streams one blob to `blobs/sha256/<hex>`, hashing it; refuses more bytes than its size
    /// as they come, and a digest or size that differs at the end.
    async fn blob(&self, job: &BlobJob) -> Result<(), PackError> {
        let c = &self.clients[job.client];
        let r = &job.reference;
        let hex = job.digest.trim_start_matches("sha256:");
        let path = self.blobs.join(hex);
        let expected = format!("{} bytes with digest {}", job.size, job.digest);
        let mismatch = |got: String| -> PackError {
            RemoteError::Blob {
                image: r.to_string(),
                digest: job.digest.clone(),
                expected: expected.clone(),
                got,
            }
            .into()
        };
        let mut resp = c
            .blob(&r.repository, &job.digest)
            .await
            .map_err(|e| registry_err(r, &format!("blob {}", job.digest), e))?;
        if let Some(n) = resp.content_length().filter(|n| *n != job.size) {
            return Err(mismatch(format!("{n} bytes (Content-Length)")));
        }
        let url = resp.url().to_string();
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err(&path, "create"))?;
        let mut h = Sha256::new();
        let mut got = 0u64;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(crate::Stopped.into());
            }
            let chunk = c
                .chunk(&mut resp, &url)
                .await
                .map_err(|e| registry_err(r, &format!("blob {}", job.digest), e))?;
            let Some(chunk) = chunk else { break };
            got += chunk.len() as u64;
            if got > job.size {
                return Err(mismatch(format!("more than {} bytes", job.size)));
            }
            h.update(&chunk);
            f.write_all(&chunk).map_err(io_err(&path, "write"))?;
            self.advance(chunk.len() as u64)?;
        }
        let digest = format!("sha256:{}", hex::encode(h.finalize()));
        if got != job.size || digest != job.digest {
            return Err(mismatch(format!("{got} bytes with digest {digest}")));
        }
        f.sync_data().map_err(io_err(&path, "write"))?;
        Ok(())
    }
}

/// Downloads and checks manifest `reference` of `r`'s repository into `blobs`; returns its
/// bytes, digest and media type.
async fn get_manifest(
    c: &PullClient,
    r: &RemoteRef,
    reference: &str,
    expected: Option<&str>,
    blobs: &Path,
) -> Result<(Vec<u8>, String, String), PackError> {
    let bad = |why: String| -> PackError {
        RemoteError::Manifest {
            image: r.to_string(),
            reference: reference.to_string(),
            why,
        }
        .into()
    };
    let m = c
        .manifest(&r.repository, reference, MAX_MANIFEST_BYTES)
        .await
        .map_err(|e| registry_err(r, "manifest", e))?;
    let digest = sha256_digest(&m.bytes);
    if let Some(given) = &m.digest {
        if given.starts_with("sha256:") && *given != digest {
            return Err(bad(format!(
                "the registry says its digest is {given} (Docker-Content-Digest), its bytes \
                 have {digest}"
            )));
        }
    }
    if let Some(want) = expected {
        if want != digest {
            return Err(bad(format!(
                "expected digest {want}, its bytes have {digest}"
            )));
        }
    }
    let parsed: Manifest =
        serde_json::from_slice(&m.bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    if parsed.schema_version != 2 {
        return Err(bad(format!(
            "schemaVersion {} (Docker schema 1 and others are not supported: only Docker v2 \
             schema 2, OCI, and their lists)",
            parsed.schema_version
        )));
    }
    let media_type = if parsed.media_type.is_empty() {
        m.media_type.clone()
    } else {
        parsed.media_type.clone()
    };
    let hex = digest.trim_start_matches("sha256:");
    write_new(&blobs.join(hex), &m.bytes)?;
    Ok((m.bytes, digest, media_type))
}

/// Whether `mt` is a list or index.
fn is_list(mt: &str) -> bool {
    mt == media::DOCKER_LIST || mt == media::OCI_INDEX
}

/// Gets manifest `reference` of `r` (and every instance manifest of a list or index) into
/// `blobs`, adding the blobs they name to `jobs`; returns the index entry of the image.
async fn get_image(
    c: &PullClient,
    client: usize,
    r: &RemoteRef,
    platform: Option<&PlatformChoice>,
    blobs: &Path,
    jobs: &mut BTreeMap<String, BlobJob>,
) -> Result<serde_json::Value, PackError> {
    let reference = r.reference().to_string();
    let (bytes, digest, media_type) =
        get_manifest(c, r, &reference, r.digest.as_deref(), blobs).await?;
    let top: Manifest = serde_json::from_slice(&bytes).map_err(|e| RemoteError::Manifest {
        image: r.to_string(),
        reference: reference.clone(),
        why: e.to_string(),
    })?;
    let mut images = Vec::new();
    if is_list(&media_type) || top.manifests.is_some() {
        let list = top.manifests.unwrap_or_default();
        if list.len() > MAX_PLATFORMS {
            return Err(RemoteError::Manifest {
                image: r.to_string(),
                reference,
                why: format!("more than {MAX_PLATFORMS} manifests in the list"),
            }
            .into());
        }
        // With a platform choice, only the manifest the loader will choose (as it chooses it)
        // and its blobs; none when the list has no such platform (the loader refuses it,
        // naming the platforms it has).
        let wanted: Vec<usize> = match platform {
            Some(p) => convert::choose_instance(&bytes, p).into_iter().collect(),
            None => (0..list.len()).collect(),
        };
        for d in wanted.into_iter().filter_map(|i| list.get(i).cloned()) {
            check_descriptor(r, &reference, &d)?;
            let (b, _, _) = get_manifest(c, r, &d.digest, Some(&d.digest), blobs).await?;
            if b.len() as u64 != d.size {
                return Err(RemoteError::Manifest {
                    image: r.to_string(),
                    reference: d.digest.clone(),
                    why: format!("{} bytes, the list says {}", b.len(), d.size),
                }
                .into());
            }
            let m: Manifest = serde_json::from_slice(&b).map_err(|e| RemoteError::Manifest {
                image: r.to_string(),
                reference: d.digest.clone(),
                why: e.to_string(),
            })?;
            if m.manifests.is_some() {
                return Err(RemoteError::Manifest {
                    image: r.to_string(),
                    reference: d.digest.clone(),
                    why: "a list inside a list".into(),
                }
                .into());
            }
            images.push((d.digest.clone(), m));
        }
    } else {
        images.push((digest.clone(), top));
    }
    for (at, m) in images {
        let config = m.config.ok_or_else(|| RemoteError::Manifest {
            image: r.to_string(),
            reference: at.clone(),
            why: "no config: not an image manifest".into(),
        })?;
        for d in std::iter::once(config).chain(m.layers) {
            check_descriptor(r, &at, &d)?;
            if jobs.len() >= MAX_BLOBS {
                return Err(RemoteError::Manifest {
                    image: r.to_string(),
                    reference: at.clone(),
                    why: format!("more than {MAX_BLOBS} blobs"),
                }
                .into());
            }
            jobs.entry(d.digest.clone()).or_insert_with(|| BlobJob {
                client,
                reference: r.clone(),
                digest: d.digest.clone(),
                size: d.size,
            });
        }
    }
    Ok(serde_json::json!({
        "mediaType": media_type,
        "digest": digest,
        "size": bytes.len(),
    }))
}

/// A descriptor must name its blob by sha256 (it becomes a file name).
fn check_descriptor(r: &RemoteRef, at: &str, d: &Descriptor) -> Result<(), PackError> {
    if is_sha256(&d.digest) {
        return Ok(());
    }
    Err(RemoteError::Manifest {
        image: r.to_string(),
        reference: at.to_string(),
        why: format!(
            "{} {:?} is not named by a sha256 digest",
            if d.media_type.is_empty() {
                "a descriptor"
            } else {
                d.media_type.as_str()
            },
            d.digest
        ),
    }
    .into())
}

/// The credentials for `r`: those given, else the auth files' for its registry and
/// repository (entries may be per namespace), else none.
fn credentials_for(r: &RemoteRef, opts: &RemoteOptions) -> Result<Option<Credentials>, PackError> {
    Ok(match &opts.credentials {
        Some(c) => Some(c.clone()),
        None => credentials::lookup(&r.registry, &r.repository, opts.authfile.as_deref())
            .map_err(|e| RemoteError::Credentials {
                image: r.to_string(),
                cause: e.to_string(),
            })?
            .map(|(c, _)| c),
    })
}

/// The client for `r` with `credentials`: plain HTTP on the loopback or when insecure.
fn client_for(
    r: &RemoteRef,
    opts: &RemoteOptions,
    credentials: Option<Credentials>,
) -> Result<PullClient, PackError> {
    let insecure = opts.insecure || r.is_loopback();
    let scheme = if insecure { "http" } else { "https" };
    pull_client(&PushOptions {
        registry: format!("{scheme}://{}", r.api_host()),
        insecure: opts.insecure,
        credentials,
        connect_timeout: opts.connect_timeout,
        read_timeout: opts.read_timeout,
        timeout: opts.timeout,
        ..PushOptions::default()
    })
    .map_err(|e| RemoteError::Setup(e.to_string()).into())
}

/// `e`, met loading the downloaded copy of `spec`, as naming `spec`'s reference rather than
/// the temporary directory (removed by then); other errors unchanged.
pub fn relabel(e: PackError, spec: &ImageSpec) -> PackError {
    let ImageSource::Docker { reference } = &spec.source else {
        return e;
    };
    let path = PathBuf::from(reference.to_string());
    match e {
        PackError::Source { why, .. } => PackError::Source { path, why },
        PackError::Io { what, error, .. } => PackError::Io { path, what, error },
        other => other,
    }
}

/// Downloads every `docker://` image of `specs` into a new private temporary directory (an
/// OCI image layout) and returns the specs to load, those images now read from it, with the
/// directory: keep it until the ISO is written (dropping it removes it). Without registry
/// images, the specs unchanged and no directory. With `platform` (`--platform`), a list or
/// index is downloaded with only the manifest and blobs of the platform the loader will
/// choose. `progress` gets the blob bytes downloaded and their total; [`ControlFlow::Break`]
/// stops ([`PackError::Stopped`]).
pub fn download(
    specs: &[ImageSpec],
    opts: &RemoteOptions,
    platform: Option<&PlatformChoice>,
    progress: &mut (dyn FnMut(u64, u64) -> ControlFlow<()> + Send),
) -> Result<(Vec<ImageSpec>, Option<Downloaded>), PackError> {
    if !specs
        .iter()
        .any(|s| matches!(s.source, ImageSource::Docker { .. }))
    {
        return Ok((specs.to_vec(), None));
    }
    let parent = opts.tmp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let tmp = Downloaded::create(&parent)?;
    let blobs = tmp.path().join("blobs/sha256");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(&blobs)
        .map_err(io_err(&blobs, "create"))?;
    write_new(
        &tmp.path().join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RemoteError::Setup(format!("async runtime: {e}")))?;
    // One client per registry and credentials (its tokens and challenges), made as first
    // needed.
    let mut clients: Vec<PullClient> = Vec::new();
    let mut by_registry: Vec<(String, Option<Credentials>)> = Vec::new();
    let mut jobs: BTreeMap<String, BlobJob> = BTreeMap::new();
    let mut entries = Vec::new();
    let mut out = Vec::new();
    for spec in specs {
        let ImageSource::Docker { reference: r } = &spec.source else {
            out.push(spec.clone());
            continue;
        };
        let creds = credentials_for(r, opts)?;
        let key = (r.registry.clone(), creds);
        let k = match by_registry.iter().position(|x| *x == key) {
            Some(k) => k,
            None => {
                clients.push(client_for(r, opts, key.1.clone())?);
                by_registry.push(key);
                clients.len() - 1
            }
        };
        let mut entry = rt.block_on(get_image(&clients[k], k, r, platform, &blobs, &mut jobs))?;
        let name = format!("isolution-pack-{}", entries.len());
        entry["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": name });
        entries.push(entry);
        out.push(ImageSpec {
            name: spec.name.clone().or_else(|| Some(r.name().to_string())),
            tag: spec.tag.clone().or_else(|| r.tag.clone()),
            source: ImageSource::Oci {
                dir: tmp.path().to_path_buf(),
                reference: Some(name),
            },
        });
    }
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": entries });
    write_new(&tmp.path().join("index.json"), index.to_string().as_bytes())?;
    let d = Downloading {
        clients: &clients,
        blobs,
        total: jobs.values().map(|j| j.size).sum(),
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        progress: Mutex::new(progress),
    };
    d.advance(0)?;
    let concurrency = opts.concurrency.max(1);
    rt.block_on(
        stream::iter(jobs.values().map(Ok::<_, PackError>))
            .try_for_each_concurrent(concurrency, |j| d.blob(j)),
    )?;
    Ok((out, Some(tmp)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn references_as_skopeo_spells_them() {
        let r = RemoteRef::parse("//localhost:5000/a/b/web:1.0").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.name()),
            ("localhost:5000", "a/b/web", "web")
        );
        assert!(r.is_loopback());
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = RemoteRef::parse(&format!("//quay.io/x/y@{d}")).unwrap();
        assert_eq!(
            (r.tag.as_deref(), r.digest.as_deref()),
            (None, Some(d.as_str()))
        );
        assert_eq!(r.reference(), d);
        assert!(!r.is_loopback());
        let r = RemoteRef::parse(&format!("//h.io/x:1@{d}")).unwrap();
        assert_eq!(r.to_string(), format!("docker://h.io/x:1@{d}"));
        let r = RemoteRef::parse("//team/app").unwrap();
        assert_eq!(r.to_string(), "docker://docker.io/team/app:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert!(RemoteRef::parse("//[::1]:5000/x").unwrap().is_loopback());
        assert!(RemoteRef::parse("//127.0.0.2:80/x").unwrap().is_loopback());
        for bad in [
            "h/x",
            "//h.io/X:1",
            "//h.io/x:.1",
            "//h.io/x@sha256:00",
            "//h.io/x@md5:00",
            "//h o/x:1",
            "//h.io//x",
        ] {
            assert!(RemoteRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let opts = RemoteOptions {
            credentials: Some(Credentials::new("alice", "Secret-Pa55")),
            ..RemoteOptions::default()
        };
        let shown = format!("{opts:?}");
        assert!(
            shown.contains("alice") && !shown.contains("Secret"),
            "{shown}"
        );
        let r = RemoteRef::parse("//127.0.0.1:5000/x:1").unwrap();
        let c = client_for(&r, &opts, opts.credentials.clone()).unwrap();
        let shown = format!("{c:?}");
        assert!(
            shown.contains("http://127.0.0.1:5000") && !shown.contains("Secret"),
            "{shown}"
        );
    }

    #[test]
    fn the_temporary_directory_is_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let parent = std::env::temp_dir();
        let t = Downloaded::create(&parent).unwrap();
        let p = t.path().to_path_buf();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        write_new(&p.join("f"), b"x").unwrap();
        write_new(&p.join("f"), b"x").unwrap();
        drop(t);
        assert!(!p.exists());
    }
}
