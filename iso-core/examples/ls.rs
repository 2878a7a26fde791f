//! List an ISO image like `isolution ls -l`: one line per entry of the default namespace
//! (Rock Ridge, else Joliet, else plain ISO 9660).
//!
//! ```text
//! cargo run -p iso-core --example ls -- tests/fixtures/rr-joliet.iso
//! ```

use std::process::ExitCode;

use iso_core::IsoFile;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: ls IMAGE.iso");
        return ExitCode::from(2);
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ls: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(path: &std::ffi::OsStr) -> Result<(), Box<dyn std::error::Error>> {
    let file = IsoFile::open(path)?;
    let image = file.image()?;
    let ns = image.default_namespace();
    println!("# {} namespace of {:?}", ns, image.primary().volume_id);
    for item in image.walk(ns)? {
        let item = item?;
        let kind = if item.entry.is_dir() { "d" } else { "-" };
        println!("{kind} {:>12} {}", item.entry.size(), item.path);
    }
    Ok(())
}
