//! Python bindings of isolution: the native module `isolution._native`.
//!
//! The public surface is the pure-Python package `isolution` (`python/isolution/`), which
//! re-exports what is defined here and adds the `io.RawIOBase` wrapper of [`NativeFile`].
//!
//! # Design
//!
//! - An [`Image`] holds its image as an `Arc<IsoFile>` (a read-only memory map, or bytes in
//!   memory) and re-parses the volume descriptors on every call (a few microseconds), so no
//!   Python object borrows from another and there are no self-referential lifetimes. It is
//!   `#[pyclass(frozen)]`: every method takes `&self`; `close()` swaps the state under a lock.
//! - Objects handed out (open files, [`Solution`]) hold their own `Arc<IsoFile>`: they keep
//!   working after `Image.close()`, as a memoryview from `Image.view()` keeps its buffer alive.
//! - Paths are found as `iso_core::Image::lookup` finds them, but the last component through
//!   an index of its directory, built on the first lookup there and kept by the `Image`
//!   (`entries::DirCache`, bounded): reading every file of a 20,000-entry directory by path
//!   costs a hash lookup per file instead of a scan of the directory.
//! - Pure-Rust work (walks, hashing, signature checks, exports, pushes) runs with the
//!   interpreter detached (`Python::detach`), so other Python threads run meanwhile.
//!   `progress=` callables are called from there with the interpreter taken for the call
//!   only, throttled (`progress::Reporter`); one that raises stops the operation.
//! - `iso_core::Error` becomes `FormatError`, `LimitExceeded`, `FileNotFoundError`,
//!   `NotADirectoryError` or `ValueError` (a namespace the image lacks), with the Rust error's
//!   message (byte offset and path inside the image) and `offset` / `path` attributes.
//!
//! This crate has no `unsafe` code: zero-copy views go through the buffer protocol of a Python
//! `mmap.mmap` (or of the `bytes` given to `Image.from_bytes`), because the abi3-py39 build
//! cannot implement `__getbuffer__` itself (that slot needs the 3.11 limited API).
#![forbid(unsafe_code)]

mod boot;
mod entries;
mod hash;
mod pack;
mod progress;
mod udf;

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use iso_core::solution::{self as sol, signature, TrustedKey, ValidateOptions, VerifyOptions};
use iso_core::solution::{BadImageRef, ImageRef};
use iso_core::{DirEntry, EntryKind, ErrorKind, IsoFile, Limits, Namespace};
use oci_export::deploy::render::{self, Components, RenderError, RenderOptions};
use oci_export::deploy::upgrade;
use oci_export::export::archive::{self, ArchiveFormat};
use oci_export::export::layout::{self, ExportError as RsExportError};
use oci_export::registry::client::{self as rpush, PushError, PushOptions};
use oci_export::registry::credentials::{self, RegistryUrl};
use oci_export::view::BlobTotal;

use crate::boot::{BootCatalog, BootEntry};
use crate::entries::{kind_str, DirCache, DirIndex, Entry, Loc, Slot};
use crate::progress::Reporter;
use pyo3::create_exception;
use pyo3::exceptions::{
    PyException, PyFileNotFoundError, PyIndexError, PyIsADirectoryError, PyNotADirectoryError,
    PyOSError, PyPermissionError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyMemoryView, PySlice, PyString, PyTuple, PyType};

create_exception!(
    isolution,
    IsolutionError,
    PyException,
    "Base class of the errors raised by isolution."
);
create_exception!(
    isolution,
    FormatError,
    IsolutionError,
    "The image is not ISO 9660, or is malformed. The message names the byte offset and the path inside the image; the `offset` and `path` attributes hold them (or None)."
);
create_exception!(
    isolution,
    LimitExceeded,
    IsolutionError,
    "A safety budget (max_depth, max_entries, ...) was exceeded while reading the image."
);
create_exception!(
    isolution,
    ValidationError,
    IsolutionError,
    "A Solution failed validation (raised only with check=True); `findings` holds the findings."
);
create_exception!(
    isolution,
    SignatureError,
    IsolutionError,
    "A signature did not verify, or a key could not be read; `report` holds the verify report (a dict) when there is one."
);
create_exception!(
    isolution,
    ExportError,
    IsolutionError,
    "Exporting images failed: writing an OCI layout or an archive (I/O, or a blob that does not match its digest), or pushing to a registry."
);
create_exception!(
    isolution,
    DeployError,
    IsolutionError,
    "The archive cannot be deployed the way MetalK8s deploys it (render, upgrade_plan): a kind other than Role or ClusterRole in role.yaml, a CRD file that is not exactly one apiextensions.k8s.io/v1 CRD, no name or version. `path` names the file in the archive."
);
create_exception!(
    isolution,
    RenderWarning,
    pyo3::exceptions::PyUserWarning,
    "Something rendered but worth a look: a ClusterRole, a RoleBinding name cut at 63 characters, fields the Kubernetes types do not hold."
);
create_exception!(
    isolution,
    PackError,
    IsolutionError,
    "Building a Solution ISO failed (pack): a source that cannot be read or converted, a blob that does not match its digest, a tree a Solution cannot hold; nothing is left under the output's name."
);
create_exception!(
    isolution,
    RegistryError,
    ExportError,
    "A push failed at the registry: it answered with an error (`status` is the HTTP status, `body` its answer) or could not be reached (`status` is None). `method` and `url` name the request."
);

// ---------------------------------------------------------------------------------------------
// Errors

/// The Python exception for an `iso_core::Error`, with `offset` and `path` attributes.
fn iso_err(py: Python<'_>, e: iso_core::Error) -> PyErr {
    let msg = e.to_string();
    let err = match e.kind() {
        ErrorKind::LimitExceeded { .. } => LimitExceeded::new_err(msg),
        ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
        ErrorKind::NotADirectory => PyNotADirectoryError::new_err(msg),
        ErrorKind::NoNamespace(_) | ErrorKind::UdfNamespace => PyValueError::new_err(msg),
        ErrorKind::Io(io) => return io_err_kind(io.kind(), msg),
        _ => FormatError::new_err(msg),
    };
    let v = err.value(py);
    let _ = v.setattr("offset", e.offset());
    let _ = v.setattr("path", e.path());
    if matches!(e.kind(), ErrorKind::NotFound) {
        let _ = v.setattr("filename", e.path());
    }
    err
}

fn io_err_kind(kind: std::io::ErrorKind, msg: String) -> PyErr {
    match kind {
        std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
        std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
        std::io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
        _ => PyOSError::new_err(msg),
    }
}

fn io_err(e: std::io::Error) -> PyErr {
    io_err_kind(e.kind(), e.to_string())
}

fn closed_err() -> PyErr {
    PyValueError::new_err("I/O operation on closed image")
}

/// Parses `namespace=`: None for the image's default.
fn parse_ns(ns: Option<&str>) -> PyResult<Option<Namespace>> {
    ns.map(|s| s.parse::<Namespace>().map_err(PyValueError::new_err))
        .transpose()
}

fn kebab<T: serde::Serialize>(t: &T) -> String {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// `json.loads(text)`: serde values become Python dicts, lists, strings and numbers.
fn json_to_py<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.getattr("loads")?.call1((text,))
}

fn to_py_json<'py, T: serde::Serialize>(py: Python<'py>, t: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(t).map_err(|e| PyValueError::new_err(e.to_string()))?;
    json_to_py(py, &text)
}

// ---------------------------------------------------------------------------------------------
// Images

/// What an open image holds: the image, and the Python object `view()` exports from.
struct Open {
    file: Arc<IsoFile>,
    /// A Python `mmap.mmap` of the same file, or the `bytes` given to `from_bytes`.
    buffer: Option<Py<PyAny>>,
}

/// An ISO 9660 image, opened with `isolution.open(path)` or `Image.from_bytes(data)`.
///
/// A context manager: `with isolution.open("x.iso") as image: ...` closes it on exit.
/// Paths are relative to the root of a namespace (`namespace="rr"|"joliet"|"iso1999"|
/// "primary"|"udf"`, default: the best one present, in that order, UDF first when the ISO
/// 9660 side is a stub); leading `/`, empty and `.` components are ignored. In the UDF tree,
/// `walk`, `listdir`, `stat`, `exists`, `read`, `view` (a view of a copy), `open` and
/// `views` (zero-copy; a sparse file is refused there) and `sha256_all` (one core) work. Safe to share
/// between threads.
#[pyclass(frozen, module = "isolution", name = "Image")]
struct Image {
    state: RwLock<Option<Open>>,
    limits: Limits,
    path: Option<PathBuf>,
    /// The default namespace (the image never changes).
    default_ns: Namespace,
    /// Indexes of the directories that paths were looked up in.
    dirs: Mutex<DirCache>,
}

/// Opens `path` as a file of the image, in `ns`: an error unless it is a regular file.
fn lookup_file<'d>(
    img: &iso_core::Image<'d>,
    ns: Namespace,
    path: &str,
) -> Result<DirEntry<'d>, NotFile> {
    let e = img.lookup(ns, path).map_err(NotFile::Iso)?;
    match e.kind() {
        EntryKind::File => Ok(e),
        EntryKind::Directory => Err(NotFile::Dir(path.to_string())),
        k => Err(NotFile::Other(path.to_string(), kind_str(k))),
    }
}

/// The content of a file that is not stored as is (zisofs), through the reader: the
/// inflated bytes from `pos`, at most `max`. Never preallocates beyond 16 MiB of what a
/// header claims.
fn read_slow(
    img: &iso_core::Image<'_>,
    e: &DirEntry<'_>,
    pos: u64,
    max: u64,
) -> iso_core::Result<Vec<u8>> {
    let mut r = img.reader(e)?;
    let len = reader_len(&r, e);
    let n = len.saturating_sub(pos).min(max);
    r.seek(SeekFrom::Start(pos))?;
    let mut v = Vec::with_capacity(n.min(16 << 20) as usize);
    (&mut r).take(n).read_to_end(&mut v)?;
    Ok(v)
}

/// The length of what `r` reads: the inflated size of a zisofs file (in the Joliet tree,
/// `size()` is the stored size), else the entry's size.
fn reader_len(r: &iso_core::iso9660::FileReader<'_>, e: &DirEntry<'_>) -> u64 {
    match r {
        iso_core::iso9660::FileReader::Zisofs(z) => z.len(),
        _ => e.size(),
    }
}

enum NotFile {
    Iso(iso_core::Error),
    Dir(String),
    Other(String, &'static str),
}

impl NotFile {
    fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            NotFile::Iso(e) => iso_err(py, e),
            NotFile::Dir(p) => PyIsADirectoryError::new_err(format!("path {p}: is a directory")),
            NotFile::Other(p, k) => {
                IsolutionError::new_err(format!("path {p}: a {k}, not a regular file"))
            }
        }
    }
}

impl From<iso_core::Error> for NotFile {
    fn from(e: iso_core::Error) -> Self {
        NotFile::Iso(e)
    }
}

/// The stored ranges of regular file `s` (`user_path` names it in errors).
fn file_loc<'s>(s: &'s Slot, user_path: &str) -> Result<&'s Loc, NotFile> {
    match (s.entry.kind(), &s.loc) {
        (EntryKind::File, Some(loc)) => Ok(loc),
        (EntryKind::Directory, _) => Err(NotFile::Dir(user_path.to_string())),
        (k, _) => Err(NotFile::Other(user_path.to_string(), kind_str(k))),
    }
}

/// An iterator of known length over the chunks of a walk (for `PyList::new`).
struct Chunked<I>(I, usize);

impl<I: Iterator> Iterator for Chunked<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let item = self.0.next()?;
        self.1 = self.1.saturating_sub(1);
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.1, Some(self.1))
    }
}

impl<I: Iterator> ExactSizeIterator for Chunked<I> {}

/// `path` split into its components (empty and `.` dropped), as `lookup` reads it.
fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// The bytes of `ranges` of `data`, concatenated (None if one lies outside).
fn gather(data: &[u8], ranges: &[(usize, usize)], skip: u64, out: &mut [u8]) -> Option<()> {
    let mut base = 0u64;
    let mut filled = 0usize;
    for &(off, len) in ranges {
        let end = base + len as u64;
        let at = skip + filled as u64;
        if filled < out.len() && at < end {
            let from = usize::try_from(at - base).ok()?;
            let k = (len - from).min(out.len() - filled);
            let src = data.get(off.checked_add(from)?..off.checked_add(from + k)?)?;
            out[filled..filled + k].copy_from_slice(src);
            filled += k;
        }
        base = end;
    }
    (filled == out.len()).then_some(())
}

