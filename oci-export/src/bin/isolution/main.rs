//! `isolution`: read MetalK8s Solution ISOs without mounting them.
//!
//! Exit codes: 0 success; 1 the command ran but found a problem (refused entries, findings);
//! 2 unreadable or malformed input, or a usage error. Errors print one line to stderr.
//!
//! Output: a listing cut short by its reader (`isolution ls | head`) is not a failure; the
//! summary of a command that changes state (`export`, `extract --json`, `push`, `import`)
//! is its record: failing to write it is exit 2, and a closed stdout is refused (exit 2)
//! before anything is done.

// The doc comments of `args` are clap's `--help` text, written for a terminal (`<name>`
// is a placeholder there, not an HTML tag; `[:REF]` an optional part, not a link).
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]
// The C `main` below is the entry point (see there why); unit tests keep the test harness's.
#![cfg_attr(not(test), no_main)]

mod args;
mod cat;
mod check;
mod docs;
mod export;
mod extract;
mod import;
mod info;
mod ls;
mod pack;
mod push;
mod render;
mod serve;
mod solution;
mod util;
mod verify;

use clap::Parser;

/// How a command ended when it did not fail.
pub enum Outcome {
    /// Nothing to report.
    Clean,
    /// It ran, and found problems it already reported.
    Problems,
}

/// The process entry point, in place of Rust's: `lang_start` would first find the main
/// thread's stack guard with `pthread_getattr_np`, which reads and parses all of
/// `/proc/self/maps` (some 15% of the instructions of a small `isolution ls`, before the
/// kernel's time to write that file), to put a message on a stack overflow that would kill
/// the process anyway. What else `lang_start` does is done here: descriptors 0, 1 and 2
/// opened on `/dev/null` when closed (else the first file opened would become standard
/// output), `SIGPIPE` ignored (so a closed pipe is an `EPIPE` error each command handles, as
/// before), a panic caught (exit 101, as Rust's runtime gives), and `std::process::exit`,
/// which flushes standard output. `std::env::args` works without it (glibc hands the
/// arguments to Rust's own initialiser). `tests/cli_extract.rs` and `tests/export.rs` run
/// the binary with standard output closed and with a closed pipe.
#[cfg(not(test))]
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: plain system calls on descriptors 0 to 2 and a constant C string, made before
    // any other thread exists; `signal` with `SIG_IGN` installs no handler code.
    unsafe {
        for fd in 0..=2 {
            if libc::fcntl(fd, libc::F_GETFD) == -1
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
                && libc::open(c"/dev/null".as_ptr(), libc::O_RDWR, 0) != fd
            {
                // The lowest free descriptor is `fd`: anything else means the process cannot
                // be made safe to run, which Rust's runtime decides the same way.
                libc::abort();
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let code = std::panic::catch_unwind(isolution_main).unwrap_or(101);
    std::process::exit(i32::from(code))
}

/// Under `cargo test` the harness has its own entry point; this one keeps the commands
/// reachable, as a plain `main` would.
#[cfg(test)]
fn main() {
    std::process::exit(i32::from(isolution_main()))
}

fn isolution_main() -> u8 {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // Commands that change state and print what they did: that summary is their record, so
    // a failed write of it (a broken pipe included) is an error, and a closed stdout is
    // refused before anything is done. For the others, `isolution ls | head` is not a
    // failure.
    let (record, prints) = match &cli.command {
        args::Command::Export(_)
        | args::Command::Push(_)
        | args::Command::Import(_)
        | args::Command::Pack(_) => (true, true),
        args::Command::Extract(a) => (true, a.json),
        _ => (false, false),
    };
    if prints && util::stdout_was_closed() {
        eprintln!(
            "isolution: standard output is closed: the summary would be lost (nothing was \
             done; redirect it to /dev/null to discard it)"
        );
        return 2;
    }
    match run(cli) {
        Ok(Outcome::Clean) => 0,
        Ok(Outcome::Problems) => 1,
        Err(e) if !record && util::is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("isolution: {e:#}");
            2
        }
    }
}

fn run(cli: args::Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        args::Command::Info(a) => info::run(a),
        args::Command::Check(a) => check::run(a),
        args::Command::Ls(a) => ls::run(a),
        args::Command::Cat(a) => cat::run(a),
        args::Command::Extract(a) => extract::run(a),
        args::Command::Inspect(a) => solution::inspect(a),
        args::Command::Validate(a) => solution::validate(a),
        args::Command::RegistryConfig(a) => solution::registry_config(a),
        args::Command::Config(args::ConfigCommand::Check(a)) => solution::config_check(a),
        args::Command::Verify(a) => verify::verify(a),
        args::Command::Sums(a) => verify::sums(a),
        args::Command::Export(a) => export::run(a),
        args::Command::Pack(a) => pack::run(a),
        args::Command::Serve(a) => serve::run(a),
        args::Command::Push(a) => push::run(a),
        args::Command::Import(a) => import::run(a),
        args::Command::Render(a) => render::render(a),
        args::Command::UpgradePlan(a) => render::upgrade_plan(a),
        args::Command::GenerateDocs(a) => docs::run(a),
    }
}
