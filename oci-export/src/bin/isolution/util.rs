//! Helpers shared by the commands: opening images, output, errors.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;
use iso_core::{Image, IsoFile, Namespace};

/// Opens (maps) the image file.
pub fn open(path: &Path) -> anyhow::Result<IsoFile> {
    IsoFile::open(path).with_context(|| "cannot open the image".to_string())
}

/// Opens (maps) the image file for a command that reads little of it (`ls`): no read-ahead
/// of the whole file.
pub fn open_sparse(path: &Path) -> anyhow::Result<IsoFile> {
    IsoFile::open_sparse(path).with_context(|| "cannot open the image".to_string())
}

/// Parses the image, naming the file in errors.
pub fn parse<'a>(file: &'a IsoFile, path: &Path) -> anyhow::Result<Image<'a>> {
    file.image()
        .with_context(|| format!("{}: not a readable ISO 9660 image", path.display()))
}

/// The namespace asked for, or the image's best; an error if asked for one it lacks.
pub fn namespace(image: &Image<'_>, asked: Option<Namespace>) -> anyhow::Result<Namespace> {
    match asked {
        None => Ok(image.default_namespace()),
        Some(ns) if image.has_namespace(ns) => Ok(ns),
        Some(ns) => anyhow::bail!(
            "the image has no {ns} tree (present: {})",
            image
                .namespaces()
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// True when the error (or a cause) is a broken pipe: `isolution ls | head` is not a failure.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Writes `bytes`, the summary that records what a command did (`export`, `extract`), to
/// stdout and flushes it. Any failure is an error (exit 2), a broken pipe included: the
/// record is lost, unlike the tail of a listing cut by `| head`.
pub fn write_record(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("cannot write the summary to standard output")
}

/// True when file descriptor 1 was closed when the process started (`isolution ... >&-`).
///
/// Rust's runtime reopens a closed standard descriptor on `/dev/null` before `main` runs (so
/// that no file the program opens can take its number), after which writes "succeed" and
/// the output is silently lost: only a function that runs before the runtime's start can
/// tell a closed stdout from `>/dev/null`. On Linux that is an ELF constructor (see
/// [`probe`]); elsewhere this is always false.
pub fn stdout_was_closed() -> bool {
    probe::CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Looks at descriptor 1 before Rust's runtime starts (see [`stdout_was_closed`]).
mod probe {
    use std::sync::atomic::AtomicBool;

    /// Set before `main` when descriptor 1 was not open.
    pub static CLOSED: AtomicBool = AtomicBool::new(false);

    /// Run by the dynamic loader with the other constructors, before `main` and so before
    /// the runtime reopens a closed descriptor 1. Placing a function in `.init_array` is
    /// what the `unsafe_code` lint flags here (a link section): the function itself is safe
    /// Rust, takes no argument (the loader's are ignored, as the C ABI allows), cannot
    /// panic, and only stores one flag.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    #[used]
    #[link_section = ".init_array"]
    static PROBE: extern "C" fn() = probe;

    #[cfg(target_os = "linux")]
    extern "C" fn probe() {
        let closed =
            rustix::io::fcntl_getfd(std::io::stdout()).is_err_and(|e| e == rustix::io::Errno::BADF);
        CLOSED.store(closed, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Stdout, buffered.
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(64 * 1024, io::stdout().lock())
}

/// Writes one JSON value and a newline.
pub fn json_line(out: &mut impl Write, v: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A byte-count progress bar on stderr, or None when `quiet` or stderr is not a terminal.
pub fn bytes_bar(quiet: bool, template: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    (!quiet && io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    })
}

/// The bar of the byte-moving commands (export, push).
pub const BYTES_BAR: &str = "{spinner} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_bar}";
