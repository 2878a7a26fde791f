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
//! - Pure-Rust work (walks, hashing, signature checks, exports) runs with the interpreter
//!   detached (`Python::detach`), so other Python threads run meanwhile.
//! - `iso_core::Error` becomes `FormatError`, `LimitExceeded`, `FileNotFoundError`,
//!   `NotADirectoryError` or `ValueError` (a namespace the image lacks), with the Rust error's
//!   message (byte offset and path inside the image) and `offset` / `path` attributes.
//!
//! This crate has no `unsafe` code: zero-copy views go through the buffer protocol of a Python
//! `mmap.mmap` (or of the `bytes` given to `Image.from_bytes`), because the abi3-py39 build
//! cannot implement `__getbuffer__` itself (that slot needs the 3.11 limited API).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use iso_core::solution::{self as sol, signature, TrustedKey, ValidateOptions, VerifyOptions};
use iso_core::{DirEntry, EntryKind, ErrorKind, IsoFile, Limits, Namespace};
use oci_export::layout::{self, ExportError as RsExportError};
use pyo3::create_exception;
use pyo3::exceptions::{
    PyException, PyFileNotFoundError, PyIsADirectoryError, PyNotADirectoryError, PyOSError,
    PyPermissionError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyMemoryView, PySlice, PyTuple};

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
    "Writing an OCI layout failed (I/O, or a blob that does not match its digest)."
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
        ErrorKind::NoNamespace(_) => PyValueError::new_err(msg),
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
// Entries

/// One entry of an image: a file, directory, symbolic link or device, in one namespace.
///
/// Like `tarfile.TarInfo` or `zipfile.ZipInfo`: plain data, detached from the image.
#[pyclass(frozen, skip_from_py_object, module = "isolution", name = "Entry")]
#[derive(Clone)]
struct Entry {
    /// Path from the root of the namespace, components joined by `/` (no leading `/`).
    #[pyo3(get)]
    path: String,
    /// The last component of the path (empty for the root).
    #[pyo3(get)]
    name: String,
    /// `"file"`, `"dir"`, `"symlink"`, `"block-device"`, `"char-device"`, `"fifo"` or `"socket"`.
    #[pyo3(get, name = "type")]
    kind: &'static str,
    /// Size of the content in bytes (0 for symlinks and devices).
    #[pyo3(get)]
    size: u64,
    /// POSIX mode, type bits included (Rock Ridge, else 0o040555 / 0o100444).
    #[pyo3(get)]
    mode: u32,
    /// Modification time in seconds since the epoch, or None.
    #[pyo3(get)]
    mtime: Option<f64>,
    /// Link count (Rock Ridge), or None.
    #[pyo3(get)]
    nlink: Option<u32>,
    /// Owner (Rock Ridge), or None.
    #[pyo3(get)]
    uid: Option<u32>,
    /// Group (Rock Ridge), or None.
    #[pyo3(get)]
    gid: Option<u32>,
    /// Symbolic link target as recorded, or None.
    #[pyo3(get)]
    target: Option<String>,
    /// `(major, minor)` of a device, or None.
    #[pyo3(get)]
    device: Option<(u32, u32)>,
    /// The extents holding the data: `(first logical block, length in bytes)` tuples.
    #[pyo3(get)]
    extents: Vec<(u32, u32)>,
    /// `(first block, size)`: equal for hard links of each other; None for empty files and
    /// non-files.
    #[pyo3(get)]
    file_id: Option<(u32, u64)>,
    /// The directory record's existence (hidden) bit is set.
    #[pyo3(get)]
    hidden: bool,
    /// Byte offset in the image of the entry's directory record.
    #[pyo3(get)]
    record_offset: u64,
    /// The namespace it was read in (`"rr"`, `"joliet"`, `"iso1999"`, `"primary"`).
    #[pyo3(get)]
    namespace: &'static str,
}

