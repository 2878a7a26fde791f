//! Builds an ISO 9660 image (level 3, Rock Ridge, Joliet) from a directory:
//! `cargo run --release -p iso-core --features write --example mkiso -- DIR OUT.iso [VOLID]`.
//! Honours `SOURCE_DATE_EPOCH`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use iso_core::write::{source_date_epoch_from_env, IsoBuilder, WriteOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 3 {
        eprintln!("usage: mkiso DIR OUT.iso [VOLUME_ID]");
        std::process::exit(2);
    }
    let run = || -> Result<u64, iso_core::write::WriteError> {
        let mut options = WriteOptions {
            source_date_epoch: source_date_epoch_from_env()?,
            ..WriteOptions::default()
        };
        if let Some(v) = args.get(2) {
            options.volume_id = v.clone();
        }
        IsoBuilder::from_dir(&args[0], options)?.write_file(&args[1])
    };
    match run() {
        Ok(n) => eprintln!("{}: {n} bytes", args[1]),
        Err(e) => {
            eprintln!("mkiso: {e}");
            std::process::exit(1);
        }
    }
}
