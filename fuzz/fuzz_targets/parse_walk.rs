//! Opens arbitrary bytes as an ISO image, walks every namespace, reads every file (stored and
//! inflated), looks a path up, reads the El Torito catalog and boot images, and the partition
//! tables, HFS+ and UDF signatures (also of the raw bytes, parsed or not), and the xorriso
//! MD5 tags and checksum array (without hashing), and every entry's AAIP attributes and ACLs
//! (and the root's). The invariant:
//! no panic, no hang, memory bounded (libFuzzer's -rss_limit_mb and -timeout enforce the
//! last two).
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let _ = iso_core::iso9660::Layout::read(data, 17);
    let Some(image) = common::parse(data) else {
        return;
    };
    let _ = image.layout();
    let _ = image.md5_tags();
    for ns in image.namespaces() {
        if let Ok(root) = image.root(ns) {
            let _ = root.attributes();
        }
        let Ok(walk) = image.walk(ns) else { continue };
        for item in walk {
            let Ok(item) = item else { break };
            let e = &item.entry;
            let _ = (e.modified(), e.rock_ridge(), e.mode(), e.file_id());
            if let Ok(Some(a)) = e.attributes() {
                let _ = (
                    a.is_extended(),
                    a.access_acl.map(|acl| acl.to_xattr_bytes()),
                );
            }
            let _ = e.xattr(b"user.a");
            if e.is_file() {
                if let Ok(c) = image.contents(e) {
                    assert_eq!(
                        c.len(),
                        c.parts().iter().map(|p| p.len() as u64).sum::<u64>()
                    );
                }
                if let Ok(mut r) = image.reader(e) {
                    // Bounded: at most 4 MiB of inflated output per file.
                    let mut buf = [0u8; 64 * 1024];
                    let mut total = 0usize;
                    while let Ok(n) = r.read(&mut buf) {
                        if n == 0 || total > 4 << 20 {
                            break;
                        }
                        total += n;
                    }
                }
            }
        }
        let _ = image.lookup(ns, "a/b/c");
    }
    if let Ok(Some(cat)) = image.boot_catalog() {
        for e in &cat.entries {
            let _ = image.boot_image(e);
        }
    }
});