fn kind_str(k: EntryKind) -> &'static str {
    match k {
        EntryKind::File => "file",
        EntryKind::Directory => "dir",
        EntryKind::Symlink => "symlink",
        EntryKind::BlockDevice => "block-device",
        EntryKind::CharDevice => "char-device",
        EntryKind::Fifo => "fifo",
        EntryKind::Socket => "socket",
    }
}

impl Entry {
    fn new(path: &str, e: &DirEntry<'_>) -> Self {
        let rr = e.rock_ridge();
        Entry {
            path: path.to_string(),
            name: e.name().to_string(),
            kind: kind_str(e.kind()),
            size: e.size(),
            mode: e.mode(),
            mtime: e
                .modified()
                .map(|t| t.unix_seconds() as f64 + f64::from(t.hundredths) / 100.0),
            nlink: rr.and_then(|r| r.nlink),
            uid: rr.and_then(|r| r.uid),
            gid: rr.and_then(|r| r.gid),
            target: e.symlink_target().map(str::to_string),
            device: e.device(),
            extents: e.extents().iter().map(|x| (x.lba, x.len)).collect(),
            file_id: e.file_id().map(|f| (f.lba, f.size)),
            hidden: e.is_hidden(),
            record_offset: e.record_offset(),
            namespace: e.namespace().as_str(),
        }
    }
}

#[pymethods]
impl Entry {
    /// True for a directory.
    fn is_dir(&self) -> bool {
        self.kind == "dir"
    }

    /// True for a regular file.
    fn is_file(&self) -> bool {
        self.kind == "file"
    }

    /// True for a symbolic link.
    fn is_symlink(&self) -> bool {
        self.kind == "symlink"
    }