/// `paths=`: any iterable of str (a single str is refused, not read as its characters).
fn path_list(obj: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "paths must be an iterable of str (a list of paths), not a str",
        ));
    }
    obj.try_iter()?.map(|p| p?.extract::<String>()).collect()
}

fn outside() -> PyErr {
    FormatError::new_err("a file's bytes lie outside the image")
}

/// The bytes of regular file `clean` of namespace `ns`, whose bytes are at `loc`: a slice of
/// `whole` (a memoryview of the whole image) when given and the file is one range of the
/// image, else a new `bytes` (the inflated bytes of a zisofs file).
fn file_bytes<'py>(
    py: Python<'py>,
    file: &Arc<IsoFile>,
    limits: Limits,
    ns: Namespace,
    clean: &str,
    loc: &Loc,
    whole: Option<&Bound<'py, PyMemoryView>>,
) -> PyResult<Bound<'py, PyAny>> {
    let data = file.bytes();
    match (loc, whole) {
        (&Loc::One(off, len), Some(whole)) => {
            data.get(off..off.saturating_add(len)).ok_or_else(outside)?;
            let slice = PySlice::new(py, off as isize, off.saturating_add(len) as isize, 1);
            whole.get_item(slice)
        }
        (&Loc::One(off, len), None) => {
            let b = data.get(off..off.saturating_add(len)).ok_or_else(outside)?;
            Ok(PyBytes::new(py, b).into_any())
        }
        (Loc::Many(ranges), _) => {
            let total: usize = ranges.iter().map(|r| r.1).sum();
            let mut ok = true;
            let b = PyBytes::new_with(py, total, |out| {
                ok = gather(data, ranges, 0, out).is_some();
                Ok(())
            })?;
            if !ok {
                return Err(outside());
            }
            Ok(b.into_any())
        }
        (Loc::Slow, _) => {
            let (file, clean) = (file.clone(), clean.to_string());
            let v = py
                .detach(move || -> Result<Vec<u8>, NotFile> {
                    let img = file.image_with_limits(limits)?;
                    let e = lookup_file(&img, ns, &clean)?;
                    Ok(read_slow(&img, &e, 0, u64::MAX).map_err(|err| err.with_path(clean))?)
                })
                .map_err(|e| e.into_py(py))?;
            Ok(PyBytes::new(py, &v).into_any())
        }
    }
}

impl Image {
    /// The image and the buffer `view()` exports from. Locks are held only to clone (no
    /// call in a critical section may release the GIL: see `close`).
    fn handle(&self, py: Python<'_>) -> PyResult<(Arc<IsoFile>, Option<Py<PyAny>>)> {
        let g = self.state.read().map_err(|_| closed_err())?;
        let o = g.as_ref().ok_or_else(closed_err)?;
        Ok((o.file.clone(), o.buffer.as_ref().map(|b| b.clone_ref(py))))
    }

    fn file(&self) -> PyResult<Arc<IsoFile>> {
        let g = self.state.read().map_err(|_| closed_err())?;
        Ok(g.as_ref().ok_or_else(closed_err)?.file.clone())
    }

    /// Runs `f` on a fresh parse of the image, in namespace `ns` (or the default), with the
    /// interpreter detached.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        ns: Option<&str>,
        f: impl FnOnce(&iso_core::Image<'_>, Namespace) -> Result<T, NotFile> + Send,
    ) -> PyResult<T> {
        let file = self.file()?;
        let ns = parse_ns(ns)?;
        let limits = self.limits;
        py.detach(move || {
            let img = file.image_with_limits(limits)?;
            let ns = ns.unwrap_or_else(|| img.default_namespace());
            f(&img, ns)
        })
        .map_err(|e| e.into_py(py))
    }

    /// True when `namespace` (or the default) is the UDF tree, read by [`udf`].
    fn is_udf(&self, namespace: Option<&str>) -> PyResult<bool> {
        Ok(parse_ns(namespace)?.unwrap_or(self.default_ns) == Namespace::Udf)
    }

    /// The entry at `path` in `namespace` (symbolic links not followed), with where its
    /// bytes are, and the namespace and cleaned path it was found at.
    ///
    /// The same result and the same errors as `iso_core::Image::lookup`, but the last
    /// component is found in an index of its directory, built on the first lookup there
    /// and kept (see [`DirCache`]): a lookup in an indexed directory is a hash lookup, with
    /// the interpreter kept (it is shorter than releasing it). A directory whose records do
    /// not all read is not indexed; `lookup` then scans it as before.
    fn locate(
        &self,
        py: Python<'_>,
        namespace: Option<&str>,
        path: &str,
    ) -> PyResult<(Namespace, String, Slot)> {
        let ns = parse_ns(namespace)?.unwrap_or(self.default_ns);
        let comps = components(path);
        let clean = comps.join("/");
        let indexable = !comps.is_empty() && comps.len() <= self.limits.max_depth as usize;
        let parent = match comps.split_last() {
            Some((_, p)) if indexable => Some(p.join("/")),
            _ => None,
        };
        if let (Some(parent), Some(last)) = (&parent, comps.last()) {
            let ix = self.dirs.lock().ok().and_then(|c| c.get(ns, parent));
            if let Some(ix) = ix {
                self.file()?; // closed: ValueError, as on the slow path
                return match ix.get(last) {
                    Some(slot) => Ok((ns, clean, slot.clone())),
                    None => Err(iso_err(
                        py,
                        iso_core::Error::new(ErrorKind::NotFound).with_path(clean),
                    )),
                };
            }
        }
        let file = self.file()?;
        let limits = self.limits;
        let last = comps.last().map(|c| c.to_string());
        let clean2 = clean.clone();
        type Built = Option<(String, Arc<DirIndex>)>;
        let (found, built): (iso_core::Result<Slot>, Built) = py
            .detach(move || -> iso_core::Result<_> {
                let img = file.image_with_limits(limits)?;
                if let (Some(parent), Some(last)) = (parent, last) {
                    let dir = img.lookup(ns, &parent)?;
                    if dir.is_dir() {
                        if let Some(ix) = DirIndex::build(&img, ns, &dir, &parent, DirCache::BUDGET)
                        {
                            let ix = Arc::new(ix);
                            let found = match ix.get(&last) {
                                Some(slot) => Ok(slot.clone()),
                                None => {
                                    Err(iso_core::Error::new(ErrorKind::NotFound).with_path(clean2))
                                }
                            };
                            return Ok((found, Some((parent, ix))));
                        }
                    }
                }
                let e = img.lookup(ns, &clean2)?;
                Ok((Ok(Slot::new(&img, &clean2, &e)), None))
            })
            .map_err(|e| iso_err(py, e))?;
        if let Some((parent, ix)) = built {
            if let Ok(mut c) = self.dirs.lock() {
                c.insert(ns, &parent, ix);
            }
        }
        Ok((ns, clean, found.map_err(|e| iso_err(py, e))?))
    }

    /// The bytes of the regular file at `path`: copied into a new `bytes`, or (`view`) a
    /// zero-copy memoryview of `buffer` where the file is one range of the image.
    fn content<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        namespace: Option<&str>,
        buffer: Option<&Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let file = self.file()?;
        let (ns, clean, slot) = self.locate(py, namespace, path)?;
        let loc = file_loc(&slot, path).map_err(|e| e.into_py(py))?.clone();
        let whole = match (&loc, buffer) {
            (Loc::One(..), Some(buf)) => Some(PyMemoryView::from(buf.bind(py))?),
            _ => None,
        };
        file_bytes(py, &file, self.limits, ns, &clean, &loc, whole.as_ref())
    }

    fn build(
        py: Python<'_>,
        file: IsoFile,
        limits: Limits,
        buffer: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let path = file.path().map(PathBuf::from);
        // Parse once now, so that a file that is not ISO 9660 fails here.
        let default_ns = file
            .image_with_limits(limits)
            .map_err(|e| iso_err(py, e))?
            .default_namespace();
        Ok(Image {
            state: RwLock::new(Some(Open {
                file: Arc::new(file),
                buffer,
            })),
            limits,
            path,
            default_ns,
            dirs: Mutex::new(DirCache::default()),
        })
    }
}

/// A read-only `mmap.mmap` of `path`, for zero-copy views; None when it cannot be mapped.
fn python_mmap(py: Python<'_>, path: &std::path::Path) -> Option<Py<PyAny>> {
    let r = (|| -> PyResult<Py<PyAny>> {
        let mmap = py.import("mmap")?;
        let f = py
            .import("builtins")?
            .getattr("open")?
            .call1((path, "rb"))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("access", mmap.getattr("ACCESS_READ")?)?;
        let fileno = f.call_method0("fileno")?;
        let m = mmap
            .getattr("mmap")
            .and_then(|c| c.call((fileno, 0), Some(&kwargs)));
        f.call_method0("close")?;
        Ok(m?.unbind())
    })();
    r.ok()
}

#[allow(clippy::too_many_arguments)]
fn make_limits(
    max_depth: Option<u32>,
    max_entries: Option<u64>,
    max_directories: Option<u64>,
    max_name_bytes: Option<usize>,
    max_path_bytes: Option<usize>,
    max_susp_bytes: Option<u64>,
    max_extents_per_file: Option<u32>,
) -> Limits {
    let d = Limits::DEFAULT;
    Limits {
        max_depth: max_depth.unwrap_or(d.max_depth),
        max_entries: max_entries.unwrap_or(d.max_entries),
        max_directories: max_directories.unwrap_or(d.max_directories),
        max_name_bytes: max_name_bytes.unwrap_or(d.max_name_bytes),
        max_path_bytes: max_path_bytes.unwrap_or(d.max_path_bytes),
        max_susp_bytes: max_susp_bytes.unwrap_or(d.max_susp_bytes),
        max_extents_per_file: max_extents_per_file.unwrap_or(d.max_extents_per_file),
        ..d
    }
}

#[allow(clippy::too_many_arguments)]
fn open_image(py: Python<'_>, path: PathBuf, in_memory: bool, limits: Limits) -> PyResult<Image> {
    let p = path.clone();
    let file = py
        .detach(move || {
            if in_memory {
                IsoFile::read(&p)
            } else {
                IsoFile::open(&p)
            }
        })
        .map_err(io_err)?;
    let buffer = if file.is_mapped() {
        python_mmap(py, &path)
    } else {
        None
    };
    Image::build(py, file, limits, buffer)
}

