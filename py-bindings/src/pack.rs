//! `isolution.pack(...)`: a Solution ISO built from a source tree and images, as
//! `isolution pack` builds it.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use oci_export::pack::sign::MAX_KEY_FILE;
use oci_export::pack::{self as rpack, ImageSpec, PackError as RsPackError, Signer};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::progress::Reporter;
use crate::{to_py_json, PackError};

/// Builds a Solution ISO at `output`, as `isolution pack` does, and returns its report (a
/// dict: `output`, `bytes`, `volume_id`, `files`, `images` with each image's `digest` and
/// `converted_from`, `distinct_blobs`, `blob_bytes`, `signed_by`, `signature_scheme`,
/// `notes`).
///
/// `src`: the source tree (`manifest.yaml`, `operator/...`, anything else). `images`: an
/// iterable of references, `[NAME:TAG=]oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
/// `docker-archive:FILE[:REF]`, `dir:DIR` or `docker://HOST[:PORT]/NAME:TAG` (a registry:
/// credentials from the auth files, containers' auth.json or docker's config.json; the
/// download goes through `progress` too) (OCI manifests converted to Docker v2 schema 2 as
/// skopeo converts them). `name`, `version` and `display_name` write `manifest.yaml` when the
/// tree has none. `sign`: a secret key file to sign `SHA256SUMS` with (`password` for an
/// encrypted one, str or bytes), told apart by its contents: a minisign secret key (writes
/// `SHA256SUMS.minisig`; `signed_by` is its key id) or an OpenSSH Ed25519 private key (writes
/// `SHA256SUMS.sig`, as `ssh-keygen -Y sign -n metalk8s-solution`; `signed_by` is its
/// `SHA256:` fingerprint). `source_date_epoch`: every time in the image (default: the
/// `SOURCE_DATE_EPOCH` variable, then the files' own times). `progress(done_bytes,
/// total_bytes)` is called as the image is written; if it raises, the build stops, nothing is
/// left under `output`, and the exception propagates.
///
/// `platform`: `"OS/ARCH[/VARIANT]"` (e.g. `"linux/arm64"`), as `isolution pack --platform`:
/// every multi-platform image (OCI index, Docker manifest list) is reduced to that
/// platform's manifest, packed as a single Docker v2 schema 2 image (what MetalK8s's registry
/// serves), as `skopeo copy --override-os/--override-arch/--override-variant --format v2s2`
/// chooses and writes it (`arm64` also takes an `arm64/v8` entry); such an image's report has
/// `platform` and `from_list` (the list's digest). A list without the platform raises
/// PackError naming the platforms it has; a malformed value raises ValueError. A
/// single-platform image is packed as it is: one whose configuration says another platform
/// has `platform_mismatch` and `platform` (its own) and a line in the report's `notes`.
/// Without it, lists are kept with every platform (MetalK8s's registry serves no list).
///
/// The interpreter is released while the image is built. Raises PackError (and
/// FileNotFoundError/PermissionError through it for unreadable sources), ValueError for a
/// malformed image reference.
#[pyfunction]
#[pyo3(signature = (output, src=None, *, images=None, name=None, version=None,
    display_name=None, volume_id=None, sign=None, password=None, source_date_epoch=None,
    progress=None, platform=None))]
#[allow(clippy::too_many_arguments)]
pub fn pack<'py>(
    py: Python<'py>,
    output: PathBuf,
    src: Option<PathBuf>,
    images: Option<&Bound<'py, PyAny>>,
    name: Option<String>,
    version: Option<String>,
    display_name: Option<String>,
    volume_id: Option<String>,
    sign: Option<PathBuf>,
    password: Option<&Bound<'py, PyAny>>,
    source_date_epoch: Option<i64>,
    progress: Option<Py<PyAny>>,
    platform: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let platform = match platform {
        Some(p) => Some(
            p.parse::<rpack::PlatformChoice>()
                .map_err(PyValueError::new_err)?,
        ),
        None => None,
    };
    let mut specs = Vec::new();
    if let Some(it) = images {
        if it.is_instance_of::<pyo3::types::PyString>() {
            return Err(PyTypeError::new_err(
                "images must be an iterable of references, not one str",
            ));
        }
        for item in it.try_iter()? {
            let s: String = item?.extract()?;
            specs.push(
                s.parse::<ImageSpec>()
                    .map_err(|e| PyValueError::new_err(e.to_string()))?,
            );
        }
    }
    if (name.is_some()) != (version.is_some()) {
        return Err(PyValueError::new_err("give name and version together"));
    }
    let password: Option<Vec<u8>> = match password {
        None => None,
        Some(p) => Some(match p.extract::<String>() {
            Ok(s) => s.into_bytes(),
            Err(_) => p.extract::<Vec<u8>>()?,
        }),
    };
    let signer = match &sign {
        Some(k) => {
            let text = read_key(k)?;
            let pw = password.clone();
            let key = py
                .detach(move || Signer::parse(&text, pw.as_deref()))
                .map_err(|e| PackError::new_err(format!("{}: {e}", k.display())))?;
            Some(key)
        }
        None => None,
    };
    let opts = rpack::PackOptions {
        src,
        images: specs,
        name,
        version,
        display_name,
        volume_id,
        source_date_epoch,
        signer,
        // docker:// images: credentials from the auth files (containers' auth.json, docker's
        // config.json), default time limits.
        remote: Default::default(),
        platform,
    };
    let rep = Arc::new(Mutex::new(Reporter::new(progress)));
    let cb = rep.clone();
    let result = py.detach(move || {
        rpack::pack(opts, &output, move |done, total| match cb.lock() {
            Ok(mut r) => r.report(done, total),
            Err(_) => ControlFlow::Break(()),
        })
    });
    let raised = rep.lock().ok().and_then(|mut r| r.take_error());
    match result {
        Ok(report) => {
            if let Ok(mut r) = rep.lock() {
                if r.finish().is_break() {
                    if let Some(e) = r.take_error() {
                        return Err(e);
                    }
                }
            }
            to_py_json(py, &report)
        }
        Err(RsPackError::Stopped(_)) => {
            Err(raised.unwrap_or_else(|| PackError::new_err("stopped by the progress callback")))
        }
        Err(e) => Err(PackError::new_err(e.to_string())),
    }
}

/// A key file's text, at most [`MAX_KEY_FILE`] bytes.
fn read_key(path: &std::path::Path) -> PyResult<String> {
    use std::io::Read as _;
    let cannot = |e: std::io::Error| {
        PackError::new_err(format!(
            "{}: cannot read the secret key: {e}",
            path.display()
        ))
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(PackError::new_err(format!(
            "{}: larger than {MAX_KEY_FILE} bytes: not a key file",
            path.display()
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| PackError::new_err(format!("{}: not a text key file", path.display())))
}
