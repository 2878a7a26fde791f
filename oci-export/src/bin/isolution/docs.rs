//! `isolution generate-docs DIR` (hidden): shell completions and man pages generated from the
//! clap definitions, for the release archive (`.ci/release`) and packagers. Nothing here runs
//! unless that subcommand is asked for.

use std::fs;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::args::{Cli, GenerateDocsArgs, VERSION};
use crate::Outcome;

/// Writes `DIR/completions/{isolution.bash,_isolution,isolution.fish}` and, in
/// `DIR/man/man1/`, `isolution.1` and one `isolution-COMMAND.1` page per subcommand.
pub fn run(a: GenerateDocsArgs) -> anyhow::Result<Outcome> {
    let cmd = visible(Cli::command());
    let completions = a.dir.join("completions");
    fs::create_dir_all(&completions)
        .with_context(|| format!("cannot create {}", completions.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "isolution", &completions)
            .with_context(|| format!("cannot write the {shell} completions"))?;
    }
    let man = a.dir.join("man").join("man1");
    fs::create_dir_all(&man).with_context(|| format!("cannot create {}", man.display()))?;
    // One page per command; hidden commands and `help` get none.
    clap_mangen::generate_to(cmd, &man)
        .with_context(|| format!("cannot write the man pages into {}", man.display()))?;
    Ok(Outcome::Clean)
}

/// `cmd` (not yet built) without its hidden subcommands, which clap_complete would offer:
/// the same name, version, texts, settings that derive sets, arguments and visible subcommands.
fn visible(cmd: clap::Command) -> clap::Command {
    let mut out = clap::Command::new("isolution")
        .version(VERSION)
        .subcommand_required(cmd.is_subcommand_required_set())
        .arg_required_else_help(cmd.is_arg_required_else_help_set())
        .args(cmd.get_arguments().cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(long) = cmd.get_long_about() {
        out = out.long_about(long.clone());
    }
    out
}