#[pymethods]
impl Image {
    /// Opens the ISO image at `path` (str or os.PathLike): memory-mapped read-only, or read
    /// into memory with `in_memory=True` (use that for files others may rewrite meanwhile).
    /// The `max_*` keywords lower or raise the safety budgets (see iso_core::Limits).
    ///
    /// Raises FileNotFoundError / OSError when the file cannot be opened, FormatError when it
    /// is not ISO 9660.
    #[new]
    #[pyo3(signature = (path, *, in_memory=false, max_depth=None, max_entries=None,
        max_directories=None, max_name_bytes=None, max_path_bytes=None, max_susp_bytes=None,
        max_extents_per_file=None))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        path: PathBuf,
        in_memory: bool,
        max_depth: Option<u32>,
        max_entries: Option<u64>,
        max_directories: Option<u64>,
        max_name_bytes: Option<usize>,
        max_path_bytes: Option<usize>,
        max_susp_bytes: Option<u64>,
        max_extents_per_file: Option<u32>,
    ) -> PyResult<Self> {
        let limits = make_limits(
            max_depth,
            max_entries,
            max_directories,
            max_name_bytes,
            max_path_bytes,
            max_susp_bytes,
            max_extents_per_file,
        );
        open_image(py, path, in_memory, limits)
    }

    /// An image held in memory: `data` is bytes (or anything `bytes()` accepts). The image
    /// keeps a reference to the bytes object, which `view()` exports without copying.
    #[staticmethod]
    #[pyo3(signature = (data, *, max_depth=None, max_entries=None, max_directories=None,
        max_name_bytes=None, max_path_bytes=None, max_susp_bytes=None,
        max_extents_per_file=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_bytes(
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        max_depth: Option<u32>,
        max_entries: Option<u64>,
        max_directories: Option<u64>,
        max_name_bytes: Option<usize>,
        max_path_bytes: Option<usize>,
        max_susp_bytes: Option<u64>,
        max_extents_per_file: Option<u32>,
    ) -> PyResult<Self> {
        let limits = make_limits(
            max_depth,
            max_entries,
            max_directories,
            max_name_bytes,
            max_path_bytes,
            max_susp_bytes,
            max_extents_per_file,
        );
        let bytes = match data.cast::<PyBytes>() {
            Ok(b) => b.clone(),
            Err(_) => {
                if data.is_instance_of::<pyo3::types::PyString>() {
                    return Err(PyTypeError::new_err(
                        "from_bytes() needs bytes, not str (use isolution.open for a path)",
                    ));
                }
                py.import("builtins")?
                    .getattr("bytes")?
                    .call1((data,))?
                    .cast_into::<PyBytes>()?
            }
        };
        let file = IsoFile::from_vec(bytes.as_bytes().to_vec());
        Image::build(py, file, limits, Some(bytes.into_any().unbind()))
    }

    /// Closes the image. Further calls raise ValueError. Files opened with `open()`, views
    /// from `view()` and `solution` objects stay usable: they hold the image themselves.
    fn close(&self) {
        // Take the state out under the lock, and drop it after releasing the lock: dropping
        // the Python mmap releases the GIL (munmap), and a thread that took the GIL meanwhile
        // and waits for this lock would deadlock with us.
        let old = match self.state.write() {
            Ok(mut g) => g.take(),
            Err(_) => None,
        };
        if let Ok(mut c) = self.dirs.lock() {
            c.clear();
        }
        drop(old);
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.state.read().map(|g| g.is_none()).unwrap_or(true)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the image; exceptions propagate.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        let state = if self.closed() { "closed" } else { "open" };
        match &self.path {
            Some(p) => format!("<isolution.Image {:?} {state}>", p.display().to_string()),
            None => format!("<isolution.Image (bytes) {state}>"),
        }
    }

    /// The path the image was opened from, or None for `from_bytes`.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.path.clone()
    }

    /// Size of the image in bytes.
    #[getter]
    fn size(&self) -> PyResult<u64> {
        Ok(self.file()?.bytes().len() as u64)
    }

    /// The default namespace: `"rr"`, `"joliet"`, `"iso1999"` or `"primary"` (the first
    /// present, in that order), or `"udf"` when the ISO 9660 side is a stub and UDF holds the
    /// tree.
    #[getter]
    fn namespace(&self, py: Python<'_>) -> PyResult<&'static str> {
        self.run(py, None, |_, ns| Ok(ns.as_str()))
    }

    /// The namespaces present, best first.
    #[getter]
    fn namespaces(&self, py: Python<'_>) -> PyResult<Vec<&'static str>> {
        self.run(py, None, |img, _| {
            Ok(img.namespaces().iter().map(|n| n.as_str()).collect())
        })
    }

    /// The volume: a dict with `volume_id`, `system_id`, `volume_set_id`, `publisher_id`,
    /// `preparer_id`, `application_id`, `block_size`, `volume_space_blocks`, `volume_size`,
    /// `image_size`, `created`, `modified` (epoch seconds or None), `namespaces`,
    /// `default_namespace`, `rock_ridge` (None or a dict: `version`, `extensions`),
    /// `joliet_level`, `joliet_volume_id`, `el_torito` (None or a list of boot entry dicts),
    /// and `warnings` (strings).
    #[getter]
    fn volume<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let file = self.file()?;
        let img = file
            .image_with_limits(self.limits)
            .map_err(|e| iso_err(py, e))?;
        let d = PyDict::new(py);
        let p = img.primary();
        let ts = |t: Option<iso_core::Timestamp>| {
            t.map(|t| t.unix_seconds() as f64 + f64::from(t.hundredths) / 100.0)
        };
        d.set_item("volume_id", &p.volume_id)?;
        d.set_item("system_id", &p.system_id)?;
        d.set_item("volume_set_id", &p.volume_set_id)?;
        d.set_item("publisher_id", &p.publisher_id)?;
        d.set_item("preparer_id", &p.preparer_id)?;
        d.set_item("application_id", &p.application_id)?;
        d.set_item("block_size", img.block_size())?;
        d.set_item("volume_space_blocks", p.volume_space_blocks)?;
        d.set_item(
            "volume_size",
            u64::from(p.volume_space_blocks) * u64::from(img.block_size()),
        )?;
        d.set_item("image_size", img.data().len() as u64)?;
        d.set_item("created", ts(p.created))?;
        d.set_item("modified", ts(p.modified))?;
        let nss: Vec<&str> = img.namespaces().iter().map(|n| n.as_str()).collect();
        d.set_item("namespaces", nss)?;
        d.set_item("default_namespace", img.default_namespace().as_str())?;
        match img.rock_ridge() {
            Some(rr) => {
                let r = PyDict::new(py);
                r.set_item("version", rr.version)?;
                r.set_item("extensions", rr.extensions.clone())?;
                r.set_item("has_sp", rr.has_sp)?;
                d.set_item("rock_ridge", r)?;
            }
            None => d.set_item("rock_ridge", py.None())?,
        }
        d.set_item("joliet_level", img.joliet().and_then(|j| j.joliet_level))?;
        d.set_item(
            "joliet_volume_id",
            img.joliet().map(|j| j.volume_id.clone()),
        )?;
        let mut warnings: Vec<String> = img.warnings().iter().map(|w| w.to_string()).collect();
        match img.boot_catalog() {
            Ok(Some(cat)) => {
                let list = PyList::empty(py);
                for e in &cat.entries {
                    let b = PyDict::new(py);
                    b.set_item("index", e.index)?;
                    b.set_item("bootable", e.bootable)?;
                    b.set_item("platform", e.platform)?;
                    b.set_item("emulation", kebab(&e.emulation))?;
                    b.set_item("load_segment", e.load_segment)?;
                    b.set_item("system_type", e.system_type)?;
                    b.set_item("sector_count", e.sector_count)?;
                    b.set_item("load_rba", e.load_rba)?;
                    b.set_item("image_len", e.image_len())?;
                    b.set_item("offset", e.offset)?;
                    list.append(b)?;
                }
                d.set_item("el_torito", list)?;
                d.set_item("boot_catalog_lba", cat.lba)?;
            }
            Ok(None) => d.set_item("el_torito", py.None())?,
            Err(e) => {
                warnings.push(format!("El Torito catalog unreadable: {e}"));
                d.set_item("el_torito", py.None())?;
            }
        }
        d.set_item("warnings", warnings)?;
        Ok(d)
    }

    /// Every entry below `path` (default: the whole tree), depth first, parents before
    /// children, in recorded order: a list of `Entry`. The interpreter is released while the
    /// tree is read.
    #[pyo3(signature = (path="", *, namespace=None))]
    fn walk<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        namespace: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let path = path.to_string();
        if self.is_udf(namespace)? {
            let entries = self.run(py, namespace, move |img, _| udf::walk(img, &path))?;
            return PyList::new(py, entries);
        }
        let chunks = self.run(py, namespace, move |img, ns| {
            let dir = img.lookup(ns, &path)?;
            let prefix = components(&path).join("/");
            let mut walk = img.walk_from(&dir, &prefix)?;
            // In chunks: a growing Vec would move every entry again at each doubling.
            let mut chunks: Vec<Vec<Entry>> = Vec::new();
            let mut cur: Vec<Entry> = Vec::with_capacity(256);
            while let Some(item) = walk.next_entry() {
                let (p, e) = item?;
                if cur.len() == cur.capacity() {
                    let next = Vec::with_capacity((cur.len() * 2).min(16384));
                    chunks.push(std::mem::replace(&mut cur, next));
                }
                cur.push(Entry::new(p, e));
            }
            chunks.push(cur);
            Ok(chunks)
        })?;
        let n = chunks.iter().map(Vec::len).sum();
        PyList::new(py, Chunked(chunks.into_iter().flatten(), n))
    }

    /// The names in directory `path` (default: the root), in recorded order, like
    /// `os.listdir`. Raises FileNotFoundError or NotADirectoryError.
    #[pyo3(signature = (path="", *, namespace=None))]
    fn listdir(
        &self,
        py: Python<'_>,
        path: &str,
        namespace: Option<&str>,
    ) -> PyResult<Vec<String>> {
        let path = path.to_string();
        if self.is_udf(namespace)? {
            return self.run(py, namespace, move |img, _| udf::listdir(img, &path));
        }
        self.run(py, namespace, move |img, ns| {
            let dir = img.lookup(ns, &path)?;
            if !dir.is_dir() {
                return Err(
                    iso_core::Error::at(ErrorKind::NotADirectory, dir.record_offset())
                        .with_path(path.clone())
                        .into(),
                );
            }
            let mut names = Vec::new();
            for e in img.read_dir(&dir).map_err(|e| e.with_path(path.clone()))? {
                let e = e.map_err(|e| e.with_path(path.clone()))?;
                if !e.is_associated() {
                    names.push(e.name().to_string());
                }
            }
            Ok(names)
        })
    }

    /// The `Entry` at `path` (symbolic links are not followed). Raises FileNotFoundError.
    #[pyo3(signature = (path, *, namespace=None))]
    fn stat(&self, py: Python<'_>, path: &str, namespace: Option<&str>) -> PyResult<Entry> {
        if self.is_udf(namespace)? {
            let path = path.to_string();
            return self.run(py, namespace, move |img, _| udf::stat(img, &path));
        }
        let (_, clean, slot) = self.locate(py, namespace, path)?;
        Ok(slot.entry.with_path(&clean))
    }

    /// True when `path` names an entry (of any type).
    #[pyo3(signature = (path, *, namespace=None))]
    fn exists(&self, py: Python<'_>, path: &str, namespace: Option<&str>) -> PyResult<bool> {
        let found = if self.is_udf(namespace)? {
            self.stat(py, path, namespace).map(drop)
        } else {
            self.locate(py, namespace, path).map(drop)
        };
        match found {
            Ok(_) => Ok(true),
            Err(e)
                if e.is_instance_of::<PyFileNotFoundError>(py)
                    || e.is_instance_of::<PyNotADirectoryError>(py) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// The whole content of the regular file at `path`, as bytes (zisofs files decompressed).
    /// Raises FileNotFoundError, IsADirectoryError, or IsolutionError for other types.
    #[pyo3(signature = (path, *, namespace=None))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        namespace: Option<&str>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if self.is_udf(namespace)? {
            let path = path.to_string();
            let bytes = self.run(py, namespace, move |img, _| udf::read(img, &path))?;
            return Ok(PyBytes::new(py, &bytes));
        }
        Ok(self
            .content(py, path, namespace, None)?
            .cast_into::<PyBytes>()?)
    }

    /// A read-only `memoryview` of the regular file at `path`.
    ///
    /// Zero-copy for a file stored as one range of the image (nearly all files, and a
    /// multi-extent file whose extents are adjacent, as mkisofs and xorriso write them): a
    /// slice of a read-only `mmap.mmap` of the image file (or of the bytes given to
    /// `from_bytes`), which the view keeps alive, also after `close()`. It is a view of a
    /// copy (a new `bytes`, what `read` returns) for a zisofs file (the inflated bytes), a
    /// multi-extent file in separate places, and an image opened with `in_memory=True` or
    /// that could not be mapped. Raises as `read` does: FileNotFoundError,
    /// IsADirectoryError, IsolutionError for other types, FormatError when the bytes cannot
    /// be read, ValueError when the image is closed.
    #[pyo3(signature = (path, *, namespace=None))]
    fn view<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        namespace: Option<&str>,
    ) -> PyResult<Bound<'py, PyMemoryView>> {
        if self.is_udf(namespace)? {
            // The UDF tree: a view of a copy (what `read` returns).
            let bytes = self.read(py, path, namespace)?;
            return PyMemoryView::from(bytes.as_any());
        }
        let (_, buffer) = self.handle(py)?;
        let v = self.content(py, path, namespace, buffer.as_ref())?;
        match v.cast_into::<PyMemoryView>() {
            Ok(m) => Ok(m),
            Err(e) => PyMemoryView::from(&e.into_inner()),
        }
    }

    /// SHA-256 of every regular file of the tree, or of the files at `paths` (a list of
    /// paths, in that order): a dict of path -> digest as lower-case hex, what
    /// `hashlib.sha256(image.read(path)).hexdigest()` gives (zisofs files: of the inflated
    /// bytes).
    ///
    /// Hashed in Rust from the image's mapping (nothing is copied into Python), on
    /// `threads` threads (None or 0: every core), two files at a time per core, the largest
    /// first, with the interpreter released: the hashing of `isolution validate`. Keys are the
    /// paths as `walk()` gives them (each path of a hard link: the shared extent is hashed
    /// once), or the strings given in `paths`. Raises FileNotFoundError,
    /// IsADirectoryError or IsolutionError for a path of `paths` that is missing, a directory
    /// or not a regular file; FormatError (naming the path) for a file whose bytes cannot be
    /// read; LimitExceeded when the walk passes a budget; nothing is returned then.
    #[pyo3(signature = (namespace=None, *, threads=None, paths=None))]
    fn sha256_all<'py>(
        &self,
        py: Python<'py>,
        namespace: Option<&str>,
        threads: Option<usize>,
        paths: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let paths = paths.map(path_list).transpose()?;
        if self.is_udf(namespace)? {
            let pairs = self.run(py, namespace, move |img, _| {
                udf::sha256_all(img, paths.as_deref())
            })?;
            let d = PyDict::new(py);
            for (k, v) in pairs {
                d.set_item(k, hash::hex(&v))?;
            }
            return Ok(d);
        }
        let pairs = self.run(py, namespace, move |img, ns| {
            let files = hash::pick(img, ns, paths.as_deref())?;
            let digests = hash::sha256_all(img, &files, threads.unwrap_or(0))?;
            Ok(files
                .into_iter()
                .zip(digests)
                .map(|(f, d)| (f.key, hash::hex(&d)))
                .collect::<Vec<_>>())
        })?;
        let d = PyDict::new(py);
        for (k, v) in pairs {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// Every regular file of the tree (in walk order, each path of a hard link), or the
    /// files at `paths` (in that order): an iterator of `(path, memoryview)` pairs, each view
    /// what `view(path)` gives: zero-copy for a file stored as one range of the image, a
    /// view of a copy for a zisofs file (made when the iterator reaches it) and the other
    /// cases `view` names. The files are found at once (the interpreter released), so a
    /// missing path of `paths` raises here; the iterator keeps the image alive after
    /// `close()`.
    #[pyo3(signature = (namespace=None, *, paths=None))]
    fn views(
        &self,
        py: Python<'_>,
        namespace: Option<&str>,
        paths: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Views> {
        let paths = paths.map(path_list).transpose()?;
        let (file, buffer) = self.handle(py)?;
        let ns = parse_ns(namespace)?.unwrap_or(self.default_ns);
        let udf = ns == Namespace::Udf;
        let items = self.run(py, namespace, move |img, ns| {
            if udf {
                return udf::locs(img, paths.as_deref());
            }
            let files = hash::pick(img, ns, paths.as_deref())?;
            Ok(files
                .into_iter()
                .map(|f| {
                    let loc = entries::loc_of(img, &f.entry);
                    (f.key, f.path, loc)
                })
                .collect::<Vec<_>>())
        })?;
        let whole = match buffer {
            Some(b) => Some(PyMemoryView::from(b.bind(py))?.unbind()),
            None => None,
        };
        Ok(Views {
            file,
            limits: self.limits,
            ns,
            whole,
            items: items.into_iter(),
        })
    }

    /// Opens the regular file at `path` for reading: a binary, seekable file object
    /// (`isolution.ImageFile`, an `io.RawIOBase`). It stays readable after `close()` of the
    /// image. Wrap it in `io.BufferedReader` or `io.TextIOWrapper` as needed.
    #[pyo3(signature = (path, mode="rb", *, namespace=None))]
    fn open<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        mode: &str,
        namespace: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if mode != "rb" && mode != "r" {
            return Err(PyValueError::new_err(format!(
                "mode {mode:?}: images are read-only and binary (use \"rb\")"
            )));
        }
        let file = self.file()?;
        if self.is_udf(namespace)? {
            let p = path.to_string();
            let (ranges, size) = self.run(py, namespace, move |img, _| udf::ranges(img, &p))?;
            let native = NativeFile {
                file: Some(file),
                limits: self.limits,
                ns: Namespace::Udf,
                path: components(path).join("/"),
                ranges: Some(ranges),
                size,
                pos: 0,
            };
            static UDF_FILE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
            let wrapper = UDF_FILE.import(py, "isolution._io", "ImageFile")?;
            return wrapper.call1((Py::new(py, native)?, path));
        }
        let (ns, clean, slot) = self.locate(py, namespace, path)?;
        let (ranges, size) = match file_loc(&slot, path).map_err(|e| e.into_py(py))? {
            Loc::One(off, len) => (Some(vec![(*off, *len)]), *len as u64),
            Loc::Many(r) => (Some(r.to_vec()), r.iter().map(|x| x.1 as u64).sum()),
            Loc::Slow => {
                // The inflated size (and any error of the compressed data's header) now.
                let (f, limits, c) = (file.clone(), self.limits, clean.clone());
                let size = py
                    .detach(move || -> Result<u64, NotFile> {
                        let img = f.image_with_limits(limits)?;
                        let e = lookup_file(&img, ns, &c)?;
                        let r = img.reader(&e).map_err(|err| err.with_path(c.clone()))?;
                        Ok(reader_len(&r, &e))
                    })
                    .map_err(|e| e.into_py(py))?;
                (None, size)
            }
        };
        let native = NativeFile {
            file: Some(file),
            limits: self.limits,
            ns,
            path: clean,
            ranges,
            size,
            pos: 0,
        };
        static IMAGE_FILE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        let wrapper = IMAGE_FILE.import(py, "isolution._io", "ImageFile")?;
        wrapper.call1((Py::new(py, native)?, path))
    }

    /// The El Torito boot catalog (a `BootCatalog`: `lba`, `platform`, `id`, `checksum_ok`
    /// and `entries`, a list of `BootEntry`), or None when the image has no El Torito boot
    /// record. Raises FormatError when the catalog is malformed, LimitExceeded when it holds
    /// more entries than the `max_boot_entries` budget.
    #[getter]
    fn boot_catalog(&self, py: Python<'_>) -> PyResult<Option<BootCatalog>> {
        self.run(py, None, |img, _| {
            Ok(img.boot_catalog()?.as_ref().map(BootCatalog::from))
        })
    }

    /// What the image holds beside its ISO 9660 trees, as `isolution info --json` shows it
    /// under `layout`: a dict with `mbr`, `gpt` (with `sector_size` and `backup`), `apm`
    /// (each None when absent), `hfsplus` and `sessions` (lists), `udf` (None or a dict) and
    /// `warnings` (dicts with `offset` and `message`: damaged tables are reported, never
    /// raised). Read on each access; the HFS+ and UDF trees themselves are not read.
    ///
    /// ```python
    /// gpt = image.layout["gpt"]
    /// if gpt: print([p["name"] for p in gpt["entries"]])
    /// ```
    #[getter]
    fn layout<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let file = self.file()?;
        let img = file
            .image_with_limits(self.limits)
            .map_err(|e| iso_err(py, e))?;
        to_py_json(py, &img.layout())
    }

    /// The MD5 checksums xorriso recorded (`-md5 on`), found without hashing, as
    /// `isolution info --json` shows them under `md5`: a dict with `tags` (each with `kind`
    /// (`rlsb32`, `superblock`, `tree`, `session`), `lba`, `range_start`, `range_size`,
    /// `next`, `session_start`, `md5`), `bad_tags` (`kind`, `lba`, `error`),
    /// `checksum_array` (`start`, `end`, `count`, `item_size`, `algorithm`, or None) and
    /// `checksum_array_error`; None when the image records no MD5.
    #[getter]
    fn md5_tags<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let file = self.file()?;
        let limits = self.limits;
        let text = py
            .detach(move || -> Result<Option<String>, iso_core::Error> {
                let img = file.image_with_limits(limits)?;
                let tags = img.md5_tags()?;
                Ok((!tags.is_empty()).then(|| serde_json::to_string(&tags).unwrap_or_default()))
            })
            .map_err(|e| iso_err(py, e))?;
        text.map(|t| json_to_py(py, &t)).transpose()
    }

    /// Verifies every MD5 checksum xorriso recorded (`-md5 on`): each tag against the
    /// blocks it covers, the session and the checksum array, and each file against its
    /// stored bytes, with the interpreter released. Returns what `isolution check --json`
    /// prints: a dict with `ok` (True when something was checked and all matched),
    /// `md5_recorded` (False for an image made without MD5s: then `ok` is False too, as
    /// `xorriso -check_md5` says), `summary`, `bytes` (hashed) and `checks`, a list of dicts
    /// with `item` (`rlsb32`, `superblock`, `tree`, `session`, `unknown-tag`,
    /// `session-checksum`, `checksum-array`, `files` or `file`), `path` (for a file),
    /// `status` (`ok`, `mismatch` or `unreadable`), `offset`, `range` (`[start, end]` bytes
    /// or None), `recorded` and `computed` (hex, for a mismatch) and `error` (for an
    /// unreadable item: a damaged tag says which and where). Damage is reported, not
    /// raised; FormatError only when the root directory cannot be read.
    ///
    /// ```python
    /// report = image.check_md5()
    /// for c in report["checks"]:
    ///     if c["status"] != "ok": print(c["item"], c["path"], c["status"], hex(c["offset"]))
    /// ```
    fn check_md5<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let file = self.file()?;
        let limits = self.limits;
        let text = py
            .detach(move || -> Result<String, iso_core::Error> {
                let img = file.image_with_limits(limits)?;
                let r = img.check_md5(&mut |_, _| {})?;
                let v = serde_json::json!({
                    "ok": r.all_ok(),
                    "md5_recorded": !r.is_empty(),
                    "summary": r.summary(),
                    "bytes": r.bytes,
                    "checks": &r.checks,
                });
                Ok(v.to_string())
            })
            .map_err(|e| iso_err(py, e))?;
        json_to_py(py, &text)
    }

    /// The boot image of entry `index` of the El Torito catalog, as bytes (`BootEntry.size`
    /// bytes from block `BootEntry.load_rba`: what `isolution cat --boot N` writes). Raises
    /// IsolutionError when there is no catalog, IndexError for an index it does not have,
    /// FormatError when the image runs past the end of the ISO.
    #[pyo3(signature = (index=0))]
    fn read_boot<'py>(&self, py: Python<'py>, index: usize) -> PyResult<Bound<'py, PyBytes>> {
        let file = self.file()?;
        let (off, len) = self.run(py, None, move |img, _| {
            let Some(cat) = img.boot_catalog()? else {
                return Ok(Err(IsolutionError::new_err(
                    "the image has no El Torito boot catalog",
                )));
            };
            let Some(e) = cat.entries.get(index) else {
                return Ok(Err(PyIndexError::new_err(format!(
                    "no boot entry {index} (the catalog has {})",
                    cat.entries.len()
                ))));
            };
            let b = img.boot_image(e)?;
            Ok(Ok((entries::offset_in(img.data(), b), b.len())))
        })??;
        let b = file
            .bytes()
            .get(off..off.saturating_add(len))
            .ok_or_else(outside)?;
        Ok(PyBytes::new(py, b))
    }

    /// The MetalK8s Solution in this image (manifest, images, CRDs, roles, and the findings
    /// of loading it). Loading reads a few small files; `validate()` hashes the blobs.
    #[getter]
    fn solution(&self, py: Python<'_>) -> PyResult<Solution> {
        let file = self.file()?;
        Solution::load(py, file, self.limits)
    }
}

