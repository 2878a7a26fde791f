//! Extract an ISO image into a directory, safely (names that would escape are refused, links
//! that point outside are not made), and print what was skipped.
//!
//! ```text
//! cargo run -p iso-core --example extract -- tests/fixtures/rr-joliet.iso /tmp/out
//! ```

use std::path::Path;
use std::process::ExitCode;

use iso_core::extract::{extract, ExtractOptions};
use iso_core::IsoFile;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [iso, dest] = args.as_slice() else {
        eprintln!("usage: extract IMAGE.iso DEST");
        return ExitCode::from(2);
    };
    match run(Path::new(iso), Path::new(dest)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("extract: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(iso: &Path, dest: &Path) -> Result<bool, Box<dyn std::error::Error>> {
    let file = IsoFile::open(iso)?;
    let image = file.image()?;
    let opts = ExtractOptions::new(image.default_namespace());
    let report = extract(&image, dest, &opts, &mut |_| {})?;
    println!(
        "{} directories, {} files, {} hard links, {} symlinks, {} bytes",
        report.directories, report.files, report.hard_links, report.symlinks, report.bytes
    );
    for s in &report.skipped {
        println!("skipped {}: {}", s.path, s.reason);
    }
    for f in &report.failed {
        println!("failed {}: {}", f.path, f.error);
    }
    Ok(report.skipped.iter().all(|s| !s.refused) && report.failed.is_empty())
}