    fn __repr__(&self) -> String {
        format!(
            "<isolution.Entry {:?} type={} size={} mode={:#o}>",
            self.path, self.kind, self.size, self.mode
        )
    }
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
/// "primary"`, default: the best one present, in that order); leading `/`, empty and `.`
/// components are ignored. Safe to share between threads.
#[pyclass(frozen, module = "isolution", name = "Image")]
struct Image {
    state: RwLock<Option<Open>>,
    limits: Limits,
    path: Option<PathBuf>,
}

/// Where a file's bytes are: one range of the image, or decoded (zisofs, several extents).
enum Data {
    Range(usize, usize),
    Owned(Vec<u8>),
}

/// Offset of `part` inside `whole` (a slice of it).
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

fn file_data(img: &iso_core::Image<'_>, e: &DirEntry<'_>) -> iso_core::Result<Data> {
    match img.contents(e) {
        Ok(c) => match c.parts() {
            [] => Ok(Data::Range(0, 0)),
            [one] => Ok(Data::Range(offset_in(img.data(), one), one.len())),
            _ => Ok(Data::Owned(c.to_vec())),
        },
        // Compressed (zisofs): decode through a reader. Never preallocate what a header
        // claims beyond 16 MiB.
        Err(_) => {
            let mut r = img.reader(e)?;
            let mut v = Vec::with_capacity(e.size().min(16 << 20) as usize);
            (&mut r)
                .take(e.size())
                .read_to_end(&mut v)
                .map_err(iso_core::Error::from)?;
            Ok(Data::Owned(v))
        }
    }
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

    fn build(
        py: Python<'_>,
        file: IsoFile,
        limits: Limits,
        buffer: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let path = file.path().map(PathBuf::from);
        // Parse once now, so that a file that is not ISO 9660 fails here.
        file.image_with_limits(limits).map_err(|e| iso_err(py, e))?;
        Ok(Image {
            state: RwLock::new(Some(Open {
                file: Arc::new(file),
                buffer,
            })),
            limits,
            path,
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
    /// present, in that order).
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
    /// children, in recorded order: a list of `Entry`. The interpreter is released meanwhile.
    #[pyo3(signature = (path="", *, namespace=None))]
    fn walk(&self, py: Python<'_>, path: &str, namespace: Option<&str>) -> PyResult<Vec<Entry>> {
        let path = path.to_string();
        self.run(py, namespace, move |img, ns| {
            let dir = img.lookup(ns, &path)?;
            let prefix = path
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect::<Vec<_>>()
                .join("/");
            let mut walk = img.walk_from(&dir, &prefix)?;
            let mut out = Vec::new();
            while let Some(item) = walk.next_entry() {
                let (p, e) = item?;
                out.push(Entry::new(p, e));
            }
            Ok(out)
        })
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
        let path = path.to_string();
        self.run(py, namespace, move |img, ns| {
            let e = img.lookup(ns, &path)?;
            let clean = path
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect::<Vec<_>>()
                .join("/");
            Ok(Entry::new(&clean, &e))
        })
    }

    /// True when `path` names an entry (of any type).
    #[pyo3(signature = (path, *, namespace=None))]
    fn exists(&self, py: Python<'_>, path: &str, namespace: Option<&str>) -> PyResult<bool> {
        let path = path.to_string();
        self.run(py, namespace, move |img, ns| match img.lookup(ns, &path) {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        })
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
        let file = self.file()?;
        let path = path.to_string();
        let data = self.run(py, namespace, move |img, ns| {
            let e = lookup_file(img, ns, &path)?;
            Ok(file_data(img, &e).map_err(|err| err.with_path(path.clone()))?)
        })?;
        Ok(match data {
            Data::Range(off, len) => {
                PyBytes::new(py, file.bytes().get(off..off + len).unwrap_or(&[]))
            }
            Data::Owned(v) => PyBytes::new(py, &v),
        })
    }

    /// A read-only `memoryview` of the regular file at `path`.
    ///
    /// For a file stored in one extent (nearly all), the view is zero-copy: a slice of a
    /// read-only `mmap.mmap` of the image file (or of the bytes given to `from_bytes`). The view
    /// keeps that buffer alive, also after `close()`. For a multi-extent or zisofs-compressed
    /// file, or an image that could not be mapped, it is a view of a copy.
    #[pyo3(signature = (path, *, namespace=None))]
    fn view<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        namespace: Option<&str>,
    ) -> PyResult<Bound<'py, PyMemoryView>> {
        let (file, buffer) = self.handle(py)?;
        let path = path.to_string();
        let data = self.run(py, namespace, move |img, ns| {
            let e = lookup_file(img, ns, &path)?;
            Ok(file_data(img, &e).map_err(|err| err.with_path(path.clone()))?)
        })?;
        match (data, buffer) {
            (Data::Range(off, len), Some(buf)) => {
                let whole = PyMemoryView::from(buf.bind(py))?;
                let slice = PySlice::new(py, off as isize, (off + len) as isize, 1);
                Ok(whole.get_item(slice)?.cast_into::<PyMemoryView>()?)
            }
            (Data::Range(off, len), None) => {
                let b = PyBytes::new(py, file.bytes().get(off..off + len).unwrap_or(&[]));
                PyMemoryView::from(b.as_any())
            }
            (Data::Owned(v), _) => PyMemoryView::from(PyBytes::new(py, &v).as_any()),
        }
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
        let p = path.to_string();
        let (ns, ranges, size) = self.run(py, namespace, move |img, ns| {
            let e = lookup_file(img, ns, &p)?;
            let ranges = img.contents(&e).ok().map(|c| {
                c.parts()
                    .iter()
                    .map(|part| (offset_in(img.data(), part), part.len()))
                    .collect::<Vec<_>>()
            });
            let size = match &ranges {
                Some(r) => r.iter().map(|x| x.1 as u64).sum(),
                None => e.size(),
            };
            Ok((ns, ranges, size))
        })?;
        let native = NativeFile {
            file: Some(file),
            limits: self.limits,
            ns,
            path: path.to_string(),
            ranges,
            size,
            pos: 0,
        };
        let wrapper = py.import("isolution._io")?.getattr("ImageFile")?;
        wrapper.call1((Py::new(py, native)?, path))
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
                let data = file.bytes();
                let pos = self.pos;
                PyBytes::new_with(py, n_usize, |buf| {
                    let mut base = 0u64;
                    let mut filled = 0usize;
                    for &(off, len) in ranges {
                        let end = base + len as u64;
                        let at = pos + filled as u64;
                        if filled < buf.len() && at < end {
                            let skip = (at - base) as usize;
                            let k = (len - skip).min(buf.len() - filled);
                            let src = data.get(off + skip..off + skip + k).unwrap_or(&[]);
                            buf[filled..filled + src.len()].copy_from_slice(src);
                            filled += src.len();
                        }
                        base = end;
                    }
                    Ok(())
                })?
            }
            None => {
                let (limits, ns, path, pos) = (self.limits, self.ns, self.path.clone(), self.pos);
                let v = py
                    .detach(move || -> Result<Vec<u8>, NotFile> {
                        let img = file.image_with_limits(limits)?;
                        let e = lookup_file(&img, ns, &path)?;
                        let mut r = img.reader(&e).map_err(|err| err.with_path(path.clone()))?;
                        r.seek(SeekFrom::Start(pos))
                            .map_err(iso_core::Error::from)?;
                        let mut v = Vec::with_capacity(n_usize.min(16 << 20));
                        (&mut r)
                            .take(n)
                            .read_to_end(&mut v)
                            .map_err(iso_core::Error::from)?;
                        Ok(v)
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
            digest: b.digest.clone(),
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
            digest: i.manifest_digest.clone(),
            media_type: i.media_type.clone(),
            size: i.manifest_size,
            kind: kebab(&i.kind),
            config: i.config.as_ref().map(Descriptor::from),
            layers: i.layers.iter().map(Descriptor::from).collect(),
            children: i.children.iter().map(Descriptor::from).collect(),
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
            let img = f.image_with_limits(limits)?;
            let s = sol::Solution::load(&img)?;
            let m = s.manifest.as_ref();
            Ok(Solution {
                file: f.clone(),
                limits,
                name: m.and_then(|m| m.name.clone()),
                version: m.and_then(|m| m.version.clone()),
                display_name: m.and_then(|m| m.display_name.clone()),
                id: s.id(),
                volume_id: s.volume_id.clone(),
                namespace: s.namespace.as_str(),
                operator_image: m
                    .map(|m| m.operator_image.clone())
                    .filter(|(n, _)| !n.is_empty()),
                crds: s.crds.clone(),
                roles: s.roles.clone(),
                images: s.images.iter().map(ContainerImage::from).collect(),
                findings: s.findings().iter().map(Finding::from).collect(),
                manifest_json: m.and_then(|m| serde_json::to_string(&m.raw).ok()),
            })
        })
        .map_err(|e: iso_core::Error| iso_err(py, e))
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

fn findings_err(py: Python<'_>, findings: &[Finding], what: &str) -> PyErr {
    let bad: Vec<String> = findings
        .iter()
        .filter(|f| f.severity != "info")
        .map(|f| format!("{}: {} [{}] {}", f.severity, f.path, f.rule, f.message))
        .collect();
    let err = ValidationError::new_err(format!("{what}:\n  {}", bad.join("\n  ")));
    let _ = err.value(py).setattr("findings", findings.to_vec());
    err
}

fn passes(findings: &[Finding], strict: bool) -> bool {
    !findings
        .iter()
        .any(|f| f.severity == "error" || (strict && f.severity == "warning"))
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

    /// Checks the archive as MetalK8s would use it, and (with `digests=True`) hashes every
    /// distinct blob on `threads` cores (0: all) with the interpreter released. Returns the
    /// findings, errors first. With `check=True`, raises ValidationError when there is an
    /// error (with `strict=True`: or a warning).
    #[pyo3(signature = (*, strict=false, digests=true, threads=0, check=false))]
    fn validate(
        &self,
        py: Python<'_>,
        strict: bool,
        digests: bool,
        threads: usize,
        check: bool,
    ) -> PyResult<Vec<Finding>> {
        let (file, limits) = (self.file.clone(), self.limits);
        let report = py
            .detach(move || {
                let img = file.image_with_limits(limits)?;
                sol::validate(&img, ValidateOptions { digests, threads })
            })
            .map_err(|e| iso_err(py, e))?;
        let findings: Vec<Finding> = report.findings.iter().map(Finding::from).collect();
        if check && !passes(&findings, strict) {
            return Err(findings_err(py, &findings, "the Solution fails validation"));
        }
        Ok(findings)
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
    /// OCI image layout at `dest` (created if needed; blobs already there are kept), checking
    /// every blob's size and digest. With `oci_media_types=True`, Docker manifests are
    /// converted to OCI ones. Returns a dict report (`images`, `blobs_written`,
    /// `blobs_present`, `bytes_written`); raises ExportError.
    #[pyo3(signature = (dest, images=None, *, oci_media_types=false))]
    fn export_oci<'py>(
        &self,
        py: Python<'py>,
        dest: PathBuf,
        images: Option<&Bound<'py, PyAny>>,
        oci_media_types: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut wanted: Vec<(String, String)> = Vec::new();
        if let Some(list) = images {
            for item in list.try_iter()? {
                let item = item?;
                if let Ok(s) = item.extract::<String>() {
                    let (n, t) = s.rsplit_once(':').ok_or_else(|| {
                        PyValueError::new_err(format!("{s:?} is not \"name:tag\""))
                    })?;
                    wanted.push((n.to_string(), t.to_string()));
                } else {
                    wanted.push(item.extract::<(String, String)>()?);
                }
            }
        }
        let (file, limits) = (self.file.clone(), self.limits);
        enum Fail {
            Iso(iso_core::Error),
            Export(RsExportError),
        }
        let report = py
            .detach(move || {
                let img = file.image_with_limits(limits).map_err(Fail::Iso)?;
                let s = sol::Solution::load(&img).map_err(Fail::Iso)?;
                layout::export_oci_with(&s, &dest, &wanted, oci_media_types, &mut |_| {})
                    .map_err(Fail::Export)
            })
            .map_err(|f| match f {
                Fail::Iso(e) => iso_err(py, e),
                Fail::Export(e) => ExportError::new_err(e.to_string()),
            })?;
        to_py_json(py, &report)
    }

    /// The `registry-config.inc.j2` that the image tree implies (MetalK8s's generator).
    fn registry_config(&self, py: Python<'_>) -> PyResult<String> {
        let (file, limits) = (self.file.clone(), self.limits);
        py.detach(move || {
            let img = file.image_with_limits(limits)?;
            Ok(sol::Solution::load(&img)?.registry_config())
        })
        .map_err(|e: iso_core::Error| iso_err(py, e))
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
    /// blobs hashed with `digests=True`, the interpreter released). Returns the findings;
    /// with `check=True`, raises ValidationError when there is an error (`strict`: or a
    /// warning).
    #[pyo3(signature = (*, strict=false, digests=true, threads=0, check=false))]
    fn check(
        &self,
        py: Python<'_>,
        strict: bool,
        digests: bool,
        threads: usize,
        check: bool,
    ) -> PyResult<Vec<Finding>> {
        let bytes = self.bytes.clone();
        let report =
            py.detach(move || sol::check_config(&bytes, ValidateOptions { digests, threads }));
        let findings: Vec<Finding> = report.findings.iter().map(Finding::from).collect();
        if check && !passes(&findings, strict) {
            return Err(findings_err(
                py,
                &findings,
                "the configuration fails its checks",
            ));
        }
        Ok(findings)
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

/// The native part of the `isolution` package. Import `isolution`, not this module.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::{
        load_solutions_config, open, ContainerImage, Descriptor, Entry, Finding, Image, NativeFile,
        Solution, SolutionsConfig,
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
        Ok(())
    }
}