// ---------------------------------------------------------------------------------------------
// Files

/// What `Image.views()` returns: an iterator of `(path, memoryview)` pairs over the files it
/// found; `len()` is the number left.
#[pyclass(module = "isolution", name = "_Views")]
struct Views {
    file: Arc<IsoFile>,
    limits: Limits,
    ns: Namespace,
    /// A memoryview of the whole image (the `mmap.mmap`, or the `from_bytes` data), if any.
    whole: Option<Py<PyMemoryView>>,
    /// Key, cleaned path, where the bytes are.
    items: std::vec::IntoIter<(String, String, Loc)>,
}

#[pymethods]
impl Views {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<Option<(String, Bound<'py, PyMemoryView>)>> {
        let Some((key, path, loc)) = self.items.next() else {
            return Ok(None);
        };
        let whole = self.whole.as_ref().map(|w| w.bind(py));
        let v = file_bytes(py, &self.file, self.limits, self.ns, &path, &loc, whole)?;
        let m = match v.cast_into::<PyMemoryView>() {
            Ok(m) => m,
            Err(e) => PyMemoryView::from(&e.into_inner())?,
        };
        Ok(Some((key, m)))
    }

    fn __len__(&self) -> usize {
        self.items.len()
    }
}

/// The native half of `isolution.ImageFile`: use `Image.open()`, which wraps it.
#[pyclass(module = "isolution", name = "_NativeFile")]
struct NativeFile {
    file: Option<Arc<IsoFile>>,
    limits: Limits,
    ns: Namespace,
    path: String,
    /// `(offset, length)` of each stored extent in the image; None for a zisofs file.
    ranges: Option<Vec<(usize, usize)>>,
    size: u64,
    pos: u64,
}

