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

use std::process::ExitCode;

use clap::Parser;

/// How a command ended when it did not fail.
pub enum Outcome {
    /// Nothing to report.
    Clean,
    /// It ran, and found problems it already reported.
    Problems,
}

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
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
        return ExitCode::from(2);
    }
    match run(cli) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(e) if !record && util::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("isolution: {e:#}");
            ExitCode::from(2)
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
