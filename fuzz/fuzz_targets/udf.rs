//! Opens arbitrary bytes as a UDF volume, walks it, reads every file's contents (and writes
//! them to a sink, zeros included), every symbolic link's target, looks every path up and
//! lists every directory again. The invariant: no panic, no hang, memory bounded
//! (libFuzzer's -rss_limit_mb and -timeout enforce the last two).
#![no_main]

use iso_core::udf::UdfVolume;
use iso_core::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_entries: 20_000,
        max_directories: 2_000,
        ..Limits::DEFAULT
    };
    let Ok(Some(vol)) = UdfVolume::parse(data, &limits) else {
        return;
    };
    let _ = vol.info();
    let Ok(walk) = vol.walk() else { return };
    for item in walk {
        let Ok(item) = item else { break };
        let e = &item.entry;
        if e.is_dir() {
            if let Ok(rd) = vol.read_dir(e) {
                for child in rd {
                    if child.is_err() {
                        break;
                    }
                }
            }
        } else if e.is_symlink() {
            let _ = vol.symlink_target(e);
        } else if let Ok(c) = vol.contents(e) {
            assert_eq!(c.len(), c.parts().iter().map(|p| p.len()).sum::<u64>());
            assert_eq!(c.len(), e.size);
            if c.len() <= 1 << 20 {
                let mut sink = std::io::sink();
                assert_eq!(c.write_to(&mut sink).ok(), Some(c.len()));
            }
        }
        let _ = vol.lookup(&item.path);
    }
});