impl NativeFile {
    fn file(&self) -> PyResult<Arc<IsoFile>> {
        self.file
            .clone()
            .ok_or_else(|| PyValueError::new_err("I/O operation on closed file."))
    }
}

#[pymethods]
impl NativeFile {
    /// Up to `size` bytes from the current position (all that is left when `size` < 0).
    #[pyo3(signature = (size=-1), text_signature = "(self, /, size=-1)")]
    fn read<'py>(&mut self, py: Python<'py>, size: i64) -> PyResult<Bound<'py, PyBytes>> {
        let file = self.file()?;
        let left = self.size.saturating_sub(self.pos);
        let n = if size < 0 {
            left
        } else {
            left.min(size as u64)
        };
        if n == 0 {
            return Ok(PyBytes::new(py, b""));
        }
        let n_usize = usize::try_from(n).map_err(|_| PyValueError::new_err("read too large"))?;
        let out = match &self.ranges {
            Some(ranges) => {
                let mut ok = true;
                let b = PyBytes::new_with(py, n_usize, |buf| {
                    ok = gather(file.bytes(), ranges, self.pos, buf).is_some();
                    Ok(())
                })?;
                if !ok {
                    return Err(outside());
                }
                b
            }
            None => {
                let (limits, ns, path, pos) = (self.limits, self.ns, self.path.clone(), self.pos);
                let v = py
                    .detach(move || -> Result<Vec<u8>, NotFile> {
                        let img = file.image_with_limits(limits)?;
                        let e = lookup_file(&img, ns, &path)?;
                        Ok(read_slow(&img, &e, pos, n).map_err(|err| err.with_path(path))?)
                    })
                    .map_err(|e| e.into_py(py))?;
                PyBytes::new(py, &v)
            }
        };
        self.pos += out.as_bytes().len() as u64;
        Ok(out)
    }

    /// Moves to `offset` relative to the start (`whence=0`), the current position (1) or
    /// the end (2); returns the new position. Positions past the end are allowed.
    #[pyo3(signature = (offset, whence=0))]
    fn seek(&mut self, offset: i64, whence: i32) -> PyResult<u64> {
        self.file()?;
        let base = match whence {
            0 => 0i128,
            1 => i128::from(self.pos),
            2 => i128::from(self.size),
            w => {
                return Err(PyValueError::new_err(format!(
                    "invalid whence ({w}, should be 0, 1 or 2)"
                )))
            }
        };
        let target = base + i128::from(offset);
        if target < 0 {
            return Err(PyValueError::new_err(format!(
                "negative seek position {target}"
            )));
        }
        self.pos =
            u64::try_from(target).map_err(|_| PyValueError::new_err("seek position too large"))?;
        Ok(self.pos)
    }

    /// The current position.
    fn tell(&self) -> PyResult<u64> {
        self.file()?;
        Ok(self.pos)
    }

    /// Releases the image held by this file.
    fn close(&mut self) {
        self.file = None;
    }

    /// True once closed.
    #[getter]
    fn closed(&self) -> bool {
        self.file.is_none()
    }

    /// Size of the file's content in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.size
    }
}

// ---------------------------------------------------------------------------------------------
// Solutions

/// A finding of a validation: `rule` (a stable id such as `image.blob-digest`), `severity`
/// (`"error"`, `"warning"` or `"info"`), `path` inside the archive, and `message`.
#[pyclass(
    frozen,
    skip_from_py_object,
    module = "isolution",
    name = "Finding",
    get_all
)]
#[derive(Clone)]
struct Finding {
    /// The rule id, e.g. `image.blob-digest`.
    rule: String,
    /// `"error"`, `"warning"` or `"info"`.
    severity: String,
    /// Where, inside the archive (`-` for the archive as a whole).
    path: String,
    /// What is wrong, in words.
    message: String,
}

impl From<&sol::Finding> for Finding {
    fn from(f: &sol::Finding) -> Self {
        Finding {
            rule: f.rule.to_string(),
            severity: f.severity.to_string(),
            path: f.path.clone(),
            message: f.message.clone(),
        }
    }
}

#[pymethods]
impl Finding {
    fn __repr__(&self) -> String {
        format!(
            "<isolution.Finding {} {} {:?}: {}>",
            self.severity, self.rule, self.path, self.message
        )
    }

    fn __str__(&self) -> String {
        format!(
            "{}: {} [{}] {}",
            self.severity, self.path, self.rule, self.message
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Finding>().is_ok_and(|o| {
            let o = o.get();
            o.rule == self.rule
                && o.severity == self.severity
                && o.path == self.path
                && o.message == self.message
        })
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&self.rule, &self.severity, &self.path, &self.message).hash(&mut h);
        h.finish()
    }
}

/// A content descriptor: `digest` (`sha256:<hex>`), `size` in bytes, `media_type`.
#[pyclass(
    frozen,
    skip_from_py_object,
    module = "isolution",
    name = "Descriptor",
    get_all
)]
#[derive(Clone)]
struct Descriptor {
    /// `sha256:<hex>`.
    digest: String,
    /// Size in bytes.
    size: u64,
    /// Media type.
    media_type: String,
}

impl From<&sol::BlobRef> for Descriptor {
    fn from(b: &sol::BlobRef) -> Self {
        Descriptor {
            digest: b.digest.to_string(),
            size: b.size,
            media_type: b.media_type.clone(),
        }
    }
}

#[pymethods]
impl Descriptor {
    fn __repr__(&self) -> String {
        format!("<isolution.Descriptor {} {} bytes>", self.digest, self.size)
    }
}

/// One per-platform manifest of a manifest list or OCI index (`ContainerImage.platforms`):
/// the manifest's descriptor, its platform, config and layers.
#[pyclass(
    frozen,
    skip_from_py_object,
    module = "isolution",
    name = "PlatformManifest",
    get_all
)]
#[derive(Clone)]
struct PlatformManifest {
    /// `os/architecture[/variant]` as the list gives it ("" when it gives none).
    platform: String,
    /// The manifest's descriptor (its `<hex>.manifest.json` file).
    manifest: Descriptor,
    /// `"docker-v2-s2"` or `"oci-manifest"`.
    kind: String,
    /// The config descriptor, or None.
    config: Option<Descriptor>,
    /// The layer descriptors.
    layers: Vec<Descriptor>,
}

impl From<&sol::PlatformManifest> for PlatformManifest {
    fn from(p: &sol::PlatformManifest) -> Self {
        PlatformManifest {
            platform: p.platform.clone(),
            manifest: Descriptor::from(&p.manifest),
            kind: kebab(&p.kind),
            config: Some(Descriptor::from(&p.config)),
            layers: p.layers.iter().map(Descriptor::from).collect(),
        }
    }
}

#[pymethods]
impl PlatformManifest {
    fn __repr__(&self) -> String {
        format!(
            "<isolution.PlatformManifest {} {}>",
            self.platform, self.manifest.digest
        )
    }
}

/// One image tag of a Solution (`images/<name>/<tag>/`): its manifest digest, media type,
/// manifest size, config and layer descriptors.
#[pyclass(
    frozen,
    skip_from_py_object,
    module = "isolution",
    name = "ContainerImage",
    get_all
)]
#[derive(Clone)]
struct ContainerImage {
    /// Repository name.
    name: String,
    /// Tag.
    tag: String,
    /// Directory in the archive (`images/<name>/<tag>`).
    path: String,
    /// `sha256:` digest of the raw `manifest.json` bytes.
    digest: String,
    /// Media type of the manifest.
    media_type: String,
    /// Size of `manifest.json` in bytes.
    size: u64,
    /// `"docker-v2-s2"`, `"oci-manifest"`, `"docker-list"`, `"oci-index"`, ... (as in the CLI's JSON)
    kind: String,
    /// The config descriptor, or None.
    config: Option<Descriptor>,
    /// The layer descriptors.
    layers: Vec<Descriptor>,
    /// The child manifests of an index or list.
    children: Vec<Descriptor>,
    /// For an index or list: each per-platform manifest, read from its `<hex>.manifest.json`
    /// file (empty for an image manifest).
    platforms: Vec<PlatformManifest>,
    /// Content of the `version` file, or None.
    version_file: Option<String>,
    /// Bytes of the config and layers.
    blob_bytes: u64,
}

#[pymethods]
impl ContainerImage {
    fn __repr__(&self) -> String {
        format!(
            "<isolution.ContainerImage {}:{} {}>",
            self.name, self.tag, self.digest
        )
    }
}

impl From<&sol::ContainerImage> for ContainerImage {
    fn from(i: &sol::ContainerImage) -> Self {
        ContainerImage {
            name: i.name.clone(),
            tag: i.tag.clone(),
            path: i.path.clone(),
            digest: i.manifest_digest_str().to_string(),
            media_type: i.media_type.clone(),
            size: i.manifest_size,
            kind: kebab(&i.kind),
            config: i.config().map(Descriptor::from),
            layers: i.layers().iter().map(Descriptor::from).collect(),
            children: i.children().iter().map(Descriptor::from).collect(),
            platforms: i.platforms().iter().map(PlatformManifest::from).collect(),
            version_file: i.version_file.clone(),
            blob_bytes: i.blob_bytes,
        }
    }
}

/// A MetalK8s Solution archive, read from an `Image` (`image.solution`). Holds the image
/// itself: it stays usable after the image is closed.
#[pyclass(frozen, module = "isolution", name = "Solution")]
struct Solution {
    file: Arc<IsoFile>,
    limits: Limits,
    /// Loaded once, kept with the mapping it borrows from: methods never parse again.
    shared: Arc<iso_core::SharedSolution>,
    /// `metadata.name`, or None.
    #[pyo3(get)]
    name: Option<String>,
    /// `metadata.version`, or None.
    #[pyo3(get)]
    version: Option<String>,
    /// The display name (annotation or top-level), or None.
    #[pyo3(get)]
    display_name: Option<String>,
    /// `<name>-<version>`, or None.
    #[pyo3(get)]
    id: Option<String>,
    /// The primary volume id.
    #[pyo3(get)]
    volume_id: String,
    /// The namespace read (`"rr"` for a well-formed archive).
    #[pyo3(get)]
    namespace: &'static str,
    /// `(name, tag)` of the operator image, or None.
    #[pyo3(get)]
    operator_image: Option<(String, String)>,
    /// Paths of the CRD files.
    #[pyo3(get)]
    crds: Vec<String>,
    /// `(kind, name)` of the operator roles.
    #[pyo3(get)]
    roles: Vec<(String, String)>,
    /// The image tags.
    #[pyo3(get)]
    images: Vec<ContainerImage>,
    /// The findings of loading it (no digests: see `validate()`).
    #[pyo3(get)]
    findings: Vec<Finding>,
    manifest_json: Option<String>,
}

impl Solution {
    fn load(py: Python<'_>, file: Arc<IsoFile>, limits: Limits) -> PyResult<Self> {
        let f = file.clone();
        py.detach(move || {
            let shared = Arc::new(iso_core::SharedSolution::load(
                iso_core::SharedImage::open_with_limits(f.clone(), limits)?,
            )?);
            Ok(shared
                .clone()
                .with(|s| Solution::from_loaded(s, f, limits, shared)))
        })
        .map_err(|e: iso_core::Error| iso_err(py, e))
    }

    /// The Python view of a loaded Solution.
    fn from_loaded(
        s: &sol::Solution<'_, '_>,
        file: Arc<IsoFile>,
        limits: Limits,
        shared: Arc<iso_core::SharedSolution>,
    ) -> Self {
        let m = s.manifest.as_ref();
        Solution {
            file,
            limits,
            shared,
            name: m.and_then(|m| m.name.clone()),
            version: m.and_then(|m| m.version.clone()),
            display_name: m.and_then(|m| m.display_name.clone()),
            id: s.id(),
            volume_id: s.volume_id.clone(),
            namespace: s.namespace.as_str(),
            operator_image: m
                .and_then(|m| m.operator_image_ref())
                .map(|(n, t)| (n.to_string(), t.to_string())),
            crds: s.operator.crd_paths().map(String::from).collect(),
            roles: s
                .operator
                .role_names()
                .map(|(k, n)| (k.to_string(), n.to_string()))
                .collect(),
            images: s.images.iter().map(ContainerImage::from).collect(),
            findings: s.findings().iter().map(Finding::from).collect(),
            manifest_json: m.and_then(|m| m.to_json()),
        }
    }
}

