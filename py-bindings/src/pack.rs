//! `isolution.pack(...)`: a Solution ISO built from a source tree and images, as
//! `isolution pack` builds it.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use oci_export::pack::{self as rpack, ImageSpec, MinisignSecretKey, PackError as RsPackError};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::progress::Reporter;
use crate::{to_py_json, PackError};

/// Builds a Solution ISO at `output`, as `isolution pack` does, and returns its report (a
/// dict: `output`, `bytes`, `volume_id`, `files`, `images` with each image's `digest` and
/// `converted_from`, `distinct_blobs`, `blob_bytes`, `signed_by`).
///
/// `src`: the source tree (`manifest.yaml`, `operator/...`, anything else). `images`: an
/// iterable of references, `[NAME:TAG=]oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
/// `docker-archive:FILE[:REF]` or `dir:DIR` (OCI manifests converted to Docker v2 schema 2 as
/// skopeo converts them). `name`, `version` and `display_name` write `manifest.yaml` when the
/// tree has none. `sign`: a minisign secret key file (`password` for an encrypted one, str or
/// bytes) to sign `SHA256SUMS`. `source_date_epoch`: every time in the image (default: the
/// `SOURCE_DATE_EPOCH` variable, then the files' own times). `progress(done_bytes,
/// total_bytes)` is called as the image is written; if it raises, the build stops, nothing is
/// left under `output`, and the exception propagates.
///
/// The interpreter is released while the image is built. Raises PackError (and
/// FileNotFoundError/PermissionError through it for unreadable sources), ValueError for a
/// malformed image reference.
#[pyfunction]
#[pyo3(signature = (output, src=None, *, images=None, name=None, version=None,
    display_name=None, volume_id=None, sign=None, password=None, source_date_epoch=None,
    progress=None))]
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
) -> PyResult<Bound<'py, PyAny>> {
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
            let text = std::fs::read_to_string(k).map_err(|e| {
                PackError::new_err(format!("{}: cannot read the secret key: {e}", k.display()))
            })?;
            let pw = password.clone();
            let key = py
                .detach(move || MinisignSecretKey::parse(&text, pw.as_deref()))
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
