//! Validate a MetalK8s Solution ISO and print every finding, like `isolution validate`.
//! Exits 1 when there is an error.
//!
//! ```text
//! cargo run -p iso-core --example validate -- tests/solutions/example-solution-1.0.2.iso
//! ```

use std::process::ExitCode;

use iso_core::solution::{validate, ValidateOptions};
use iso_core::IsoFile;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: validate SOLUTION.iso");
        return ExitCode::from(2);
    };
    let run = || -> Result<bool, Box<dyn std::error::Error>> {
        let file = IsoFile::open(&path)?;
        let report = validate(&file.image()?, ValidateOptions::default())?;
        for f in &report.findings {
            println!("{f}");
        }
        println!(
            "{} findings; {} distinct blobs hashed ({} bytes)",
            report.findings.len(),
            report.hashed_blobs,
            report.hashed_bytes
        );
        Ok(report.passes(false))
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("validate: {e}");
            ExitCode::from(2)
        }
    }
}