/// Reads a key or signature argument: bytes are the content; str / os.PathLike name a file.
fn text_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return String::from_utf8(b.as_bytes().to_vec())
            .map_err(|_| SignatureError::new_err(format!("{what}: not UTF-8 text")));
    }
    let path: PathBuf = obj.extract()?;
    std::fs::read_to_string(&path)
        .map_err(|e| io_err_kind(e.kind(), format!("{what} {}: {e}", path.display())))
}

/// A `ValidationReport` (`isolution._report`): the findings, a list, with the verdict.
fn make_report<'py>(
    py: Python<'py>,
    findings: Vec<Finding>,
    strict: bool,
    hashed: Option<(usize, u64)>,
) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("strict", strict)?;
    if let Some((blobs, bytes)) = hashed {
        kwargs.set_item("hashed_blobs", blobs)?;
        kwargs.set_item("hashed_bytes", bytes)?;
    }
    static REPORT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    REPORT
        .import(py, "isolution._report", "ValidationReport")?
        .call((findings,), Some(&kwargs))
}

/// ValidationError for a report that does not pass: the failing findings in the message,
/// the report as its `findings` attribute.
fn findings_err(py: Python<'_>, report: &Bound<'_, PyAny>, what: &str) -> PyErr {
    let lines: Vec<String> = report
        .getattr("failures")
        .and_then(|f| f.extract::<Vec<Bound<'_, Finding>>>())
        .map(|fs| fs.iter().map(|f| f.get().__str__()).collect())
        .unwrap_or_default();
    let err = ValidationError::new_err(format!("{what}:\n  {}", lines.join("\n  ")));
    let _ = err.value(py).setattr("findings", report);
    err
}

/// The images an export is asked for: "name:tag" strings or (name, tag) tuples.
fn wanted_images(images: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    if let Some(list) = images {
        if list.is_instance_of::<pyo3::types::PyString>() {
            return Err(PyTypeError::new_err(
                "images must be a list of \"name:tag\" strings or (name, tag) tuples, not a string",
            ));
        }
        for item in list.try_iter()? {
            let item = item?;
            if let Ok(s) = item.extract::<String>() {
                let r: ImageRef = s.parse().map_err(|e: BadImageRef| {
                    PyValueError::new_err(format!("{:?} is not \"name:tag\"", e.0))
                })?;
                wanted.push((r.name, r.tag));
            } else {
                wanted.push(item.extract::<(String, String)>()?);
            }
        }
    }
    Ok(wanted)
}

/// Bytes of the distinct config and layer blobs of the `wanted` images (all when empty), as
/// the exporters count their progress ([`BlobTotal`]).
fn layout_total(s: &sol::Solution<'_, '_>, wanted: &[(String, String)]) -> u64 {
    let selected: Vec<usize> = s
        .images
        .iter()
        .enumerate()
        .filter(|(_, img)| {
            wanted.is_empty() || wanted.iter().any(|(n, t)| *n == img.name && *t == img.tag)
        })
        .map(|(i, _)| i)
        .collect();
    BlobTotal::of(s, &selected).stored_bytes
}

/// Why an export or a push failed, before it becomes a Python exception.
enum Fail {
    Export(RsExportError),
    Push(PushError, String),
    Other(String),
    /// The progress callable raised (its exception is in the `Reporter`).
    Stopped,
}

impl Fail {
    /// The exception: the progress callable's when it raised (that is what stopped the
    /// operation), else the operation's own.
    fn into_py(self, py: Python<'_>, rep: &mut Reporter) -> PyErr {
        if let Some(e) = rep.take_error() {
            return e;
        }
        match self {
            Fail::Export(e) => ExportError::new_err(e.to_string()),
            Fail::Push(e, registry) => push_err(py, e, &registry),
            Fail::Other(m) => ExportError::new_err(m),
            Fail::Stopped => ExportError::new_err("stopped by the progress callback"),
        }
    }
}

/// RegistryError (with `method`, `url`, `status`, `body`) for what the registry said or
/// could not say; FormatError for an unreadable image; ExportError for the rest.
fn push_err(py: Python<'_>, e: PushError, registry: &str) -> PyErr {
    let registry_error = |msg: String, method: &str, url: &str, status: Option<u16>, body| {
        let err = RegistryError::new_err(msg);
        let v = err.value(py);
        let _ = v.setattr("method", method);
        let _ = v.setattr("url", url);
        let _ = v.setattr("status", status);
        let _ = v.setattr("body", body);
        err
    };
    match e {
        PushError::Image(e) => iso_err(py, e),
        PushError::Registry {
            method,
            url,
            status,
            body,
        } => registry_error(
            format!("push to {registry}: {method} {url}: HTTP {status}: {body}"),
            &method,
            &url,
            Some(status),
            Some(body.clone()),
        ),
        PushError::Transport { method, url, error } => registry_error(
            format!(
                "push to {registry}: {method} {url}: {error} (is the registry running, and \
                 does it speak https? use insecure=True for plain http)"
            ),
            &method,
            &url,
            None,
            None,
        ),
        PushError::Auth {
            method,
            url,
            status,
            reason,
        } => registry_error(
            format!("push to {registry}: {method} {url}: {reason}"),
            &method,
            &url,
            Some(status),
            None,
        ),
        other => ExportError::new_err(format!("push to {registry}: {other}")),
    }
}

impl Solution {
    /// With `check`, ValidationError when the archive fails validation (an error among its
    /// structural findings; blobs are not hashed: exports and pushes check each blob they
    /// write), as `isolution export`/`push`/`serve` refuse it without `--force`.
    fn refuse_invalid(&self, py: Python<'_>, check: bool) -> PyResult<()> {
        if !check {
            return Ok(());
        }
        let shared = self.shared.clone();
        let report = py.detach(move || {
            shared.with(|s| {
                s.validate(ValidateOptions {
                    digests: false,
                    threads: 0,
                })
            })
        });
        if report.passes(false) {
            return Ok(());
        }
        let findings: Vec<Finding> = report.findings.iter().map(Finding::from).collect();
        let r = make_report(py, findings, false, None)?;
        Err(findings_err(
            py,
            &r,
            "the Solution fails validation (check=False goes on anyway)",
        ))
    }

    /// `export_docker_archive` and `export_oci_archive`.
    #[allow(clippy::too_many_arguments)]
    fn export_archive<'py>(
        &self,
        py: Python<'py>,
        dest: PathBuf,
        images: Option<&Bound<'py, PyAny>>,
        progress: Option<Py<PyAny>>,
        format: ArchiveFormat,
        platform: Option<String>,
        check: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.refuse_invalid(py, check)?;
        let wanted = wanted_images(images)?;
        let shared = self.shared.clone();
        let mut rep = Reporter::new(progress);
        let (result, mut rep) = py.detach(move || {
            let result = shared.with(|s| {
                archive::export_archive_for(
                    s,
                    &dest,
                    format,
                    &wanted,
                    platform.as_deref(),
                    &mut |p| rep.report(p.done, p.total),
                )
                .map_err(Fail::Export)
            });
            let result = result.and_then(|r| match rep.finish() {
                ControlFlow::Continue(()) => Ok(r),
                ControlFlow::Break(()) => Err(Fail::Stopped),
            });
            (result, rep)
        });
        let report = result.map_err(|f| f.into_py(py, &mut rep))?;
        to_py_json(py, &report)
    }
}

#[pymethods]
impl Solution {
    /// The parsed `manifest.yaml` document as a dict (a fresh copy per access), or None.
    #[getter]
    fn manifest<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.manifest_json {
            Some(j) => json_to_py(py, j),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// Checks the archive the way MetalK8s reads it, and more strictly; with `digests=True`
    /// (the default) every distinct blob is hashed, on `threads` cores (0: all), with the
    /// interpreter released.
    ///
    /// Returns a `ValidationReport`: the list of every finding (`Finding`: `rule`,
    /// `severity`, `path`, `message`), errors first, whatever `strict` is, and the verdict
    /// under that strictness, as `isolution validate [--strict]` gives it (its exit status is
    /// 0 exactly when `passed` is True):
    ///
    /// - `strict=False`: only errors fail. An error is something that makes MetalK8s refuse
    ///   the archive or serve it wrongly (a manifest it rejects, a missing or corrupt blob,
    ///   nginx configuration it would include verbatim, ...).
    /// - `strict=True`: warnings fail too. A warning is something MetalK8s accepts but that
    ///   breaks a documented convention or a limit it does not check (a name over 54
    ///   characters, no Joliet tree, an unknown manifest key, ...).
    ///
    /// `report.failures` lists the findings that fail, `report.passed` is True when there are
    /// none. With `check=True`, a report that does not pass raises ValidationError (its
    /// `findings` attribute holds the report) instead of being returned.
    #[pyo3(signature = (*, strict=false, digests=true, threads=0, check=false))]
    fn validate<'py>(
        &self,
        py: Python<'py>,
        strict: bool,
        digests: bool,
        threads: usize,
        check: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared.clone();
        let report =
            py.detach(move || shared.with(|s| s.validate(ValidateOptions { digests, threads })));
        let findings: Vec<Finding> = report.findings.iter().map(Finding::from).collect();
        let passed = report.passes(strict);
        let r = make_report(
            py,
            findings,
            strict,
            Some((report.hashed_blobs, report.hashed_bytes)),
        )?;
        if check && !passed {
            return Err(findings_err(py, &r, "the Solution fails validation"));
        }
        Ok(r)
    }

