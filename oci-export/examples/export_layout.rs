//! Export every image of a Solution ISO to an OCI image layout, like
//! `isolution export --oci DEST`, with no registry, no daemon and no mount. Needs only the
//! default-free part of the crate (`--no-default-features`).
//!
//! ```text
//! cargo run -p oci-export --example export_layout -- tests/solutions/example-solution-1.0.2.iso /tmp/layout
//! skopeo inspect oci:/tmp/layout:base-server:1.0.2
//! ```

use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;

use oci_export::export::layout::export_oci;
use oci_export::iso_core::{solution::Solution, IsoFile};

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [iso, dest] = args.as_slice() else {
        eprintln!("usage: export_layout SOLUTION.iso DEST");
        return ExitCode::from(2);
    };
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let file = IsoFile::open(iso)?;
        let image = file.image()?;
        let solution = Solution::load(&image)?;
        let report = export_oci(&solution, Path::new(dest), &[], &mut |_| {
            ControlFlow::Continue(())
        })?;
        for img in &report.images {
            println!("{} {}", img.ref_name, img.manifest_digest);
        }
        println!(
            "{} blobs written ({} bytes), {} already there",
            report.blobs_written, report.bytes_written, report.blobs_present
        );
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("export_layout: {e}");
            ExitCode::from(2)
        }
    }
}