    /// Verifies the archive's signature (`SHA256SUMS` and its signature at the root) with a
    /// trusted key from outside the archive: `key` (a minisign or signify public key), or
    /// `allowed_signers` plus `identity` (SSH). Keys, allowed-signers files and `detached`
    /// (a signature of the whole ISO) are paths, or bytes holding the content.
    ///
    /// Returns the report as a dict (`verified`, `signature`, `files`, `bytes`, `isomd5`,
    /// `failures`, ...); raises SignatureError (with a `report` attribute) when anything fails.
    #[pyo3(signature = (key=None, allowed_signers=None, identity=None, *, detached=None, threads=0))]
    fn verify<'py>(
        &self,
        py: Python<'py>,
        key: Option<&Bound<'py, PyAny>>,
        allowed_signers: Option<&Bound<'py, PyAny>>,
        identity: Option<String>,
        detached: Option<&Bound<'py, PyAny>>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let trusted = match (key, allowed_signers, identity) {
            (Some(k), None, None) => TrustedKey::Minisign(
                signature::parse_minisign_key(&text_arg(k, "key")?)
                    .map_err(|f| SignatureError::new_err(format!("key: {f}")))?,
            ),
            (None, Some(a), Some(identity)) => TrustedKey::Ssh {
                signers: signature::parse_allowed_signers(&text_arg(a, "allowed signers")?)
                    .map_err(|f| SignatureError::new_err(format!("allowed signers: {f}")))?,
                identity,
            },
            _ => {
                return Err(PyTypeError::new_err(
                    "verify() needs key=..., or allowed_signers=... and identity=...",
                ))
            }
        };
        let detached = detached
            .map(|d| text_arg(d, "detached signature"))
            .transpose()?;
        let (file, limits) = (self.file.clone(), self.limits);
        let report = py
            .detach(move || {
                let img = file.image_with_limits(limits)?;
                Ok(sol::verify(
                    &img,
                    &trusted,
                    VerifyOptions {
                        detached: detached.as_deref(),
                        embedded: true,
                        threads,
                    },
                ))
            })
            .map_err(|e: iso_core::Error| iso_err(py, e))?;
        let dict = to_py_json(py, &report)?;
        if !report.verified {
            let msgs: Vec<String> = report.failures.iter().map(|f| f.to_string()).collect();
            let err = SignatureError::new_err(format!(
                "the Solution does not verify:\n  {}",
                msgs.join("\n  ")
            ));
            let _ = err.value(py).setattr("report", &dict);
            return Err(err);
        }
        Ok(dict)
    }

    /// Writes the images (all, or `images`: "name:tag" strings or (name, tag) tuples) to an
    /// OCI image layout at `dest` (created if needed), checking every blob's size and digest.
    /// `dest`, `dest/blobs` and `dest/blobs/sha256` must be real directories (a symbolic link
    /// there raises ExportError). A blob file already there is re-hashed before it counts:
    /// a wrong one is replaced and listed in `replaced`; with `trust_existing=True` a regular
    /// file of the right size counts without being read. With `oci_media_types=True`, Docker
    /// manifests are converted to OCI ones (new manifest digests). Returns a dict report
    /// (`images`, `blobs_written`, `blobs_present`, `blobs_replaced`, `replaced`,
    /// `bytes_written`); raises ExportError.
    ///
    /// `progress`, if given, is called as `progress(done_bytes, total_bytes)` with the bytes
    /// of distinct config and layer blobs handled (blobs already in `dest` count as done),
    /// about once per percent: at most about 100 calls, the first with `done == 0` before
    /// anything is written, the last with `done == total`, all from the calling thread with
    /// the interpreter taken only for the call. If it raises, the export stops and the
    /// exception propagates: at the first call nothing is written; later, every writer
    /// thread abandons its blob (its temporary file removed), `index.json` is not updated,
    /// and `dest` keeps only complete, verified blobs, which the next export reuses.
    ///
    /// With `check=True` (the default), an archive that fails validation (an error among
    /// its findings, blobs not hashed) raises ValidationError before anything is written, as
    /// `isolution export` refuses it without `--force`; `check=False` exports it anyway.
    #[pyo3(signature = (dest, images=None, progress=None, *, oci_media_types=false, trust_existing=false, check=true))]
    #[allow(clippy::too_many_arguments)]
    fn export_oci<'py>(
        &self,
        py: Python<'py>,
        dest: PathBuf,
        images: Option<&Bound<'py, PyAny>>,
        progress: Option<Py<PyAny>>,
        oci_media_types: bool,
        trust_existing: bool,
        check: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.refuse_invalid(py, check)?;
        let wanted = wanted_images(images)?;
        let mut opts = layout::LayoutOptions::default();
        opts.oci_media_types = oci_media_types;
        opts.trust_existing = trust_existing;
        let shared = self.shared.clone();
        let mut rep = Reporter::new(progress);
        let (result, mut rep) = py.detach(move || {
            let result = shared.with(|s| -> Result<_, Fail> {
                // The exporter's first report comes after its first chunk: report 0 first
                // (and let a callable that raises at once stop the export before it starts).
                if rep.report(0, layout_total(s, &wanted)).is_break() {
                    return Err(Fail::Stopped);
                }
                layout::export_oci_opts(s, &dest, &wanted, &opts, &mut |p| {
                    rep.report(p.done, p.total)
                })
                .map_err(|e| match e {
                    RsExportError::Stopped => Fail::Stopped,
                    e => Fail::Export(e),
                })
            });
            let result = result.and_then(|r| match rep.finish() {
                ControlFlow::Continue(()) => Ok(r),
                ControlFlow::Break(()) => Err(Fail::Stopped),
            });
            (result, rep)
        });
        let report = result.map_err(|f| f.into_py(py, &mut rep))?;
        to_py_json(py, &report)
    }

    /// Writes the images (all, or `images`) as one `docker load` tar at `dest`
    /// (`manifest.json` with `Config`, `RepoTags` `<image>:<tag>` and `Layers`; layers kept
    /// gzip-compressed), for `docker load`, `podman load` or `skopeo copy docker-archive:`.
    /// The format has no manifests, so manifest digests are not kept (config and layer
    /// digests are). Every blob is hashed while written and checked against its descriptor.
    /// The tar is written to `dest` + `.partial` and renamed when complete; on any failure
    /// nothing is left. Returns a dict report (`refs`, `blobs`, `bytes`); raises ExportError.
    ///
    /// `progress`, if given, is called as `progress(done_bytes, total_bytes)` about once per
    /// percent (the first call with 0, the last with `done == total` once the tar is
    /// complete); if it raises, the export stops, the partial file is removed, and the
    /// exception propagates.
    ///
    /// A multi-platform tag (a manifest list or OCI index) needs `platform`, as
    /// `"os/arch[/variant]"` (`"linux/arm64"` matches `linux/arm64/v8` when it is the only
    /// arm64 one): that platform's image is written under the tag. Without it, or when the
    /// list lacks it, ExportError names the platforms the list has.
    ///
    /// `check` works as for `export_oci`.
    #[pyo3(signature = (dest, images=None, progress=None, *, platform=None, check=true))]
    fn export_docker_archive<'py>(
        &self,
        py: Python<'py>,
        dest: PathBuf,
        images: Option<&Bound<'py, PyAny>>,
        progress: Option<Py<PyAny>>,
        platform: Option<String>,
        check: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.export_archive(
            py,
            dest,
            images,
            progress,
            ArchiveFormat::Docker,
            platform,
            check,
        )
    }

    /// Writes the images (all, or `images`) as one tar of an OCI image layout at `dest`,
    /// as `skopeo copy oci-archive:DEST:<image>:<tag>` reads it: the same layout
    /// `export_oci` writes (manifests unchanged, so their digests are kept). Every blob is
    /// hashed while written and checked against its descriptor; the tar is written to
    /// `dest` + `.partial` and renamed when complete. Returns a dict report (`refs`, `blobs`,
    /// `bytes`); raises ExportError. `progress` works as for `export_docker_archive`, `check`
    /// as for `export_oci`.
    #[pyo3(signature = (dest, images=None, progress=None, *, check=true))]
    fn export_oci_archive<'py>(
        &self,
        py: Python<'py>,
        dest: PathBuf,
        images: Option<&Bound<'py, PyAny>>,
        progress: Option<Py<PyAny>>,
        check: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.export_archive(py, dest, images, progress, ArchiveFormat::Oci, None, check)
    }

    /// Pushes every image to the registry at `registry` as `<prefix>/<image>:<tag>`, the
    /// prefix defaulting to `<name>-<version>` (the repository MetalK8s exposes), straight
    /// from the ISO, with the interpreter released: per blob a `HEAD` first (nothing sent
    /// when the registry has it), a cross-repository mount when this push already sent it
    /// elsewhere, else an upload; manifests last, with their exact bytes, so the digests the
    /// registry reports are the archive's (checked). `registry` is a URL
    /// (`https://host:5000`) or `host:port` (https, or plain http with `insecure=True`, which
    /// also accepts invalid certificates). `credentials` is `(user, password)`, for basic
    /// and bearer-token authentication (a token per repository, cached until it expires,
    /// fetched again when the registry refuses it); credentials written in the URL
    /// (`http://user:password@host`) are used when it is None, and never shown in messages;
    /// else those `podman login`, `skopeo login` or `docker login` stored: `authfile`, or
    /// `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
    /// `~/.config/containers/auth.json`, `~/.docker/config.json`, in that order, as the CLI
    /// reads them (an unreadable `authfile` raises ExportError).
    /// At most `concurrency` requests at once; 5xx and 429 answers (after their
    /// `Retry-After`) and connection errors are retried with backoff. Time limits in
    /// seconds: `connect_timeout` to connect, `read_timeout` of silence from the registry,
    /// `timeout` for one request with its retries.
    ///
    /// Returns a dict report: `images` (`<host>/<repo>:<tag>@<digest>`), `uploaded`,
    /// `present`, `mounted` (blob counts) and `bytes` uploaded. Raises RegistryError (a
    /// subclass of ExportError) when the registry answers with an error, refuses the
    /// credentials (`status` 401 or 403), cannot be reached or does not answer in time
    /// (`status` None; the message names the cause), ExportError for other failures (a digest the registry disagrees with, an
    /// image kind it cannot push).
    ///
    /// `progress(done_bytes, total_bytes)`, if given, is called before anything is sent
    /// (`done` 0), after blobs are handled (uploaded, found present or mounted; throttled to
    /// about 100 calls), and last with `done == total` before the manifests go, `total` being
    /// the bytes of the blobs to push. If it raises, no new blob is started, no manifest is
    /// sent (a later push skips the blobs already there), and the exception propagates.
    ///
    /// With `check=True` (the default), an archive that fails validation raises
    /// ValidationError before anything is sent, as `isolution push` refuses it without
    /// `--force`; `check=False` pushes it anyway.
    #[pyo3(signature = (registry, *, prefix=None, insecure=false, credentials=None,
        concurrency=4, progress=None, connect_timeout=10.0, read_timeout=60.0, timeout=600.0,
        authfile=None, check=true))]
    #[allow(clippy::too_many_arguments)]
    fn push<'py>(
        &self,
        py: Python<'py>,
        registry: String,
        prefix: Option<String>,
        insecure: bool,
        credentials: Option<(String, String)>,
        concurrency: usize,
        progress: Option<Py<PyAny>>,
        connect_timeout: f64,
        read_timeout: f64,
        timeout: f64,
        authfile: Option<PathBuf>,
        check: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.refuse_invalid(py, check)?;
        if concurrency == 0 {
            return Err(PyValueError::new_err("concurrency must be at least 1"));
        }
        let seconds = |name: &str, v: f64| {
            if v > 0.0 {
                std::time::Duration::try_from_secs_f64(v).ok()
            } else {
                None
            }
            .ok_or_else(|| {
                PyValueError::new_err(format!("{name} must be a positive number of seconds"))
            })
        };
        let credentials = match credentials {
            Some(c) => Some(c.into()),
            None => {
                let url = RegistryUrl::parse(&registry);
                match url.credentials {
                    Some(c) => Some(c),
                    None => {
                        // Auth files may hold per-namespace entries: the prefix's.
                        let namespace = match &prefix {
                            Some(p) => p.trim_matches('/').to_string(),
                            None => self.id.clone().unwrap_or_default(),
                        };
                        credentials::lookup(url.host(), &namespace, authfile.as_deref())
                            .map_err(|e| ExportError::new_err(e.to_string()))?
                            .map(|(c, _source)| c)
                    }
                }
            }
        };
        let opts = PushOptions {
            registry,
            prefix,
            insecure,
            credentials,
            concurrency,
            connect_timeout: seconds("connect_timeout", connect_timeout)?,
            read_timeout: seconds("read_timeout", read_timeout)?,
            timeout: seconds("timeout", timeout)?,
            ..PushOptions::default()
        };
        let file = self.file.clone();
        let mut rep = Reporter::new(progress);
        let (result, mut rep) = py.detach(move || {
            let result = (|| -> Result<_, Fail> {
                // The archive was loaded with this Solution: an unreadable one never gets here.
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| {
                        Fail::Other(format!("cannot start the async runtime for the push: {e}"))
                    })?;
                // The pushing tasks call this from the runtime; the reporter needs `&mut`.
                let shared = std::sync::Mutex::new(&mut rep);
                let report = rt.block_on(rpush::push_with(file, &opts, &|p| match shared.lock() {
                    Ok(mut r) => r.report(p.done, p.total),
                    Err(_) => ControlFlow::Break(()),
                }));
                let report = report.map_err(|e| match e {
                    rpush::PushError::Stopped => Fail::Stopped,
                    // Never the credentials a registry URL may hold.
                    e => Fail::Push(e, opts.registry_shown()),
                })?;
                match rep.finish() {
                    ControlFlow::Continue(()) => Ok(report),
                    ControlFlow::Break(()) => Err(Fail::Stopped),
                }
            })();
            (result, rep)
        });
        let report = result.map_err(|f| f.into_py(py, &mut rep))?;
        to_py_json(py, &report)
    }

    /// The `registry-config.inc.j2` that the image tree implies (MetalK8s's generator).
    fn registry_config(&self, py: Python<'_>) -> PyResult<String> {
        let shared = self.shared.clone();
        Ok(py.detach(move || shared.with(|s| s.registry_config())))
    }

    /// The Kubernetes objects that deploy this Solution's CRDs and operator, as MetalK8s
    /// deploys them (`isolution render`): the CRDs; then, in `namespace`, the ServiceAccount
    /// `<name>-operator`, each Role and ClusterRole of `role.yaml` with its RoleBinding (name
    /// cut at 63 characters), the `<name>-operator-config` ConfigMap holding the
    /// OperatorConfig, and the operator Deployment. Returns one YAML stream (a str), the
    /// same bytes the command prints; see `render_objects()` for dicts.
    ///
    /// `components`: `"all"`, `"crds"` (what MetalK8s applies when a version is activated;
    /// `namespace` may be None) or `"environment"` (everything but the CRDs). `registry`: the
    /// host in image references and OperatorConfig endpoints. `webhook`: mount the
    /// `<name>-cert` Secret at `/cert`. `available`: other imported versions of the same
    /// Solution (Solution objects), listed in the OperatorConfig as MetalK8s lists every
    /// imported version. `metalk8s_version`: the `metalk8s.scality.com/version` label.
    ///
    /// Warnings (a ClusterRole, a cut name, ...) are issued as `isolution.RenderWarning`.
    /// Raises DeployError when MetalK8s would refuse the archive (`path` names the file),
    /// ValueError for a bad option, FormatError for an unreadable image.
    #[pyo3(signature = (namespace=None, *, components="all", registry=None, webhook=false, available=None, metalk8s_version="unknown"))]
    #[allow(clippy::too_many_arguments)]
    fn render(
        &self,
        py: Python<'_>,
        namespace: Option<String>,
        components: &str,
        registry: Option<String>,
        webhook: bool,
        available: Option<Vec<PyRef<'_, Solution>>>,
        metalk8s_version: &str,
    ) -> PyResult<String> {
        let opts = render_options(namespace, components, registry, webhook, metalk8s_version)?;
        let (yaml, _) = self.rendered(py, opts, available)?;
        Ok(yaml)
    }

    /// `render()`'s objects as a list of dicts (what `kubectl` sends), in the order to apply
    /// them. Same arguments, warnings and errors as `render()`.
    #[pyo3(signature = (namespace=None, *, components="all", registry=None, webhook=false, available=None, metalk8s_version="unknown"))]
    #[allow(clippy::too_many_arguments)]
    fn render_objects<'py>(
        &self,
        py: Python<'py>,
        namespace: Option<String>,
        components: &str,
        registry: Option<String>,
        webhook: bool,
        available: Option<Vec<PyRef<'py, Solution>>>,
        metalk8s_version: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = render_options(namespace, components, registry, webhook, metalk8s_version)?;
        let (_, json) = self.rendered(py, opts, available)?;
        json_to_py(py, &json)
    }

    /// What moving a cluster from this version to `new` (another Solution) changes
    /// (`isolution upgrade-plan`): CRDs added or removed, per CRD versions added or removed,
    /// the storage version moving, schema fields removed, retyped or newly required; images
    /// by digest; the operator image; RBAC widened or narrowed. Returns a dict: `name`,
    /// `from`, `to`, `changes` (each with `impact` "info" | "warning" | "breaking", `area`,
    /// `subject`, `message`, most important first), `breaking`, `warnings`, and `safe`
    /// (nothing breaking). Raises DeployError when either archive cannot be read as
    /// MetalK8s would deploy it.
    fn upgrade_plan<'py>(
        &self,
        py: Python<'py>,
        new: PyRef<'py, Solution>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (old, new) = (self.shared.clone(), new.shared.clone());
        let plan = py
            .detach(move || -> Result<String, DeployFail> {
                let plan = old.with(|o| new.with(|n| upgrade::plan(o, n)))?;
                serde_json::to_string(&plan).map_err(|e| DeployFail::Other(e.to_string()))
            })
            .map_err(|e| e.into_py(py))?;
        json_to_py(py, &plan)
    }

    fn __repr__(&self) -> String {
        format!(
            "<isolution.Solution {} ({} images)>",
            self.id.as_deref().unwrap_or("?"),
            self.images.len()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// render and upgrade_plan

fn render_options(
    namespace: Option<String>,
    components: &str,
    registry: Option<String>,
    webhook: bool,
    metalk8s_version: &str,
) -> PyResult<RenderOptions> {
    let components = match components {
        "all" => Components::All,
        "crds" => Components::CrdsOnly,
        "environment" => Components::NoCrds,
        other => {
            return Err(PyValueError::new_err(format!(
                "components={other:?}: expected \"all\", \"crds\" or \"environment\""
            )))
        }
    };
    if namespace.is_none() && components != Components::CrdsOnly {
        return Err(PyValueError::new_err(
            "namespace is required unless components=\"crds\"",
        ));
    }
    let mut opts = RenderOptions::new(namespace.unwrap_or_default());
    opts.components = components;
    opts.webhook = webhook;
    opts.metalk8s_version = metalk8s_version.to_string();
    if let Some(r) = registry {
        opts.registry = r;
    }
    Ok(opts)
}

/// Why a render or a plan failed, before it becomes a Python exception.
enum DeployFail {
    Iso(iso_core::Error),
    Render(RenderError),
    Other(String),
}

impl From<iso_core::Error> for DeployFail {
    fn from(e: iso_core::Error) -> Self {
        DeployFail::Iso(e)
    }
}

impl From<RenderError> for DeployFail {
    fn from(e: RenderError) -> Self {
        match e {
            RenderError::Image(e) => DeployFail::Iso(e),
            e => DeployFail::Render(e),
        }
    }
}

/// A plan fails as a render would: the cause, whose `path` names the file in the archive.
impl From<upgrade::PlanError> for DeployFail {
    fn from(e: upgrade::PlanError) -> Self {
        DeployFail::from(e.cause)
    }
}

impl DeployFail {
    fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            DeployFail::Iso(e) => iso_err(py, e),
            DeployFail::Render(RenderError::Invalid { path, message }) => {
                let err = DeployError::new_err(format!("{path}: {message}"));
                let _ = err.value(py).setattr("path", path);
                err
            }
            DeployFail::Render(RenderError::Options(m)) => PyValueError::new_err(m),
            DeployFail::Render(e) => DeployError::new_err(e.to_string()),
            DeployFail::Other(m) => DeployError::new_err(m),
        }
    }
}

impl Solution {
    /// Renders (interpreter released): the YAML stream and the objects as JSON; warnings are
    /// issued as RenderWarning.
    fn rendered(
        &self,
        py: Python<'_>,
        opts: RenderOptions,
        available: Option<Vec<PyRef<'_, Solution>>>,
    ) -> PyResult<(String, String)> {
        let shared = self.shared.clone();
        // Other versions are read again here: a list of borrowed Solutions cannot be taken
        // from several handles at once (each lends its Solution only inside a closure).
        let others: Vec<(Arc<IsoFile>, Limits)> = available
            .unwrap_or_default()
            .iter()
            .map(|s| (s.file.clone(), s.limits))
            .collect();
        let (yaml, json, warnings) = py
            .detach(move || -> Result<_, DeployFail> {
                let images = others
                    .iter()
                    .map(|(f, l)| f.image_with_limits(*l))
                    .collect::<Result<Vec<_>, _>>()?;
                let sols = images
                    .iter()
                    .map(sol::Solution::load)
                    .collect::<Result<Vec<_>, _>>()?;
                let refs: Vec<&sol::Solution<'_, '_>> = sols.iter().collect();
                let r = shared.with(|s| render::render(s, &refs, &opts))?;
                let objects: Vec<_> = r.documents.iter().map(|d| &d.object).collect();
                let json = serde_json::to_string(&objects)
                    .map_err(|e| DeployFail::Other(e.to_string()))?;
                Ok((r.to_yaml(), json, r.warnings))
            })
            .map_err(|e| e.into_py(py))?;
        if !warnings.is_empty() {
            let warn = py.import("warnings")?.getattr("warn")?;
            let category = py.get_type::<RenderWarning>();
            for w in warnings {
                warn.call1((w, &category, 3))?;
            }
        }
        Ok((yaml, json))
    }
}

// ---------------------------------------------------------------------------------------------
// solutions.yaml

/// A MetalK8s `solutions.yaml` (SolutionsConfiguration), from `load_solutions_config()`.
#[pyclass(frozen, module = "isolution", name = "SolutionsConfig")]
struct SolutionsConfig {
    bytes: Vec<u8>,
    /// The file it was read from.
    #[pyo3(get)]
    path: PathBuf,
    /// `apiVersion`, or None.
    #[pyo3(get)]
    api_version: Option<String>,
    /// `kind`, or None.
    #[pyo3(get)]
    kind: Option<String>,
    /// The archive paths, as written.
    #[pyo3(get)]
    archives: Vec<String>,
    /// `active`: Solution name to version (or `latest`).
    #[pyo3(get)]
    active: BTreeMap<String, String>,
}

#[pymethods]
impl SolutionsConfig {
    /// Checks the file as MetalK8s does, and every archive it names (opened and validated;
    /// blobs hashed with `digests=True`, the interpreter released). Returns a
    /// `ValidationReport` (the findings, a list, with `passed` and `failures` under
    /// `strict`, as `isolution config check [--strict]` decides its exit status: errors
    /// fail; with `strict=True`, warnings too). With `check=True`, a report that does not
    /// pass raises ValidationError instead.
    #[pyo3(signature = (*, strict=false, digests=true, threads=0, check=false))]
    fn check<'py>(
        &self,
        py: Python<'py>,
        strict: bool,
        digests: bool,
        threads: usize,
        check: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let bytes = self.bytes.clone();
        let report =
            py.detach(move || sol::check_config(&bytes, ValidateOptions { digests, threads }));
        let findings: Vec<Finding> = report.findings.iter().map(Finding::from).collect();
        let passed = report.passes(strict);
        let r = make_report(py, findings, strict, None)?;
        if check && !passed {
            return Err(findings_err(py, &r, "the configuration fails its checks"));
        }
        Ok(r)
    }

    fn __repr__(&self) -> String {
        format!(
            "<isolution.SolutionsConfig {:?} ({} archives)>",
            self.path.display().to_string(),
            self.archives.len()
        )
    }
}

/// Reads a MetalK8s `solutions.yaml` (SolutionsConfiguration). Problems with its content are
/// reported by `.check()`, not raised; an unreadable file raises OSError.
#[pyfunction]
fn load_solutions_config(py: Python<'_>, path: PathBuf) -> PyResult<SolutionsConfig> {
    let p = path.clone();
    let bytes = py
        .detach(move || std::fs::read(&p))
        .map_err(|e| io_err_kind(e.kind(), format!("{}: {e}", path.display())))?;
    let (cfg, _) = sol::parse_config(&bytes);
    Ok(SolutionsConfig {
        bytes,
        path,
        api_version: cfg.api_version,
        kind: cfg.kind,
        archives: cfg.archives,
        active: cfg.active,
    })
}

/// Opens the ISO image at `path`: the same as `Image(path, ...)`.
#[pyfunction]
#[pyo3(signature = (path, *, in_memory=false, max_depth=None, max_entries=None,
    max_directories=None, max_name_bytes=None, max_path_bytes=None, max_susp_bytes=None,
    max_extents_per_file=None))]
#[allow(clippy::too_many_arguments)]
fn open(
    py: Python<'_>,
    path: PathBuf,
    in_memory: bool,
    max_depth: Option<u32>,
    max_entries: Option<u64>,
    max_directories: Option<u64>,
    max_name_bytes: Option<usize>,
    max_path_bytes: Option<usize>,
    max_susp_bytes: Option<u64>,
    max_extents_per_file: Option<u32>,
) -> PyResult<Image> {
    Image::py_new(
        py,
        path,
        in_memory,
        max_depth,
        max_entries,
        max_directories,
        max_name_bytes,
        max_path_bytes,
        max_susp_bytes,
        max_extents_per_file,
    )
}

/// The native part of the `isolution` package. Import `isolution`, not this module.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::pack::pack;
    #[pymodule_export]
    use super::{
        load_solutions_config, open, BootCatalog, BootEntry, ContainerImage, Descriptor, Entry,
        Finding, Image, NativeFile, PlatformManifest, Solution, SolutionsConfig, Views,
    };
    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        let py = m.py();
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("IsolutionError", py.get_type::<super::IsolutionError>())?;
        m.add("FormatError", py.get_type::<super::FormatError>())?;
        m.add("LimitExceeded", py.get_type::<super::LimitExceeded>())?;
        m.add("ValidationError", py.get_type::<super::ValidationError>())?;
        m.add("SignatureError", py.get_type::<super::SignatureError>())?;
        m.add("ExportError", py.get_type::<super::ExportError>())?;
        m.add("RegistryError", py.get_type::<super::RegistryError>())?;
        m.add("PackError", py.get_type::<super::PackError>())?;
        m.add("DeployError", py.get_type::<super::DeployError>())?;
        m.add("RenderWarning", py.get_type::<super::RenderWarning>())?;
        Ok(())
    }
}
